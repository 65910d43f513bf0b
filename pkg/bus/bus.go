// Package bus defines the small message-bus contract that clearway's services are written
// against: a Publisher that returns only once every message is acknowledged, a Subscriber
// that hands out per-partition batches and commits explicitly, and an Admin that creates
// topics and reports consumer-group lag. Two implementations satisfy it — bus/memory (in-process, for `clearway run` and
// unit tests) and bus/kafka (github.com/segmentio/kafka-go) — and both pass the same
// conformance suite in bus/bustest.
//
// Delivery is at-least-once: a message is redelivered to the consumer group until an
// offset past it is committed, so consumers commit only after their downstream write is
// acknowledged and make that write idempotent.
package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

var (
	// ErrClosed is returned by operations on a closed Publisher or Subscriber.
	ErrClosed = errors.New("bus: closed")
	// ErrRevoked reports a commit for a partition that is no longer assigned to the
	// subscriber (a rebalance moved it). Nothing is lost: the new owner starts from the last
	// committed offset, so the messages are delivered again. Callers usually log it and go on.
	ErrRevoked = errors.New("bus: partition not assigned to this subscriber")
	// ErrUnknownTopic is returned when publishing to or subscribing to a topic that does not
	// exist. Topics are created with Admin.EnsureTopics, never implicitly.
	ErrUnknownTopic = errors.New("bus: unknown topic")
)

// Header is one message header. Keys may repeat; order is preserved end to end.
type Header struct {
	Key   string
	Value []byte
}

// Message is one record on a topic.
//
// On Publish, Topic, Key, Value and Headers are used; Partition only when the publisher
// partitions explicitly (PartitionExplicit); Offset is ignored; a zero Time means "now".
// On Fetch every field is filled in (Local only as described there). Fetched byte slices
// must be treated as read-only: the memory bus shares them between consumer groups.
type Message struct {
	Topic     string
	Partition int
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []Header
	Time      time.Time
	// Local optionally carries the message's content already decoded, for a consumer in
	// the same process: bus/memory delivers it as is (shared by every consumer group, so
	// it must be treated as read-only), and a message with Local may leave Value empty.
	// bus/kafka never sends it and refuses a message with Local but no Value. Publishers
	// set it only when InProcess says the publisher is in process; consumers use it when
	// present and decode Value otherwise.
	Local any
}

// Header returns the value of the first header named key.
func (m Message) Header(key string) ([]byte, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s[%d]", tp.Topic, tp.Partition) }

// Partitioning says how a publisher chooses a message's partition.
type Partitioning int

const (
	// PartitionByKey sends a message to PartitionFor(Key, partitions): the same key always
	// lands in the same partition, identically in every implementation.
	PartitionByKey Partitioning = iota
	// PartitionExplicit sends a message to Message.Partition, which must exist. It lets a
	// producer address every partition, e.g. with per-partition end-of-run markers.
	PartitionExplicit
)

// PublisherOptions configures a Publisher beyond its implementation's own settings.
type PublisherOptions struct {
	Partitioning Partitioning
}

// SubscriberOptions names what a Subscriber consumes.
type SubscriberOptions struct {
	// Group is the consumer group. Members of one group share the topics' partitions
	// between them and share committed offsets. A group with no committed offset for a
	// partition starts at the oldest message the bus still holds.
	Group string
	// Topics are consumed together; they must exist.
	Topics []string
}

// Validate reports a missing group or topic.
func (o SubscriberOptions) Validate() error {
	if o.Group == "" {
		return errors.New("bus: subscriber needs a consumer group")
	}
	if len(o.Topics) == 0 {
		return errors.New("bus: subscriber needs at least one topic")
	}
	for _, t := range o.Topics {
		if t == "" {
			return errors.New("bus: empty topic name")
		}
	}
	return nil
}

// Publisher writes messages to topics.
type Publisher interface {
	// Publish writes msgs and returns once every one of them is acknowledged (by all
	// in-sync replicas, for Kafka). Messages for one partition keep their order. On error
	// some messages may have been written (and may still be, after ctx is cancelled):
	// publish them again, and let consumers deduplicate.
	Publish(ctx context.Context, msgs ...Message) error
	// Close flushes nothing (Publish is synchronous) and releases resources. It is safe to
	// call more than once.
	Close() error
}

// InProcess reports whether p delivers messages within this process (it has an
// InProcess() bool method answering true), so that Message.Local reaches consumers and
// encoding Value can be skipped.
func InProcess(p Publisher) bool {
	ip, ok := p.(interface{ InProcess() bool })
	return ok && ip.InProcess()
}

// Subscriber consumes topics as one member of a consumer group.
type Subscriber interface {
	// Fetch blocks until at least one message is available, ctx is done, or the
	// subscriber is closed (ErrClosed). It returns at most max messages, all from ONE
	// partition, in offset order. Fetching does not commit.
	Fetch(ctx context.Context, max int) ([]Message, error)
	// Commit records, for each partition among msgs, that everything up to and including
	// the highest offset given has been processed; those messages are not delivered to the
	// group again. A commit never moves a partition backwards. Partitions no longer
	// assigned to this subscriber are not committed and make Commit return an error
	// wrapping ErrRevoked (after committing the others).
	Commit(ctx context.Context, msgs ...Message) error
	// Assignment returns the partitions currently assigned to this subscriber, sorted,
	// and a channel that is closed at the next change of assignment.
	Assignment() ([]TopicPartition, <-chan struct{})
	// Close leaves the group. Uncommitted messages are redelivered to the remaining
	// members. It is safe to call more than once.
	Close() error
}

// TopicSpec describes a topic to create.
type TopicSpec struct {
	Name              string
	Partitions        int
	ReplicationFactor int               // 0 means the broker's default
	Config            map[string]string // broker-side topic configs, e.g. "retention.ms"
}

// Validate reports a spec that no broker would accept.
func (s TopicSpec) Validate() error {
	if s.Name == "" {
		return errors.New("bus: topic spec without a name")
	}
	if s.Partitions < 1 {
		return fmt.Errorf("bus: topic %q: partitions must be at least 1, got %d", s.Name, s.Partitions)
	}
	if s.ReplicationFactor < 0 {
		return fmt.Errorf("bus: topic %q: negative replication factor %d", s.Name, s.ReplicationFactor)
	}
	return nil
}

// Admin manages topics and reports how far consumer groups are behind.
type Admin interface {
	// EnsureTopics creates the topics that do not exist yet and returns once they can be
	// written to. A topic that already exists is left as it is, whatever its settings.
	EnsureTopics(ctx context.Context, specs ...TopicSpec) error
	// Lag returns, for every partition of topic in partition order, the oldest offset the
	// bus still holds, the high-water mark and group's committed offset. A group that has
	// never committed on the topic (or does not exist) gets Committed -1 everywhere. An
	// unknown topic is an error wrapping ErrUnknownTopic.
	Lag(ctx context.Context, group, topic string) ([]PartitionLag, error)
}

// PartitionLag is where one consumer group stands on one partition.
type PartitionLag struct {
	TopicPartition
	// Start is the oldest offset still held (Kafka's log-start offset).
	Start int64
	// End is the high-water mark: the offset the next message published will get.
	End int64
	// Committed is the group's committed offset (the next message it will read), or -1
	// when the group has committed nothing on this partition.
	Committed int64
}

// Position is the offset the group resumes from: Committed, or Start when the group has
// committed nothing or its committed offset is no longer held (where a group without a
// usable commit starts, as SubscriberOptions says).
func (l PartitionLag) Position() int64 {
	if l.Committed < l.Start {
		return l.Start
	}
	return l.Committed
}

// Messages is the lag proper: the messages published but not yet committed by the group,
// End minus Position (never negative).
func (l PartitionLag) Messages() int64 { return max(l.End-l.Position(), 0) }

// TotalLag sums the lag of lags.
func TotalLag(lags []PartitionLag) int64 {
	var n int64
	for _, l := range lags {
		n += l.Messages()
	}
	return n
}

// CommitOffsets returns, per partition, the offset a commit of msgs records: one past the
// highest offset among them (Kafka's convention: the committed offset is the next message
// to read).
func CommitOffsets(msgs []Message) map[TopicPartition]int64 {
	out := make(map[TopicPartition]int64)
	for _, m := range msgs {
		tp := TopicPartition{Topic: m.Topic, Partition: m.Partition}
		if next := m.Offset + 1; next > out[tp] {
			out[tp] = next
		}
	}
	return out
}

// SortPartitions sorts tps by topic, then partition.
func SortPartitions(tps []TopicPartition) {
	slices.SortFunc(tps, func(a, b TopicPartition) int {
		if a.Topic != b.Topic {
			if a.Topic < b.Topic {
				return -1
			}
			return 1
		}
		return a.Partition - b.Partition
	})
}
