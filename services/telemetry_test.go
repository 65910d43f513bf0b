package services_test

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearway/clearway/deploy/monitoring"
	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/telemetry/telemetrytest"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/evaluator"
	"github.com/clearway/clearway/services/ingest"
	"github.com/clearway/clearway/services/sink"
)

// needsKafkaOrClickHouse are the contract's metrics a run over the memory bus cannot
// produce: ClickHouse inserts (no warehouse in this test).
var needsKafkaOrClickHouse = []string{
	"clearway_clickhouse_insert_duration_seconds",
	"clearway_clickhouse_insert_rows_total",
}

// scraped is one /metrics scrape, parsed.
type scraped map[string]*dto.MetricFamily

func scrapeMetrics(t *testing.T, tel *telemetry.Telemetry) scraped {
	t.Helper()
	return telemetrytest.Scrape(t, tel)
}

// sum adds the values (counter, gauge, or histogram sample count) of the family's
// series whose labels include want.
func (s scraped) sum(name string, want map[string]string) float64 {
	f, ok := s[name]
	if !ok {
		return 0
	}
	var total float64
	for _, m := range f.GetMetric() {
		labels := telemetrytest.Labels(m)
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// TestTelemetryAcrossThePipeline runs ingest → evaluator → sink over the memory bus with
// an in-memory span exporter, then scrapes each service's /metrics: the record counters
// must equal the run's numbers, and one trace must cross all three services.
func TestTelemetryAcrossThePipeline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	in := generate(t, 3000, false)
	// One row the reader must quarantine (too few columns), so the quarantine counter is
	// exercised with a known reason.
	f, err := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("DOE,JANE,TOO,FEW\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	spans := tracetest.NewInMemoryExporter()
	tels := map[string]*telemetry.Telemetry{}
	for _, svc := range []string{"ingest", "evaluate", "sink"} {
		tel, err := telemetry.New(ctx, telemetry.Options{Service: svc, Version: "test", SpanExporter: spans})
		if err != nil {
			t.Fatal(err)
		}
		defer tel.Shutdown(context.Background())
		tels[svc] = tel
	}

	broker := memory.New(memory.Config{})
	c := &cluster{t: t, bus: memoryBus(broker), topics: control.DefaultTopics(), out: t.TempDir(), log: quietLog(t)}
	if err := broker.EnsureTopics(ctx, c.topics.Specs()...); err != nil {
		t.Fatal(err)
	}
	// A message no evaluator can process: it must reach the dead-letter topic and the
	// dead-letter counter.
	poison := bus.Message{Topic: c.topics.SubjectsTopic(), Partition: 0, Value: []byte("x"),
		Headers: []bus.Header{{Key: control.HeaderType, Value: []byte(control.TypeSubjects)}}}
	if err := c.bus.Publisher.Publish(ctx, poison); err != nil {
		t.Fatal(err)
	}

	// One message per fetch, so every consumer span is its producer span's child and the
	// trace ids match across services (larger fetches link instead).
	ecfg := evaluator.DefaultConfig()
	ecfg.Topics, ecfg.HTTP, ecfg.Instance, ecfg.FetchMax, ecfg.Telemetry = c.topics, "", "ev1", 1, tels["evaluate"]
	ev, err := evaluator.New(ecfg, c.bus, c.log.With("service", "ev1"))
	if err != nil {
		t.Fatal(err)
	}
	c.start(ev.Run)
	scfg := sink.DefaultConfig()
	scfg.Topics, scfg.HTTP, scfg.Out, scfg.Instance, scfg.FetchMax, scfg.Telemetry = c.topics, "", c.out, "sink", 1, tels["sink"]
	sk, err := sink.New(scfg, c.bus, c.log.With("service", "sink"))
	if err != nil {
		t.Fatal(err)
	}
	c.start(sk.Run)

	icfg := ingestConfig(c.topics, "telemetry")
	icfg.BatchSubjects, icfg.Telemetry = 64, tels["ingest"]
	st, err := ingest.Run(ctx, c.bus, icfg, []string{in}, c.log.With("service", "ingest"))
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	run := waitRun(ctx, t, c.bus, c.topics, "telemetry")
	// Consumer lag is observed only while a service runs: one series per assigned
	// partition, read when the partitions were assigned.
	live := map[string]scraped{}
	for _, svc := range []string{"evaluate", "sink"} {
		live[svc] = scrapeMetrics(t, tels[svc])
	}
	c.stopAll() // every batch span ended and every counter final
	for svc, topic := range map[string]string{"evaluate": c.topics.SubjectsTopic(), "sink": c.topics.DecisionsTopic()} {
		n := 0
		for _, m := range live[svc]["clearway_consumer_lag"].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "messaging_destination_name" && l.GetValue() == topic {
					n++
				}
			}
		}
		if n != c.topics.Partitions {
			t.Errorf("%s: consumer lag on %s has %d series, want one per partition (%d)", svc, topic, n, c.topics.Partitions)
		}
	}
	if run.Failed != nil {
		t.Fatalf("run failed: %s", run.Failed.Reason)
	}
	if st.Attempt != 1 || st.Rejects != 1 {
		t.Fatalf("ingest: attempt %d with %d rejects, want 1 attempt (grouped input) and the 1 bad row", st.Attempt, st.Rejects)
	}

	got := map[string]scraped{}
	for svc, tel := range tels {
		got[svc] = scrapeMetrics(t, tel)
	}
	const records = "clearway_records_processed_total"
	dir := func(stage, d string) map[string]string { return map[string]string{"stage": stage, "direction": d} }
	for _, c := range []struct {
		what string
		got  float64
		want int64
	}{
		{"ingest in (rows read)", got["ingest"].sum(records, dir("ingest", "in")), st.Rows},
		{"ingest out (subjects published)", got["ingest"].sum(records, dir("ingest", "out")), st.Subjects},
		{"evaluate in (subjects consumed)", got["evaluate"].sum(records, dir("evaluate", "in")), st.Subjects},
		{"evaluate out (decisions published)", got["evaluate"].sum(records, dir("evaluate", "out")), st.Subjects},
		{"sink in (decisions consumed)", got["sink"].sum(records, dir("sink", "in")), run.Complete.Subjects},
		{"sink out (decisions stored)", got["sink"].sum(records, dir("sink", "out")), run.Complete.Subjects},
		{"quarantined column_count", got["ingest"].sum("clearway_rows_quarantined_total",
			map[string]string{"stage": "ingest", "reason": "column_count"}), st.Rejects},
		{"dead letters missing_run_id", got["evaluate"].sum("clearway_deadletter_messages_total",
			map[string]string{"stage": "evaluate", "reason": "missing_run_id"}), 1},
		{"rebalances (one join each)", got["evaluate"].sum("clearway_consumer_rebalances_total", nil) +
			got["sink"].sum("clearway_consumer_rebalances_total", nil), 2},
		{"stored subjects gauge", got["sink"].sum("clearway_run_subjects",
			map[string]string{"run_id": "telemetry", "state": "stored"}), run.Complete.Subjects},
		{"published subjects gauge", got["sink"].sum("clearway_run_subjects",
			map[string]string{"run_id": "telemetry", "state": "published"}), st.Subjects},
		{"run complete gauge", got["sink"].sum("clearway_run_complete", map[string]string{"run_id": "telemetry"}), 1},
		{"ingest input bytes", got["ingest"].sum("clearway_data_processed_bytes_total", dir("ingest", "in")), fileSize(t, in)},
	} {
		if int64(c.got) != c.want {
			t.Errorf("%s = %v, want %d", c.what, c.got, c.want)
		}
	}
	if run.Complete.Subjects != st.Subjects {
		t.Errorf("run: %d rows, %d subjects published, %d stored", st.Rows, st.Subjects, run.Complete.Subjects)
	}
	if n := got["sink"].sum("clearway_pipeline_latency_seconds", nil); n < 1 {
		t.Error("no end-to-end latency recorded")
	}
	for _, op := range []string{"send", "poll", "commit"} {
		if got["evaluate"].sum("messaging_client_operation_duration_seconds", map[string]string{"messaging_operation_name": op}) < 1 {
			t.Errorf("evaluator recorded no %s durations", op)
		}
	}

	contract, err := monitoring.LoadContract("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range contract {
		found := false
		for _, s := range append(slices.Collect(maps.Values(got)), slices.Collect(maps.Values(live))...) {
			if _, ok := s[name]; ok {
				found = true
			}
		}
		if !found && !slices.Contains(needsKafkaOrClickHouse, name) {
			t.Errorf("contract metric %s is not exported by any service after a run", name)
		}
	}

	checkTrace(t, tels, spans)
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// checkTrace finds a sink span whose parent is an evaluator span whose parent is an
// ingest span, all in one trace.
func checkTrace(t *testing.T, tels map[string]*telemetry.Telemetry, spans *tracetest.InMemoryExporter) {
	t.Helper()
	for _, tel := range tels {
		if err := tel.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	bySpan := map[trace.SpanID]tracetest.SpanStub{}
	for _, s := range spans.GetSpans() {
		bySpan[s.SpanContext.SpanID()] = s
	}
	service := func(s tracetest.SpanStub) string {
		for _, kv := range s.Resource.Attributes() {
			if kv.Key == "service.name" {
				return strings.TrimPrefix(kv.Value.AsString(), "clearway-")
			}
		}
		return ""
	}
	for _, s := range bySpan {
		if s.Name != "sink store" || service(s) != "sink" {
			continue
		}
		ev, ok := bySpan[s.Parent.SpanID()]
		if !ok || ev.Name != "evaluate batch" || service(ev) != "evaluate" {
			continue
		}
		ing, ok := bySpan[ev.Parent.SpanID()]
		if !ok || ing.Name != "ingest publish" || service(ing) != "ingest" {
			continue
		}
		id := s.SpanContext.TraceID()
		if ev.SpanContext.TraceID() != id || ing.SpanContext.TraceID() != id {
			t.Fatalf("parent chain crosses trace ids")
		}
		for _, kv := range ev.Attributes {
			if kv.Key == "messaging.destination.name" && kv.Value.AsString() != control.DefaultSubjectsTopic {
				t.Errorf("evaluate span destination %q", kv.Value.AsString())
			}
		}
		return
	}
	t.Errorf("no trace crosses ingest, evaluator and sink among %d spans", len(bySpan))
}
