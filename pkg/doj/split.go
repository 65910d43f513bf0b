package doj

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// This file holds the field splitter: it turns the bytes of one row into unquoted cell
// text plus cell end offsets, with no allocation at all.
//
// Why not encoding/csv: measured on this class of machine (see
// shared/reference/csv-parsing-limits.md) encoding/csv tops out near 0.4–0.6M rows/s on
// one core for 95-column DOJ rows, allocates a string per row even with ReuseRecord, and
// scales badly across cores because of that garbage (0.7–0.8M rows/s with 2 workers). A
// byte-at-a-time hand-written loop reaches ~1M rows/s. The splitter below examines 8
// bytes per step (SWAR: "which bytes of this word are commas / quotes" as a bit mask),
// copies the word to the output minus its commas, and only drops to a per-field path
// for quoted fields. That is what makes ≥2.5M rows/s on two cores possible.
//
// Semantics match encoding/csv without LazyQuotes: a quoted field starts with '"' at the
// start of a field, '""' inside it is one quote, and it may hold commas, CR and LF (CRLF
// inside quotes becomes LF, as encoding/csv does). A '"' anywhere else in an unquoted
// field is an error, as is anything but ',' or the end of the row after a closing quote.

// SWAR constants: one byte value repeated in all 8 lanes of a word.
const (
	lanes7f    = 0x7f7f7f7f7f7f7f7f
	laneCommas = 0x2c2c2c2c2c2c2c2c // ','
	laneQuotes = 0x2222222222222222 // '"'
)

// zeroLanes returns a mask with the high bit set in exactly those bytes of x that are 0.
// Unlike the shorter (x-0x01..)&^x&0x80.. trick it has no false positives after a zero
// byte, which matters because every hit becomes a field end.
func zeroLanes(x uint64) uint64 {
	t := (x & lanes7f) + lanes7f
	return ^(t | x | lanes7f)
}

// loadTail reads the last len(b) < 8 bytes of a row into a word, zero padded. Zero is
// neither a comma nor a quote, so the padding never produces a hit.
func loadTail(b []byte) uint64 {
	var w [8]byte
	copy(w[:], b)
	return binary.LittleEndian.Uint64(w[:])
}

// quoteError says what is wrong with a row's quoting.
type quoteError uint8

const (
	quoteOK quoteError = iota
	quoteBare
	quoteAfterClose
	quoteUnterminated
)

func (e quoteError) String() string {
	switch e {
	case quoteBare:
		return `bare " in unquoted field`
	case quoteAfterClose:
		return `unexpected text after closing " of quoted field`
	case quoteUnterminated:
		return "unterminated quoted field"
	}
	return ""
}

// splitResult is the outcome of splitting one row.
type splitResult struct {
	fields int        // number of fields split (on error: the 0-based index of the bad field)
	w      int        // output offset after the row's text
	err    quoteError // quoteOK or the quoting problem in field number `fields`
}

// splitRow splits row (line terminator already removed) into out starting at out[w],
// storing each field's end, relative to w, into ends while there is room; fields beyond
// len(ends) are counted but not stored so a 96-field row can be reported. out must have
// 8 bytes of slack beyond w+len(row): the splitter stores whole words.
//
// hasQuote and multiLine come from the cutter: a row without quotes takes the tight
// loop, and only a row that spans lines can hold CRLF inside a quoted field.
func splitRow(row, out []byte, w int, ends []uint32, hasQuote, multiLine bool) splitResult {
	if !hasQuote {
		return splitPlain(row, out, w, ends)
	}
	return splitQuoted(row, out, w, ends, multiLine)
}

// splitPlain splits a row that contains no '"' at all: every comma ends a field.
func splitPlain(row, out []byte, w int, ends []uint32) splitResult {
	base, n := w, 0
	for p := 0; p < len(row); {
		var x uint64
		valid := len(row) - p
		if valid >= 8 {
			x = binary.LittleEndian.Uint64(row[p:])
			valid = 8
		} else {
			x = loadTail(row[p:])
		}
		var k int
		w, n, k = compactWord(x, zeroLanes(x^laneCommas), out, w, base, n, ends)
		w += valid - k
		p += valid
	}
	if n < len(ends) {
		ends[n] = uint32(w - base)
	}
	return splitResult{fields: n + 1, w: w}
}

// compactWord stores word x at out[w:] with the comma bytes flagged in mask removed, and
// records a field end for each comma. It returns w unchanged, the new field count and the
// number of commas removed; the caller advances w by the word's valid bytes minus those.
func compactWord(x, mask uint64, out []byte, w, base, n int, ends []uint32) (int, int, int) {
	k := 0
	for mask != 0 {
		// i is the comma's byte index in the word as compacted so far: k commas below
		// it have already been squeezed out.
		i := bits.TrailingZeros64(mask)>>3 - k
		if n < len(ends) {
			ends[n] = uint32(w - base + i)
		}
		n++
		// Drop byte i: keep the bytes below it, shift the bytes above it down one.
		low := uint64(1)<<(8*uint(i)) - 1
		x = x&low | (x>>8)&^low
		k++
		mask &= mask - 1
	}
	binary.LittleEndian.PutUint64(out[w:], x)
	return w, n, k
}

// splitQuoted splits a row that contains at least one '"'. Unquoted stretches go through
// the same word loop as splitPlain; at each quote it checks that the quote opens a field
// and copies the quoted field with bytes.IndexByte jumps.
func splitQuoted(row, out []byte, w int, ends []uint32, multiLine bool) splitResult {
	base, n := w, 0
	p := 0
	for p < len(row) {
		var x uint64
		valid := len(row) - p
		if valid >= 8 {
			x = binary.LittleEndian.Uint64(row[p:])
			valid = 8
		} else {
			x = loadTail(row[p:])
		}
		quotes := zeroLanes(x ^ laneQuotes)
		commas := zeroLanes(x ^ laneCommas)
		if quotes != 0 {
			// Only the bytes before the first quote belong to the unquoted stretch.
			valid = bits.TrailingZeros64(quotes) >> 3
			commas &= uint64(1)<<(8*uint(valid)) - 1
		}
		var k int
		w, n, k = compactWord(x, commas, out, w, base, n, ends)
		w += valid - k
		p += valid
		if quotes == 0 {
			continue
		}
		// row[p] is a quote. It may only open a field.
		if p > 0 && row[p-1] != ',' {
			return splitResult{fields: n, w: base, err: quoteBare}
		}
		var err quoteError
		p, w, err = copyQuoted(row, p+1, out, w, multiLine)
		if err != quoteOK {
			return splitResult{fields: n, w: base, err: err}
		}
		if p == len(row) {
			break
		}
		if row[p] != ',' {
			return splitResult{fields: n, w: base, err: quoteAfterClose}
		}
		if n < len(ends) {
			ends[n] = uint32(w - base)
		}
		n++
		p++
	}
	if n < len(ends) {
		ends[n] = uint32(w - base)
	}
	return splitResult{fields: n + 1, w: w}
}

// copyQuoted copies the body of a quoted field that starts at row[p] (just after the
// opening quote) to out[w:], turning "" into ". It returns the position just after the
// closing quote.
func copyQuoted(row []byte, p int, out []byte, w int, multiLine bool) (int, int, quoteError) {
	for {
		j := bytes.IndexByte(row[p:], '"')
		if j < 0 {
			return p, w, quoteUnterminated
		}
		seg := row[p : p+j]
		if multiLine {
			w = copyUnCRLF(out, w, seg)
		} else {
			w += copy(out[w:], seg)
		}
		p += j + 1
		if p < len(row) && row[p] == '"' { // escaped quote
			out[w] = '"'
			w++
			p++
			continue
		}
		return p, w, quoteOK
	}
}

// copyUnCRLF copies seg to out[w:] with every CRLF turned into LF, so that a quoted line
// break reads the same from CRLF and LF files.
func copyUnCRLF(out []byte, w int, seg []byte) int {
	for {
		i := bytes.IndexByte(seg, '\n')
		if i < 0 {
			return w + copy(out[w:], seg)
		}
		end := i
		if i > 0 && seg[i-1] == '\r' {
			end = i - 1
		}
		w += copy(out[w:], seg[:end])
		out[w] = '\n'
		w++
		seg = seg[i+1:]
	}
}
