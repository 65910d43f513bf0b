package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"syscall"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/clearway/clearway/pkg/bus"
)

// Subscriber is one member of a Kafka consumer group.
//
// kafka-go's ConsumerGroup does the group protocol; for each generation the subscriber
// starts one partition reader per assigned partition at the committed offset. Readers
// fill bounded per-partition queues (Config.QueueCapacity), so a slow consumer slows the
// fetching rather than growing memory. When the generation ends (a member joined or
// left), the readers stop, the queues are dropped, and commits for partitions that are
// not reassigned here fail with bus.ErrRevoked. It is safe for concurrent use.
type Subscriber struct {
	cfg    Config
	cg     *kafkago.ConsumerGroup
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	mu        sync.Mutex
	gen       *kafkago.Generation // nil between generations
	queues    map[bus.TopicPartition]*queue
	order     []bus.TopicPartition // sorted keys of queues
	rr        int                  // round-robin cursor over order
	committed map[bus.TopicPartition]int64
	ready     chan struct{} // closed and replaced when a queue fills or the state changes
	assigned  chan struct{} // closed and replaced when the assignment changes
	closed    bool
}

// queue holds fetched messages of one partition for one generation.
type queue struct {
	msgs  []bus.Message
	space chan struct{} // capacity 1: a Fetch took messages
}

var _ bus.Subscriber = (*Subscriber)(nil)

// NewSubscriber joins opts.Group (cfg.Group when empty) and starts consuming opts.Topics.
// The first assignment arrives asynchronously; Assignment reports it.
func NewSubscriber(cfg Config, opts bus.SubscriberOptions) (*Subscriber, error) {
	if opts.Group == "" {
		opts.Group = cfg.Group
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	cg, err := kafkago.NewConsumerGroup(kafkago.ConsumerGroupConfig{
		ID:                    opts.Group,
		Brokers:               cfg.Brokers,
		Dialer:                cfg.dialer(),
		Topics:                slices.Clone(opts.Topics),
		HeartbeatInterval:     cfg.HeartbeatInterval,
		SessionTimeout:        cfg.SessionTimeout,
		RebalanceTimeout:      cfg.RebalanceTimeout,
		JoinGroupBackoff:      cfg.JoinGroupBackoff,
		WatchPartitionChanges: true,
		StartOffset:           kafkago.FirstOffset,
		Timeout:               cfg.RequestTimeout,
		Logger:                cfg.logger(slog.LevelDebug),
		ErrorLogger:           cfg.logger(slog.LevelWarn),
	})
	if err != nil {
		return nil, fmt.Errorf("consumer group %s: %w", opts.Group, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Subscriber{
		cfg:       cfg,
		cg:        cg,
		cancel:    cancel,
		done:      make(chan struct{}),
		committed: make(map[bus.TopicPartition]int64),
		ready:     make(chan struct{}),
		assigned:  make(chan struct{}),
	}
	go s.run(ctx)
	return s, nil
}

// run follows the group from generation to generation until Close.
func (s *Subscriber) run(ctx context.Context) {
	defer close(s.done)
	for {
		gen, err := s.cg.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafkago.ErrGroupClosed) {
				return
			}
			// kafka-go has already backed off (JoinGroupBackoff) where that helps; a
			// rebalance in progress or a coordinator move resolves on the next join.
			s.log(slog.LevelWarn, "consumer group join failed", "err", err)
			continue
		}
		queues, ok := s.install(gen)
		if !ok {
			continue // closed meanwhile: Next returns ErrGroupClosed next
		}
		// Every function started on the generation must run until it ends: kafka-go
		// ends the generation as soon as one of them returns.
		gen.Start(func(gctx context.Context) {
			<-gctx.Done()
			s.uninstall(gen)
		})
		for tp, q := range queues {
			offset := q.start
			gen.Start(func(gctx context.Context) { s.consume(gctx, tp, offset, q.q) })
		}
	}
}

type startQueue struct {
	q     *queue
	start int64
}

// install makes gen the current generation with fresh, empty queues.
func (s *Subscriber) install(gen *kafkago.Generation) (map[bus.TopicPartition]startQueue, bool) {
	out := make(map[bus.TopicPartition]startQueue)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false
	}
	s.gen = gen
	s.queues = make(map[bus.TopicPartition]*queue)
	s.order = s.order[:0]
	for topic, parts := range gen.Assignments {
		for _, pa := range parts {
			tp := bus.TopicPartition{Topic: topic, Partition: pa.ID}
			q := &queue{space: make(chan struct{}, 1)}
			s.queues[tp] = q
			s.order = append(s.order, tp)
			if pa.Offset >= 0 {
				s.committed[tp] = pa.Offset
			} else {
				delete(s.committed, tp)
			}
			out[tp] = startQueue{q: q, start: pa.Offset}
		}
	}
	bus.SortPartitions(s.order)
	s.log(slog.LevelDebug, "consumer group generation", "generation", gen.ID, "partitions", len(s.order))
	s.changed(true)
	return out, true
}

// uninstall forgets gen once it has ended, dropping what was fetched but not handed out.
func (s *Subscriber) uninstall(gen *kafkago.Generation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	s.gen = nil
	s.queues = nil
	s.order = nil
	s.changed(true)
}

// changed wakes Fetch and, if the assignment changed, Assignment watchers. Callers hold mu.
func (s *Subscriber) changed(assignment bool) {
	close(s.ready)
	s.ready = make(chan struct{})
	if assignment {
		close(s.assigned)
		s.assigned = make(chan struct{})
	}
}

// consume reads one partition from offset into q until the generation ends.
func (s *Subscriber) consume(ctx context.Context, tp bus.TopicPartition, offset int64, q *queue) {
	r := kafkago.NewReader(kafkago.ReaderConfig{
		Brokers:        s.cfg.Brokers,
		Topic:          tp.Topic,
		Partition:      tp.Partition,
		Dialer:         s.cfg.dialer(),
		MinBytes:       s.cfg.FetchMinBytes,
		MaxBytes:       s.cfg.FetchMaxBytes,
		MaxWait:        s.cfg.FetchMaxWait,
		QueueCapacity:  min(s.cfg.QueueCapacity, 100),
		ReadBackoffMin: 100 * time.Millisecond,
		ReadBackoffMax: time.Second,
		Logger:         s.cfg.logger(slog.LevelDebug),
		ErrorLogger:    s.cfg.logger(slog.LevelWarn),
	})
	defer r.Close()
	if err := r.SetOffset(offset); err != nil {
		s.log(slog.LevelError, "set partition offset", "partition", tp.String(), "offset", offset, "err", err)
		<-ctx.Done()
		return
	}
	backoff := time.NewTimer(0)
	defer backoff.Stop()
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.log(slog.LevelWarn, "fetch", "partition", tp.String(), "err", err)
			backoff.Reset(time.Second)
			select {
			case <-ctx.Done():
				return
			case <-backoff.C:
			}
			continue
		}
		if !s.push(ctx, q, fromKafka(m)) {
			return
		}
	}
}

// push appends m to q, waiting while q is full.
func (s *Subscriber) push(ctx context.Context, q *queue, m bus.Message) bool {
	for {
		s.mu.Lock()
		if len(q.msgs) < s.cfg.QueueCapacity {
			q.msgs = append(q.msgs, m)
			s.changed(false)
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-q.space:
		}
	}
}

func fromKafka(m kafkago.Message) bus.Message {
	out := bus.Message{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time}
	if len(m.Headers) > 0 {
		out.Headers = make([]bus.Header, len(m.Headers))
		for i, h := range m.Headers {
			out.Headers[i] = bus.Header{Key: h.Key, Value: h.Value}
		}
	}
	return out
}

// Fetch returns up to max messages of one assigned partition, rotating over partitions.
func (s *Subscriber) Fetch(ctx context.Context, max int) ([]bus.Message, error) {
	if max < 1 {
		return nil, fmt.Errorf("fetch: max must be at least 1, got %d", max)
	}
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return nil, bus.ErrClosed
		}
		for i := range s.order {
			tp := s.order[(s.rr+i)%len(s.order)]
			q := s.queues[tp]
			if len(q.msgs) == 0 {
				continue
			}
			n := min(max, len(q.msgs))
			out := slices.Clone(q.msgs[:n])
			q.msgs = q.msgs[n:]
			if len(q.msgs) == 0 {
				q.msgs = nil // let the backing array go
			}
			select {
			case q.space <- struct{}{}:
			default:
			}
			s.rr = (s.rr + i + 1) % len(s.order)
			s.mu.Unlock()
			return out, nil
		}
		wait := s.ready
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}

// Commit commits synchronously through the current generation. kafka-go's commit call
// takes no context; if ctx ends first, Commit returns and the commit may still land.
func (s *Subscriber) Commit(ctx context.Context, msgs ...bus.Message) error {
	offsets := bus.CommitOffsets(msgs)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return bus.ErrClosed
	}
	gen := s.gen
	var revoked []bus.TopicPartition
	commit := make(map[string]map[int]int64)
	for tp, off := range offsets {
		if _, ok := s.queues[tp]; !ok {
			revoked = append(revoked, tp)
			continue
		}
		if prev, ok := s.committed[tp]; ok && off <= prev {
			continue
		}
		if commit[tp.Topic] == nil {
			commit[tp.Topic] = make(map[int]int64)
		}
		commit[tp.Topic][tp.Partition] = off
	}
	s.mu.Unlock()

	if len(commit) > 0 {
		errc := make(chan error, 1)
		go func() { errc <- gen.CommitOffsets(commit) }()
		select {
		case <-ctx.Done():
			return fmt.Errorf("commit: %w", ctx.Err())
		case err := <-errc:
			if err != nil {
				s.mu.Lock()
				stale := s.gen != gen
				s.mu.Unlock()
				if stale || errors.Is(err, kafkago.RebalanceInProgress) || errors.Is(err, kafkago.IllegalGeneration) ||
					errors.Is(err, kafkago.UnknownMemberId) || coordinatorUnavailable(err) {
					return fmt.Errorf("commit in generation %d: %w: %w", gen.ID, bus.ErrRevoked, err)
				}
				return fmt.Errorf("commit: %w", err)
			}
		}
		s.mu.Lock()
		for topic, parts := range commit {
			for p, off := range parts {
				tp := bus.TopicPartition{Topic: topic, Partition: p}
				if off > s.committed[tp] {
					s.committed[tp] = off
				}
			}
		}
		s.mu.Unlock()
	}
	if len(revoked) > 0 {
		bus.SortPartitions(revoked)
		return fmt.Errorf("commit %v: %w", revoked, bus.ErrRevoked)
	}
	return nil
}

// coordinatorUnavailable reports a commit that failed because the group coordinator was
// away (a broker restart, a coordinator move, a dropped connection). The offsets were
// not committed, but nothing is lost: the caller's next commit covers them (commits are
// cumulative per partition), or, if the member is gone by then, the messages are
// redelivered and deduplicated downstream. So it is reported like a revoke, which the
// services treat as "carry on", instead of as a fatal error.
func coordinatorUnavailable(err error) bool {
	if errors.Is(err, kafkago.NotCoordinatorForGroup) || errors.Is(err, kafkago.GroupCoordinatorNotAvailable) ||
		errors.Is(err, kafkago.GroupLoadInProgress) || errors.Is(err, kafkago.RequestTimedOut) ||
		errors.Is(err, kafkago.NetworkException) || errors.Is(err, kafkago.LeaderNotAvailable) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// Assignment returns the partitions of the current generation and a channel closed when
// they change.
func (s *Subscriber) Assignment() ([]bus.TopicPartition, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.order), s.assigned
}

// Close leaves the group (the coordinator rebalances the rest at once) and stops every
// reader. Fetched but uncommitted messages go to the remaining members.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.queues = nil
	s.order = nil
	s.gen = nil
	s.changed(true)
	s.mu.Unlock()

	s.cancel()
	err := s.cg.Close()
	<-s.done
	if err != nil {
		return fmt.Errorf("leave consumer group: %w", err)
	}
	return nil
}

func (s *Subscriber) log(level slog.Level, msg string, args ...any) {
	if s.cfg.Logger != nil {
		s.cfg.Logger.Log(context.Background(), level, msg, args...)
	}
}
