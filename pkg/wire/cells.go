package wire

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/record"
)

// Moving the 95 cells of every row between row-major record.Cells and Arrow's 95 column
// buffers is most of the work of this package: a row's cells are mostly a few bytes
// long, so a copy's call overhead would dominate. Cells of up to 16 bytes are therefore
// moved as one or two unaligned 8-byte words, writing past the cell into slack at the
// end of the destination (the next cell overwrites it); longer cells use copy.

// wordSlack is the spare room a destination buffer needs for the word copies.
const wordSlack = 16

// moveCell copies src[a:b] to dst[at:] and returns b-a. It may also write up to
// wordSlack bytes past the cell: dst must have that much room after it.
func moveCell[S string | []byte](dst []byte, at int, src S, a, b int) int {
	n := b - a
	if n <= 16 && a+16 <= len(src) {
		d := dst[at : at+16]
		binary.LittleEndian.PutUint64(d, load64(src[a:a+8]))
		binary.LittleEndian.PutUint64(d[8:], load64(src[a+8:a+16]))
		return n
	}
	copy(dst[at:], src[a:b])
	return n
}

// load64 reads 8 little-endian bytes (the compiler merges the loads into one).
func load64[S string | []byte](s S) uint64 {
	s = s[:8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// cellCols are the 95 DOJ cell columns of a batch being encoded.
type cellCols [doj.NumColumns]strCol

// build fills the columns from rows (one record.Cells per batch row; a zero Cells is a
// null row). It sizes every column exactly in a first pass, so the copying pass only
// stores bytes and offsets: no appends, no growth, no pointer writes.
func (c *cellCols) build(rows []record.Cells) {
	var totals [doj.NumColumns]int
	for _, cells := range rows {
		ends := cells.Ends()
		if len(ends) == 0 {
			continue
		}
		ends = ends[:doj.NumColumns]
		prev := uint32(0)
		for j, end := range ends {
			totals[j] += int(end - prev)
			prev = end
		}
	}
	for j := range c {
		col := &c[j]
		col.data = grow(col.data, totals[j]+wordSlack)
		col.offs = grow(col.offs, len(rows)+1)
		col.offs[0] = 0
	}
	for r, cells := range rows {
		text, ends := cells.Text(), cells.Ends()
		if len(ends) == 0 {
			for j := range c {
				c[j].offs[r+1] = c[j].offs[r]
			}
			continue
		}
		ends = ends[:doj.NumColumns]
		prev := 0
		for j := range c {
			col := &c[j]
			end := int(ends[j])
			at := int(col.offs[r])
			col.offs[r+1] = int32(at + moveCell(col.data, at, text, prev, end))
			prev = end
		}
	}
	for j := range c {
		col := &c[j]
		col.data = col.data[:col.offs[len(rows)]]
	}
}

// grow returns s resliced to n elements, reallocated when its capacity is short; the
// contents are not kept.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n, n+n/4)
	}
	return s[:n]
}

// gatherEvents rebuilds the events of the n rows for which keep(r) holds (every row when
// keep is nil), in row order. Each row's cells are copied from the 95 column buffers into
// one text buffer per batch, so a row costs no allocation; the typed fields come from
// doj.EventFromCells, and a row that fails its validation makes the batch malformed.
func gatherEvents(cells *[doj.NumColumns]strView, n int, keep func(int) bool, src func(int) record.Source) ([]record.Event, error) {
	total, rows := 0, 0
	for j := range cells {
		if o := cells[j].offs; len(o) > 0 {
			total += int(o[len(o)-1] - o[0])
		}
	}
	for r := range n {
		if keep == nil || keep(r) {
			rows++
		}
	}
	slab := make([]byte, total+wordSlack)
	ends := make([]uint32, rows*doj.NumColumns)
	starts := make([]int, rows+1)
	at, k := 0, 0
	for r := range n {
		if keep != nil && !keep(r) {
			continue
		}
		rowStart := at
		e := ends[k*doj.NumColumns : (k+1)*doj.NumColumns]
		for j := range cells {
			v := &cells[j]
			at += moveCell(slab, at, v.data, int(v.offs[r]), int(v.offs[r+1]))
			e[j] = uint32(at - rowStart)
		}
		if at-rowStart > math.MaxUint32 {
			return nil, fmt.Errorf("%w: row %d is longer than 4 GiB", ErrMalformed, r)
		}
		k++
		starts[k] = at
	}
	// The slab is complete and never written again, so a string may share its memory
	// (what strings.Builder does); the word copies rule out building it with one.
	text := unsafe.String(unsafe.SliceData(slab), at)
	events := make([]record.Event, rows)
	k = 0
	for r := range n {
		if keep != nil && !keep(r) {
			continue
		}
		end := (k + 1) * doj.NumColumns
		c := record.NewCells(text[starts[k]:starts[k+1]], ends[k*doj.NumColumns:end:end])
		ev, rej := doj.EventFromCells(src(r), c)
		if rej != nil {
			return nil, fmt.Errorf("%w: row %d fails validation: %s", ErrMalformed, r, rejectText(rej))
		}
		events[k] = ev
		k++
	}
	return events, nil
}
