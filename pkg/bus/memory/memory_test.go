package memory_test

import (
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
