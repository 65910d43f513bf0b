package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/clearway/clearway/pkg/bus"
)

// Publisher writes to Kafka through one kafka-go Writer. Publish is synchronous: it returns
// once all in-sync replicas acknowledged every message (RequiredAcks=all), after up to
// Config.MaxAttempts tries per batch, and, while the failure is transient (broker
// unreachable, leader moving), further tries with backoff for up to Config.Outage, so that
// services ride out a broker restart instead of exiting. kafka-go has no idempotent
// producer, so a retried batch may be stored twice; consumers deduplicate. It is safe for concurrent use, and
// sharing one Publisher between goroutines gives the best batches.
type Publisher struct {
	w      *kafkago.Writer
	admin  *Admin
	opts   bus.PublisherOptions
	outage time.Duration
	log    *slog.Logger

	mu         sync.Mutex
	partitions map[string]int // partition counts, to check topics and explicit partitions
	closed     bool
}

var _ bus.Publisher = (*Publisher)(nil)

// NewPublisher returns a publisher for cfg's brokers.
func NewPublisher(cfg Config, opts bus.PublisherOptions) (*Publisher, error) {
	admin, err := NewAdmin(cfg)
	if err != nil {
		return nil, err
	}
	codec, err := compressionCodec(cfg.Compression)
	if err != nil {
		return nil, err
	}
	w := &kafkago.Writer{
		Addr:                   kafkago.TCP(cfg.Brokers...),
		Balancer:               balancer{explicit: opts.Partitioning == bus.PartitionExplicit},
		MaxAttempts:            cfg.MaxAttempts,
		WriteBackoffMin:        100 * time.Millisecond,
		WriteBackoffMax:        time.Second,
		BatchSize:              cfg.BatchSize,
		BatchBytes:             cfg.BatchBytes,
		BatchTimeout:           cfg.BatchTimeout,
		ReadTimeout:            cfg.WriteTimeout,
		WriteTimeout:           cfg.WriteTimeout,
		RequiredAcks:           kafkago.RequireAll,
		Compression:            codec,
		Logger:                 cfg.logger(slog.LevelDebug),
		ErrorLogger:            cfg.logger(slog.LevelWarn),
		Transport:              cfg.transport(),
		AllowAutoTopicCreation: false,
	}
	return &Publisher{w: w, admin: admin, opts: opts, outage: cfg.Outage, log: cfg.Logger,
		partitions: make(map[string]int)}, nil
}

// balancer routes by bus.PartitionFor, or to Message.Partition for explicit partitioning
// (kafka-go ignores Message.Partition when writing but hands it to the balancer).
type balancer struct{ explicit bool }

func (b balancer) Balance(m kafkago.Message, partitions ...int) int {
	if b.explicit {
		return m.Partition
	}
	return partitions[bus.PartitionFor(m.Key, len(partitions))]
}

// Publish writes msgs and waits for their acknowledgement.
func (p *Publisher) Publish(ctx context.Context, msgs ...bus.Message) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return bus.ErrClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	out := make([]kafkago.Message, len(msgs))
	for i, m := range msgs {
		if err := p.check(ctx, m); err != nil {
			return err
		}
		if m.Local != nil && m.Value == nil {
			return fmt.Errorf("publish to %s: a message with Local content needs its Value to cross the broker", m.Topic)
		}
		km := kafkago.Message{Topic: m.Topic, Partition: m.Partition, Key: m.Key, Value: m.Value, Time: m.Time}
		if len(m.Headers) > 0 {
			km.Headers = make([]kafkago.Header, len(m.Headers))
			for j, h := range m.Headers {
				km.Headers[j] = kafkago.Header{Key: h.Key, Value: h.Value}
			}
		}
		out[i] = km
	}
	if err := p.write(ctx, out); err != nil {
		return fmt.Errorf("publish %d messages to %s: %w", len(msgs), msgs[0].Topic, err)
	}
	return nil
}

// Backoff between the tries of a publish riding out an outage.
const (
	outageBackoffMin = 250 * time.Millisecond
	outageBackoffMax = 5 * time.Second
)

// write sends msgs, retrying transient failures for up to p.outage after the first one.
func (p *Publisher) write(ctx context.Context, msgs []kafkago.Message) error {
	var (
		deadline time.Time
		backoff  = outageBackoffMin
	)
	for {
		err := p.w.WriteMessages(ctx, msgs...)
		if err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(p.outage)
		}
		if !now.Before(deadline) {
			return fmt.Errorf("gave up after %s of broker trouble: %w", p.outage, err)
		}
		if p.log != nil {
			p.log.Warn("publish failed, retrying", "messages", len(msgs), "topic", msgs[0].Topic, "retry_in", backoff, "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		backoff = min(2*backoff, outageBackoffMax)
	}
}

// transient reports whether a failed write may succeed if tried again: Kafka errors that
// the protocol marks temporary (leader moving, coordinator loading, …), and anything that
// is not a Kafka error (connection refused, timeouts, a closed connection). A write
// failing on a permanent Kafka error (message too large, not authorised) is not retried.
func transient(err error) bool {
	var werrs kafkago.WriteErrors
	if errors.As(err, &werrs) {
		for _, e := range werrs {
			if e != nil && !transient(e) {
				return false
			}
		}
		return true
	}
	var kerr kafkago.Error
	if errors.As(err, &kerr) {
		return kerr.Temporary()
	}
	return true
}

// check rejects unknown topics and explicit partitions out of range before anything is
// written; the partition count is cached and refreshed when a partition looks too high,
// since topics can grow.
func (p *Publisher) check(ctx context.Context, m bus.Message) error {
	p.mu.Lock()
	n, ok := p.partitions[m.Topic]
	p.mu.Unlock()
	explicit := p.opts.Partitioning == bus.PartitionExplicit
	if ok && (!explicit || (m.Partition >= 0 && m.Partition < n)) {
		return nil
	}
	n, err := p.admin.Partitions(ctx, m.Topic)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	p.mu.Lock()
	p.partitions[m.Topic] = n
	p.mu.Unlock()
	if explicit && (m.Partition < 0 || m.Partition >= n) {
		return fmt.Errorf("publish to %q: partition %d out of range [0,%d)", m.Topic, m.Partition, n)
	}
	return nil
}

// Close waits for in-flight writes and closes the connections.
func (p *Publisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	err := p.w.Close()
	_ = p.admin.Close()
	if err != nil {
		return fmt.Errorf("close kafka writer: %w", err)
	}
	return nil
}
