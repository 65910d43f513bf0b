// Package services_test runs the distributed pipeline — ingest → evaluators → sink — end
// to end over the memory bus (and over Kafka when CLEARWAY_KAFKA_BROKERS is set) and
// checks that its outputs are byte-identical to the embedded `clearway run`.
package services_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/synth"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/evaluator"
	"github.com/clearway/clearway/services/ingest"
	"github.com/clearway/clearway/services/sink"
)

const computeAt = "2024-07-01"

// generate writes a synthetic extract and returns its path.
func generate(t testing.TB, rows int, shuffle bool) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doj.csv")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := synth.Generate(context.Background(), w, synth.Config{Seed: 7, Rows: rows, Header: true, Shuffle: shuffle, TempDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// embedded runs `clearway run`'s pipeline on files and returns its output folder.
func embedded(t testing.TB, runID string, files []string) string {
	t.Helper()
	at, _ := record.ParseISO(computeAt)
	pols := policy.DefaultPolicies()
	out := t.TempDir()
	_, err := pipeline.Run(context.Background(), pipeline.Config{
		Files:  files,
		Engine: &eligibility.Engine{Policies: pols, ComputeAt: at},
		Info: report.RunInfo{RunID: runID, ComputeAt: at, Policies: pols, EngineVersion: eligibility.Version,
			Started: time.Now().UTC()},
		Format: pipeline.FormatNative,
		OutDir: out,
	})
	if err != nil {
		t.Fatalf("embedded run: %v", err)
	}
	return out
}

func memoryBus(b *memory.Broker) control.Bus {
	return control.Bus{
		Admin:     b,
		Publisher: b.Publisher(bus.PublisherOptions{Partitioning: bus.PartitionExplicit}),
		Subscribe: func(opts bus.SubscriberOptions) (bus.Subscriber, error) { return b.Subscribe(opts) },
	}
}

func quietLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// cluster runs evaluators and a sink until stopped.
type cluster struct {
	t        testing.TB
	bus      control.Bus
	topics   control.Topics
	out      string
	log      *slog.Logger
	services []*service
	group    string // prefix of consumer group names (unique per test on a shared broker)
}

func (c *cluster) start(run func(context.Context) error) func() error {
	ctx, cancel := context.WithCancel(context.Background())
	svc := &service{cancel: cancel, done: make(chan struct{})}
	go func() { svc.err = run(ctx); close(svc.done) }()
	c.services = append(c.services, svc)
	return svc.stop
}

// service is one running service of a cluster.
type service struct {
	cancel context.CancelFunc
	done   chan struct{} // closed once err is set
	err    error
}

func (s *service) stop() error {
	s.cancel()
	<-s.done
	return s.err
}

func (c *cluster) evaluator(name string) func() error {
	cfg := evaluator.DefaultConfig()
	cfg.Topics, cfg.HTTP, cfg.Instance = c.topics, "127.0.0.1:0", name
	cfg.Group = c.group + cfg.Group
	cfg.ProgressInterval = 200 * time.Millisecond
	ev, err := evaluator.New(cfg, c.bus, c.log.With("service", name))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.start(ev.Run)
}

func (c *cluster) sink() func() error {
	cfg := sink.DefaultConfig()
	cfg.Topics, cfg.HTTP, cfg.Out, cfg.Instance = c.topics, "127.0.0.1:0", c.out, "sink"
	cfg.Group = c.group + cfg.Group
	cfg.ProgressInterval = 200 * time.Millisecond
	s, err := sink.New(cfg, c.bus, c.log.With("service", "sink"))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.start(s.Run)
}

// stopAll stops every service still running and checks they all shut down cleanly.
func (c *cluster) stopAll() {
	for i, svc := range c.services {
		if err := svc.stop(); err != nil {
			c.t.Errorf("service %d: %v", i, err)
		}
	}
}

// waitRun follows the control topic until the run is complete or failed, or ctx ends.
func waitRun(ctx context.Context, t testing.TB, b control.Bus, topics control.Topics, runID string) control.RunState {
	t.Helper()
	f, err := control.Follow(ctx, b, topics.ControlTopic(), "test", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for {
		changed := f.Registry.Changed()
		if st, ok := f.Registry.Run(runID); ok && (st.Complete != nil || st.Failed != nil) {
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s did not complete: %v", runID, ctx.Err())
		case <-changed:
		}
	}
}

func ingestConfig(topics control.Topics, runID string) ingest.Config {
	cfg := ingest.DefaultConfig()
	cfg.Topics, cfg.RunID, cfg.ComputeAt = topics, runID, computeAt
	return cfg
}

func runIngest(ctx context.Context, b control.Bus, cfg ingest.Config, file string, log *slog.Logger) (ingest.Stats, error) {
	return ingest.Run(ctx, b, cfg, []string{file}, log.With("service", "ingest"))
}

func ingestRun(ctx context.Context, t testing.TB, b control.Bus, topics control.Topics, runID string, files []string) ingest.Stats {
	t.Helper()
	st, err := ingest.Run(ctx, b, ingestConfig(topics, runID), files, quietLog(t).With("service", "ingest"))
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	return st
}

// sameOutputs compares the distributed run's folder with the embedded one.
func sameOutputs(t testing.TB, got, want string) {
	t.Helper()
	for _, name := range []string{report.DecisionsCSV, report.DecisionsParquet, report.RejectsCSV} {
		a, err := os.ReadFile(filepath.Join(got, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(want, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from clearway run's (%d vs %d bytes)", name, len(a), len(b))
		}
	}
	a, b := summaryWithoutTiming(t, filepath.Join(got, report.SummaryJSON)), summaryWithoutTiming(t, filepath.Join(want, report.SummaryJSON))
	if !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Errorf("summary.json differs (timing aside):\n got %s\nwant %s", ja, jb)
	}
}

func summaryWithoutTiming(t testing.TB, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "timing")
	return m
}

// TestDistributedMatchesEmbedded runs ingest → 2 evaluators → sink over the memory bus
// on a grouped and a shuffled (spill mode) extract.
func TestDistributedMatchesEmbedded(t *testing.T) {
	for _, tc := range []struct {
		name    string
		shuffle bool
	}{{"grouped", false}, {"shuffled", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			in := generate(t, pipelineRows(t), tc.shuffle)
			runID := "test-" + tc.name
			want := embedded(t, runID, []string{in})

			broker := memory.New(memory.Config{})
			c := &cluster{t: t, bus: memoryBus(broker), topics: control.DefaultTopics(), out: t.TempDir(), log: quietLog(t)}
			c.evaluator("ev1")
			c.evaluator("ev2")
			c.sink()
			defer c.stopAll()

			start := time.Now()
			st := ingestRun(ctx, t, c.bus, c.topics, runID, []string{in})
			run := waitRun(ctx, t, c.bus, c.topics, runID)
			elapsed := time.Since(start)
			if run.Failed != nil {
				t.Fatalf("run failed: %s", run.Failed.Reason)
			}
			t.Logf("%d rows, %d subjects in %v (%.0f rows/s, ingest %s mode)", st.Rows, st.Subjects, elapsed,
				float64(st.Rows)/elapsed.Seconds(), st.Mode)
			if tc.shuffle && st.Attempt != 2 {
				t.Errorf("shuffled input published in attempt %d, want 2 (spill)", st.Attempt)
			}
			if run.Complete.Subjects != st.Subjects {
				t.Errorf("stored %d subjects, ingest published %d", run.Complete.Subjects, st.Subjects)
			}
			sameOutputs(t, filepath.Join(c.out, runID), want)
			if _, err := os.Stat(filepath.Join(c.out, runID, ".spool")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("spool left behind after completion: %v", err)
			}
		})
	}
}
