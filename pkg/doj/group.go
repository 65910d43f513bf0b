package doj

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/clearway/clearway/pkg/record"
)

// ErrNotGrouped reports that streaming grouping is impossible: an input file that is not
// sorted by SUBJECT_ID (byte order). Group never returns it: it falls back to spilling.
// GroupStreaming does.
var ErrNotGrouped = errors.New("input is not grouped by SUBJECT_ID")

// GroupSink receives what the grouper produces, always from one goroutine.
type GroupSink interface {
	// Subjects receives complete subjects (every accepted row of the person across all
	// input files, exact duplicate rows dropped). The sink owns the slice.
	Subjects(ss []*record.Subject) error
	// Rejects receives quarantined rows in the order they were read.
	Rejects(rs []Reject) error
}

// GroupOptions tunes grouping. The zero value is usable.
type GroupOptions struct {
	Scan ScanOptions
	// BatchSubjects is how many subjects go to one Subjects call (default 256).
	BatchSubjects int
	// MemoryBudget bounds the rows held in memory when the input must be regrouped
	// (default 256 MiB); beyond it rows spill to temporary files under TempDir.
	MemoryBudget int64
	// TempDir holds spill files ("" = os.TempDir()).
	TempDir string
	// Progress, when set, is called now and then with the rows and input bytes read.
	Progress func(GroupProgress)
}

// GroupProgress reports how far grouping has come.
type GroupProgress struct {
	Phase string // "read" (streaming or spilling), "regroup" (merging sorted runs)
	Rows  int64  // data rows read so far (accepted + quarantined)
	Bytes int64  // input bytes consumed so far (compressed size for .gz)
	// Rows regrouped so far / to regroup, in the regroup phase.
	RegroupDone, RegroupTotal int64
}

// GroupStats counts what grouping saw.
type GroupStats struct {
	Mode       string  // "streaming" or "spill"
	Rows       []int64 // data rows per input file (accepted + quarantined)
	Rejects    []int64 // quarantined rows per input file
	HasHeader  []bool
	Subjects   int64
	Duplicates int64 // exact duplicate rows dropped
	Spilled    int64 // bytes written to spill files
}

func (o GroupOptions) withDefaults() GroupOptions {
	if o.BatchSubjects <= 0 {
		o.BatchSubjects = 256
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = 256 << 20
	}
	return o
}

// Group reads every file and hands complete subjects to sink. It first streams (cheap,
// constant memory) and, if the input turns out not to be grouped by subject, starts
// again in spill mode — so the sink must be able to start over: restart is called (when
// non-nil) before the second attempt, and the sink must then forget everything it got.
// Subjects are emitted in a deterministic order for a given input and options.
func Group(ctx context.Context, files []*File, opt GroupOptions, sink GroupSink, restart func() error) (GroupStats, error) {
	st, err := GroupStreaming(ctx, files, opt, sink)
	if !errors.Is(err, ErrNotGrouped) {
		return st, err
	}
	if restart != nil {
		if err := restart(); err != nil {
			return st, err
		}
	}
	return GroupSpill(ctx, files, opt, sink)
}

// Files are identified by File.Index, which must equal their position in files.

// GroupStreaming merges the files' row streams, emitting each subject as soon as its
// rows are complete. It needs every file sorted by SUBJECT_ID (byte order) — even a single
// file whose subjects are merely contiguous is refused, so that every mode emits subjects
// in the same order; otherwise it returns ErrNotGrouped, possibly after emitting some
// subjects.
func GroupStreaming(ctx context.Context, files []*File, opt GroupOptions, sink GroupSink) (GroupStats, error) {
	opt = opt.withDefaults()
	st := newStats("streaming", len(files))
	cs := make([]*cursor, len(files))
	for i, f := range files {
		cs[i] = &cursor{f: f, sc: f.Scan(ctx, opt.Scan)}
	}
	defer func() {
		for _, c := range cs {
			c.sc.Close()
		}
	}()
	out := newEmitter(opt, sink, &st)
	for {
		var (
			minID string
			found bool
		)
		for _, c := range cs {
			if err := c.skipRejects(out); err != nil {
				return st, err
			}
			if ev := c.head(); ev != nil && (!found || ev.SubjectID < minID) {
				minID, found = ev.SubjectID, true
			}
		}
		if !found {
			break
		}
		s := &record.Subject{ID: minID}
		for _, c := range cs {
			n, err := c.collect(s, out)
			if err != nil {
				return st, err
			}
			if n == 0 {
				continue
			}
			if err := c.checkOrder(minID); err != nil {
				return st, err
			}
		}
		if err := out.subject(s); err != nil {
			return st, err
		}
		if opt.Progress != nil && out.n%4096 == 0 {
			var bytes, rows int64
			for i, c := range cs {
				bytes += c.offset
				rows += st.Rows[i]
			}
			opt.Progress(GroupProgress{Phase: "read", Rows: rows, Bytes: bytes})
		}
	}
	for i, c := range cs {
		st.HasHeader[i] = c.f.HasHeader()
	}
	return st, out.flush()
}

// cursor walks one file's batches, events and rejects interleaved in line order.
type cursor struct {
	f      *File
	sc     *Scanner
	b      *Batch
	ei, ri int
	done   bool
	offset int64
	last   string // last subject collected from this file
}

// fill makes sure the cursor has an unread item or is done.
func (c *cursor) fill(out *emitter) error {
	for !c.done && (c.b == nil || (c.ei >= len(c.b.Events) && c.ri >= len(c.b.Rejects))) {
		b, err := c.sc.Next()
		if err == io.EOF {
			c.done = true
			return nil
		}
		if err != nil {
			return err
		}
		c.b, c.ei, c.ri = b, 0, 0
		c.offset = b.Offset
		out.st.Rows[c.f.Index] += int64(b.Rows)
		out.st.Rejects[c.f.Index] += int64(len(b.Rejects))
	}
	return nil
}

// rejectFirst reports whether the next item in line order is a reject.
func (c *cursor) rejectFirst() bool {
	if c.ri >= len(c.b.Rejects) {
		return false
	}
	return c.ei >= len(c.b.Events) || c.b.Rejects[c.ri].Line < c.b.Events[c.ei].Src.Line
}

func (c *cursor) skipRejects(out *emitter) error {
	for {
		if err := c.fill(out); err != nil {
			return err
		}
		if c.done || !c.rejectFirst() {
			return nil
		}
		out.reject(c.b.Rejects[c.ri])
		c.ri++
	}
}

func (c *cursor) head() *record.Event {
	if c.done || c.ei >= len(c.b.Events) {
		return nil
	}
	return &c.b.Events[c.ei]
}

// collect appends to s every event of s.ID at the head of this file (and the rejects
// interleaved with them), returning how many events it took.
func (c *cursor) collect(s *record.Subject, out *emitter) (int, error) {
	n := 0
	for {
		if err := c.fill(out); err != nil {
			return n, err
		}
		if c.done {
			return n, nil
		}
		if c.rejectFirst() {
			if n == 0 {
				// A reject before this file's first row of s: decide by what follows.
				if ev := c.head(); ev == nil || ev.SubjectID != s.ID {
					return n, nil
				}
			}
			out.reject(c.b.Rejects[c.ri])
			c.ri++
			continue
		}
		ev := &c.b.Events[c.ei]
		if ev.SubjectID != s.ID {
			return n, nil
		}
		s.Events = append(s.Events, *ev)
		c.ei++
		n++
	}
}

func (c *cursor) checkOrder(id string) error {
	if c.last != "" && id <= c.last {
		return fmt.Errorf("%s: not sorted by SUBJECT_ID: %w", c.f.Path, ErrNotGrouped)
	}
	c.last = id
	return nil
}

// emitter batches subjects and rejects for the sink, counts quarantined rows per
// subject and drops exact duplicate rows.
type emitter struct {
	opt     GroupOptions
	sink    GroupSink
	st      *GroupStats
	subs    []*record.Subject
	rejs    []Reject
	pending map[string]int // quarantined rows by subject not yet emitted
	n       int64
}

func newEmitter(opt GroupOptions, sink GroupSink, st *GroupStats) *emitter {
	return &emitter{opt: opt, sink: sink, st: st, pending: make(map[string]int)}
}

// reject records r and counts it against its subject, which is emitted later (or never,
// when every row of the person was rejected).
func (e *emitter) reject(r Reject) {
	e.rejs = append(e.rejs, r)
	if r.SubjectID != "" {
		e.pending[r.SubjectID]++
	}
}

func (e *emitter) subject(s *record.Subject) error {
	if q, ok := e.pending[s.ID]; ok {
		s.Quarantined = q
		delete(e.pending, s.ID)
	}
	e.st.Duplicates += int64(dropDuplicates(s))
	e.subs = append(e.subs, s)
	e.n++
	e.st.Subjects++
	if len(e.subs) >= e.opt.BatchSubjects {
		return e.flush()
	}
	return nil
}

func (e *emitter) flush() error {
	if len(e.rejs) > 0 {
		if err := e.sink.Rejects(e.rejs); err != nil {
			return err
		}
		e.rejs = nil
	}
	if len(e.subs) > 0 {
		if err := e.sink.Subjects(e.subs); err != nil {
			return err
		}
		e.subs = nil
	}
	return nil
}

// dropDuplicates removes rows whose 95 cells equal an earlier row's (the same record
// delivered twice, e.g. in two overlapping extracts), keeping the first. It returns how
// many it dropped.
func dropDuplicates(s *record.Subject) int {
	evs := s.Events
	if len(evs) < 2 {
		return 0
	}
	var seen map[string]int // large subjects: row text → index in kept
	if len(evs) > 16 {
		seen = make(map[string]int, len(evs))
	}
	kept := evs[:0]
	for i := range evs {
		ev := evs[i]
		if isDuplicate(kept, &ev, seen) {
			continue
		}
		if seen != nil {
			if _, ok := seen[ev.Cells.Text()]; !ok {
				seen[ev.Cells.Text()] = len(kept)
			}
		}
		kept = append(kept, ev)
	}
	dropped := len(evs) - len(kept)
	clear(evs[len(kept):]) // let dropped rows' memory go
	s.Events = kept
	return dropped
}

func isDuplicate(kept []record.Event, ev *record.Event, seen map[string]int) bool {
	if seen != nil {
		j, ok := seen[ev.Cells.Text()]
		return ok && kept[j].Cells.Equal(ev.Cells)
	}
	for j := range kept {
		// CNT_ORDER first: rows of different counts differ there, cheaply.
		if kept[j].CntOrder == ev.CntOrder && kept[j].Cells.Equal(ev.Cells) {
			return true
		}
	}
	return false
}

func newStats(mode string, n int) GroupStats {
	return GroupStats{Mode: mode, Rows: make([]int64, n), Rejects: make([]int64, n), HasHeader: make([]bool, n)}
}
