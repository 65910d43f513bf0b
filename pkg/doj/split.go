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
// stores the word to the output with its commas squeezed out in a register, and scans
// quoted fields a word at a time too. It allocates nothing; on the benchmark rows
// (BenchmarkSplitRow, ~450 bytes, 7 quoted fields) it splits ~1.4M rows/s on one core
// of a busy shared machine, with the output already in the packed form record.Cells
// needs.
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
// storing each field's end, relative to w, into ends.
//
// The splitter stores whole words: out must have rowSlack bytes of room beyond
// w+len(row). multiLine comes from the cutter: only a row that spans lines can hold a
// CRLF inside a quoted field, which must become LF.
//
// (Two alternatives were measured on the benchmark rows and lost to this word loop:
// visiting only comma/quote "events" from 64-byte bit masks and copying fields with
// word stores (-15%), and the same with quote regions from a prefix XOR (-30%). The
// per-field copies cost more than squeezing commas out of words in registers.)
func splitRow(row, out []byte, w int, ends *fieldEnds, multiLine bool) splitResult {
	return splitQuoted(row, out, w, ends, multiLine)
}

// rowSlack is how far past the end of its input the splitter may write.
const rowSlack = 8

// fieldEnds receives a row's field ends. It is larger than any valid row needs; ends of
// fields beyond it all land in the last slot, so that a row with too many fields can
// still be counted (and its SUBJECT_ID read) without a bounds check per field.
type fieldEnds [128]uint32

// compactWord stores word x at out[w:] with the comma bytes flagged in mask removed, and
// records a field end, relative to the row's start, for each comma (rel is w relative
// to the row's start). It returns the new field count and the number of commas removed;
// the caller advances w by the word's valid bytes minus those.
func compactWord(x, mask uint64, out []byte, w, rel, n int, ends *fieldEnds) (int, int) {
	k := 0
	for mask != 0 {
		// i is the comma's byte index in the word as compacted so far: k commas below
		// it have already been squeezed out.
		i := bits.TrailingZeros64(mask)>>3 - k
		ends[min(n, len(ends)-1)] = uint32(rel + i)
		n++
		// Drop byte i: keep the bytes below it, shift the bytes above it down one.
		low := uint64(1)<<(8*uint(i)) - 1
		x = x&low | (x>>8)&^low
		k++
		mask &= mask - 1
	}
	binary.LittleEndian.PutUint64(out[w:], x)
	return n, k
}

// splitQuoted splits a row, normalising CRLF inside quoted fields when multiLine.
// Unquoted stretches go through a word loop; at each quote it checks that the quote opens a field
// and copies the quoted field with bytes.IndexByte jumps.
func splitQuoted(row, out []byte, w int, ends *fieldEnds, multiLine bool) splitResult {
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
		n, k = compactWord(x, commas, out, w, w-base, n, ends)
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
		ends[min(n, len(ends)-1)] = uint32(w - base)
		n++
		p++
	}
	ends[min(n, len(ends)-1)] = uint32(w - base)
	return splitResult{fields: n + 1, w: w}
}

// copyQuoted copies the body of a quoted field that starts at row[p] (just after the
// opening quote) to out[w:], turning "" into ". It returns the position just after the
// closing quote. Most quoted DOJ fields are short (names, blank padding), so it scans a
// word at a time rather than paying for bytes.IndexByte and copy calls per field.
func copyQuoted(row []byte, p int, out []byte, w int, multiLine bool) (int, int, quoteError) {
	if multiLine {
		return copyQuotedLines(row, p, out, w)
	}
	for p < len(row) {
		var x uint64
		valid := len(row) - p
		if valid >= 8 {
			x = binary.LittleEndian.Uint64(row[p:])
			valid = 8
		} else {
			x = loadTail(row[p:])
		}
		binary.LittleEndian.PutUint64(out[w:], x)
		quotes := zeroLanes(x ^ laneQuotes)
		if quotes == 0 {
			w += valid
			p += valid
			continue
		}
		j := bits.TrailingZeros64(quotes) >> 3
		if j >= valid {
			break // the zero padding of a tail is not a quote; this cannot happen
		}
		w += j
		p += j + 1
		if p < len(row) && row[p] == '"' { // escaped quote
			out[w] = '"'
			w++
			p++
			continue
		}
		return p, w, quoteOK
	}
	return p, w, quoteUnterminated
}

// copyQuotedLines is copyQuoted for a field that may hold line breaks: CRLF becomes LF.
func copyQuotedLines(row []byte, p int, out []byte, w int) (int, int, quoteError) {
	for {
		j := bytes.IndexByte(row[p:], '"')
		if j < 0 {
			return p, w, quoteUnterminated
		}
		w = copyUnCRLF(out, w, row[p:p+j])
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
