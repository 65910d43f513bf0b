package doj

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

// Test rows are synthetic: invented names, numbers and dates.

// testRow returns a valid 95-cell row for subject sid with the given cells replaced.
func testRow(sid string, set map[int]string) []string {
	c := make([]string, NumColumns)
	c[ColRecordID] = "1"
	c[ColSubjectID] = sid
	c[ColReqSegSep] = "#"
	c[ColPiiSegSep] = "#"
	c[ColPriName] = "DOE,JANE Q"
	c[ColPriDOB] = "19800115"
	c[ColCycSegSep] = "#"
	c[ColStpSegSep] = "#"
	c[ColStpEventDate] = "20100302"
	c[ColStpTypeDescr] = "COURT ACTION"
	c[ColStpOriCntyName] = "SACRAMENTO"
	c[ColCntSegSep] = "#"
	c[ColCntOrder] = "001002003000"
	c[ColOFN] = "12345"
	c[ColOffenseDescr] = "11357(C)HS-POSSESS MARIJUANA"
	c[ColOffenseToc] = "M"
	c[ColDispDescr] = "CONVICTED-JAIL"
	c[ColConvStatDescr] = "MISDEMEANOR"
	c[ColSentSegSep] = "#"
	c[ColSentLength] = "30"
	c[ColSentTimeCode] = "D"
	c[ColEndOfRec] = "E"
	for i, v := range set {
		c[i] = v
	}
	return c
}

// encodeRow writes cells as one CSV line (no terminator), quoting like encoding/csv.
func encodeRow(cells []string) string {
	var b strings.Builder
	for i, c := range cells {
		if i > 0 {
			b.WriteByte(',')
		}
		if c == "" || !strings.ContainsAny(c, ",\"\r\n") && c[0] != ' ' {
			b.WriteString(c)
			continue
		}
		b.WriteByte('"')
		b.WriteString(strings.ReplaceAll(c, `"`, `""`))
		b.WriteByte('"')
	}
	return b.String()
}

// headerLine is the DOJ header row.
func headerLine() string { return strings.Join(Header[:], ",") }

// lines joins lines with eol after each.
func lines(eol string, ls ...string) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l)
		b.WriteString(eol)
	}
	return b.String()
}

// rowOut is one row's outcome in a comparable form.
type rowOut struct {
	Line   int64
	Cells  string // cells joined with \x1f
	Reject string // Field + ": " + Reason, for rejected rows
	Sub    string // the reject's SubjectID
}

// result is everything a scan produced.
type result struct {
	Rows      []rowOut
	NRows     int // sum of Batch.Rows
	HasHeader bool
	Err       string
}

// collect scans f to the end and flattens the batches, checking the per-batch
// invariants on the way.
func collect(t testing.TB, f *File, opt ScanOptions) result {
	t.Helper()
	s := f.Scan(context.Background(), opt)
	defer s.Close()
	var res result
	for {
		b, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.Err = err.Error()
			break
		}
		if b.Rows != len(b.Events)+len(b.Rejects) {
			t.Fatalf("batch Rows = %d, want %d events + %d rejects", b.Rows, len(b.Events), len(b.Rejects))
		}
		if b.Rows == 0 {
			t.Fatalf("empty batch")
		}
		res.NRows += b.Rows
		res.Rows = append(res.Rows, mergeBatch(t, b)...)
	}
	res.HasHeader = f.HasHeader()
	return res
}

// mergeBatch interleaves a batch's events and rejects by line.
func mergeBatch(t testing.TB, b *Batch) []rowOut {
	var out []rowOut
	ei, ri := 0, 0
	for ei < len(b.Events) || ri < len(b.Rejects) {
		if ri < len(b.Rejects) && (ei == len(b.Events) || b.Rejects[ri].Line < b.Events[ei].Src.Line) {
			r := b.Rejects[ri]
			if r.File != b.File.Path || r.FileIndex != b.File.Index {
				t.Fatalf("reject names file %q/%d, want %q/%d", r.File, r.FileIndex, b.File.Path, b.File.Index)
			}
			out = append(out, rowOut{Line: r.Line, Reject: r.Field + ": " + r.Reason, Sub: r.SubjectID})
			ri++
			continue
		}
		e := b.Events[ei]
		if e.Cells.Len() != NumColumns {
			t.Fatalf("line %d: accepted row has %d cells", e.Src.Line, e.Cells.Len())
		}
		if e.Src.File != b.File.Index {
			t.Fatalf("event file index %d, want %d", e.Src.File, b.File.Index)
		}
		out = append(out, rowOut{Line: e.Src.Line, Cells: strings.Join(e.Cells.Strings(), "\x1f")})
		ei++
	}
	for i := 1; i < len(out); i++ {
		if out[i].Line <= out[i-1].Line {
			t.Fatalf("rows out of line order: %d after %d", out[i].Line, out[i-1].Line)
		}
	}
	return out
}

// memFile opens in-memory content as a File, as Open would a file on disk.
func memFile(t testing.TB, name string, data []byte) *File {
	t.Helper()
	f, err := newFile(name, 7, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("newFile: %v", err)
	}
	return f
}

// scanMem scans in-memory content.
func scanMem(t testing.TB, data []byte, opt ScanOptions) result {
	t.Helper()
	return collect(t, memFile(t, "mem.csv", data), opt)
}

// cellsRow is the rowOut.Cells form of cells.
func cellsRow(cells []string) string { return strings.Join(cells, "\x1f") }

// itoa is strconv.Itoa, short for table literals.
func itoa(i int) string { return strconv.Itoa(i) }

// mustEvent parses cells with EventFromCells and fails on a reject.
func mustEvent(t *testing.T, cells []string) record.Event {
	t.Helper()
	ev, rej := EventFromCells(record.Source{File: 1, Line: 2}, record.CellsOf(cells))
	if rej != nil {
		t.Fatalf("unexpected reject: %v", rej)
	}
	return ev
}
