package doj

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	"github.com/clearway/clearway/pkg/record"
)

// Spill mode: the first pass scans every file and keeps each accepted row, encoded, in
// memory when the whole input fits the budget, and otherwise in one of P temporary files
// chosen by a stable hash of its SUBJECT_ID (P sized so that one partition, decoded, fits
// in half the budget). If an input turns out larger than its size suggested (gzip, pipes),
// the rows held so far move to the files. The second pass loads one partition at a time,
// groups its rows by subject and emits the subjects in SUBJECT_ID order. Output order is
// therefore (partition, subject): the same for the same input and budget.

// memPerRawByte estimates how many bytes of memory one byte of a spilled row takes once
// it is decoded into an Event (cell text, cell offsets, the Event itself).
const memPerRawByte = 3

// estimatedRatio guesses how much a gzip-compressed DOJ extract expands.
const estimatedRatio = 6

// GroupSpill groups any input, grouped or not, within opt.MemoryBudget.
func GroupSpill(ctx context.Context, files []*File, opt GroupOptions, sink GroupSink) (GroupStats, error) {
	opt = opt.withDefaults()
	st := newStats("spill", len(files))
	sp, err := newSpiller(files, opt)
	if err != nil {
		return st, err
	}
	defer sp.cleanup()
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
				if err := sp.add(&b.Events[i]); err != nil {
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
	st.Spilled = sp.spilled
	for p := range sp.parts {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		evs, err := sp.load(p)
		if err != nil {
			return st, err
		}
		if err := emitPartition(evs, out); err != nil {
			return st, err
		}
		if opt.Progress != nil {
			opt.Progress(GroupProgress{Phase: "regroup", Rows: rows, Bytes: bytes, PartitionsDone: p + 1, Partitions: len(sp.parts)})
		}
	}
	return st, out.flush()
}

// emitPartition groups one partition's rows (in input order) into subjects, sorted by
// SUBJECT_ID; a subject's rows stay in input order.
func emitPartition(evs []record.Event, out *emitter) error {
	idx := make([]int32, len(evs))
	for i := range idx {
		idx[i] = int32(i)
	}
	// Ties broken by position keep a subject's rows in input order (cheaper than a
	// stable sort).
	slices.SortFunc(idx, func(a, b int32) int {
		if c := strings.Compare(evs[a].SubjectID, evs[b].SubjectID); c != 0 {
			return c
		}
		return int(a - b)
	})
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && evs[idx[j]].SubjectID == evs[idx[i]].SubjectID {
			j++
		}
		s := &record.Subject{ID: evs[idx[i]].SubjectID, Events: make([]record.Event, 0, j-i)}
		for _, k := range idx[i:j] {
			s.Events = append(s.Events, evs[k])
		}
		if err := out.subject(s); err != nil {
			return err
		}
		i = j
	}
	return nil
}

type partition struct {
	mem  []byte        // encoded rows (memory mode)
	file *os.File      // disk mode
	w    *bufio.Writer // disk mode
	size int64         // bytes written to file
}

// spiller keeps encoded rows in one in-memory partition while the input looks small
// enough to regroup in memory, and otherwise in P hash partitions on disk.
type spiller struct {
	dir      string
	parts    []partition
	disk     bool
	inMem    int64
	budget   int64 // bytes of encoded rows the memory mode may hold
	estimate int64 // estimated bytes of input
	spilled  int64
	bufSize  int
	per      int64 // target bytes per disk partition
	scratch  []byte
}

func newSpiller(files []*File, opt GroupOptions) (*spiller, error) {
	var total int64
	for _, f := range files {
		n := f.Size()
		if strings.HasSuffix(f.Path, ".gz") {
			n *= estimatedRatio
		}
		total += n
	}
	dir, err := os.MkdirTemp(opt.TempDir, "clearway-spill-")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	s := &spiller{
		dir:      dir,
		parts:    make([]partition, 1),
		budget:   opt.MemoryBudget / 2 / memPerRawByte,
		estimate: total,
		// Each partition, decoded, must fit in half of the budget (the rest is for the
		// pipeline downstream and the garbage collector's headroom).
		per: max(opt.MemoryBudget/2/memPerRawByte, 1<<20),
	}
	if total > s.budget {
		if err := s.toDisk(); err != nil {
			s.cleanup()
			return nil, err
		}
	}
	return s, nil
}

// toDisk switches to P partitions in files, moving rows already held in memory.
func (s *spiller) toDisk() error {
	n := int(min(max(2*((s.estimate+s.per-1)/s.per), 16), 4096))
	old := s.parts[0].mem
	s.parts = make([]partition, n)
	s.disk = true
	// Write buffers share an eighth of the budget.
	s.bufSize = int(min(max(s.per/16, 4<<10), 256<<10))
	for i := range s.parts {
		f, err := os.Create(fmt.Sprintf("%s/part-%04d", s.dir, i))
		if err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		s.parts[i] = partition{file: f, w: bufio.NewWriterSize(f, s.bufSize)}
	}
	for off := 0; off < len(old); {
		id, n, err := encodedSubject(old[off:])
		if err != nil {
			return err
		}
		if err := s.write(id, old[off:off+n]); err != nil {
			return err
		}
		off += n
	}
	s.inMem = 0
	return nil
}

// add encodes ev's source and cells: uvarint file, uvarint line, 95 uvarint cell lengths,
// then the cell text.
func (s *spiller) add(ev *record.Event) error {
	b := s.scratch[:0]
	b = binary.AppendUvarint(b, uint64(ev.Src.File))
	b = binary.AppendUvarint(b, uint64(ev.Src.Line))
	prev := uint32(0)
	for _, end := range ev.Cells.Ends() {
		b = binary.AppendUvarint(b, uint64(end-prev))
		prev = end
	}
	b = append(b, ev.Cells.Text()...)
	s.scratch = b
	if s.disk {
		return s.write(ev.SubjectID, b)
	}
	s.parts[0].mem = append(s.parts[0].mem, b...)
	s.inMem += int64(len(b))
	if s.inMem > s.budget {
		// The input is larger than it looked (a pipe, or gzip compressing better than
		// estimated): regroup it on disk after all.
		s.estimate = max(s.estimate, 2*s.inMem)
		return s.toDisk()
	}
	return nil
}

func (s *spiller) write(subjectID string, row []byte) error {
	p := &s.parts[hashID(subjectID)%uint64(len(s.parts))]
	if _, err := p.w.Write(row); err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	p.size += int64(len(row))
	s.spilled += int64(len(row))
	return nil
}

// load decodes partition i; rows keep their input order.
func (s *spiller) load(i int) ([]record.Event, error) {
	p := &s.parts[i]
	if !s.disk {
		buf := p.mem
		p.mem = nil
		return decodePartition(buf)
	}
	if err := p.w.Flush(); err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	buf := make([]byte, p.size)
	if _, err := p.file.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("spill: read %s: %w", p.file.Name(), err)
	}
	p.file.Close()
	os.Remove(p.file.Name())
	p.file, p.w = nil, nil
	return decodePartition(buf)
}

var errCorruptSpill = errors.New("spill file is corrupt")

// encodedSubject returns the SUBJECT_ID of the encoded row at the start of b and the
// row's encoded length.
func encodedSubject(b []byte) (string, int, error) {
	_, n1 := binary.Uvarint(b)
	if n1 <= 0 {
		return "", 0, errCorruptSpill
	}
	_, n2 := binary.Uvarint(b[n1:])
	if n2 <= 0 {
		return "", 0, errCorruptSpill
	}
	off := n1 + n2
	var idStart, idLen, total int
	for c := 0; c < NumColumns; c++ {
		v, n := binary.Uvarint(b[off:])
		if n <= 0 {
			return "", 0, errCorruptSpill
		}
		off += n
		if c == ColSubjectID {
			idStart, idLen = total, int(v)
		}
		total += int(v)
	}
	if off+total > len(b) {
		return "", 0, errCorruptSpill
	}
	return string(b[off+idStart : off+idStart+idLen]), off + total, nil
}

// decodePartition rebuilds events from encoded rows. Cells point straight into buf (a
// row's cell text is contiguous there), and all cell ends share one slab.
func decodePartition(buf []byte) ([]record.Event, error) {
	// buf is never written again, so strings can share its bytes.
	all := unsafe.String(unsafe.SliceData(buf), len(buf))
	var evs []record.Event
	var ends []uint32
	for off := 0; off < len(buf); {
		file, n1 := binary.Uvarint(buf[off:])
		if n1 <= 0 {
			return nil, errCorruptSpill
		}
		line, n2 := binary.Uvarint(buf[off+n1:])
		if n2 <= 0 {
			return nil, errCorruptSpill
		}
		off += n1 + n2
		if cap(ends)-len(ends) < NumColumns {
			ends = make([]uint32, 0, 4096*NumColumns)
		}
		e := ends[len(ends) : len(ends)+NumColumns]
		ends = ends[:len(ends)+NumColumns]
		total := 0
		for c := range e {
			v, n := binary.Uvarint(buf[off:])
			if n <= 0 {
				return nil, errCorruptSpill
			}
			off += n
			total += int(v)
			e[c] = uint32(total)
		}
		if off+total > len(buf) {
			return nil, errCorruptSpill
		}
		src := record.Source{File: int32(file), Line: int64(line)}
		ev, rej := EventFromCells(src, record.NewCells(all[off:off+total], e))
		if rej != nil {
			return nil, fmt.Errorf("spill: row %d re-validated differently: %s", src.Line, rej.Reason)
		}
		evs = append(evs, ev)
		off += total
	}
	return evs, nil
}

func (s *spiller) cleanup() {
	for i := range s.parts {
		if f := s.parts[i].file; f != nil {
			f.Close()
		}
	}
	os.RemoveAll(s.dir)
}
