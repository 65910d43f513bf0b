package doj

import (
	"bytes"
	"encoding/csv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzReader checks the reader's invariants on arbitrary input (go test -fuzz=FuzzReader
// ./pkg/doj): no panic; every data row is accepted or rejected (collect checks Rows per
// batch); accepted rows have 95 cells; workers and chunk sizes do not change the result;
// and accepted rows survive a CSV round trip.
func FuzzReader(f *testing.F) {
	for name, data := range fixtures() {
		if !strings.HasSuffix(name, ".gz") {
			f.Add(data)
		}
	}
	f.Add(generated(40, 1))
	f.Add([]byte("\"\n\"\n"))
	f.Add([]byte(utf8BOM + "RECORD_ID\r\n\r\n\"a\"\"\",b\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// A small row bound so the fuzzer reaches it.
		base := ScanOptions{Workers: 1, maxRow: 300}
		want := scanMem(t, data, base)
		for _, opt := range []ScanOptions{
			{Workers: 3, maxRow: 300},
			{Workers: 2, ChunkSize: 1, maxRow: 300},
			{Workers: 3, ChunkSize: 13, maxRow: 300},
		} {
			if got := scanMem(t, data, opt); !reflect.DeepEqual(got, want) {
				t.Fatalf("%+v differs from 1 worker:\n got %+v\nwant %+v", opt, got, want)
			}
		}
		if want.Err != "" {
			t.Fatalf("error reading memory: %s", want.Err)
		}

		// Round trip: write the accepted rows out as CSV and read them back.
		if bytes.IndexByte(data, 0x1f) >= 0 {
			return // rowOut joins cells with \x1f
		}
		var accepted [][]string
		var b strings.Builder
		for _, r := range want.Rows {
			if r.Reject == "" {
				cells := strings.Split(r.Cells, "\x1f")
				accepted = append(accepted, cells)
				b.WriteString(encodeRow(cells) + "\n")
			}
		}
		if len(accepted) == 0 {
			return
		}
		again := scanMem(t, []byte(b.String()), ScanOptions{})
		var got [][]string
		for _, r := range again.Rows {
			if r.Reject != "" {
				t.Fatalf("re-encoded accepted row rejected at line %d: %s", r.Line, r.Reject)
			}
			got = append(got, strings.Split(r.Cells, "\x1f"))
		}
		if strings.HasPrefix(accepted[0][0], headerPrefix) {
			return // a first cell starting RECORD_ID re-reads as a header, rightly
		}
		if !reflect.DeepEqual(got, accepted) {
			t.Fatalf("round trip changed rows:\n got %q\nwant %q", got, accepted)
		}
	})
}

// FuzzSplitRow compares the splitter with encoding/csv (strict quotes) on single lines.
func FuzzSplitRow(f *testing.F) {
	for _, s := range []string{`a,"b,c",d`, `"a""b"`, `a"b`, `"a"b`, `"a`, ",,", `""`, "\"x\ny\"", "a\rb"} {
		f.Add(s)
	}
	raw, _ := os.ReadFile(filepath.Join("testdata", "quoted.csv"))
	for _, l := range strings.Split(string(raw), "\n") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, row string) {
		if row == "" || strings.HasSuffix(row, "\r") {
			return // the cutter skips blank rows and the worker strips a final CR
		}
		if c := cutOne([]byte(row), true, len(row)); c.kind != cutRow || c.end != len(row) {
			return // not exactly one row: the cutter's business, not the splitter's
		}
		cells, res := split(row)
		if res.fields >= len(fieldEnds{}) {
			return // more fields than the splitter keeps ends for
		}
		r := csv.NewReader(strings.NewReader(row))
		r.FieldsPerRecord = -1
		want, err := r.Read()
		switch {
		case err != nil && res.err == quoteOK:
			t.Fatalf("encoding/csv rejects %q (%v), splitter accepts %q", row, err, cells)
		case err == nil && res.err != quoteOK:
			t.Fatalf("encoding/csv reads %q as %q, splitter says %v", row, want, res.err)
		case err == nil && !reflect.DeepEqual(cells, want):
			t.Fatalf("%q: splitter %q, encoding/csv %q", row, cells, want)
		}
	})
}
