package wire

import (
	"bytes"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/record"
)

// rowOverhead estimates the raw bytes of a row besides its cell text and subject id: the
// cell lengths, the three value offsets, file, line and quarantined.
const rowOverhead = lengthsBytes + 3*4 + 4 + 8 + 4

// subjectCols are the reusable column buffers of the subjects schema.
type subjectCols struct {
	id          strCol
	file        []int32
	line        []int64
	quarantined []int32
	cells       rowCols
}

func (c *subjectCols) reset() {
	c.id.reset()
	c.file, c.line, c.quarantined = c.file[:0], c.line[:0], c.quarantined[:0]
	c.cells.reset()
}

// checkSubject reports why subject i cannot be encoded, or returns its raw size.
func checkSubject(subjects []*record.Subject, i int) (int, error) {
	s := subjects[i]
	switch {
	case s == nil:
		return 0, fmt.Errorf("wire: subject %d is nil", i)
	case len(s.Events) == 0:
		return 0, fmt.Errorf("wire: subject %d has no rows", i)
	case s.Quarantined < 0 || s.Quarantined > math.MaxInt32:
		return 0, fmt.Errorf("wire: subject %d has a quarantined count of %d, outside int32", i, s.Quarantined)
	case i > 0 && subjects[i-1] != nil && subjects[i-1].ID == s.ID:
		// Rows of adjacent subjects with one ID would decode as one subject.
		return 0, fmt.Errorf("wire: subjects %d and %d have the same SUBJECT_ID; a batch holds each subject once", i-1, i)
	}
	size := 0
	for k := range s.Events {
		c := s.Events[k].Cells
		if why := checkCells(c); why != "" {
			return 0, fmt.Errorf("wire: subject %d row %d %s", i, k, why)
		}
		size += len(c.Text()) + len(s.ID) + rowOverhead
	}
	return size, nil
}

// EncodeSubjects is the package-level EncodeSubjects with e's codec and buffers.
func (e *Encoder) EncodeSubjects(subjects []*record.Subject, maxBytes int) ([][]byte, error) {
	sizes := make([]int, len(subjects))
	for i := range subjects {
		n, err := checkSubject(subjects, i)
		if err != nil {
			return nil, err
		}
		sizes[i] = n
	}
	if e.subj == nil {
		e.subj = new(subjectCols)
		e.subjects = subjectsSchema()
	}
	raw := func(i int) int { return sizes[i] }
	encode := func(lo, hi int) ([]byte, error) { return e.encodeSubjects(subjects[lo:hi]) }
	return e.pack(&e.subjFit, len(subjects), raw, encode, maxBytes, "subject")
}

func (e *Encoder) encodeSubjects(subjects []*record.Subject) ([]byte, error) {
	c := e.subj
	c.reset()
	for _, s := range subjects {
		q := int32(s.Quarantined)
		for k := range s.Events {
			ev := &s.Events[k]
			c.id.add(s.ID)
			c.file = append(c.file, ev.Src.File)
			c.line = append(c.line, ev.Src.Line)
			c.quarantined = append(c.quarantined, q)
			c.cells.add(ev.Cells)
		}
	}
	rows := len(c.file)
	cols := make([]arrow.Array, subjNumCols)
	cols[subjID] = c.id.array(nil)
	cols[subjFile] = fixedArray(arrow.PrimitiveTypes.Int32, c.file, nil)
	cols[subjLine] = fixedArray(arrow.PrimitiveTypes.Int64, c.line, nil)
	cols[subjQuarantined] = fixedArray(arrow.PrimitiveTypes.Int32, c.quarantined, nil)
	cols[subjCells], cols[subjLengths] = c.cells.arrays(nil)
	return writeMessage(&e.buf, e.subjects, cols, rows, e.Compression)
}

// DecodeSubjects is the package-level DecodeSubjects.
func (d *Decoder) DecodeSubjects(msg []byte) ([]*record.Subject, error) {
	if d.subjects == nil {
		exp, err := expect(subjectsSchema(), kindSubjects, SubjectsSchemaVersion)
		if err != nil {
			return nil, err
		}
		d.subjects = exp
	}
	var out []*record.Subject
	err := readMessage(msg, d.subjects, func(rec arrow.RecordBatch) error {
		subs, err := decodeSubjectBatch(rec)
		out = append(out, subs...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decodeSubjectBatch(rec arrow.RecordBatch) ([]*record.Subject, error) {
	n := int(rec.NumRows())
	for i, a := range rec.Columns() {
		if a.NullN() != 0 {
			return nil, fmt.Errorf("%w: subjects batch column %d has nulls", ErrMalformed, i)
		}
	}
	ids, err := viewStrings(rec, subjID)
	if err != nil {
		return nil, err
	}
	file, err := column[*array.Int32](rec, subjFile)
	if err != nil {
		return nil, err
	}
	line, err := column[*array.Int64](rec, subjLine)
	if err != nil {
		return nil, err
	}
	quar, err := column[*array.Int32](rec, subjQuarantined)
	if err != nil {
		return nil, err
	}
	cells, err := viewRows(rec, subjCells, subjLengths)
	if err != nil {
		return nil, err
	}
	files, lines, qs := file.Int32Values(), line.Int64Values(), quar.Int32Values()
	events, err := gatherEvents(&cells, n, nil, func(r int) record.Source {
		return record.Source{File: files[r], Line: lines[r]}
	})
	if err != nil {
		return nil, err
	}

	// Consecutive rows with one subject_id form a subject.
	var bounds []int // first row of each subject, then n
	for r := range n {
		if r == 0 || !bytes.Equal(ids.bytes(r), ids.bytes(r-1)) {
			bounds = append(bounds, r)
		} else if qs[r] != qs[r-1] {
			return nil, fmt.Errorf("%w: subjects batch row %d: quarantined count differs from the subject's first row", ErrMalformed, r)
		}
	}
	bounds = append(bounds, n)
	idText := ids.owned()
	slab := make([]record.Subject, len(bounds)-1)
	out := make([]*record.Subject, len(slab))
	for k := range slab {
		lo, hi := bounds[k], bounds[k+1]
		slab[k] = record.Subject{ID: idText.value(lo), Events: events[lo:hi:hi], Quarantined: int(qs[lo])}
		out[k] = &slab[k]
	}
	return out, nil
}

// rejectText describes a Reject without its file path (which the message does not have)
// or any cell value.
func rejectText(r *doj.Reject) string {
	if r.Field == "" {
		return r.Reason
	}
	return r.Field + ": " + r.Reason
}
