// Package pipeline runs Clearway in one process: read and group DOJ files (pkg/doj),
// decide every in-scope conviction on parallel workers (pkg/eligibility), and write the
// results in a deterministic order (pkg/report). It is what `clearway run` does.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
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

// Run executes the run and writes outputs into cfg.OutDir. It returns an error only when
// the run could not complete; unreadable input files are listed in Stats.Unreadable and
// the other files still run.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	start := time.Now()
	var st Stats
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
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
	gopt := cfg.Group
	if cfg.Progress != nil {
		gopt.Progress = func(p doj.GroupProgress) {
			cfg.Progress(Progress{Phase: p.Phase, Rows: p.Rows, Bytes: p.Bytes, TotalBytes: total,
				RegroupDone: p.RegroupDone, RegroupTotal: p.RegroupTotal})
		}
	}

	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return st, fmt.Errorf("output folder: %w", err)
	}
	stage := filepath.Join(cfg.OutDir, report.StagingDir)

	attempt := func(group func(context.Context, []*doj.File, doj.GroupOptions, doj.GroupSink) (doj.GroupStats, error)) (Stats, error) {
		a := st
		if err := os.RemoveAll(stage); err != nil {
			return a, err
		}
		if err := os.MkdirAll(stage, 0o755); err != nil {
			return a, fmt.Errorf("output folder: %w", err)
		}
		out, err := newOutput(cfg, stage, files)
		if err != nil {
			return a, err
		}
		if cfg.Extra != nil {
			extra, err := cfg.Extra(cfg.Info)
			if err != nil {
				return a, err
			}
			t := &tee{outs: []report.Output{out, extra}}
			defer t.abortUnlessClosed()
			out = t
		}
		// A File is read once; each attempt opens the inputs afresh.
		fresh, err := doj.Reopen(files)
		if err != nil {
			return a, err
		}
		defer doj.CloseAll(fresh)
		w, err := runStages(ctx, cfg, fresh, gopt, group, out)
		a.Group, a.Subjects, a.Evaluated, a.ByDetermination, a.Rejects = w.group, w.subjects, w.evaluated, w.byDet, w.rejects
		if err != nil {
			return a, err
		}
		if cfg.Progress != nil {
			cfg.Progress(Progress{Phase: "write", Rows: sum(a.Group.Rows), Bytes: total, TotalBytes: total})
		}
		rs := report.RunStats{Files: make([]report.FileStats, len(files))}
		for i := range files {
			rs.Files[i] = report.FileStats{Rows: a.Group.Rows[i], Rejects: a.Group.Rejects[i], HasHeader: a.Group.HasHeader[i]}
		}
		rs.Finished = time.Now()
		if err := out.Close(ctx, rs); err != nil {
			return a, err
		}
		return a, nil
	}

	res, err := attempt(doj.GroupStreaming)
	if errors.Is(err, doj.ErrNotGrouped) {
		res, err = attempt(doj.GroupSpill)
	}
	res.Duration = time.Since(start)
	if err != nil {
		os.RemoveAll(stage)
		return res, err
	}
	return res, report.Publish(cfg.OutDir)
}

func sum(xs []int64) int64 {
	var n int64
	for _, x := range xs {
		n += x
	}
	return n
}

func newOutput(cfg Config, dir string, files []*doj.File) (report.Output, error) {
	switch cfg.Format {
	case FormatGogen:
		return report.NewGogen(dir, cfg.Info, rowSource(files, cfg.Group.Scan))
	case FormatNative, "":
		return report.NewNative(dir, cfg.Info)
	}
	return nil, fmt.Errorf("unknown format %q (want %s or %s)", cfg.Format, FormatNative, FormatGogen)
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

// abortUnlessClosed tells outputs that can undo their work that the attempt failed.
func (t *tee) abortUnlessClosed() {
	if t.closed {
		return
	}
	for _, o := range t.outs {
		if a, ok := o.(interface{ Abort() error }); ok {
			_ = a.Abort()
		}
	}
}

// work is one batch of subjects on its way through the evaluators, in grouping order.
type work struct {
	seq      int64
	subjects []*record.Subject
	rejects  []doj.Reject
	results  []eligibility.Result
}

type written struct {
	group     doj.GroupStats
	subjects  int64
	evaluated int64
	rejects   int64
	byDet     map[string]int64
}

// runStages runs grouping → evaluator workers → the ordered writer.
func runStages(ctx context.Context, cfg Config, files []*doj.File, gopt doj.GroupOptions,
	group func(context.Context, []*doj.File, doj.GroupOptions, doj.GroupSink) (doj.GroupStats, error),
	out report.Output) (written, error) {
	var w written
	w.byDet = make(map[string]int64)
	g, ctx := errgroup.WithContext(ctx)
	toEval := make(chan *work, cfg.Workers*2)
	toWrite := make(chan *work, cfg.Workers*2)

	g.Go(func() error {
		defer close(toEval)
		sink := &batchSink{ctx: ctx, ch: toEval}
		gs, err := group(ctx, files, gopt, sink)
		w.group = gs
		if err != nil {
			return err
		}
		return sink.finish()
	})
	evals, _ := errgroup.WithContext(ctx)
	for range cfg.Workers {
		evals.Go(func() error {
			for b := range toEval {
				b.results = make([]eligibility.Result, len(b.subjects))
				for i, s := range b.subjects {
					b.results[i] = cfg.Engine.Evaluate(s)
				}
				select {
				case toWrite <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		err := evals.Wait()
		close(toWrite)
		return err
	})
	g.Go(func() error {
		pending := make(map[int64]*work)
		var next int64
		for b := range toWrite {
			pending[b.seq] = b
			for {
				b, ok := pending[next]
				if !ok {
					break
				}
				delete(pending, next)
				next++
				if err := w.write(out, b); err != nil {
					return err
				}
			}
		}
		if len(pending) != 0 && ctx.Err() == nil {
			return fmt.Errorf("internal: %d batches never written", len(pending))
		}
		return nil
	})
	return w, g.Wait()
}

func (w *written) write(out report.Output, b *work) error {
	for _, r := range b.rejects {
		if err := out.Reject(r); err != nil {
			return err
		}
	}
	w.rejects += int64(len(b.rejects))
	for i := range b.results {
		r := &b.results[i]
		if err := out.Subject(r); err != nil {
			return err
		}
		w.subjects++
		w.evaluated += int64(len(r.Evaluated))
		for _, c := range r.Evaluated {
			w.byDet[c.Determination.String()]++
		}
	}
	return nil
}

// batchSink turns the grouper's calls into numbered work items.
type batchSink struct {
	ctx     context.Context
	ch      chan<- *work
	seq     int64
	rejects []doj.Reject
}

func (s *batchSink) Rejects(rs []doj.Reject) error {
	s.rejects = append(s.rejects, rs...)
	return nil
}

func (s *batchSink) Subjects(ss []*record.Subject) error {
	return s.send(&work{subjects: ss})
}

func (s *batchSink) send(b *work) error {
	b.seq, b.rejects = s.seq, s.rejects
	s.seq++
	s.rejects = nil
	select {
	case s.ch <- b:
		return nil
	case <-s.ctx.Done():
		return s.ctx.Err()
	}
}

// finish sends rejects that came after the last subject.
func (s *batchSink) finish() error {
	if len(s.rejects) == 0 {
		return nil
	}
	return s.send(&work{})
}
