package doj

import "bytes"

// This file decides where rows end. The reader goroutine runs it over every line of the
// input, so the common case must be two vectorised library calls per line: find the
// '\n' (bytes.IndexByte) and count the quotes before it (bytes.Count). With an even
// count the newline ends the row: a well-formed row closes every quoted field it opens,
// and a malformed one is quarantined as that single line anyway. Only an odd count needs
// the precise state machine in scanQuotedRow.

// cutKind is what cutOne found at the start of the buffer.
type cutKind uint8

const (
	cutNeedMore cutKind = iota // the decision needs bytes beyond the buffer
	cutBlank                   // an empty line (or only CR): skipped, not a data row
	cutRow                     // a row of one or more physical lines
	cutTooLong                 // a physical line longer than maxRow
)

// cut describes the row at the start of a buffer.
type cut struct {
	kind cutKind
	// end is the index of the row's terminating '\n' (or the buffer length at EOF): the
	// row is b[:end]. For cutTooLong it is maxRow.
	end int
	// next is where the following row starts, or -1 when a too-long line continues past
	// the buffer and the rest of it must be skipped.
	next  int
	lines int  // physical lines the row covers
	multi bool // the row spans lines (a quoted field holds a line break)
}

// cutOne finds the row at the start of b. eof says that b holds all the remaining input.
// A row (line terminator excluded) is at most maxRow bytes; cutOne never returns
// cutNeedMore once len(b) > maxRow+1, so a bounded buffer always makes progress, and its
// answer never depends on how much data past the decision point is buffered (which is
// what keeps rows identical for every chunk size).
func cutOne(b []byte, eof bool, maxRow int) cut {
	view := b
	if len(view) > maxRow+1 {
		view = view[:maxRow+1]
	}
	i := bytes.IndexByte(view, '\n')
	next := i + 1
	if i < 0 {
		switch {
		case len(b) > maxRow:
			return tooLong(b, maxRow)
		case !eof:
			return cut{kind: cutNeedMore}
		}
		i, next = len(b), len(b) // last line, no terminator
	}
	line := b[:i]
	if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
		return cut{kind: cutBlank, next: next, lines: 1}
	}
	if countByte(line, '"')%2 == 0 {
		return cut{kind: cutRow, end: i, next: next, lines: 1}
	}
	first := cut{kind: cutRow, end: i, next: next, lines: 1}
	truncated := len(b) > len(view)
	end, st := scanQuotedRow(view, eof && !truncated)
	switch st {
	case scanNeedMore:
		if truncated || eof {
			// Out of room (or input) with a quoted field still open: the field was never
			// closed. Quarantine the first line alone and resume at the next line, so one
			// stray quote cannot swallow the rest of the file.
			return first
		}
		return cut{kind: cutNeedMore}
	case scanMalformed:
		return first // the splitter reports the exact problem
	}
	if end <= i {
		return first // a row that ends on its first line: q was odd, so it is malformed
	}
	return cut{kind: cutRow, end: end, next: min(end+1, len(b)), lines: 1 + countByte(b[:end], '\n'), multi: true}
}

// tooLong reports a physical line longer than maxRow; the rest of it is skipped.
func tooLong(b []byte, maxRow int) cut {
	c := cut{kind: cutTooLong, end: maxRow, next: -1, lines: 1}
	if j := bytes.IndexByte(b[maxRow:], '\n'); j >= 0 {
		c.next = maxRow + j + 1
	}
	return c
}

// countByte counts c in b with the vectorised bytes.Count.
func countByte(b []byte, c byte) int { return bytes.Count(b, []byte{c}) }

// scanStatus is the outcome of scanQuotedRow.
type scanStatus uint8

const (
	scanEnd       scanStatus = iota // the row ends at the returned index
	scanNeedMore                    // ran out of bytes inside the row
	scanMalformed                   // a quoting error: the row is not well formed
)

// fieldState is the RFC 4180 parser state between bytes.
type fieldState uint8

const (
	atFieldStart fieldState = iota
	inUnquoted
	inQuoted
	afterQuote // a '"' inside a quoted field: either the closing quote or half of ""
)

// scanQuotedRow runs the quote state machine from the start of a row and returns the
// index of the '\n' that ends it. eof says that b ends where the input ends, in which
// case a row may also end at len(b) (its last line has no terminator).
func scanQuotedRow(b []byte, eof bool) (int, scanStatus) {
	st := atFieldStart
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch st {
		case atFieldStart:
			if c == '"' {
				st = inQuoted
				continue
			}
			st = inUnquoted
			fallthrough
		case inUnquoted:
			switch c {
			case ',':
				st = atFieldStart
			case '\n':
				return i, scanEnd
			case '"':
				return i, scanMalformed
			}
		case inQuoted:
			// Jump to the next quote: quoted text (including line breaks) is opaque.
			j := bytes.IndexByte(b[i:], '"')
			if j < 0 {
				return len(b), scanNeedMore
			}
			i += j
			st = afterQuote
		case afterQuote:
			switch c {
			case '"':
				st = inQuoted
			case ',':
				st = atFieldStart
			case '\n':
				return i, scanEnd
			case '\r':
				// Only legal as the first half of a CRLF line end.
				if i+1 == len(b) {
					if eof {
						return len(b), scanEnd
					}
					return len(b), scanNeedMore
				}
				if b[i+1] != '\n' {
					return i, scanMalformed
				}
				return i + 1, scanEnd
			default:
				return i, scanMalformed
			}
		}
	}
	if eof && st != inQuoted {
		return len(b), scanEnd
	}
	return len(b), scanNeedMore
}
