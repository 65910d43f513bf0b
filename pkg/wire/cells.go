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

// The 95 DOJ cells of a row travel much as record.Cells keeps them: the row's cell text
// concatenated (column "cells", binary) and the cells' lengths (column "cell_lengths",
// binary: 95 little-endian uint16s, or 95 uint32s for a row whose text is longer than
// 65,535 bytes; the value's size says which). Encoding a row is then a copy and 95
// stores, and decoding it a slice of one string per message plus a prefix sum, instead
// of 95 Arrow values each way (schema version 1 had one utf8 column per cell: ~1.2 µs a
// row to move cells between row-major Cells and 95 column buffers, each way, before
// compression). Lengths rather than end offsets, and 16 bits rather than 32, because
// they repeat from row to row: LZ4 compresses them several times better.

// Sizes of one row's cell_lengths value.
const (
	lengthsBytes     = 2 * doj.NumColumns
	longLengthsBytes = 4 * doj.NumColumns
)

// rowCols accumulates the cells and cell_lengths columns of a batch being encoded.
type rowCols struct {
	text strCol
	lens strCol
}

func (c *rowCols) reset() {
	c.text.reset()
	c.lens.reset()
}

// add appends one row's cells; a zero Cells (a stub row) appends empty values, which
// the columns' validity marks null. The cells must have been checked with checkCells.
func (c *rowCols) add(cells record.Cells) {
	ends := cells.Ends()
	if len(ends) == 0 {
		c.text.addNull()
		c.lens.addNull()
		return
	}
	ends = ends[:doj.NumColumns]
	size := ends[doj.NumColumns-1]
	c.text.add(cells.Text()[:size])
	at := len(c.lens.data)
	prev := uint32(0)
	if size <= math.MaxUint16 {
		c.lens.data = append(c.lens.data, make([]byte, lengthsBytes)...)
		b := c.lens.data[at : at+lengthsBytes]
		for i, e := range ends {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(e-prev))
			prev = e
		}
	} else {
		c.lens.data = append(c.lens.data, make([]byte, longLengthsBytes)...)
		b := c.lens.data[at : at+longLengthsBytes]
		for i, e := range ends {
			binary.LittleEndian.PutUint32(b[4*i:], e-prev)
			prev = e
		}
	}
	c.lens.offs = append(c.lens.offs, int32(len(c.lens.data)))
}

// arrays wraps the two columns as Arrow binary arrays with validity valid.
func (c *rowCols) arrays(valid *bitmap) (text, lengths arrow.Array) {
	return c.text.binArray(valid), c.lens.binArray(valid)
}

// checkCells reports what is wrong with a row's cells for encoding, or "".
func checkCells(c record.Cells) string {
	ends := c.Ends()
	if len(ends) != doj.NumColumns {
		return fmt.Sprintf("has %d cells, want %d", len(ends), doj.NumColumns)
	}
	prev := uint32(0)
	for i, e := range ends {
		if e < prev {
			return fmt.Sprintf("has cell %d ending before cell %d", i, i-1)
		}
		prev = e
	}
	if int(prev) > len(c.Text()) {
		return "has cell ends past its text"
	}
	return ""
}

// rowView is a validated view of a record batch's cells and cell_lengths columns.
type rowView struct {
	text, lens strView
}

func viewRows(rec arrow.RecordBatch, textCol, lensCol int) (rowView, error) {
	text, err := viewBinary(rec, textCol)
	if err != nil {
		return rowView{}, err
	}
	lens, err := viewBinary(rec, lensCol)
	if err != nil {
		return rowView{}, err
	}
	return rowView{text: text, lens: lens}, nil
}

// gatherEvents rebuilds the events of the rows r for which keep(r) holds (every row when
// keep is nil), in row order. The kept rows' text is copied into one string per batch
// and their cell end offsets (summed from the lengths) into one slab, so a row costs no
// allocation; the typed fields come from doj.EventFromCells, and a row whose cells or
// fields fail validation makes the batch malformed.
func gatherEvents(rows *rowView, n int, keep func(int) bool, src func(int) record.Source) ([]record.Event, error) {
	toffs, loffs := rows.text.offs, rows.lens.offs
	kept, size := 0, 0
	for r := range n {
		if keep == nil || keep(r) {
			kept++
			size += int(toffs[r+1] - toffs[r])
			if w := loffs[r+1] - loffs[r]; w != lengthsBytes && w != longLengthsBytes {
				return nil, fmt.Errorf("%w: row %d has %d bytes of cell lengths, want %d or %d", ErrMalformed, r, w, lengthsBytes, longLengthsBytes)
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
		b := rows.lens.data[loffs[r]:loffs[r+1]]
		sum := uint64(0) // 95 uint32 lengths cannot overflow it
		if len(b) == lengthsBytes {
			for i := range e {
				sum += uint64(binary.LittleEndian.Uint16(b[2*i:]))
				e[i] = uint32(sum)
			}
		} else {
			for i := range e {
				sum += uint64(binary.LittleEndian.Uint32(b[4*i:]))
				e[i] = uint32(sum)
			}
		}
		if sum != uint64(rowLen) {
			return nil, fmt.Errorf("%w: row %d: cell lengths add up to %d, its text is %d bytes", ErrMalformed, r, sum, rowLen)
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
