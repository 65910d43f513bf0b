package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/clearway/clearway/pkg/bus"
)

// Admin creates topics and reads their metadata.
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

// Close releases idle connections.
func (a *Admin) Close() error {
	a.transport.CloseIdleConnections()
	return nil
}
