// Package kafka implements the bus contract on Apache Kafka with
// github.com/segmentio/kafka-go.
//
// Publishing uses one kafka.Writer that waits for all in-sync replicas and retries. A
// Subscriber joins a consumer group through kafka-go's ConsumerGroup and runs one
// partition reader per assigned partition (the goroutine-per-partition model): Fetch hands
// out batches of one partition, Commit commits explicitly and synchronously through the
// current group generation, and a rebalance drops everything fetched from revoked
// partitions, which the next owner receives again from the committed offset.
package kafka

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/clearway/clearway/pkg/bus"
)

// flagPrefix starts every flag this package registers; EnvPrefix starts the matching
// environment variables (kafka.batch-size ⇔ CLEARWAY_KAFKA_BATCH_SIZE).
const (
	flagPrefix = "kafka."
	EnvPrefix  = "CLEARWAY_KAFKA_"
)

// Config holds every Kafka setting of a clearway service. Defaults live in RegisterFlags
// only; DefaultConfig returns them.
type Config struct {
	Brokers  []string // bootstrap brokers, host:port
	ClientID string   // sent with every request; shows in broker logs and quotas
	Group    string   // default consumer group for subscribers that name none

	// Producer. A batch per partition is sent when it holds BatchSize messages or
	// BatchBytes bytes, or BatchTimeout after its first message; Publish waits for it.
	BatchSize    int
	BatchBytes   int64 // must not exceed the broker's message.max.bytes
	BatchTimeout time.Duration
	Compression  string // "", "none", "gzip", "snappy", "lz4" or "zstd"
	MaxAttempts  int    // tries per batch before Publish fails
	WriteTimeout time.Duration
	// Outage is how long Publish goes on retrying a batch that keeps failing for a
	// transient reason (broker unreachable, leader moving) after kafka-go's MaxAttempts
	// are spent: long enough to ride out a broker restart. 0 fails at once.
	Outage time.Duration

	// Consumer.
	FetchMinBytes     int
	FetchMaxBytes     int // must be at least the largest message
	FetchMaxWait      time.Duration
	QueueCapacity     int // messages buffered per assigned partition ahead of Fetch
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration // also how soon a member notices a rebalance
	RebalanceTimeout  time.Duration
	JoinGroupBackoff  time.Duration

	// Topics created by EnsureTopics callers that take their spec from TopicSpec.
	TopicPartitions        int
	TopicReplicationFactor int // 0: the broker's default.replication.factor

	DialTimeout    time.Duration
	RequestTimeout time.Duration // admin and group-coordinator requests

	// Logger receives kafka-go's error reports and group membership changes; nil
	// discards them. kafka-go's messages carry topics, partitions and member ids, never
	// message contents.
	Logger *slog.Logger
}

// RegisterFlags registers every setting on fs, with its default and help text.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.Brokers = []string{"127.0.0.1:9092"}
	fs.Var((*brokerList)(&c.Brokers), flagPrefix+"brokers", "comma-separated bootstrap brokers, host:port")
	fs.StringVar(&c.ClientID, flagPrefix+"client-id", "clearway", "Kafka client id sent with every request")
	fs.StringVar(&c.Group, flagPrefix+"group", "", "consumer group (services default it to their own name)")

	fs.IntVar(&c.BatchSize, flagPrefix+"batch-size", 1000, "producer: messages per partition batch")
	fs.Int64Var(&c.BatchBytes, flagPrefix+"batch-bytes", 1<<20, "producer: bytes per partition batch; at most the broker's message.max.bytes")
	fs.DurationVar(&c.BatchTimeout, flagPrefix+"batch-timeout", 5*time.Millisecond, "producer: longest wait to fill a batch")
	fs.StringVar(&c.Compression, flagPrefix+"compression", "none", "producer: none, gzip, snappy, lz4 or zstd")
	fs.IntVar(&c.MaxAttempts, flagPrefix+"max-attempts", 10, "producer: tries per batch before a publish fails")
	fs.DurationVar(&c.WriteTimeout, flagPrefix+"write-timeout", 10*time.Second, "producer: timeout of one produce request")
	fs.DurationVar(&c.Outage, flagPrefix+"outage", 2*time.Minute, "producer: how long a publish failing for a transient reason (broker down, leader moving) keeps retrying before the service gives up")

	fs.IntVar(&c.FetchMinBytes, flagPrefix+"fetch-min-bytes", 1, "consumer: bytes a fetch waits for")
	fs.IntVar(&c.FetchMaxBytes, flagPrefix+"fetch-max-bytes", 16<<20, "consumer: largest fetch response; at least the largest message")
	fs.DurationVar(&c.FetchMaxWait, flagPrefix+"fetch-max-wait", 500*time.Millisecond, "consumer: longest a fetch waits for fetch-min-bytes")
	fs.IntVar(&c.QueueCapacity, flagPrefix+"queue-capacity", 1000, "consumer: messages buffered per assigned partition")
	fs.DurationVar(&c.SessionTimeout, flagPrefix+"session-timeout", 30*time.Second, "consumer: a member silent this long is dropped from the group")
	fs.DurationVar(&c.HeartbeatInterval, flagPrefix+"heartbeat-interval", 3*time.Second, "consumer: heartbeat period; at most a third of session-timeout")
	fs.DurationVar(&c.RebalanceTimeout, flagPrefix+"rebalance-timeout", 30*time.Second, "consumer: how long the coordinator waits for members to rejoin")
	fs.DurationVar(&c.JoinGroupBackoff, flagPrefix+"join-group-backoff", 5*time.Second, "consumer: wait before rejoining after a failed join")

	fs.IntVar(&c.TopicPartitions, flagPrefix+"topic-partitions", 12, "partitions of topics created when missing (evaluator parallelism)")
	fs.IntVar(&c.TopicReplicationFactor, flagPrefix+"topic-replication-factor", 0, "replication factor of topics created when missing; 0 = broker default")

	fs.DurationVar(&c.DialTimeout, flagPrefix+"dial-timeout", 10*time.Second, "timeout of one broker connection attempt")
	fs.DurationVar(&c.RequestTimeout, flagPrefix+"request-timeout", 10*time.Second, "timeout of admin and group-coordinator requests")
}

// DefaultConfig returns the defaults that RegisterFlags registers.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("defaults", flag.ContinueOnError))
	return c
}

// SetFromEnv sets each flag of this package that is registered on fs and not yet set from
// the environment variable named after it (kafka.fetch-max-wait ⇔
// CLEARWAY_KAFKA_FETCH_MAX_WAIT). Call it after RegisterFlags and before fs.Parse, so that
// command-line flags win over the environment. lookup is usually os.LookupEnv.
func SetFromEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		name, ok := strings.CutPrefix(f.Name, flagPrefix)
		if !ok {
			return
		}
		env := EnvName(f.Name)
		if v, ok := lookup(env); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s (for -%s%s): %w", env, flagPrefix, name, err))
			}
		}
	})
	return errors.Join(errs...)
}

// EnvName is the environment variable for one of this package's flags.
func EnvName(flagName string) string {
	name := strings.TrimPrefix(flagName, flagPrefix)
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Validate reports the first settings that cannot work, all of them at once.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf("kafka: "+format, args...)) }
	if len(c.Brokers) == 0 {
		add("no brokers")
	}
	for _, b := range c.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			add("broker %q is not host:port", b)
		}
	}
	if c.ClientID == "" {
		add("empty client id")
	}
	if c.BatchSize < 1 {
		add("batch size %d < 1", c.BatchSize)
	}
	if c.BatchBytes < 1 {
		add("batch bytes %d < 1", c.BatchBytes)
	}
	if _, err := compressionCodec(c.Compression); err != nil {
		errs = append(errs, err)
	}
	if c.Outage < 0 {
		add("negative outage %s", c.Outage)
	}
	if c.MaxAttempts < 1 {
		add("max attempts %d < 1", c.MaxAttempts)
	}
	if c.FetchMinBytes < 1 || c.FetchMaxBytes < c.FetchMinBytes {
		add("fetch bytes must satisfy 1 <= min (%d) <= max (%d)", c.FetchMinBytes, c.FetchMaxBytes)
	}
	if c.QueueCapacity < 1 {
		add("queue capacity %d < 1", c.QueueCapacity)
	}
	if c.TopicPartitions < 1 {
		add("topic partitions %d < 1", c.TopicPartitions)
	}
	if c.TopicReplicationFactor < 0 {
		add("topic replication factor %d < 0", c.TopicReplicationFactor)
	}
	for name, d := range map[string]time.Duration{
		"batch timeout": c.BatchTimeout, "write timeout": c.WriteTimeout, "fetch max wait": c.FetchMaxWait,
		"session timeout": c.SessionTimeout, "heartbeat interval": c.HeartbeatInterval,
		"rebalance timeout": c.RebalanceTimeout, "join group backoff": c.JoinGroupBackoff,
		"dial timeout": c.DialTimeout, "request timeout": c.RequestTimeout,
	} {
		if d <= 0 {
			add("%s must be positive, got %v", name, d)
		}
	}
	if c.HeartbeatInterval > 0 && c.SessionTimeout > 0 && c.HeartbeatInterval*3 > c.SessionTimeout {
		add("heartbeat interval %v must be at most a third of session timeout %v", c.HeartbeatInterval, c.SessionTimeout)
	}
	return errors.Join(errs...)
}

// TopicSpec is the spec for a topic named name with the configured partitions and
// replication factor.
func (c *Config) TopicSpec(name string) bus.TopicSpec {
	return bus.TopicSpec{Name: name, Partitions: c.TopicPartitions, ReplicationFactor: c.TopicReplicationFactor}
}

func compressionCodec(name string) (kafkago.Compression, error) {
	switch strings.ToLower(name) {
	case "", "none":
		return 0, nil
	case "gzip":
		return kafkago.Gzip, nil
	case "snappy":
		return kafkago.Snappy, nil
	case "lz4":
		return kafkago.Lz4, nil
	case "zstd":
		return kafkago.Zstd, nil
	}
	return 0, fmt.Errorf("kafka: unknown compression %q (none, gzip, snappy, lz4, zstd)", name)
}

// brokerList is a flag.Value for a comma-separated broker list.
type brokerList []string

func (b *brokerList) String() string { return strings.Join(*b, ",") }

func (b *brokerList) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	*b = out
	return nil
}

// logger adapts slog to kafka-go's Logger at a fixed level.
func (c *Config) logger(level slog.Level) kafkago.Logger {
	if c.Logger == nil {
		return nil
	}
	l := c.Logger
	return kafkago.LoggerFunc(func(msg string, args ...any) {
		// kafka-go's Logger has no context to pass on.
		l.Log(context.Background(), level, fmt.Sprintf(msg, args...), "component", "kafka-go")
	})
}

func (c *Config) transport() *kafkago.Transport {
	return &kafkago.Transport{
		ClientID:    c.ClientID,
		DialTimeout: c.DialTimeout,
		MetadataTTL: 10 * time.Second,
	}
}

func (c *Config) dialer() *kafkago.Dialer {
	return &kafkago.Dialer{ClientID: c.ClientID, Timeout: c.DialTimeout, DualStack: true}
}
