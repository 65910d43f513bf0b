package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/evaluator"
	"github.com/clearway/clearway/services/sink"
)

// statusConfig holds `clearway status`'s flags.
type statusConfig struct {
	Run      string
	Wait     bool
	Interval time.Duration
	Settle   time.Duration
	Timeout  time.Duration
	Topics   control.Topics
	// Consumer groups whose lag is shown.
	EvaluatorGroup, SinkGroup string
}

func (c *statusConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Run, "run", "", "run id (or give it as the argument)")
	fs.BoolVar(&c.Wait, "wait", false, "block until the run is complete (exit 0) or failed (exit 1), printing progress")
	fs.DurationVar(&c.Interval, "interval", 5*time.Second, "with --wait: how often progress is printed")
	fs.DurationVar(&c.Settle, "settle", time.Second, "without --wait: print once the control topic has been quiet this long")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Second, "without --wait: give up if the run is not found within this time")
	fs.StringVar(&c.EvaluatorGroup, "evaluator-group", evaluator.DefaultConfig().Group, "the evaluators' consumer group, whose lag on the subjects topic is shown")
	fs.StringVar(&c.SinkGroup, "sink-group", sink.DefaultConfig().Group, "the sink's consumer group, whose lag on the decisions topic is shown")
	c.Topics.RegisterFlags(fs)
}

func (c *statusConfig) Validate() error {
	if !control.ValidRunID(c.Run) {
		return usagef("--run %q: give the run id", c.Run)
	}
	if c.Interval <= 0 || c.Settle <= 0 || c.Timeout <= 0 {
		return usagef("--interval, --settle and --timeout must be positive")
	}
	return c.Topics.Validate()
}

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	var (
		cfg statusConfig
		bf  busFlags
		lf  logFlags
	)
	cfg.RegisterFlags(fs)
	bf.RegisterFlags(fs)
	lf.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway status --brokers HOST:PORT [--wait] RUN\n\nPrints a run's progress: rows ingested, decided and stored, rejects, dead letters, the\nconsumer groups' lag and an ETA.\n\nflags:")
		fs.PrintDefaults()
	}
	rest, err := parseServiceFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 1 && cfg.Run == "" {
		cfg.Run = rest[0]
	} else if len(rest) > 0 {
		return usagef("unexpected arguments %q", rest)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := lf.install(stderr); err != nil {
		return err
	}
	b, closeBus, err := kafkaBus(bf.Kafka)
	if err != nil {
		return err
	}
	defer closeBus()
	return watchStatus(ctx, b, cfg, stdout)
}

// watchStatus prints the run's status once (after the control topic settles) or, with
// Wait, until the run ends.
func watchStatus(ctx context.Context, b control.Bus, cfg statusConfig, stdout io.Writer) error {
	log := slog.Default()
	// A status started before the services have created the topics would otherwise follow
	// a topic that does not exist yet and never see the run. Only the two topics status
	// reads are created here: the data topics' partition counts are the services' to set.
	var specs []bus.TopicSpec
	for _, sp := range cfg.Topics.Specs() {
		if sp.Name == cfg.Topics.ControlTopic() || sp.Name == cfg.Topics.DeadLetterTopic() {
			specs = append(specs, sp)
		}
	}
	if err := b.Admin.EnsureTopics(ctx, specs...); err != nil {
		return fmt.Errorf("status: %w", err)
	}
	f, err := control.Follow(ctx, b, cfg.Topics.ControlTopic(), "status", log)
	if err != nil {
		return err
	}
	defer f.Close()
	dead, stopDead, err := countDeadLetters(ctx, b, cfg.Topics.DeadLetterTopic(), cfg.Run)
	if err != nil {
		return err
	}
	defer stopDead()
	status := func() control.Status {
		st, _ := f.Registry.Run(cfg.Run)
		s := control.StatusOf(st, time.Now())
		s.RunID, s.DeadLetters = cfg.Run, dead.Load()
		return s
	}
	// Lag is read when a report is printed (and once now, so that the first report
	// already has a rate); the recent rate spans the last few reports.
	lagTargets := []control.LagTarget{
		{Role: "evaluators", Group: cfg.EvaluatorGroup, Topic: cfg.Topics.SubjectsTopic()},
		{Role: "sink", Group: cfg.SinkGroup, Topic: cfg.Topics.DecisionsTopic()},
	}
	lagHistory := control.LagHistory{Window: max(30*time.Second, 3*cfg.Interval)}
	readLag := func() []control.GroupLag {
		return lagHistory.Add(time.Now(), control.ReadLag(ctx, b.Admin, 10*time.Second, lagTargets...))
	}
	readLag()
	report := func() control.Status { return status().WithLag(readLag()) }
	if !cfg.Wait {
		deadline := time.NewTimer(cfg.Timeout)
		defer deadline.Stop()
		quiet := time.NewTimer(cfg.Settle)
		defer quiet.Stop()
		for {
			changed := f.Registry.Changed()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-deadline.C:
				return fmt.Errorf("run %s: no control records within %v", cfg.Run, cfg.Timeout)
			case <-changed:
				quiet.Reset(cfg.Settle)
			case <-quiet.C:
				if _, ok := f.Registry.Run(cfg.Run); ok {
					fmt.Fprint(stdout, report())
					return nil
				}
				quiet.Reset(cfg.Settle)
			}
		}
	}
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	for {
		changed := f.Registry.Changed()
		s := status()
		switch s.State {
		case "complete":
			fmt.Fprint(stdout, report())
			return nil
		case "failed":
			fmt.Fprint(stdout, report())
			return fmt.Errorf("run %s failed: %s", cfg.Run, s.Reason)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		case <-tick.C:
			fmt.Fprint(stdout, report())
		}
	}
}

// countDeadLetters counts the run's messages on the dead-letter topic, reading it from
// the start with a fresh group that never commits.
func countDeadLetters(ctx context.Context, b control.Bus, topic, runID string) (*atomic.Int64, func(), error) {
	var tag [6]byte
	_, _ = rand.Read(tag[:])
	sub, err := b.Subscribe(bus.SubscriberOptions{Group: "clearway-status-dlq-" + hex.EncodeToString(tag[:]), Topics: []string{topic}})
	if err != nil {
		return nil, nil, fmt.Errorf("read dead-letter topic: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	n := new(atomic.Int64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			msgs, err := sub.Fetch(ctx, 256)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, bus.ErrClosed) {
					slog.Warn("read dead-letter topic", "err", err)
				}
				return
			}
			for _, m := range msgs {
				if control.HeaderString(m, control.HeaderRun) == runID {
					n.Add(1)
				}
			}
		}
	}()
	return n, func() { cancel(); <-done; sub.Close() }, nil
}
