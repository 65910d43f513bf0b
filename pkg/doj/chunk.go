package doj

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"unsafe"

	"github.com/clearway/clearway/pkg/record"
)

// utf8BOM is stripped from the start of a file, before header detection.
const utf8BOM = "\xef\xbb\xbf"

// headerPrefix marks a header line, as gogen detects it: the line's other fields do not
// matter (a trailing comma is common).
const headerPrefix = "RECORD_ID"

const reasonTooLong = "row longer than 1 MiB"

// skipRead is the read size while discarding the rest of a line, whatever the chunk size.
const skipRead = 64 << 10

// cutter is the reader goroutine's state: it reads the input and cuts it into chunks of
// whole rows.
type cutter struct {
	r      io.Reader
	chunk  int // target chunk size
	maxRow int

	carry    []byte // bytes read past the previous chunk's last row
	line     int64  // physical line number of the next unread line
	started  bool   // BOM and header handled
	header   bool
	skipping bool // discarding the rest of a line (header or over-long line)
	eof      bool
	err      error // sticky read error
	empties  int   // consecutive empty reads, to catch a broken reader
}

// next fills j with the next chunk: at least one row, about c.chunk bytes. A job with no
// rows and no error means the input is exhausted; a read error is put in j.err after the
// rows read before it have gone out in earlier jobs.
func (c *cutter) next(j *job) {
	data := append(j.data[:0], c.carry...)
	c.carry = c.carry[:0]
	rows := j.rows[:0]
	data, rows = c.cutChunk(data, rows)
	j.data, j.rows, j.err = data, rows, nil
	if len(rows) == 0 && c.err != nil {
		j.err = c.err
	}
}

// cutChunk appends rows to rows until the chunk is full or the input ends.
func (c *cutter) cutChunk(data []byte, rows []rowSpan) ([]byte, []rowSpan) {
	// Bytes already read past the last chunk all go into this one: carrying a large rest
	// from chunk to chunk (after a long row grew the buffer) would copy it once per row.
	target := max(c.chunk, len(data))
	data = c.fill(data, target)
	pos := 0
	if !c.started {
		c.started = true
		data = c.fill(data, len(utf8BOM)+len(headerPrefix))
		if bytes.HasPrefix(data, []byte(utf8BOM)) {
			pos = len(utf8BOM)
		}
		if bytes.HasPrefix(data[pos:], []byte(headerPrefix)) {
			c.header, c.skipping = true, true
		}
	}
	for {
		if c.skipping {
			if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
				pos += i + 1
				c.line++
				c.skipping = false
				continue
			}
			if c.eof || c.err != nil || len(rows) > 0 {
				return data, rows // any rest of the skipped line is not carried
			}
			data, pos = c.fill(data[:0], max(c.chunk, skipRead)), 0
			continue
		}
		if len(rows) > 0 && pos >= target {
			break
		}
		b := data[pos:]
		if len(b) == 0 && (c.eof || c.err != nil) {
			return data, rows
		}
		ct := cutOne(b, c.eof, c.maxRow)
		switch ct.kind {
		case cutNeedMore:
			if len(rows) > 0 || c.err != nil {
				c.carry = append(c.carry, b...)
				return data, rows
			}
			// Not one whole row yet: drop what was consumed and read more, growing the
			// buffer as needed (cutOne bounds how far).
			data = data[:copy(data, b)]
			pos = 0
			data = c.fill(data, len(data)+max(len(data), c.chunk))
		case cutBlank:
			pos += ct.next
			c.line++
		case cutRow:
			rows = append(rows, rowSpan{
				start: uint32(pos), end: uint32(pos + ct.end), line: c.line,
				kind: cutRow, multi: ct.multi,
			})
			pos += ct.next
			c.line += int64(ct.lines)
		case cutTooLong:
			rows = append(rows, rowSpan{
				start: uint32(pos), end: uint32(pos + min(ct.end, maxRaw)), line: c.line, kind: cutTooLong,
			})
			if ct.next < 0 {
				c.skipping = true // counts the line when it reaches its end
				return data, rows
			}
			pos += ct.next
			c.line++
		}
	}
	c.carry = append(c.carry, data[pos:]...)
	return data, rows
}

// fill reads until data holds want bytes or the input ends, growing data if needed.
func (c *cutter) fill(data []byte, want int) []byte {
	if cap(data) < want {
		grown := make([]byte, len(data), want)
		copy(grown, data)
		data = grown
	}
	for len(data) < want && !c.eof && c.err == nil {
		n, err := c.r.Read(data[len(data):want])
		data = data[:len(data)+n]
		switch {
		case errors.Is(err, io.EOF):
			c.eof = true
		case err != nil:
			c.err = err
		case n == 0:
			if c.empties++; c.empties > 100 {
				c.err = io.ErrNoProgress
			}
		default:
			c.empties = 0
		}
	}
	return data
}

// parser is one worker's reusable scratch space.
type parser struct {
	outcomes []outcome
	ends     fieldEnds
}

// outcome is pass 1's verdict on one row: either split cells (slot into the ends slab,
// text range) or a reject.
type outcome struct {
	rej                *Reject
	slot               int
	textStart, textEnd int
}

// batch splits and validates one chunk. It allocates a constant number of values per
// chunk: one buffer for all cell text, one slab for all cell ends, the Events slice (and
// a Reject per quarantined row).
//
// Pass 1 splits every row into the text buffer; pass 2 turns the finished buffer into one
// string and builds Events whose strings are substrings of it. The split is done first so
// that no byte of the buffer changes after the string exists.
func (p *parser) batch(f *File, j *job) *Batch {
	// Cell text never exceeds the rows' bytes; the slack is for the splitter's word stores.
	first, last := j.rows[0], j.rows[len(j.rows)-1]
	text := make([]byte, int(last.end-first.start)+rowSlack)
	slab := make([]uint32, len(j.rows)*NumColumns)
	p.outcomes = p.outcomes[:0]
	w, slots := 0, 0
	for _, r := range j.rows {
		row := j.data[r.start:r.end]
		if r.kind == cutRow && len(row) > 0 && row[len(row)-1] == '\r' {
			row = row[:len(row)-1] // CR of a CRLF line end
		}
		src := record.Source{File: f.Index, Line: r.line}
		if r.kind == cutTooLong {
			rej := &Reject{Reason: reasonTooLong, SubjectID: p.peekSubject(row, text, w)}
			p.outcomes = append(p.outcomes, outcome{rej: p.fill(rej, f, src, row)})
			continue
		}
		res := splitRow(row, text, w, &p.ends, r.multi)
		if res.err != quoteOK || res.fields != NumColumns {
			rej := splitReject(res)
			if res.fields > ColSubjectID {
				rej.SubjectID = string(text[w+int(p.ends[ColSubjectID-1]) : w+int(p.ends[ColSubjectID])])
			}
			p.outcomes = append(p.outcomes, outcome{rej: p.fill(rej, f, src, row)})
			continue
		}
		copy(slab[slots*NumColumns:], p.ends[:NumColumns])
		p.outcomes = append(p.outcomes, outcome{slot: slots, textStart: w, textEnd: res.w})
		slots++
		w = res.w
	}

	// The text is complete and never written again: view it as a string without a copy
	// (strings.Builder does the same).
	all := unsafe.String(unsafe.SliceData(text), w)
	b := &Batch{File: f, Rows: len(j.rows), Offset: j.offset, Events: make([]record.Event, 0, slots)}
	for i, o := range p.outcomes {
		if o.rej != nil {
			b.Rejects = append(b.Rejects, *o.rej)
			continue
		}
		r := j.rows[i]
		ends := slab[o.slot*NumColumns : (o.slot+1)*NumColumns : (o.slot+1)*NumColumns]
		src := record.Source{File: f.Index, Line: r.line}
		ev, rej := EventFromCells(src, record.NewCells(all[o.textStart:o.textEnd], ends))
		if rej != nil {
			row := j.data[r.start:r.end]
			b.Rejects = append(b.Rejects, *p.fill(rej, f, src, bytes.TrimSuffix(row, []byte{'\r'})))
			continue
		}
		b.Events = append(b.Events, ev)
	}
	return b
}

// fill completes a reject with its location and a copy of the row's text.
func (p *parser) fill(r *Reject, f *File, src record.Source, row []byte) *Reject {
	r.File, r.FileIndex, r.Line = f.Path, src.File, src.Line
	r.Raw = string(row[:min(len(row), maxRaw)])
	return r
}

// peekSubject reads SUBJECT_ID from the start of an over-long row, if its first fields
// split cleanly. text is used as scratch space at w.
func (p *parser) peekSubject(prefix, text []byte, w int) string {
	res := splitRow(prefix, text, w, &p.ends, false)
	// Without an error the last field was cut off by the cap, so it does not count.
	complete := res.fields
	if res.err == quoteOK {
		complete--
	}
	if complete <= ColSubjectID {
		return ""
	}
	return string(text[w+int(p.ends[ColSubjectID-1]) : w+int(p.ends[ColSubjectID])])
}

// splitReject describes a row the splitter could not accept.
func splitReject(res splitResult) *Reject {
	if res.err == quoteOK {
		return &Reject{Reason: fieldCountReason(res.fields)}
	}
	if res.fields < NumColumns {
		return &Reject{Field: Header[res.fields], Reason: res.err.String()}
	}
	return &Reject{Reason: fmt.Sprintf("%s in column %d", res.err, res.fields+1)}
}
