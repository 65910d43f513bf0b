package control

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/services/health"
)

// HeaderPublishedAt is the time ingest published a subjects message, in Unix nanoseconds
// (decimal). The evaluator copies it to the results it publishes, and the sink measures
// the pipeline's end-to-end latency from it once its write is acknowledged.
const HeaderPublishedAt = "clearway-published-at"

// Messaging span attributes (OpenTelemetry semantic conventions).
var (
	attrSystem      = attribute.String("messaging.system", "kafka")
	attrDestination = attribute.Key("messaging.destination.name")
	attrPartition   = attribute.Key("messaging.destination.partition.id")
	attrOperation   = attribute.Key("messaging.operation.name")
	attrBatchCount  = attribute.Key("messaging.batch.message_count")
	attrGroup       = attribute.Key("messaging.consumer.group.name")
)

// StartEndpoints starts what every service runs first: its telemetry (startTelemetry)
// and its /healthz, /readyz and /metrics endpoint on addr ("" disables it; see
// health.Listen). stop closes the endpoint, then shuts down what startTelemetry created.
func StartEndpoints(ctx context.Context, tel *telemetry.Telemetry, service, addr string) (*telemetry.Telemetry, *health.Server, func(), error) {
	tel, stopTelemetry, err := startTelemetry(ctx, tel, service)
	if err != nil {
		return nil, nil, nil, err
	}
	hs, err := health.Listen(addr, health.WithMetrics(tel.Handler()))
	if err != nil {
		stopTelemetry()
		return nil, nil, nil, err
	}
	return tel, hs, func() {
		hs.Close(context.WithoutCancel(ctx))
		stopTelemetry()
	}, nil
}

// startTelemetry returns tel, or when it is nil a new Telemetry for service, with the
// function that shuts down what startTelemetry created (a no-op for a given tel: its
// owner shuts it down).
func startTelemetry(ctx context.Context, tel *telemetry.Telemetry, service string) (*telemetry.Telemetry, func(), error) {
	if tel != nil {
		return tel, func() {}, nil
	}
	tel, err := telemetry.New(ctx, telemetry.Options{Service: service, Version: eligibility.Version})
	if err != nil {
		return nil, nil, fmt.Errorf("%s telemetry: %w", service, err)
	}
	return tel, func() {
		// Flush spans even if the service's context is already cancelled, but do not let an
		// unreachable collector hold up shutdown for long.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}, nil
}

// ProducerSpan starts the span of one published batch ("ingest publish").
func ProducerSpan(ctx context.Context, tel *telemetry.Telemetry, name, topic string, partition, messages int) (context.Context, trace.Span) {
	return tel.Tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attrSystem, attrDestination.String(topic), attrPartition.String(strconv.Itoa(partition)),
		attrOperation.String("send"), attrBatchCount.Int(messages)))
}

// ConsumerSpan starts the span of processing one fetched batch (all from one partition).
// When every message carries the same producer context (a batch of one, typically) the
// span is its child, so the trace continues across services; a batch gathered from
// several producer batches cannot have several parents, so it starts a trace of its own
// with a link to each distinct producer context, as the messaging conventions advise
// for batched consumption.
func ConsumerSpan(ctx context.Context, tel *telemetry.Telemetry, name, group string, msgs []bus.Message) (context.Context, trace.Span) {
	var (
		links   []trace.Link
		parents = map[trace.SpanID]bool{}
		parent  context.Context
	)
	for _, m := range msgs {
		pctx := tel.Extract(ctx, m.Headers)
		sc := trace.SpanContextFromContext(pctx)
		if !sc.IsValid() || parents[sc.SpanID()] {
			continue
		}
		parents[sc.SpanID()] = true
		parent = pctx
		links = append(links, trace.Link{SpanContext: sc})
	}
	attrs := []attribute.KeyValue{attrSystem, attrOperation.String("process"), attrGroup.String(group),
		attrBatchCount.Int(len(msgs))}
	if len(msgs) > 0 {
		attrs = append(attrs, attrDestination.String(msgs[0].Topic), attrPartition.String(strconv.Itoa(msgs[0].Partition)))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attrs...)}
	if len(links) == 1 {
		return tel.Tracer.Start(parent, name, opts...)
	}
	opts = append(opts, trace.WithNewRoot(), trace.WithLinks(links...))
	return tel.Tracer.Start(ctx, name, opts...)
}

// StampPublished sets HeaderPublishedAt to at on headers.
func StampPublished(headers []bus.Header, at time.Time) []bus.Header {
	return WithHeader(headers, HeaderPublishedAt, strconv.AppendInt(nil, at.UnixNano(), 10))
}

// PublishedAt returns the time ingest published m's subjects, if m carries it.
func PublishedAt(m bus.Message) (time.Time, bool) {
	v, ok := m.Header(HeaderPublishedAt)
	if !ok {
		return time.Time{}, false
	}
	ns, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil || ns <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// TimedPublish publishes msgs (all for one topic) and records the send's duration.
func TimedPublish(ctx context.Context, tel *telemetry.Telemetry, p bus.Publisher, msgs ...bus.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	start := time.Now()
	err := p.Publish(ctx, msgs...)
	tel.Instruments.KafkaOperation(ctx, "send", msgs[0].Topic, time.Since(start).Seconds())
	return err
}

// TimedFetch fetches from sub and records the poll's duration against topic (the
// fetched messages' topic when there are any).
func TimedFetch(ctx context.Context, tel *telemetry.Telemetry, sub bus.Subscriber, topic string, max int) ([]bus.Message, error) {
	start := time.Now()
	msgs, err := sub.Fetch(ctx, max)
	if len(msgs) > 0 {
		topic = msgs[0].Topic
	}
	if err == nil {
		tel.Instruments.KafkaOperation(ctx, "poll", topic, time.Since(start).Seconds())
	}
	return msgs, err
}

// TimedCommit commits msgs and records the commit's duration.
func TimedCommit(ctx context.Context, tel *telemetry.Telemetry, sub bus.Subscriber, msgs ...bus.Message) error {
	start := time.Now()
	err := sub.Commit(ctx, msgs...)
	if len(msgs) > 0 {
		tel.Instruments.KafkaOperation(ctx, "commit", msgs[0].Topic, time.Since(start).Seconds())
	}
	return err
}

// WatchAssignment calls onChange with every assignment the subscriber gets, from the
// current one on, until ctx ends, and counts each assignment after the first one as
// well as the first non-empty one as a consumer-group generation joined
// (clearway.consumer.rebalances). It returns when ctx ends.
func WatchAssignment(ctx context.Context, tel *telemetry.Telemetry, sub bus.Subscriber, group string, onChange func([]bus.TopicPartition)) {
	attrs := metric.WithAttributes(telemetry.AttrStage.String(tel.Service), attrGroup.String(group))
	first := true
	for {
		tps, changed := sub.Assignment()
		// The initial empty assignment (before the group's first join completes) is not a
		// generation; every later change is.
		if !first || len(tps) > 0 {
			tel.Instruments.Rebalances.Add(ctx, 1, attrs)
		}
		first = first && len(tps) == 0
		onChange(tps)
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// LagInterval is how often a consumer service reads its group's lag for
// clearway.consumer.lag (besides at every assignment change). Prometheus scrapes every
// 15-30 s; the gauge is at most this old.
const LagInterval = 5 * time.Second

// lagTimeout bounds one reading of a topic's lag.
const lagTimeout = 10 * time.Second

// ReportLag reports clearway.consumer.lag for the partitions assigned to sub, a member of
// group: it reads the group's lag on their topics (Admin.Lag) at once, at every
// assignment change and every interval, and each scrape reports the latest reading. A
// reading that fails reports nothing for that topic until one succeeds, rather than a
// stale number. It runs until ctx ends or the returned function (which waits for it) is
// called; the services defer that call.
func ReportLag(ctx context.Context, tel *telemetry.Telemetry, admin bus.Admin, sub bus.Subscriber, group string, interval time.Duration) (stop func()) {
	var (
		mu       sync.Mutex
		snapshot []telemetry.ConsumerLagSample
	)
	unregister, err := tel.ObserveConsumerLag(func() []telemetry.ConsumerLagSample {
		mu.Lock()
		defer mu.Unlock()
		return snapshot
	})
	if err != nil {
		slog.Warn("consumer lag will not be reported", "group", group, "err", err)
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		failing := false
		for {
			tps, changed := sub.Assignment()
			next, err := readLag(ctx, admin, group, tps)
			mu.Lock()
			snapshot = next
			mu.Unlock()
			switch {
			case ctx.Err() != nil:
			case err != nil && !failing:
				slog.Warn("cannot read consumer lag; clearway_consumer_lag is incomplete until it can", "group", group, "err", err)
			case err == nil && failing:
				slog.Info("consumer lag readable again", "group", group)
			}
			failing = err != nil
			select {
			case <-ctx.Done():
				return
			case <-changed:
			case <-tick.C:
			}
		}
	}()
	return func() {
		cancel()
		<-done
		unregister()
	}
}

// readLag reads group's lag on the topics of tps and returns the samples of tps, with
// the first error (the topics that failed have no samples).
func readLag(ctx context.Context, admin bus.Admin, group string, tps []bus.TopicPartition) ([]telemetry.ConsumerLagSample, error) {
	var (
		topics   []string
		out      []telemetry.ConsumerLagSample
		firstErr error
	)
	for _, tp := range tps {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	for _, topic := range topics {
		rctx, cancel := context.WithTimeout(ctx, lagTimeout)
		lags, err := admin.Lag(rctx, group, topic)
		cancel()
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		for _, l := range lags {
			if slices.Contains(tps, l.TopicPartition) {
				out = append(out, telemetry.ConsumerLagSample{Group: group, Topic: topic, Partition: l.Partition, Lag: l.Messages()})
			}
		}
	}
	return out, firstErr
}
