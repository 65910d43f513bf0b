// Package e2e holds the fault-tolerance tests of the distributed pipeline: they build the
// real clearway binary, run `clearway ingest`, `evaluate`, `sink` and `status` as separate
// processes against a real Kafka broker, break them (SIGKILL, SIGTERM, a joining member,
// a poison message, a broker restart) and check that the outputs are still byte-identical
// to `clearway run` on the same input.
//
// The package has no non-test code. The tests skip without a broker: set
// CLEARWAY_KAFKA_BROKERS (scripts/test does) for the shared-broker tests; the broker
// restart test starts its own broker with scripts/start-kafka on a dedicated port. The
// ClickHouse tests (clickhouse_test.go: the sink storing a statewide load in ClickHouse,
// and SIGKILLed mid-insert) also need CLEARWAY_CLICKHOUSE_ADDR (scripts/test sets it) and
// use scratch databases of their own.
//
//	eval "$(scripts/start-kafka)"; export CLEARWAY_KAFKA_BROKERS
//	go test -count=1 -v ./e2e/   # with CLEARWAY_CLICKHOUSE_ADDR=127.0.0.1:9000 for the ClickHouse tests
package e2e
