package telemetry

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instruments are the metrics of docs/metrics.md. Each is created once per service;
// the helper methods add the service's stage label.
type Instruments struct {
	stage attribute.KeyValue

	Records          metric.Int64Counter     // clearway.records.processed
	Bytes            metric.Int64Counter     // clearway.data.processed
	BatchSize        metric.Int64Histogram   // clearway.batch.size
	MessageSize      metric.Int64Histogram   // clearway.message.size
	BatchDuration    metric.Float64Histogram // clearway.batch.duration
	InsertDuration   metric.Float64Histogram // clearway.clickhouse.insert.duration
	InsertRows       metric.Int64Counter     // clearway.clickhouse.insert.rows
	Quarantined      metric.Int64Counter     // clearway.rows.quarantined
	DeadLetters      metric.Int64Counter     // clearway.deadletter.messages
	Rebalances       metric.Int64Counter     // clearway.consumer.rebalances
	ClientOperations metric.Float64Histogram // messaging.client.operation.duration
	PipelineLatency  metric.Float64Histogram // clearway.pipeline.latency
	RunSubjects      metric.Int64Gauge       // clearway.run.subjects
	RunComplete      metric.Int64Gauge       // clearway.run.complete

	// ConsumerLag (clearway.consumer.lag) is observed at collection: see ObserveConsumerLag.
	ConsumerLag metric.Int64ObservableGauge
}

// Latency buckets in seconds: from sub-millisecond batches to minutes of end-to-end lag.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}

func newInstruments(m metric.Meter, stage string) (*Instruments, error) {
	in := &Instruments{stage: AttrStage.String(stage)}
	var errs []error
	counter := func(name, unit, desc string) metric.Int64Counter {
		c, err := m.Int64Counter(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return c
	}
	ihist := func(name, unit, desc string, bounds ...float64) metric.Int64Histogram {
		h, err := m.Int64Histogram(name, metric.WithUnit(unit), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(bounds...))
		errs = append(errs, err)
		return h
	}
	fhist := func(name, desc string) metric.Float64Histogram {
		h, err := m.Float64Histogram(name, metric.WithUnit("s"), metric.WithDescription(desc), metric.WithExplicitBucketBoundaries(latencyBuckets...))
		errs = append(errs, err)
		return h
	}
	gauge := func(name, unit, desc string) metric.Int64Gauge {
		g, err := m.Int64Gauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
		errs = append(errs, err)
		return g
	}
	in.Records = counter("clearway.records.processed", "{record}", "Records in and out of each stage.")
	in.Bytes = counter("clearway.data.processed", "By", "Bytes read and written by each stage.")
	in.BatchSize = ihist("clearway.batch.size", "{record}", "Records per consumed or published batch.", 1, 10, 100, 500, 1000, 5000, 10000, 50000, 100000)
	in.MessageSize = ihist("clearway.message.size", "By", "Kafka message payload size.", 1<<10, 16<<10, 64<<10, 256<<10, 1<<20, 4<<20, 16<<20)
	in.BatchDuration = fhist("clearway.batch.duration", "Processing latency of one batch in a stage.")
	in.InsertDuration = fhist("clearway.clickhouse.insert.duration", "One ClickHouse batch insert, until acknowledged.")
	in.InsertRows = counter("clearway.clickhouse.insert.rows", "{row}", "Rows acknowledged by ClickHouse.")
	in.Quarantined = counter("clearway.rows.quarantined", "{row}", "Input rows quarantined, by reason.")
	in.DeadLetters = counter("clearway.deadletter.messages", "{message}", "Messages sent to the dead-letter topic, by reason.")
	lag, err := m.Int64ObservableGauge("clearway.consumer.lag", metric.WithUnit("{message}"),
		metric.WithDescription("High-water mark minus committed offset, per assigned partition."))
	errs = append(errs, err)
	in.ConsumerLag = lag
	in.Rebalances = counter("clearway.consumer.rebalances", "{rebalance}", "Consumer-group generations this member joined.")
	in.ClientOperations = fhist("messaging.client.operation.duration", "Kafka client operations: send, poll, commit.")
	in.PipelineLatency = fhist("clearway.pipeline.latency", "End to end, from ingest publishing a subject batch to the sink's write being acknowledged.")
	in.RunSubjects = gauge("clearway.run.subjects", "{subject}", "Subjects of a run per partition: published, evaluated, stored.")
	in.RunComplete = gauge("clearway.run.complete", "{run}", "1 once the sink marked the run complete.")
	return in, errors.Join(errs...)
}

// RecordsIn counts n records read by this stage, and their bytes.
func (in *Instruments) RecordsIn(ctx context.Context, n, bytes int64) {
	in.count(ctx, "in", n, bytes)
}

// RecordsOut counts n records written by this stage, and their bytes.
func (in *Instruments) RecordsOut(ctx context.Context, n, bytes int64) {
	in.count(ctx, "out", n, bytes)
}

func (in *Instruments) count(ctx context.Context, dir string, n, bytes int64) {
	attrs := metric.WithAttributes(in.stage, AttrDirection.String(dir))
	in.Records.Add(ctx, n, attrs)
	if bytes > 0 {
		in.Bytes.Add(ctx, bytes, attrs)
	}
}

// Batch records one batch of n records (size bytes) in the given direction.
func (in *Instruments) Batch(ctx context.Context, dir string, n, size int64) {
	attrs := metric.WithAttributes(in.stage, AttrDirection.String(dir))
	in.BatchSize.Record(ctx, n, attrs)
	if size > 0 {
		in.MessageSize.Record(ctx, size, attrs)
	}
}

// BatchTook records how long this stage spent on one batch.
func (in *Instruments) BatchTook(ctx context.Context, seconds float64) {
	in.BatchDuration.Record(ctx, seconds, metric.WithAttributes(in.stage))
}

// Quarantine counts quarantined rows by reason code.
func (in *Instruments) Quarantine(ctx context.Context, reason string, n int64) {
	in.Quarantined.Add(ctx, n, metric.WithAttributes(in.stage, AttrReason.String(reason)))
}

// DeadLetter counts a message sent to the dead-letter topic.
func (in *Instruments) DeadLetter(ctx context.Context, reason string) {
	in.DeadLetters.Add(ctx, 1, metric.WithAttributes(in.stage, AttrReason.String(reason)))
}

// KafkaOperation records one Kafka client call (send, poll or commit) on topic.
func (in *Instruments) KafkaOperation(ctx context.Context, op, topic string, seconds float64) {
	in.ClientOperations.Record(ctx, seconds, metric.WithAttributes(in.stage,
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.name", op),
		attribute.String("messaging.destination.name", topic)))
}

// ClickHouseInsert records one insert into a ClickHouse table (named as in the
// contract: "restricted.decisions", "analytics.people", …): its duration by outcome,
// and its rows when ClickHouse acknowledged it.
func (in *Instruments) ClickHouseInsert(ctx context.Context, table string, rows int64, seconds float64, ok bool) {
	outcome := "ok"
	if !ok {
		outcome = "error"
	}
	in.InsertDuration.Record(ctx, seconds, metric.WithAttributes(AttrTable.String(table), AttrOutcome.String(outcome)))
	if ok && rows > 0 {
		in.InsertRows.Add(ctx, rows, metric.WithAttributes(AttrTable.String(table)))
	}
}

// ConsumerLagSample is one partition's lag as clearway.consumer.lag reports it.
type ConsumerLagSample struct {
	Group     string
	Topic     string
	Partition int
	Lag       int64
}

// ObserveConsumerLag makes every collection of clearway.consumer.lag report what samples
// returns at that moment, labelled with this service's stage, the group, topic and
// partition, until stop is called. An observable gauge exports only the series observed
// at each collection, so a partition that moved to another member stops being reported
// by this one. samples must be quick (it runs during a scrape): return a snapshot.
func (t *Telemetry) ObserveConsumerLag(samples func() []ConsumerLagSample) (stop func(), err error) {
	in := t.Instruments
	reg, err := t.Meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, s := range samples() {
			o.ObserveInt64(in.ConsumerLag, s.Lag, metric.WithAttributes(in.stage,
				attribute.String("messaging.consumer.group.name", s.Group),
				attribute.String("messaging.destination.name", s.Topic),
				attribute.String("messaging.destination.partition.id", strconv.Itoa(s.Partition))))
		}
		return nil
	}, in.ConsumerLag)
	if err != nil {
		return nil, fmt.Errorf("observe consumer lag: %w", err)
	}
	return func() { _ = reg.Unregister() }, nil
}
