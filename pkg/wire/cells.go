package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/record"
)

// The 95 DOJ cells of a row travel as they are kept in record.Cells: the row's cell text
// concatenated (column "cells", binary) and each cell's end offset in it (column
// "cell_ends", binary: 95 little-endian uint32s). Encoding a row is then two copies and
// decoding it a slice of one string per message, instead of 95 Arrow values each way
// (schema version 1 had one utf8 column per cell: ~1.2 µs a row to move cells between
// row-major Cells and 95 column buffers, each way, before compression).

// endsBytes is the size of one row's cell_ends value.
const endsBytes = 4 * doj.NumColumns

// rowCols accumulates the cells and cell_ends columns of a batch being encoded.
type rowCols struct {
	text strCol
	ends strCol
}

func (c *rowCols) reset() {
	c.text.reset()
	c.ends.reset()
}

// add appends one row's cells; a zero Cells (a stub row) appends empty values, which
// the columns' validity marks null. The cells must have been checked with checkCells.
func (c *rowCols) add(cells record.Cells) {
	ends := cells.Ends()
	if len(ends) == 0 {
		c.text.addNull()
		c.ends.addNull()
		return
	}
	c.text.add(cells.Text()[:ends[len(ends)-1]])
	at := len(c.ends.data)
	c.ends.data = append(c.ends.data, make([]byte, endsBytes)...)
	b := c.ends.data[at : at+endsBytes]
	for i, e := range ends[:doj.NumColumns] {
		binary.LittleEndian.PutUint32(b[4*i:], e)
	}
	c.ends.offs = append(c.ends.offs, int32(len(c.ends.data)))
}

// arrays wraps the two columns as Arrow binary arrays with validity valid.
func (c *rowCols) arrays(valid *bitmap) (text, ends arrow.Array) {
	return c.text.binArray(valid), c.ends.binArray(valid)
}

// checkCells reports what is wrong with a row's cells for encoding, or "".
func checkCells(c record.Cells) string {
	ends := c.Ends()
	if len(ends) != doj.NumColumns {
		return fmt.Sprintf("has %d cells, want %d", len(ends), doj.NumColumns)
	}
	if int(ends[len(ends)-1]) > len(c.Text()) {
		return "has cell ends past its text"
	}
	return ""
}

// readOnly returns the bytes of s without copying them; they must never be written.
func readOnly(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// rowView is a validated view of a record batch's cells and cell_ends columns.
type rowView struct {
	text, ends strView
}

func viewRows(rec arrow.RecordBatch, textCol, endsCol int) (rowView, error) {
	text, err := viewBinary(rec, textCol)
	if err != nil {
		return rowView{}, err
	}
	ends, err := viewBinary(rec, endsCol)
	if err != nil {
		return rowView{}, err
	}
	return rowView{text: text, ends: ends}, nil
}

// gatherEvents rebuilds the events of the rows r for which keep(r) holds (every row when
// keep is nil), in row order. The kept rows' text is copied into one string per batch
// and their cell ends into one slab, so a row costs no allocation; the typed fields come
// from doj.EventFromCells, and a row whose cells or fields fail validation makes the
// batch malformed.
func gatherEvents(rows *rowView, n int, keep func(int) bool, src func(int) record.Source) ([]record.Event, error) {
	toffs, eoffs := rows.text.offs, rows.ends.offs
	kept, size := 0, 0
	for r := range n {
		if keep == nil || keep(r) {
			kept++
			size += int(toffs[r+1] - toffs[r])
			if eoffs[r+1]-eoffs[r] != endsBytes {
				return nil, fmt.Errorf("%w: row %d has %d bytes of cell ends, want %d", ErrMalformed, r, eoffs[r+1]-eoffs[r], endsBytes)
			}
		}
	}
	var text string
	if kept == n && n > 0 {
		text = string(rows.text.data[toffs[0]:toffs[n]])
	} else {
		slab := make([]byte, 0, size)
		for r := range n {
			if keep(r) {
				slab = append(slab, rows.text.data[toffs[r]:toffs[r+1]]...)
			}
		}
		// The slab is complete and never written again, so strings may share it.
		text = unsafe.String(unsafe.SliceData(slab), len(slab))
	}
	ends := make([]uint32, kept*doj.NumColumns)
	events := make([]record.Event, kept)
	k, at := 0, 0
	for r := range n {
		if keep != nil && !keep(r) {
			continue
		}
		rowLen := int(toffs[r+1] - toffs[r])
		if rowLen > math.MaxUint32 {
			return nil, fmt.Errorf("%w: row %d is longer than 4 GiB", ErrMalformed, r)
		}
		e := ends[k*doj.NumColumns : (k+1)*doj.NumColumns : (k+1)*doj.NumColumns]
		b := rows.ends.data[eoffs[r]:eoffs[r+1]]
		prev := uint32(0)
		for i := range e {
			v := binary.LittleEndian.Uint32(b[4*i:])
			if v < prev {
				return nil, fmt.Errorf("%w: row %d: cell %d ends before cell %d", ErrMalformed, r, i, i-1)
			}
			e[i], prev = v, v
		}
		if int(prev) != rowLen {
			return nil, fmt.Errorf("%w: row %d: cells end at %d, its text is %d bytes", ErrMalformed, r, prev, rowLen)
		}
		c := record.NewCells(text[at:at+rowLen], e)
		at += rowLen
		ev, rej := doj.EventFromCells(src(r), c)
		if rej != nil {
			return nil, fmt.Errorf("%w: row %d fails validation: %s", ErrMalformed, r, rejectText(rej))
		}
		events[k] = ev
		k++
	}
	return events, nil
}
