package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/clearway/clearway/pkg/bus"
)

// Admin creates topics and reads their metadata and consumer-group offsets.
type Admin struct {
	client    *kafkago.Client
	transport *kafkago.Transport
}

var _ bus.Admin = (*Admin)(nil)

// NewAdmin returns an Admin for cfg's brokers. It connects lazily.
func NewAdmin(cfg Config) (*Admin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := cfg.transport()
	return &Admin{
		client:    &kafkago.Client{Addr: kafkago.TCP(cfg.Brokers...), Timeout: cfg.RequestTimeout, Transport: t},
		transport: t,
	}, nil
}

// EnsureTopics creates the missing topics and waits until every partition of every named
// topic has a leader, so that the first Publish does not race leader election. Topics
// that exist are left unchanged.
func (a *Admin) EnsureTopics(ctx context.Context, specs ...bus.TopicSpec) error {
	if len(specs) == 0 {
		return nil
	}
	req := &kafkago.CreateTopicsRequest{}
	names := make([]string, 0, len(specs))
	for _, s := range specs {
		if err := s.Validate(); err != nil {
			return err
		}
		rf := s.ReplicationFactor
		if rf == 0 {
			rf = -1 // broker default (CreateTopics v4+)
		}
		tc := kafkago.TopicConfig{Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: rf}
		for k, v := range s.Config {
			tc.ConfigEntries = append(tc.ConfigEntries, kafkago.ConfigEntry{ConfigName: k, ConfigValue: v})
		}
		req.Topics = append(req.Topics, tc)
		names = append(names, s.Name)
	}
	resp, err := a.client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", names, err)
	}
	var errs []error
	for name, err := range resp.Errors {
		if err != nil && !errors.Is(err, kafkago.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s: %w", name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return a.waitReady(ctx, names)
}

// waitReady polls metadata until every topic exists with a leader for each partition. The
// broker offers no notification for this, so a short poll bounded by ctx it is.
func (a *Admin) waitReady(ctx context.Context, names []string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		md, err := a.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: names})
		pending := ""
		switch {
		case err != nil:
			pending = err.Error()
		default:
			pending = notReady(md, names)
		}
		if pending == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for topics %v: %s: %w", names, pending, ctx.Err())
		case <-tick.C:
		}
	}
}

// notReady describes the first topic of names that is missing or lacks a leader, or
// returns "".
func notReady(md *kafkago.MetadataResponse, names []string) string {
	byName := make(map[string]kafkago.Topic, len(md.Topics))
	for _, t := range md.Topics {
		byName[t.Name] = t
	}
	for _, name := range names {
		t, ok := byName[name]
		switch {
		case !ok:
			return name + " not in metadata"
		case t.Error != nil:
			return fmt.Sprintf("%s: %v", name, t.Error)
		case len(t.Partitions) == 0:
			return name + " has no partitions yet"
		}
		for _, p := range t.Partitions {
			if p.Error != nil || p.Leader.Host == "" {
				return fmt.Sprintf("%s[%d] has no leader yet", name, p.ID)
			}
		}
	}
	return ""
}

// Partitions returns the number of partitions of topic, or an error wrapping
// bus.ErrUnknownTopic.
func (a *Admin) Partitions(ctx context.Context, topic string) (int, error) {
	md, err := a.client.Metadata(ctx, &kafkago.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return 0, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if errors.Is(t.Error, kafkago.UnknownTopicOrPartition) {
			return 0, fmt.Errorf("%s: %w", topic, bus.ErrUnknownTopic)
		}
		if t.Error != nil {
			return 0, fmt.Errorf("metadata of %s: %w", topic, t.Error)
		}
		return len(t.Partitions), nil
	}
	return 0, fmt.Errorf("%s: %w", topic, bus.ErrUnknownTopic)
}

// Lag reads topic's log-start offsets and high-water marks (ListOffsets, from each
// partition's leader) and group's committed offsets (OffsetFetch, from the group
// coordinator). It needs no membership in the group, so status tools and the members
// themselves can call it alike. Errors Kafka calls temporary (a partition whose leader is
// still being elected, as right after the topic is created, or a coordinator moving) are
// retried a few times with backoff.
func (a *Admin) Lag(ctx context.Context, group, topic string) ([]bus.PartitionLag, error) {
	backoff := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		lags, err := a.lag(ctx, group, topic)
		var tmp interface{ Temporary() bool }
		if err == nil || attempt == 8 || !errors.As(err, &tmp) || !tmp.Temporary() {
			return lags, err
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

func (a *Admin) lag(ctx context.Context, group, topic string) ([]bus.PartitionLag, error) {
	n, err := a.Partitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	start, err := a.listOffsets(ctx, topic, parts, kafkago.FirstOffset)
	if err != nil {
		return nil, err
	}
	end, err := a.listOffsets(ctx, topic, parts, kafkago.LastOffset)
	if err != nil {
		return nil, err
	}
	resp, err := a.client.OffsetFetch(ctx, &kafkago.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		return nil, fmt.Errorf("committed offsets of %s on %s: %w", group, topic, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("committed offsets of %s on %s: %w", group, topic, resp.Error)
	}
	committed := make(map[int]int64, n)
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("committed offset of %s on %s[%d]: %w", group, topic, p.Partition, p.Error)
		}
		committed[p.Partition] = p.CommittedOffset
	}
	out := make([]bus.PartitionLag, n)
	for i := range out {
		c, ok := committed[i]
		if !ok || c < 0 {
			c = -1
		}
		out[i] = bus.PartitionLag{TopicPartition: bus.TopicPartition{Topic: topic, Partition: i},
			Start: start[i], End: end[i], Committed: c}
	}
	return out, nil
}

// listOffsets returns the offset at which (kafkago.FirstOffset or LastOffset) for each of
// topic's partitions. One request asks for one kind only: Kafka refuses a request naming
// a partition twice. The broker answers both kinds with timestamp -1, which kafka-go files
// under LastOffset whatever was asked (FirstOffset stays at the 0 or -1 it was preset to),
// so the answer is the larger of the two fields.
func (a *Admin) listOffsets(ctx context.Context, topic string, parts []int, which int64) (map[int]int64, error) {
	kind := "high-water marks"
	if which == kafkago.FirstOffset {
		kind = "log-start offsets"
	}
	reqs := make([]kafkago.OffsetRequest, len(parts))
	for i, p := range parts {
		reqs[i] = kafkago.OffsetRequest{Partition: p, Timestamp: which}
	}
	resp, err := a.client.ListOffsets(ctx, &kafkago.ListOffsetsRequest{Topics: map[string][]kafkago.OffsetRequest{topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", kind, topic, err)
	}
	out := make(map[int]int64, len(parts))
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			return nil, fmt.Errorf("%s of %s[%d]: %w", kind, topic, p.Partition, p.Error)
		}
		out[p.Partition] = max(p.FirstOffset, p.LastOffset)
	}
	for _, p := range parts {
		if _, ok := out[p]; !ok {
			return nil, fmt.Errorf("%s of %s: no answer for partition %d", kind, topic, p)
		}
	}
	return out, nil
}

// Close releases idle connections.
func (a *Admin) Close() error {
	a.transport.CloseIdleConnections()
	return nil
}
