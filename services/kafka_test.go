package services_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/kafka"
	"github.com/clearway/clearway/services/control"
)

// pipelineRows is the extract size of the end-to-end tests; CLEARWAY_PIPELINE_ROWS
// overrides it (e.g. 200000 to measure throughput).
func pipelineRows(t *testing.T) int {
	if v := os.Getenv("CLEARWAY_PIPELINE_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CLEARWAY_PIPELINE_ROWS=%q: want a positive number", v)
		}
		return n
	}
	return 20_000
}

// TestKafkaMatchesEmbedded runs ingest → 2 evaluators → sink over a real broker
// (CLEARWAY_KAFKA_BROKERS) with topics and groups unique to the test.
func TestKafkaMatchesEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, topics, prefix := kafkaTestBus(ctx, t, "test-")
	rows := pipelineRows(t)
	in := generate(t, rows, false)
	const runID = "test-kafka"
	want := embedded(t, runID, []string{in})

	c := &cluster{t: t, bus: b, topics: topics, out: t.TempDir(), log: quietLog(t), group: prefix}
	c.evaluator("ev1")
	c.evaluator("ev2")
	c.sink()
	defer c.stopAll()

	start := time.Now()
	st := ingestRun(ctx, t, b, topics, runID, []string{in})
	ingested := time.Since(start)
	run := waitRun(ctx, t, b, topics, runID)
	elapsed := time.Since(start)
	if run.Failed != nil {
		t.Fatalf("run failed: %s", run.Failed.Reason)
	}
	t.Logf("Kafka: %d rows, %d subjects: ingest %v, complete in %v (%.0f rows/s end to end)",
		st.Rows, st.Subjects, ingested, elapsed, float64(st.Rows)/elapsed.Seconds())
	sameOutputs(t, filepath.Join(c.out, runID), want)
}

// kafkaTestBus connects to the test broker (CLEARWAY_KAFKA_BROKERS; the test skips
// without it) with timeouts that keep a test group's joins fast, and creates the
// pipeline's topics under a prefix unique to the test (name + a random tag + ".").
// The prefix also names the test's consumer groups.
func kafkaTestBus(ctx context.Context, t *testing.T, name string) (control.Bus, control.Topics, string) {
	t.Helper()
	brokers := os.Getenv(kafka.EnvPrefix + "BROKERS")
	if brokers == "" {
		t.Skip("CLEARWAY_KAFKA_BROKERS is not set; start a broker with: eval \"$(scripts/start-kafka)\"")
	}
	kc := kafka.DefaultConfig()
	kc.Brokers = []string{brokers}
	kc.HeartbeatInterval, kc.SessionTimeout, kc.RebalanceTimeout, kc.JoinGroupBackoff = time.Second, 6*time.Second, 6*time.Second, 500*time.Millisecond
	kc.FetchMaxWait = 100 * time.Millisecond
	admin, err := kafka.NewAdmin(kc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	pub, err := kafka.NewPublisher(kc, bus.PublisherOptions{Partitioning: bus.PartitionExplicit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pub.Close() })
	b := control.Bus{
		Admin: admin, Publisher: pub, Partitions: admin.Partitions,
		Subscribe: func(opts bus.SubscriberOptions) (bus.Subscriber, error) { return kafka.NewSubscriber(kc, opts) },
	}
	var tag [4]byte
	_, _ = rand.Read(tag[:])
	prefix := name + hex.EncodeToString(tag[:]) + "."
	topics := control.DefaultTopics()
	topics.Prefix = prefix
	if err := admin.EnsureTopics(ctx, topics.Specs()...); err != nil {
		t.Fatal(err)
	}
	return b, topics, prefix
}
