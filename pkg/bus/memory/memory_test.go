package memory_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/bustest"
	"github.com/clearway/clearway/pkg/bus/memory"
)

func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bustest.Bus {
		b := memory.New(memory.Config{PartitionCapacity: 64})
		return bustest.Bus{
			Admin: b,
			NewPublisher: func(opts bus.PublisherOptions) (bus.Publisher, error) {
				return b.Publisher(opts), nil
			},
			NewSubscriber: func(opts bus.SubscriberOptions) (bus.Subscriber, error) {
				return b.Subscribe(opts)
			},
			PartitionCapacity: 64,
			Timeout:           10 * time.Second,
		}
	})
}

func TestTopicCapacity(t *testing.T) {
	b := memory.New(memory.Config{PartitionCapacity: 64, TopicCapacity: map[string]int{"small": 1}})
	ctx := t.Context()
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: "small", Partitions: 1}, bus.TopicSpec{Name: "big", Partitions: 1}); err != nil {
		t.Fatal(err)
	}
	pub := b.Publisher(bus.PublisherOptions{})
	for range 2 {
		if err := pub.Publish(ctx, bus.Message{Topic: "big", Value: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(ctx, bus.Message{Topic: "small", Value: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	full, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := pub.Publish(full, bus.Message{Topic: "small", Value: []byte("y")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second message to a topic of capacity 1: got %v, want the publisher to wait until its deadline", err)
	}
}
