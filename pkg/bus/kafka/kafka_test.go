package kafka_test

import (
	"flag"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/bustest"
	"github.com/clearway/clearway/pkg/bus/kafka"
)

// testConfig returns settings tuned so the suite's rebalances take well under a second
// each: members notice a rebalance within a heartbeat, and failed joins retry quickly.
func testConfig(t *testing.T, brokers string) kafka.Config {
	cfg := kafka.DefaultConfig()
	cfg.Brokers = strings.Split(brokers, ",")
	cfg.ClientID = "clearway-bustest"
	cfg.BatchTimeout = 2 * time.Millisecond
	cfg.FetchMaxWait = 100 * time.Millisecond
	cfg.SessionTimeout = 6 * time.Second
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.RebalanceTimeout = 10 * time.Second
	cfg.JoinGroupBackoff = 200 * time.Millisecond
	if os.Getenv("CLEARWAY_KAFKA_DEBUG") != "" {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	return cfg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestConformance(t *testing.T) {
	brokers := os.Getenv("CLEARWAY_KAFKA_BROKERS")
	if brokers == "" {
		t.Skip("CLEARWAY_KAFKA_BROKERS not set: start scripts/start-kafka")
	}
	bustest.Run(t, func(t *testing.T) bustest.Bus {
		cfg := testConfig(t, brokers)
		admin, err := kafka.NewAdmin(cfg)
		if err != nil {
			t.Fatalf("NewAdmin: %v", err)
		}
		t.Cleanup(func() { _ = admin.Close() })
		return bustest.Bus{
			Admin: admin,
			NewPublisher: func(opts bus.PublisherOptions) (bus.Publisher, error) {
				return kafka.NewPublisher(cfg, opts)
			},
			NewSubscriber: func(opts bus.SubscriberOptions) (bus.Subscriber, error) {
				return kafka.NewSubscriber(cfg, opts)
			},
			SkipBackpressure: "Kafka retains by time and size, not by consumption: a publisher never waits for consumers",
			Timeout:          60 * time.Second,
		}
	})
}

func TestConfigFlagsAndEnv(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(t *testing.T, c kafka.Config)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, c kafka.Config) {
				if got := strings.Join(c.Brokers, ","); got != "127.0.0.1:9092" {
					t.Errorf("brokers = %q", got)
				}
				if c.BatchSize != 1000 || c.BatchBytes != 1<<20 || c.MaxAttempts != 10 {
					t.Errorf("producer defaults = %d/%d/%d", c.BatchSize, c.BatchBytes, c.MaxAttempts)
				}
				if c.HeartbeatInterval != 3*time.Second || c.SessionTimeout != 30*time.Second {
					t.Errorf("group timing defaults = %v/%v", c.HeartbeatInterval, c.SessionTimeout)
				}
			},
		},
		{
			name: "env",
			env: map[string]string{
				"CLEARWAY_KAFKA_BROKERS":       "k1:9092, k2:9092",
				"CLEARWAY_KAFKA_BATCH_TIMEOUT": "20ms",
				"CLEARWAY_KAFKA_COMPRESSION":   "zstd",
				"CLEARWAY_KAFKA_GROUP":         "evaluator",
			},
			check: func(t *testing.T, c kafka.Config) {
				if got := strings.Join(c.Brokers, ","); got != "k1:9092,k2:9092" {
					t.Errorf("brokers = %q", got)
				}
				if c.BatchTimeout != 20*time.Millisecond || c.Compression != "zstd" || c.Group != "evaluator" {
					t.Errorf("env not applied: %v %q %q", c.BatchTimeout, c.Compression, c.Group)
				}
			},
		},
		{
			name: "flag beats env",
			env:  map[string]string{"CLEARWAY_KAFKA_BATCH_SIZE": "50"},
			args: []string{"-kafka.batch-size=70", "-kafka.topic-partitions=24"},
			check: func(t *testing.T, c kafka.Config) {
				if c.BatchSize != 70 || c.TopicPartitions != 24 {
					t.Errorf("batch size %d, partitions %d; want 70, 24", c.BatchSize, c.TopicPartitions)
				}
				if spec := c.TopicSpec("t"); spec.Partitions != 24 || spec.Name != "t" {
					t.Errorf("TopicSpec = %+v", spec)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c kafka.Config
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			c.RegisterFlags(fs)
			lookup := func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }
			if err := kafka.SetFromEnv(fs, lookup); err != nil {
				t.Fatalf("SetFromEnv: %v", err)
			}
			if err := fs.Parse(tt.args); err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(c *kafka.Config)
		want   string // substring of the error; "" means valid
	}{
		{"defaults", func(*kafka.Config) {}, ""},
		{"no brokers", func(c *kafka.Config) { c.Brokers = nil }, "no brokers"},
		{"broker without port", func(c *kafka.Config) { c.Brokers = []string{"localhost"} }, "not host:port"},
		{"bad compression", func(c *kafka.Config) { c.Compression = "brotli" }, "unknown compression"},
		{"zero batch", func(c *kafka.Config) { c.BatchSize = 0 }, "batch size"},
		{"heartbeat too slow", func(c *kafka.Config) { c.HeartbeatInterval = 20 * time.Second }, "a third of session timeout"},
		{"zero timeout", func(c *kafka.Config) { c.DialTimeout = 0 }, "dial timeout must be positive"},
		{"fetch bytes", func(c *kafka.Config) { c.FetchMaxBytes = 0 }, "fetch bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := kafka.DefaultConfig()
			tt.modify(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := kafka.EnvName("kafka.fetch-max-wait"); got != "CLEARWAY_KAFKA_FETCH_MAX_WAIT" {
		t.Errorf("EnvName = %q", got)
	}
}
