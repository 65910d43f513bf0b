package telemetry

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/clearway/clearway/deploy/monitoring"
	"github.com/clearway/clearway/pkg/bus"
)

// exerciseAll records every instrument once, with the labels docs/metrics.md gives it.
func exerciseAll(ctx context.Context, in *Instruments) {
	in.RecordsIn(ctx, 5, 500)
	in.RecordsOut(ctx, 2, 200)
	in.Batch(ctx, "out", 2, 200)
	in.BatchTook(ctx, 0.01)
	in.InsertDuration.Record(ctx, 0.2, metric.WithAttributes(AttrTable.String("analytics.decisions"), AttrOutcome.String("ok")))
	in.InsertRows.Add(ctx, 10, metric.WithAttributes(AttrTable.String("analytics.decisions")))
	in.Quarantine(ctx, "bad_date", 1)
	in.DeadLetter(ctx, "decode_error")
	in.Rebalances.Add(ctx, 1, metric.WithAttributes(in.stage, attribute.String("messaging.consumer.group.name", "clearway-evaluator")))
	in.KafkaOperation(ctx, "commit", "clearway.subjects.v1", 0.003)
	in.PipelineLatency.Record(ctx, 1.5)
	in.RunSubjects.Record(ctx, 7, metric.WithAttributes(AttrRunID.String("r1"), AttrState.String("stored"),
		attribute.String("messaging.destination.partition.id", "0")))
	in.RunComplete.Record(ctx, 1, metric.WithAttributes(AttrRunID.String("r1")))
}

func scrape(t *testing.T, tel *Telemetry) map[string]*familyInfo {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	out := make(map[string]*familyInfo)
	for name, f := range fams {
		fi := &familyInfo{typ: strings.ToLower(f.GetType().String())}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if !strings.HasPrefix(l.GetName(), "otel_scope_") && !slices.Contains(fi.labels, l.GetName()) {
					fi.labels = append(fi.labels, l.GetName())
				}
			}
		}
		slices.Sort(fi.labels)
		out[name] = fi
	}
	return out
}

type familyInfo struct {
	typ    string
	labels []string
}

// TestExportsTheMetricsContract checks that what /metrics serves is exactly the contract
// in docs/metrics.md that the Grafana dashboard and the alert rules are checked against.
func TestExportsTheMetricsContract(t *testing.T) {
	ctx := context.Background()
	tel, err := New(ctx, Options{Service: "evaluate", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	exerciseAll(ctx, tel.Instruments)
	stop, err := tel.ObserveConsumerLag(func() []ConsumerLagSample {
		return []ConsumerLagSample{{Group: "clearway-evaluator", Topic: "clearway.subjects.v1", Partition: 0, Lag: 3}}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	got := scrape(t, tel)
	contract, err := monitoring.LoadContract("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	for name, m := range contract {
		f, ok := got[name]
		if !ok {
			t.Errorf("contract metric %s (%s) is not exported", name, m.Instrument)
			continue
		}
		if f.typ != m.Type {
			t.Errorf("%s: exported as %s, contract says %s", name, f.typ, m.Type)
		}
		want := slices.Clone(m.Labels)
		slices.Sort(want)
		if !slices.Equal(f.labels, want) {
			t.Errorf("%s: labels %v, contract says %v", name, f.labels, want)
		}
	}
	for name := range got {
		if _, ok := contract[name]; !ok && name != "target_info" {
			t.Errorf("exported metric %s is not in docs/metrics.md", name)
		}
	}
}

func TestTraceContextCrossesHeaders(t *testing.T) {
	ctx := context.Background()
	spans := tracetest.NewInMemoryExporter()
	ingest, _ := New(ctx, Options{Service: "ingest", SpanExporter: spans})
	eval, _ := New(ctx, Options{Service: "evaluate", SpanExporter: spans})
	ctx1, span := ingest.Tracer.Start(ctx, "publish")
	var headers []bus.Header
	ingest.Inject(ctx1, &headers)
	span.End()
	_, child := eval.Tracer.Start(eval.Extract(ctx, headers), "process")
	child.End()
	ingest.ForceFlush(ctx)
	eval.ForceFlush(ctx)
	got := spans.GetSpans()
	if len(got) != 2 {
		t.Fatalf("%d spans", len(got))
	}
	if got[0].SpanContext.TraceID() != got[1].SpanContext.TraceID() || got[1].Parent.SpanID() != got[0].SpanContext.SpanID() {
		t.Error("the evaluator's span is not a child of the ingest span")
	}
	if (HeaderCarrier{Headers: &headers}).Get("traceparent") == "" {
		t.Error("no traceparent header")
	}
}

func TestLoggerAddsTraceIDs(t *testing.T) {
	ctx := context.Background()
	tel, _ := New(ctx, Options{Service: "sink"})
	var buf bytes.Buffer
	log := NewLogger(&buf, true, slog.LevelInfo)
	ctx, span := tel.Tracer.Start(ctx, "x")
	log.InfoContext(ctx, "stored batch", "rows", 3)
	span.End()
	if !strings.Contains(buf.String(), `"trace_id":"`+span.SpanContext().TraceID().String()) {
		t.Errorf("log line without trace id: %s", buf.String())
	}
}

// lagSeries scrapes clearway_consumer_lag as "group/topic/partition" → value.
func lagSeries(t *testing.T, tel *Telemetry) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	out := map[string]float64{}
	for _, m := range fams["clearway_consumer_lag"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
		if l["stage"] != tel.Service {
			t.Errorf("lag series with stage %q, want %q", l["stage"], tel.Service)
		}
		out[l["messaging_consumer_group_name"]+"/"+l["messaging_destination_name"]+"/"+l["messaging_destination_partition_id"]] = m.GetGauge().GetValue()
	}
	return out
}

// TestConsumerLagReportsTheCurrentSnapshot: each scrape reports exactly the partitions
// the callback returns now; a partition no longer returned (moved to another member)
// disappears, and nothing is reported after stop.
func TestConsumerLagReportsTheCurrentSnapshot(t *testing.T) {
	ctx := context.Background()
	tel, err := New(ctx, Options{Service: "sink", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)
	snapshot := []ConsumerLagSample{{"g", "t", 0, 3}, {"g", "t", 1, 5}}
	stop, err := tel.ObserveConsumerLag(func() []ConsumerLagSample { return snapshot })
	if err != nil {
		t.Fatal(err)
	}
	if got, want := lagSeries(t, tel), map[string]float64{"g/t/0": 3, "g/t/1": 5}; !maps.Equal(got, want) {
		t.Errorf("first scrape %v, want %v", got, want)
	}
	snapshot = []ConsumerLagSample{{"g", "t", 1, 0}}
	if got, want := lagSeries(t, tel), map[string]float64{"g/t/1": 0}; !maps.Equal(got, want) {
		t.Errorf("after partition 0 moved away: %v, want %v", got, want)
	}
	stop()
	if got := lagSeries(t, tel); len(got) != 0 {
		t.Errorf("after stop: %v, want nothing", got)
	}
}
