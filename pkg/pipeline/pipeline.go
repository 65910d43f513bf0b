// Package pipeline runs Clearway in one process: the distributed pipeline's services —
// ingest (read and group DOJ files), evaluator (decide every in-scope conviction, one
// goroutine per partition) and sink (write the results in a deterministic order) — wired
// over an in-process memory bus. It is what `clearway run` does.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/evaluator"
	"github.com/clearway/clearway/services/ingest"
	"github.com/clearway/clearway/services/sink"
)

// Output formats.
const (
	FormatNative = "native"
	FormatGogen  = "gogen"
)

// Config describes one embedded run.
type Config struct {
	Files  []string
	Engine *eligibility.Engine
	// Info is the run's provenance; Run fills Info.Files.
	Info   report.RunInfo
	Format string // FormatNative or FormatGogen
	OutDir string
	// Workers evaluating subjects (default GOMAXPROCS).
	Workers int
	// Group tunes reading and grouping (memory budget, spill folder, parse workers).
	Group doj.GroupOptions
	// Progress, when set, is called from time to time.
	Progress func(Progress)
	// Extra, when set, makes an additional output (e.g. a ClickHouse writer) that
	// receives every reject and subject after the files' output. It is called once
	// per attempt (a run that finds its input unsorted starts again with spilling);
	// an attempt that fails calls the output's Abort() error method, when it has
	// one, instead of Close.
	Extra func(info report.RunInfo) (report.Output, error)
}

// Progress is what a progress display needs.
type Progress struct {
	Phase      string // "read", "regroup" or "write"
	Rows       int64  // data rows read
	Bytes      int64  // input bytes read
	TotalBytes int64  // input bytes in all readable files
	// Rows regrouped so far / to regroup, while regrouping unsorted input.
	RegroupDone, RegroupTotal int64
}

// Stats summarises a finished run.
type Stats struct {
	Group           doj.GroupStats
	Unreadable      []error // inputs that could not be opened; the others still ran
	Subjects        int64
	Evaluated       int64 // convictions decided
	ByDetermination map[string]int64
	Rejects         int64
	Duration        time.Duration
}

// busRunID names the run on the in-process bus; outputs carry Config.Info.RunID, which
// need not be a valid bus run id.
const busRunID = "clearway-run"

// Tuning of the in-process bus. Small partitions bound the batches in flight (each a
// message of up to batchSubjects decided subjects): backpressure reaches the grouper.
const (
	partitionCapacity = 2
	controlCapacity   = 1 << 20 // records; in practice a few hundred per run
	batchSubjects     = 256
	publishWorkers    = 2
)

// Run executes the run and writes outputs into cfg.OutDir. It returns an error only when
// the run could not complete; unreadable input files are listed in Stats.Unreadable and
// the other files still run.
//
// The run is the distributed pipeline in one process: services/ingest →
// services/evaluator → services/sink over a pkg/bus/memory broker, with decoded batches
// passed as they are (bus.Message.Local) and the sink in direct mode, writing through
// the output of cfg.Format (and cfg.Extra) in OUT/.clearway-partial.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	start := time.Now()
	var st Stats
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Format != FormatNative && cfg.Format != FormatGogen && cfg.Format != "" {
		return st, fmt.Errorf("unknown format %q (want %s or %s)", cfg.Format, FormatNative, FormatGogen)
	}
	files, unreadable := doj.OpenAll(cfg.Files)
	var total int64
	for _, f := range files {
		total += f.Size()
	}
	st.Unreadable = unreadable
	doj.CloseAll(files) // opened to check they are readable and to size them
	cfg.Info.Files = make([]report.InputFile, len(files))
	for i, f := range files {
		cfg.Info.Files[i] = report.InputFile{Path: f.Path, Index: f.Index, Size: f.Size()}
	}
	if len(files) == 0 {
		return st, errors.Join(append([]error{errors.New("no readable input file")}, unreadable...)...)
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return st, fmt.Errorf("output folder: %w", err)
	}

	topics := control.DefaultTopics()
	topics.Partitions = cfg.Workers
	// The control topic is read from its start by followers that never trim it, so it
	// must hold every control record of the run (a few per progress interval): a full
	// control partition would block its publishers for good.
	broker := memory.New(memory.Config{TopicCapacity: map[string]int{
		topics.SubjectsTopic(): partitionCapacity, topics.DecisionsTopic(): partitionCapacity,
		topics.ControlTopic(): controlCapacity}})
	pub := broker.Publisher(bus.PublisherOptions{Partitioning: bus.PartitionExplicit})
	defer pub.Close()
	b := control.Bus{Admin: broker, Publisher: pub,
		Subscribe: func(o bus.SubscriberOptions) (bus.Subscriber, error) { return broker.Subscribe(o) }}
	// One telemetry for the three services, never served: its "run" stage sums theirs.
	tel, err := telemetry.New(ctx, telemetry.Options{Service: "run", Version: eligibility.Version})
	if err != nil {
		return st, err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	log := slog.New(slog.DiscardHandler)

	var (
		last *counter              // the output of the latest attempt
		done = make(chan error, 1) // the sink's verdict on the run
	)
	sinkCfg := sink.DefaultConfig()
	sinkCfg.Out, sinkCfg.HTTP, sinkCfg.Topics, sinkCfg.Telemetry, sinkCfg.Instance = cfg.OutDir, "", topics, tel, "run"
	sinkCfg.Direct = &sink.Direct{
		Dir: func(string) string { return cfg.OutDir },
		Output: func(_, stage string, _ *control.RunStart) (report.Output, error) {
			out, err := newOutput(cfg, stage, files)
			if err != nil {
				return nil, err
			}
			last = &counter{out: out, byDet: map[string]int64{}}
			return last, nil
		},
		Done: func(_ string, err error) { done <- err },
	}
	snk, err := sink.New(sinkCfg, b, log)
	if err != nil {
		return st, err
	}
	evCfg := evaluator.DefaultConfig()
	evCfg.HTTP, evCfg.Topics, evCfg.Telemetry, evCfg.Engine, evCfg.Instance = "", topics, tel, cfg.Engine, "run"
	ev, err := evaluator.New(evCfg, b, log)
	if err != nil {
		return st, err
	}
	inCfg := ingest.DefaultConfig()
	inCfg.RunID, inCfg.Topics, inCfg.Telemetry, inCfg.Engine = busRunID, topics, tel, cfg.Engine
	inCfg.Memory, inCfg.TempDir, inCfg.Scan = cfg.Group.MemoryBudget, cfg.Group.TempDir, cfg.Group.Scan
	inCfg.BatchSubjects, inCfg.PublishWorkers = batchSubjects, publishWorkers
	if inCfg.Memory <= 0 {
		inCfg.Memory = ingest.DefaultConfig().Memory
	}
	if cfg.Progress != nil {
		inCfg.GroupProgress = func(p doj.GroupProgress) {
			cfg.Progress(Progress{Phase: p.Phase, Rows: p.Rows, Bytes: p.Bytes, TotalBytes: total,
				RegroupDone: p.RegroupDone, RegroupTotal: p.RegroupTotal})
		}
	}

	svcCtx, stopServices := context.WithCancel(ctx)
	defer stopServices()
	failed := make(chan error, 2) // a service that stopped before the run was done
	var wg sync.WaitGroup
	for _, run := range []func(context.Context) error{ev.Run, snk.Run} {
		wg.Go(func() {
			if err := run(svcCtx); err != nil {
				failed <- err
			} else if svcCtx.Err() == nil {
				failed <- errors.New("internal: a pipeline service stopped before the run was done")
			}
		})
	}
	stop := func() { stopServices(); wg.Wait() }

	// Ingest publishes the run; the sink says when it is written. The first failure of
	// either (or of a service) stops the other.
	ingestCtx, stopIngest := context.WithCancel(ctx)
	defer stopIngest()
	ingested := make(chan error, 1)
	ingestExited := make(chan struct{})
	go func() {
		defer close(ingestExited)
		is, err := ingest.Run(ingestCtx, b, inCfg, cfg.Files, log)
		st.Group = is.Group
		ingested <- err
	}()
	for pending := 2; pending > 0 && err == nil; pending-- {
		select {
		case err = <-ingested:
		case err = <-done:
		case err = <-failed:
		}
	}
	stopIngest()
	<-ingestExited
	stop() // the sink removes what it staged for a run it did not finish
	st.Duration = time.Since(start)
	if err != nil {
		os.RemoveAll(filepath.Join(cfg.OutDir, report.StagingDir))
		return st, err
	}
	st.Subjects, st.Evaluated, st.ByDetermination, st.Rejects = last.subjects, last.evaluated, last.byDet, last.rejects
	if cfg.Progress != nil {
		cfg.Progress(Progress{Phase: "write", Rows: sum(st.Group.Rows), Bytes: total, TotalBytes: total})
	}
	return st, nil
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

// newOutput returns one attempt's output in dir: the files of cfg.Format, and cfg.Extra's
// output when there is one.
func newOutput(cfg Config, dir string, files []*doj.File) (report.Output, error) {
	var (
		out report.Output
		err error
	)
	switch cfg.Format {
	case FormatGogen:
		out, err = report.NewGogen(dir, cfg.Info, rowSource(files, cfg.Group.Scan))
	default:
		out, err = report.NewNative(dir, cfg.Info)
	}
	if err != nil || cfg.Extra == nil {
		return out, err
	}
	extra, err := cfg.Extra(cfg.Info)
	if err != nil {
		return nil, err
	}
	return &tee{outs: []report.Output{out, extra}}, nil
}

// rowSource re-reads an input file for outputs that list every row (gogen's All_Results).
func rowSource(files []*doj.File, opt doj.ScanOptions) report.RowSource {
	return func(ctx context.Context, i int32, fn func(record.Source, record.Cells) error) error {
		f, err := doj.Open(files[i].Path, i)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := f.Scan(ctx, opt)
		defer sc.Close()
		for {
			b, err := sc.Next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			for j := range b.Events {
				if err := fn(b.Events[j].Src, b.Events[j].Cells); err != nil {
					return err
				}
			}
		}
	}
}

// tee sends every result to several outputs in turn.
type tee struct {
	outs   []report.Output
	closed bool
}

func (t *tee) Subject(r *eligibility.Result) error {
	for _, o := range t.outs {
		if err := o.Subject(r); err != nil {
			return err
		}
	}
	return nil
}

func (t *tee) Reject(r doj.Reject) error {
	for _, o := range t.outs {
		if err := o.Reject(r); err != nil {
			return err
		}
	}
	return nil
}

func (t *tee) Close(ctx context.Context, st report.RunStats) error {
	t.closed = true
	var errs []error
	for _, o := range t.outs {
		errs = append(errs, o.Close(ctx, st))
	}
	return errors.Join(errs...)
}

// Abort tells outputs that can undo their work that the attempt was abandoned or failed.
func (t *tee) Abort() error {
	if t.closed {
		return nil
	}
	var errs []error
	for _, o := range t.outs {
		if a, ok := o.(interface{ Abort() error }); ok {
			errs = append(errs, a.Abort())
		}
	}
	return errors.Join(errs...)
}

// counter counts what reaches an attempt's output, for Stats.
type counter struct {
	out                          report.Output
	subjects, evaluated, rejects int64
	byDet                        map[string]int64
}

func (c *counter) Subject(r *eligibility.Result) error {
	c.subjects++
	c.evaluated += int64(len(r.Evaluated))
	for _, d := range r.Evaluated {
		c.byDet[d.Determination.String()]++
	}
	return c.out.Subject(r)
}

func (c *counter) Reject(r doj.Reject) error {
	c.rejects++
	return c.out.Reject(r)
}

func (c *counter) Close(ctx context.Context, st report.RunStats) error { return c.out.Close(ctx, st) }

// Abort passes an abandoned attempt on to the output.
func (c *counter) Abort() error {
	if a, ok := c.out.(interface{ Abort() error }); ok {
		return a.Abort()
	}
	return nil
}
