// Package memory is an in-process message bus with Kafka's semantics where clearway relies
// on them: partitioned topics, keyed partitioning identical to bus/kafka, consumer groups
// with committed offsets, rebalancing when members join or leave, redelivery of everything
// not committed, and bounded partitions that make publishers wait (backpressure).
//
// It backs `clearway run` and the unit tests, so the embedded pipeline exercises the same
// delivery contract as the distributed one. Messages are kept only until every consumer
// group on the topic has committed past them, which bounds memory.
package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/clearway/clearway/pkg/bus"
)

// DefaultPartitionCapacity is the number of retained messages per partition used when
// Config.PartitionCapacity is zero.
const DefaultPartitionCapacity = 4096

// Config configures a Broker.
type Config struct {
	// PartitionCapacity bounds the messages a partition retains (published but not yet
	// committed by every consumer group on the topic). A publisher to a full partition
	// blocks until consumers commit or its context ends. Zero means
	// DefaultPartitionCapacity.
	PartitionCapacity int
	// TopicCapacity overrides PartitionCapacity for the topics it names.
	TopicCapacity map[string]int
}

// Broker is the in-process bus. Its zero value is not usable; call New.
//
// One mutex guards all state: the bus moves batches, not single messages, so the lock is
// taken a few times per batch and contention is not where the time goes. Waiters block on
// a broadcast channel that is closed and replaced on every state change.
type Broker struct {
	capacity      int
	topicCapacity map[string]int

	mu      sync.Mutex
	topics  map[string]*topic
	groups  map[string]*group
	changed chan struct{}
	now     func() time.Time
}

type topic struct {
	name       string
	capacity   int
	partitions []*partition
}

// partition is a log whose oldest retained message has offset base.
type partition struct {
	base int64
	msgs []bus.Message
}

func (p *partition) end() int64 { return p.base + int64(len(p.msgs)) }

type group struct {
	name      string
	members   []*Subscriber // in join order; assignment is deterministic from it
	committed map[bus.TopicPartition]int64
	owner     map[bus.TopicPartition]*Subscriber
}

// New returns an empty broker.
func New(cfg Config) *Broker {
	capacity := cfg.PartitionCapacity
	if capacity <= 0 {
		capacity = DefaultPartitionCapacity
	}
	return &Broker{
		capacity:      capacity,
		topicCapacity: cfg.TopicCapacity,
		topics:        make(map[string]*topic),
		groups:        make(map[string]*group),
		changed:       make(chan struct{}),
		now:           time.Now,
	}
}

// broadcast wakes every waiter. Callers hold b.mu.
func (b *Broker) broadcast() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// EnsureTopics creates missing topics; existing ones are left as they are.
func (b *Broker) EnsureTopics(ctx context.Context, specs ...bus.TopicSpec) error {
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range specs {
		if _, ok := b.topics[s.Name]; ok {
			continue
		}
		t := &topic{name: s.Name, capacity: b.capacity, partitions: make([]*partition, s.Partitions)}
		if c := b.topicCapacity[s.Name]; c > 0 {
			t.capacity = c
		}
		for i := range t.partitions {
			t.partitions[i] = &partition{}
		}
		b.topics[s.Name] = t
	}
	b.broadcast()
	return nil
}

// Lag reports group's position on every partition of topic. Start is the oldest retained
// message: messages every consuming group has committed are dropped.
func (b *Broker) Lag(ctx context.Context, group, topic string) ([]bus.PartitionLag, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	t, ok := b.topics[topic]
	if !ok {
		return nil, fmt.Errorf("lag of %q on %q: %w", group, topic, bus.ErrUnknownTopic)
	}
	g := b.groups[group]
	out := make([]bus.PartitionLag, len(t.partitions))
	for i, part := range t.partitions {
		tp := bus.TopicPartition{Topic: topic, Partition: i}
		committed := int64(-1)
		if g != nil {
			if off, ok := g.committed[tp]; ok {
				committed = off
			}
		}
		out[i] = bus.PartitionLag{TopicPartition: tp, Start: part.base, End: part.end(), Committed: committed}
	}
	return out, nil
}

// Publisher returns a publisher on this broker.
func (b *Broker) Publisher(opts bus.PublisherOptions) *Publisher {
	return &Publisher{b: b, opts: opts, done: make(chan struct{})}
}

// Publisher publishes to a Broker. It is safe for concurrent use.
type Publisher struct {
	b         *Broker
	opts      bus.PublisherOptions
	closeOnce sync.Once
	done      chan struct{}
}

var _ bus.Publisher = (*Publisher)(nil)

// Publish appends msgs to their partitions in order, waiting while a partition is full.
// Keys, values and headers are copied, so the caller may reuse its buffers at once.
func (p *Publisher) Publish(ctx context.Context, msgs ...bus.Message) error {
	b := p.b
	for i := range msgs {
		m := &msgs[i]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("publish to %q: %w", m.Topic, err)
		}
		b.mu.Lock()
		for {
			select {
			case <-p.done:
				b.mu.Unlock()
				return bus.ErrClosed
			default:
			}
			t, ok := b.topics[m.Topic]
			if !ok {
				b.mu.Unlock()
				return fmt.Errorf("publish to %q: %w", m.Topic, bus.ErrUnknownTopic)
			}
			pi, err := p.partition(m, len(t.partitions))
			if err != nil {
				b.mu.Unlock()
				return err
			}
			part := t.partitions[pi]
			if len(part.msgs) < t.capacity {
				stored := bus.Message{
					Topic:     m.Topic,
					Partition: pi,
					Offset:    part.end(),
					Key:       clone(m.Key),
					Value:     clone(m.Value),
					Headers:   cloneHeaders(m.Headers),
					Time:      m.Time,
					Local:     m.Local,
				}
				if stored.Time.IsZero() {
					stored.Time = b.now()
				}
				part.msgs = append(part.msgs, stored)
				b.broadcast()
				b.mu.Unlock()
				break
			}
			// Full: wait for a commit to trim the partition, or give up.
			wait := b.changed
			b.mu.Unlock()
			select {
			case <-ctx.Done():
				return fmt.Errorf("publish to %s[%d]: partition full: %w", m.Topic, pi, ctx.Err())
			case <-p.done:
				return bus.ErrClosed
			case <-wait:
			}
			b.mu.Lock()
		}
	}
	return nil
}

// InProcess reports true: messages stay in this process, Message.Local included.
func (p *Publisher) InProcess() bool { return true }

func (p *Publisher) partition(m *bus.Message, n int) (int, error) {
	if p.opts.Partitioning == bus.PartitionExplicit {
		if m.Partition < 0 || m.Partition >= n {
			return 0, fmt.Errorf("publish to %q: partition %d out of range [0,%d)", m.Topic, m.Partition, n)
		}
		return m.Partition, nil
	}
	return bus.PartitionFor(m.Key, n), nil
}

// Close makes later and blocked Publish calls return bus.ErrClosed.
func (p *Publisher) Close() error {
	p.closeOnce.Do(func() { close(p.done) })
	return nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}

func cloneHeaders(hs []bus.Header) []bus.Header {
	if hs == nil {
		return nil
	}
	out := make([]bus.Header, len(hs))
	for i, h := range hs {
		out[i] = bus.Header{Key: h.Key, Value: clone(h.Value)}
	}
	return out
}

// Subscribe joins opts.Group as a new member consuming opts.Topics, which must exist. The
// group rebalances at once: partitions are dealt round-robin over the members in join
// order, and a partition that changes owner resumes at the group's committed offset.
func (b *Broker) Subscribe(opts bus.SubscriberOptions) (*Subscriber, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, name := range opts.Topics {
		if _, ok := b.topics[name]; !ok {
			return nil, fmt.Errorf("subscribe to %q: %w", name, bus.ErrUnknownTopic)
		}
	}
	g, ok := b.groups[opts.Group]
	if !ok {
		g = &group{
			name:      opts.Group,
			committed: make(map[bus.TopicPartition]int64),
			owner:     make(map[bus.TopicPartition]*Subscriber),
		}
		b.groups[opts.Group] = g
	}
	s := &Subscriber{
		b:        b,
		g:        g,
		topics:   slices.Clone(opts.Topics),
		pos:      make(map[bus.TopicPartition]int64),
		assigned: make(chan struct{}),
	}
	g.members = append(g.members, s)
	b.rebalance(g)
	return s, nil
}

// rebalance deals every partition of the group's topics round-robin over the members that
// subscribe to that topic. Callers hold b.mu.
func (b *Broker) rebalance(g *group) {
	topics := make(map[string]bool)
	for _, m := range g.members {
		for _, t := range m.topics {
			topics[t] = true
		}
	}
	owner := make(map[bus.TopicPartition]*Subscriber)
	for name := range topics {
		var members []*Subscriber
		for _, m := range g.members {
			if slices.Contains(m.topics, name) {
				members = append(members, m)
			}
		}
		for p := range b.topics[name].partitions {
			owner[bus.TopicPartition{Topic: name, Partition: p}] = members[p%len(members)]
		}
	}
	changed := make(map[*Subscriber]bool)
	for tp, m := range owner {
		if g.owner[tp] != m {
			changed[m] = true
			// A new owner resumes where the group committed: what the previous owner
			// fetched but did not commit is delivered again.
			m.pos[tp] = b.startOffset(g, tp)
		}
	}
	for tp, m := range g.owner {
		if owner[tp] != m {
			changed[m] = true
			delete(m.pos, tp)
		}
	}
	g.owner = owner
	for m := range changed {
		close(m.assigned)
		m.assigned = make(chan struct{})
	}
	b.broadcast()
}

// startOffset is the group's committed offset, or the oldest retained message.
func (b *Broker) startOffset(g *group, tp bus.TopicPartition) int64 {
	part := b.topics[tp.Topic].partitions[tp.Partition]
	if off, ok := g.committed[tp]; ok && off >= part.base {
		return off
	}
	return part.base
}

// trim drops messages every group on the topic has committed. A topic nobody subscribes
// to keeps everything (up to capacity), so a group that joins late still sees it all.
// Callers hold b.mu.
func (b *Broker) trim(tp bus.TopicPartition) {
	low := int64(-1)
	for _, g := range b.groups {
		if !g.consumes(tp.Topic) {
			continue
		}
		off := g.committed[tp]
		if low < 0 || off < low {
			low = off
		}
	}
	part := b.topics[tp.Topic].partitions[tp.Partition]
	if n := low - part.base; n > 0 {
		part.msgs = slices.Delete(part.msgs, 0, int(n))
		part.base = low
	}
}

// consumes reports whether any member has ever put topic into the group's assignment.
// Groups keep their committed offsets after their members leave, as Kafka does.
func (g *group) consumes(topic string) bool {
	for tp := range g.committed {
		if tp.Topic == topic {
			return true
		}
	}
	for tp := range g.owner {
		if tp.Topic == topic {
			return true
		}
	}
	return false
}

// Subscriber is one member of a consumer group on a Broker. It is safe for concurrent use.
type Subscriber struct {
	b      *Broker
	g      *group
	topics []string

	// Guarded by b.mu.
	pos      map[bus.TopicPartition]int64 // next offset to hand out, per assigned partition
	assigned chan struct{}                // closed on the next assignment change
	rr       int                          // round-robin cursor over assigned partitions
	closed   bool
}

var _ bus.Subscriber = (*Subscriber)(nil)

// Fetch returns up to max messages from one assigned partition, rotating over partitions so
// that none starves.
func (s *Subscriber) Fetch(ctx context.Context, max int) ([]bus.Message, error) {
	if max < 1 {
		return nil, fmt.Errorf("fetch: max must be at least 1, got %d", max)
	}
	b := s.b
	for {
		b.mu.Lock()
		if s.closed {
			b.mu.Unlock()
			return nil, bus.ErrClosed
		}
		if out := s.take(max); out != nil {
			b.mu.Unlock()
			return out, nil
		}
		wait := b.changed
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wait:
		}
	}
}

// take hands out the next batch, or nil. Callers hold b.mu.
func (s *Subscriber) take(max int) []bus.Message {
	tps := s.partitions()
	for i := range tps {
		tp := tps[(s.rr+i)%len(tps)]
		part := s.b.topics[tp.Topic].partitions[tp.Partition]
		pos := s.pos[tp]
		if pos < part.base {
			pos = part.base
		}
		if pos >= part.end() {
			continue
		}
		from := int(pos - part.base)
		to := min(from+max, len(part.msgs))
		out := slices.Clone(part.msgs[from:to])
		s.pos[tp] = pos + int64(len(out))
		s.rr = (s.rr + i + 1) % len(tps)
		return out
	}
	return nil
}

// partitions returns the assigned partitions, sorted. Callers hold b.mu.
func (s *Subscriber) partitions() []bus.TopicPartition {
	tps := make([]bus.TopicPartition, 0, len(s.pos))
	for tp := range s.pos {
		tps = append(tps, tp)
	}
	bus.SortPartitions(tps)
	return tps
}

// Commit records the group's progress on the partitions this member owns.
func (s *Subscriber) Commit(ctx context.Context, msgs ...bus.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return bus.ErrClosed
	}
	var revoked []bus.TopicPartition
	for tp, off := range bus.CommitOffsets(msgs) {
		if s.g.owner[tp] != s {
			revoked = append(revoked, tp)
			continue
		}
		if off > s.g.committed[tp] {
			s.g.committed[tp] = off
			b.trim(tp)
		}
	}
	b.broadcast()
	if len(revoked) > 0 {
		bus.SortPartitions(revoked)
		return fmt.Errorf("commit %v: %w", revoked, bus.ErrRevoked)
	}
	return nil
}

// Assignment returns this member's partitions and a channel closed when they change.
func (s *Subscriber) Assignment() ([]bus.TopicPartition, <-chan struct{}) {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.partitions(), s.assigned
}

// Close leaves the group; its partitions move to the remaining members, who resume at the
// committed offsets.
func (s *Subscriber) Close() error {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.g.members = slices.DeleteFunc(s.g.members, func(m *Subscriber) bool { return m == s })
	b.rebalance(s.g)
	return nil
}
