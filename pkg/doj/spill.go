package doj

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"unsafe"

	"github.com/clearway/clearway/pkg/record"
)

// Spill mode is an external merge sort by SUBJECT_ID. The first pass scans every file
// and appends each accepted row, encoded, to a run buffer; when the buffer reaches its
// share of the budget it is sorted by (SUBJECT_ID, arrival order) and written to a
// temporary run file. The second pass merges the runs (or, when everything fit in one
// buffer, just sorts it) and cuts the merged stream into subjects. Subjects therefore come
// out in SUBJECT_ID byte order with each subject's rows in input order — exactly what
// streaming a sorted input gives — whatever the input's order or the memory budget.

// runShare is the fraction of the memory budget the run buffer may fill; the rest is
// for the sort index, the pipeline downstream and the garbage collector's headroom.
const runShare = 3

// GroupSpill groups any input, grouped or not, within opt.MemoryBudget.
func GroupSpill(ctx context.Context, files []*File, opt GroupOptions, sink GroupSink) (GroupStats, error) {
	opt = opt.withDefaults()
	st := newStats("spill", len(files))
	dir, err := os.MkdirTemp(opt.TempDir, "clearway-spill-")
	if err != nil {
		return st, fmt.Errorf("spill: %w", err)
	}
	defer os.RemoveAll(dir)
	srt := &sorter{dir: dir, limit: max(opt.MemoryBudget/runShare, 64<<10)}
	defer srt.closeRuns()
	out := newEmitter(opt, sink, &st)

	var rows, bytes int64
	for _, f := range files {
		sc := f.Scan(ctx, opt.Scan)
		for {
			b, err := sc.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				sc.Close()
				return st, err
			}
			st.Rows[f.Index] += int64(b.Rows)
			st.Rejects[f.Index] += int64(len(b.Rejects))
			for _, r := range b.Rejects {
				out.reject(r)
			}
			for i := range b.Events {
				if err := srt.add(&b.Events[i]); err != nil {
					sc.Close()
					return st, err
				}
			}
			rows += int64(b.Rows)
			if opt.Progress != nil {
				opt.Progress(GroupProgress{Phase: "read", Rows: rows, Bytes: bytes + b.Offset})
			}
			if len(out.rejs) >= 4096 {
				if err := out.flush(); err != nil {
					sc.Close()
					return st, err
				}
			}
		}
		sc.Close()
		st.HasHeader[f.Index] = f.HasHeader()
		bytes += f.Size()
	}
	progress := func(done int64) {
		if opt.Progress != nil {
			opt.Progress(GroupProgress{Phase: "regroup", Rows: rows, Bytes: bytes, RegroupDone: done, RegroupTotal: srt.total})
		}
	}
	err = srt.merge(ctx, out, progress)
	st.Spilled = srt.spilled
	if err != nil {
		return st, err
	}
	return st, out.flush()
}

// sortRow locates one encoded row in the run buffer and its SUBJECT_ID within it.
type sortRow struct {
	off, n       int
	idOff, idLen int
}

type sorter struct {
	dir     string
	limit   int64 // bytes of encoded rows per run
	buf     []byte
	rows    []sortRow
	runs    []*runReader
	total   int64 // rows added
	spilled int64
}

// add encodes ev's source and cells (uvarint file, uvarint line, 95 uvarint cell
// lengths, then the cell text) into the run buffer.
func (s *sorter) add(ev *record.Event) error {
	if s.buf == nil {
		// One allocation for the whole run buffer: growing it by doubling would copy it.
		s.buf = make([]byte, 0, s.limit+64<<10)
	}
	off := len(s.buf)
	b := binary.AppendUvarint(s.buf, uint64(ev.Src.File))
	b = binary.AppendUvarint(b, uint64(ev.Src.Line))
	ends := ev.Cells.Ends()
	prev := uint32(0)
	for _, end := range ends {
		b = binary.AppendUvarint(b, uint64(end-prev))
		prev = end
	}
	text := len(b)
	b = append(b, ev.Cells.Text()...)
	s.buf = b
	idStart := 0
	if ColSubjectID > 0 {
		idStart = int(ends[ColSubjectID-1])
	}
	s.rows = append(s.rows, sortRow{off: off, n: len(b) - off, idOff: text + idStart, idLen: int(ends[ColSubjectID]) - idStart})
	s.total++
	if int64(len(s.buf)) >= s.limit {
		return s.spillRun()
	}
	return nil
}

func (s *sorter) id(r sortRow) []byte { return s.buf[r.idOff : r.idOff+r.idLen] }

// sortRows orders the buffer's rows by SUBJECT_ID, then arrival (= input order).
func (s *sorter) sortRows() {
	slices.SortFunc(s.rows, func(a, b sortRow) int {
		if c := bytes.Compare(s.id(a), s.id(b)); c != 0 {
			return c
		}
		return a.off - b.off
	})
}

// spillRun writes the sorted buffer to a run file, each row prefixed by its length.
func (s *sorter) spillRun() error {
	if len(s.rows) == 0 {
		return nil
	}
	s.sortRows()
	f, err := os.Create(fmt.Sprintf("%s/run-%05d", s.dir, len(s.runs)))
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	w := bufio.NewWriterSize(f, 256<<10)
	var lenBuf [binary.MaxVarintLen64]byte
	for _, r := range s.rows {
		n := binary.PutUvarint(lenBuf[:], uint64(r.n))
		w.Write(lenBuf[:n])
		w.Write(s.buf[r.off : r.off+r.n])
		s.spilled += int64(n + r.n)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("spill: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("spill: %w", err)
	}
	s.runs = append(s.runs, &runReader{f: f, r: bufio.NewReaderSize(f, 64<<10), index: len(s.runs)})
	s.buf, s.rows = s.buf[:0], s.rows[:0]
	return nil
}

func (s *sorter) closeRuns() {
	for _, r := range s.runs {
		r.f.Close()
	}
}

// merge emits every subject in SUBJECT_ID order.
func (s *sorter) merge(ctx context.Context, out *emitter, progress func(int64)) error {
	var g subjectCutter
	g.out = out
	// add hands the next row in order to the cutter, reporting progress (and noticing
	// cancellation) every 65,536 rows.
	var done int64
	add := func(row string, id []byte) error {
		if err := g.add(row, id); err != nil {
			return err
		}
		if done++; done%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			progress(done)
		}
		return nil
	}
	if len(s.runs) == 0 {
		// Everything fit in memory: sort and cut, with cells pointing into the buffer.
		s.sortRows()
		all := unsafe.String(unsafe.SliceData(s.buf), len(s.buf)) // s.buf is not written again
		for _, r := range s.rows {
			if err := add(all[r.off:r.off+r.n], s.buf[r.idOff:r.idOff+r.idLen]); err != nil {
				return err
			}
		}
		progress(done)
		return g.flush()
	}
	if err := s.spillRun(); err != nil {
		return err
	}
	s.buf, s.rows = nil, nil
	h := make(runHeap, 0, len(s.runs))
	for _, r := range s.runs {
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			h = append(h, r)
		}
	}
	heap.Init(&h)
	for len(h) > 0 {
		r := h[0]
		if err := add(r.row, r.id()); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&h, 0)
		} else {
			heap.Pop(&h)
		}
	}
	progress(done)
	return g.flush()
}

// subjectCutter turns the merged, sorted row stream into subjects.
type subjectCutter struct {
	out  *emitter
	cur  *record.Subject
	ends []uint32 // slab for cell ends
}

// add takes one encoded row (a string that stays valid) and its SUBJECT_ID bytes.
func (g *subjectCutter) add(row string, id []byte) error {
	if g.cur != nil && g.cur.ID != string(id) {
		if err := g.flush(); err != nil {
			return err
		}
	}
	ev, err := g.decode(row)
	if err != nil {
		return err
	}
	if g.cur == nil {
		g.cur = &record.Subject{ID: ev.SubjectID}
	}
	g.cur.Events = append(g.cur.Events, ev)
	return nil
}

func (g *subjectCutter) flush() error {
	if g.cur == nil {
		return nil
	}
	s := g.cur
	g.cur = nil
	return g.out.subject(s)
}

// decode rebuilds an event from an encoded row without copying its text.
func (g *subjectCutter) decode(row string) (record.Event, error) {
	file, n1 := uvarintString(row)
	if n1 <= 0 {
		return record.Event{}, errCorruptSpill
	}
	line, n2 := uvarintString(row[n1:])
	if n2 <= 0 {
		return record.Event{}, errCorruptSpill
	}
	off := n1 + n2
	if cap(g.ends)-len(g.ends) < NumColumns {
		g.ends = make([]uint32, 0, 4096*NumColumns)
	}
	e := g.ends[len(g.ends) : len(g.ends)+NumColumns]
	g.ends = g.ends[:len(g.ends)+NumColumns]
	total := 0
	for c := range e {
		v, n := uvarintString(row[off:])
		if n <= 0 {
			return record.Event{}, errCorruptSpill
		}
		off += n
		total += int(v)
		e[c] = uint32(total)
	}
	if off+total != len(row) {
		return record.Event{}, errCorruptSpill
	}
	src := record.Source{File: int32(file), Line: int64(line)}
	ev, rej := EventFromCells(src, record.NewCells(row[off:], e))
	if rej != nil {
		return record.Event{}, fmt.Errorf("spill: row %d re-validated differently: %s", src.Line, rej.Reason)
	}
	return ev, nil
}

// uvarintString is binary.Uvarint over a string.
func uvarintString(s string) (uint64, int) {
	var x uint64
	var shift uint
	for i := 0; i < len(s) && i < binary.MaxVarintLen64; i++ {
		b := s[i]
		if b < 0x80 {
			return x | uint64(b)<<shift, i + 1
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, 0
}

var errCorruptSpill = errors.New("spill file is corrupt")

// runReader reads one sorted run file. Rows are read into arena blocks that are never
// reused, so a row (and events decoded from it) stays valid after the reader moves on.
type runReader struct {
	f     *os.File
	r     *bufio.Reader
	index int
	arena []byte
	row   string
	idOff int
	idLen int
}

func (r *runReader) id() []byte {
	return unsafe.Slice(unsafe.StringData(r.row[r.idOff:]), r.idLen)
}

func (r *runReader) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("spill: read %s: %w", r.f.Name(), err)
	}
	if n > 64<<20 {
		return false, errCorruptSpill
	}
	if cap(r.arena)-len(r.arena) < int(n) {
		r.arena = make([]byte, 0, max(int(n), 256<<10))
	}
	b := r.arena[len(r.arena) : len(r.arena)+int(n)]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return false, fmt.Errorf("spill: read %s: %w", r.f.Name(), err)
	}
	r.arena = r.arena[:len(r.arena)+int(n)]
	r.row = unsafe.String(unsafe.SliceData(b), len(b)) // b is never written again
	r.idOff, r.idLen, err = encodedID(b)
	return true, err
}

// encodedID finds the SUBJECT_ID inside an encoded row.
func encodedID(b []byte) (int, int, error) {
	_, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return 0, 0, errCorruptSpill
	}
	_, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 {
		return 0, 0, errCorruptSpill
	}
	off := n1 + n2
	idStart, idLen, total := 0, 0, 0
	for c := 0; c < NumColumns; c++ {
		v, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return 0, 0, errCorruptSpill
		}
		off += n
		if c == ColSubjectID {
			idStart, idLen = total, int(v)
		}
		total += int(v)
	}
	if off+total != len(b) {
		return 0, 0, errCorruptSpill
	}
	return off + idStart, idLen, nil
}

// runHeap orders run readers by their current row's SUBJECT_ID, then by run index
// (earlier runs hold earlier input rows).
type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := bytes.Compare(h[i].id(), h[j].id()); c != 0 {
		return c < 0
	}
	return h[i].index < h[j].index
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	*h = old[:len(old)-1]
	return r
}
