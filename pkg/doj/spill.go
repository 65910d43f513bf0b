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

// Spill mode: the first pass scans every file and appends each accepted row to one of P
// partitions chosen by a stable hash of its SUBJECT_ID; partitions live in memory until
// the budget is reached and then in temporary files. The second pass loads one partition
// at a time, groups its rows by subject (in memory: a partition fits the budget) and
// emits the subjects in SUBJECT_ID order. Output order is therefore (partition, subject),
// the same for the same input and budget.

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
	slices.SortStableFunc(idx, func(a, b int32) int { return strings.Compare(evs[a].SubjectID, evs[b].SubjectID) })
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
	mem  []byte   // encoded rows not yet written
	file *os.File // nil until the first spill
	size int64    // bytes on disk
}

type spiller struct {
	dir     string
	parts   []partition
	inMem   int64
	budget  int64
	spilled int64
	scratch []byte
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
	// Each partition, decoded, must fit in a quarter of the budget (the rest is for the
	// pipeline downstream and the garbage collector's headroom).
	per := max(opt.MemoryBudget/4/memPerRawByte, 1<<20)
	p := int(min((total+per-1)/per, 4096))
	p = max(p, 1)
	dir, err := os.MkdirTemp(opt.TempDir, "clearway-spill-")
	if err != nil {
		return nil, fmt.Errorf("spill: %w", err)
	}
	return &spiller{dir: dir, parts: make([]partition, p), budget: opt.MemoryBudget / 2}, nil
}

// add encodes ev's source and cells: uvarint file, uvarint line, 95 uvarint cell lengths,
// then the cell text.
func (s *spiller) add(ev *record.Event) error {
	p := &s.parts[hashID(ev.SubjectID)%uint64(len(s.parts))]
	b := s.scratch[:0]
	b = binary.AppendUvarint(b, uint64(ev.Src.File))
	b = binary.AppendUvarint(b, uint64(ev.Src.Line))
	n := ev.Cells.Len()
	for i := 0; i < n; i++ {
		b = binary.AppendUvarint(b, uint64(len(ev.Cells.Cell(i))))
	}
	for i := 0; i < n; i++ {
		b = append(b, ev.Cells.Cell(i)...)
	}
	s.scratch = b
	p.mem = append(p.mem, b...)
	s.inMem += int64(len(b))
	if s.inMem > s.budget {
		return s.flushAll()
	}
	return nil
}

func (s *spiller) flushAll() error {
	for i := range s.parts {
		p := &s.parts[i]
		if len(p.mem) == 0 || (p.file == nil && s.inMem <= s.budget) {
			continue // small inputs never touch the disk
		}
		if p.file == nil {
			f, err := os.Create(fmt.Sprintf("%s/part-%04d", s.dir, i))
			if err != nil {
				return fmt.Errorf("spill: %w", err)
			}
			p.file = f
		}
		if _, err := p.file.Write(p.mem); err != nil {
			return fmt.Errorf("spill: %w", err)
		}
		p.size += int64(len(p.mem))
		s.spilled += int64(len(p.mem))
		s.inMem -= int64(len(p.mem))
		p.mem = p.mem[:0:0]
	}
	return nil
}

// load decodes partition i (disk part first, then memory part: input order is kept).
func (s *spiller) load(i int) ([]record.Event, error) {
	p := &s.parts[i]
	buf := make([]byte, 0, p.size+int64(len(p.mem)))
	if p.file != nil {
		if _, err := p.file.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("spill: %w", err)
		}
		r := bufio.NewReaderSize(p.file, 1<<20)
		var err error
		buf, err = readAllInto(buf, r)
		if err != nil {
			return nil, fmt.Errorf("spill: read %s: %w", p.file.Name(), err)
		}
		p.file.Close()
		os.Remove(p.file.Name())
		p.file = nil
	}
	buf = append(buf, p.mem...)
	p.mem = nil
	return decodePartition(buf)
}

func readAllInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, 1<<20)
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

var errCorruptSpill = errors.New("spill file is corrupt")

// decodePartition rebuilds events from encoded rows. All cell text of the partition
// lives in one string and all cell ends in one slab.
func decodePartition(buf []byte) ([]record.Event, error) {
	type rowPos struct {
		src   record.Source
		start int // offset of the row's lengths in buf
	}
	var rows []rowPos
	var textLen int
	for off := 0; off < len(buf); {
		file, n1 := binary.Uvarint(buf[off:])
		line, n2 := binary.Uvarint(buf[off+max(n1, 0):])
		if n1 <= 0 || n2 <= 0 {
			return nil, errCorruptSpill
		}
		off += n1 + n2
		rows = append(rows, rowPos{src: record.Source{File: int32(file), Line: int64(line)}, start: off})
		l := 0
		for c := 0; c < NumColumns; c++ {
			v, n := binary.Uvarint(buf[off:])
			if n <= 0 {
				return nil, errCorruptSpill
			}
			off += n
			l += int(v)
		}
		off += l
		textLen += l
		if off > len(buf) {
			return nil, errCorruptSpill
		}
	}
	text := make([]byte, 0, textLen)
	ends := make([]uint32, len(rows)*NumColumns)
	for i, r := range rows {
		off := r.start
		var lens [NumColumns]int
		for c := range lens {
			v, n := binary.Uvarint(buf[off:])
			off += n
			lens[c] = int(v)
		}
		base := len(text)
		for c, l := range lens {
			text = append(text, buf[off:off+l]...)
			off += l
			ends[i*NumColumns+c] = uint32(len(text) - base)
		}
	}
	// text is never written again, so the string can share its bytes.
	all := unsafe.String(unsafe.SliceData(text), len(text))
	evs := make([]record.Event, len(rows))
	pos := 0
	for i, r := range rows {
		e := ends[i*NumColumns : (i+1)*NumColumns]
		rowLen := int(e[NumColumns-1])
		cells := record.NewCells(all[pos:pos+rowLen], e)
		pos += rowLen
		ev, rej := EventFromCells(r.src, cells)
		if rej != nil {
			return nil, fmt.Errorf("spill: row %d re-validated differently: %s", r.src.Line, rej.Reason)
		}
		evs[i] = ev
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
