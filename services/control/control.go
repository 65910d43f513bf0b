// Package control holds what clearway's distributed services (ingest, evaluator, sink,
// status) agree on: topic names, message headers, the JSON control records that announce
// a run, its progress and its end, and the registry that follows them.
//
// A run is announced on the control topic by a run-start record that carries everything
// needed to decide it identically everywhere: the compute-at date, the county scope and
// the policy documents themselves (with their SHA-256 hashes), so every evaluator rebuilds
// the exact policies with policy.Parse instead of trusting its own configuration.
package control

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/clearway/clearway/pkg/bus"
)

// Message headers. Every data message carries HeaderRun, HeaderType and HeaderSchema.
const (
	HeaderRun    = "clearway-run"
	HeaderType   = "clearway-type"
	HeaderSchema = "clearway-schema"
	// HeaderAttempt numbers the ingest's grouping attempts (1: streaming, 2: spill).
	// Subjects of an abandoned attempt may be on the topic; only the attempt named in
	// the run-end record counts.
	HeaderAttempt = "clearway-attempt"
	// HeaderSeq lists the emission sequence numbers of the message's subjects, in order
	// (SeqList encoding). The sink writes subjects in this order, which is the order
	// `clearway run` writes them in.
	HeaderSeq = "clearway-seq"

	// Dead-letter headers, added to the original message's headers.
	HeaderDLQReason    = "clearway-dlq-reason"
	HeaderDLQTopic     = "clearway-dlq-topic"
	HeaderDLQPartition = "clearway-dlq-partition"
	HeaderDLQOffset    = "clearway-dlq-offset"
)

// Values of HeaderType.
const (
	TypeSubjects = "subjects"
	TypeRejects  = "rejects"
	TypeEnd      = "end"
	TypeResults  = "results"
	TypeControl  = "control"
)

// Default topic names.
const (
	DefaultSubjectsTopic   = "clearway.subjects.v1"
	DefaultDecisionsTopic  = "clearway.decisions.v1"
	DefaultControlTopic    = "clearway.control.v1"
	DefaultDeadLetterTopic = "clearway.deadletter.v1"
)

// Topics names the pipeline's topics and how to create them.
type Topics struct {
	Prefix      string // prepended to every name; lets tests and tenants share a broker
	Subjects    string
	Decisions   string
	Control     string
	DeadLetter  string
	Partitions  int // of subjects, decisions and dead-letter topics when created
	Replication int // replication factor when created; 0 = broker default
}

// RegisterFlags registers the topic flags with their defaults.
func (t *Topics) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&t.Prefix, "topic-prefix", "", "prefix for every topic name (e.g. a tenant or test name)")
	fs.StringVar(&t.Subjects, "topic-subjects", DefaultSubjectsTopic, "topic of subject batches (ingest → evaluators)")
	fs.StringVar(&t.Decisions, "topic-decisions", DefaultDecisionsTopic, "topic of decision batches (evaluators → sink); same partition count as the subjects topic")
	fs.StringVar(&t.Control, "topic-control", DefaultControlTopic, "topic of run control records (one partition)")
	fs.StringVar(&t.DeadLetter, "topic-deadletter", DefaultDeadLetterTopic, "topic of messages that could not be processed")
	fs.IntVar(&t.Partitions, "partitions", 4, "partitions of the subjects, decisions and dead-letter topics when created")
	fs.IntVar(&t.Replication, "replication", 1, "replication factor of topics when created (0 = broker default)")
}

// DefaultTopics returns the defaults RegisterFlags registers.
func DefaultTopics() Topics {
	var t Topics
	t.RegisterFlags(flag.NewFlagSet("topics", flag.ContinueOnError))
	return t
}

// Validate reports empty names and impossible counts.
func (t *Topics) Validate() error {
	var errs []error
	for name, v := range map[string]string{"subjects": t.Subjects, "decisions": t.Decisions, "control": t.Control, "dead-letter": t.DeadLetter} {
		if v == "" {
			errs = append(errs, fmt.Errorf("empty %s topic name", name))
		}
	}
	if t.Partitions < 1 {
		errs = append(errs, fmt.Errorf("partitions %d < 1", t.Partitions))
	}
	if t.Replication < 0 {
		errs = append(errs, fmt.Errorf("replication %d < 0", t.Replication))
	}
	return errors.Join(errs...)
}

// SubjectsTopic and the others return the full (prefixed) topic names.
func (t *Topics) SubjectsTopic() string { return t.Prefix + t.Subjects }

// DecisionsTopic is the full name of the decisions topic.
func (t *Topics) DecisionsTopic() string { return t.Prefix + t.Decisions }

// ControlTopic is the full name of the control topic.
func (t *Topics) ControlTopic() string { return t.Prefix + t.Control }

// DeadLetterTopic is the full name of the dead-letter topic.
func (t *Topics) DeadLetterTopic() string { return t.Prefix + t.DeadLetter }

// Specs are the topics every service creates at start when missing. The control topic
// has one partition so that its records are totally ordered.
func (t *Topics) Specs() []bus.TopicSpec {
	return []bus.TopicSpec{
		{Name: t.SubjectsTopic(), Partitions: t.Partitions, ReplicationFactor: t.Replication},
		{Name: t.DecisionsTopic(), Partitions: t.Partitions, ReplicationFactor: t.Replication},
		{Name: t.ControlTopic(), Partitions: 1, ReplicationFactor: t.Replication},
		{Name: t.DeadLetterTopic(), Partitions: t.Partitions, ReplicationFactor: t.Replication},
	}
}

// ValidRunID reports whether id can name a run: 1–128 letters, digits, '.', '_' or '-',
// starting with a letter or digit. The sink uses run ids as folder names.
func ValidRunID(id string) bool {
	if len(id) == 0 || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || (c != '.' && c != '_' && c != '-')) {
			return false
		}
	}
	return true
}

// Bus is what a service needs from a message bus, independent of Kafka: topic creation,
// a publisher with explicit partitioning, and a way to join consumer groups.
type Bus struct {
	Admin     bus.Admin
	Publisher bus.Publisher // bus.PartitionExplicit
	Subscribe func(opts bus.SubscriberOptions) (bus.Subscriber, error)
	// Partitions returns a topic's partition count; nil means "as created" (Topics).
	Partitions func(ctx context.Context, topic string) (int, error)
}

// Validate reports a missing part.
func (b Bus) Validate() error {
	if b.Admin == nil || b.Publisher == nil || b.Subscribe == nil {
		return errors.New("control: bus needs an admin, a publisher and a subscribe function")
	}
	return nil
}

// PartitionCount returns topic's partition count via b.Partitions, or fallback.
func (b Bus) PartitionCount(ctx context.Context, topic string, fallback int) (int, error) {
	if b.Partitions == nil {
		return fallback, nil
	}
	n, err := b.Partitions(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	return n, nil
}

// Headers builds the standard headers of a data message.
func Headers(runID, typ string, schema int) []bus.Header {
	return []bus.Header{
		{Key: HeaderRun, Value: []byte(runID)},
		{Key: HeaderType, Value: []byte(typ)},
		{Key: HeaderSchema, Value: []byte(strconv.Itoa(schema))},
	}
}

// HeaderString returns a header's value as a string ("" when missing).
func HeaderString(m bus.Message, key string) string {
	v, _ := m.Header(key)
	return string(v)
}

// WithHeader returns hs with key set to value (replacing the first such header).
func WithHeader(hs []bus.Header, key string, value []byte) []bus.Header {
	out := make([]bus.Header, 0, len(hs)+1)
	set := false
	for _, h := range hs {
		if h.Key == key {
			if set {
				continue
			}
			h.Value, set = value, true
		}
		out = append(out, h)
	}
	if !set {
		out = append(out, bus.Header{Key: key, Value: value})
	}
	return out
}

// DeadLetter returns the dead-letter copy of m: same key, value and headers, plus the
// reason and where it came from. It goes to partition 0 of topic: dead letters are rare
// and nothing depends on their spread.
func DeadLetter(topic string, m bus.Message, reason string) bus.Message {
	hs := append([]bus.Header(nil), m.Headers...)
	hs = WithHeader(hs, HeaderDLQReason, []byte(reason))
	hs = WithHeader(hs, HeaderDLQTopic, []byte(m.Topic))
	hs = WithHeader(hs, HeaderDLQPartition, []byte(strconv.Itoa(m.Partition)))
	hs = WithHeader(hs, HeaderDLQOffset, []byte(strconv.FormatInt(m.Offset, 10)))
	return bus.Message{Topic: topic, Partition: 0, Key: m.Key, Value: m.Value, Headers: hs}
}

// Publish publishes one control record on the control topic.
func Publish(ctx context.Context, p bus.Publisher, topic string, r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now().UTC()
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode %s record: %w", r.Kind, err)
	}
	m := bus.Message{Topic: topic, Partition: 0, Key: []byte(r.RunID), Value: data,
		Headers: Headers(r.RunID, TypeControl, RecordVersion)}
	if err := p.Publish(ctx, m); err != nil {
		return fmt.Errorf("publish %s record of run %s: %w", r.Kind, r.RunID, err)
	}
	return nil
}
