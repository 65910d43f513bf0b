package doj

import (
	"encoding/csv"
	"reflect"
	"strings"
	"testing"
)

// split runs splitRow on one row the way the worker does and returns the cells.
func split(row string) ([]string, splitResult) {
	return splitWith(row, func(row, out []byte, w int, ends *fieldEnds) splitResult {
		return splitRow(row, out, w, ends, strings.Contains(string(row), "\n"))
	})
}

// splitWith runs a splitter function on row, placed before bytes that would confuse it
// if it read past the row's end.
func splitWith(row string, fn func(row, out []byte, w int, ends *fieldEnds) splitResult) ([]string, splitResult) {
	in := []byte(row + `",",",",",",",",",",",",",",",",",",",",",",",",",",",",",",",",`)[:len(row)]
	out := make([]byte, len(row)+rowSlack+3)
	const w = 3 // a non-zero start offset, as for every row but a chunk's first
	var ends fieldEnds
	res := fn(in, out, w, &ends)
	if res.err != quoteOK {
		return nil, res
	}
	if res.fields >= len(ends) {
		return nil, res // too many fields to return (their ends share the last slot)
	}
	cells := make([]string, res.fields)
	start := uint32(0)
	for i := range cells {
		cells[i] = string(out[w+int(start) : w+int(ends[i])])
		start = ends[i]
	}
	return cells, res
}

func TestSplitRow(t *testing.T) {
	long := strings.Repeat("ABCDEFGHIJ", 7)
	tests := []struct {
		name  string
		row   string
		cells []string
		err   quoteError
		field int // the bad field when err != quoteOK
	}{
		{name: "one empty field", row: "", cells: []string{""}},
		{name: "plain", row: "a,bb,ccc", cells: []string{"a", "bb", "ccc"}},
		{name: "empty fields", row: ",,,,,,,,,,", cells: strings.Split(",,,,,,,,,,", ",")},
		{name: "trailing comma", row: "a,b,", cells: []string{"a", "b", ""}},
		{name: "long fields cross words", row: long + "," + long + ",x", cells: []string{long, long, "x"}},
		{name: "spaces kept", row: " a , b ", cells: []string{" a ", " b "}},
		{name: "bare CR kept", row: "a\rb,c", cells: []string{"a\rb", "c"}},
		{name: "quoted comma", row: `1,"DOE,JANE Q",3`, cells: []string{"1", "DOE,JANE Q", "3"}},
		{name: "quoted first and last", row: `"a,b","c"`, cells: []string{"a,b", "c"}},
		{name: "escaped quotes", row: `x,"SAID ""HI""",y`, cells: []string{"x", `SAID "HI"`, "y"}},
		{name: "only escaped quote", row: `""""`, cells: []string{`"`}},
		{name: "empty quoted", row: `"",""`, cells: []string{"", ""}},
		{name: "all-space quoted", row: `a,"          ",b`, cells: []string{"a", "          ", "b"}},
		{name: "quoted LF", row: "a,\"LINE ONE\nLINE TWO\",b", cells: []string{"a", "LINE ONE\nLINE TWO", "b"}},
		{name: "quoted CRLF becomes LF", row: "a,\"ONE\r\nTWO\",b", cells: []string{"a", "ONE\nTWO", "b"}},
		{name: "quoted long", row: `"` + long + `",` + long, cells: []string{long, long}},
		{name: "bare quote", row: `a,DOE"JANE,c`, err: quoteBare, field: 1},
		{name: "bare quote at end", row: `a,b,c"`, err: quoteBare, field: 2},
		{name: "space then quote", row: `a, "b"`, err: quoteBare, field: 1},
		{name: "text after closing quote", row: `a,"123"4,c`, err: quoteAfterClose, field: 1},
		{name: "space after closing quote", row: `"a" ,b`, err: quoteAfterClose, field: 0},
		{name: "unterminated", row: `a,b,"UNCLOSED,E`, err: quoteUnterminated, field: 2},
		{name: "unterminated after escape", row: `"a""`, err: quoteUnterminated, field: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, res := split(tt.row)
			if res.err != tt.err {
				t.Fatalf("err = %v, want %v", res.err, tt.err)
			}
			if tt.err != quoteOK {
				if res.fields != tt.field {
					t.Errorf("bad field = %d, want %d", res.fields, tt.field)
				}
				return
			}
			if !reflect.DeepEqual(cells, tt.cells) {
				t.Errorf("cells = %q, want %q", cells, tt.cells)
			}
			// encoding/csv (strict) must agree on every well-formed row.
			r := csv.NewReader(strings.NewReader(tt.row))
			r.FieldsPerRecord = -1
			want, err := r.Read()
			if err == nil && !reflect.DeepEqual(cells, want) {
				t.Errorf("cells = %q, encoding/csv gives %q", cells, want)
			}
		})
	}
}

func TestSplitRowCountsFieldsBeyondRoom(t *testing.T) {
	row := strings.Repeat("a,", 99) + "a" // 100 fields
	_, res := split(row)
	if res.err != quoteOK || res.fields != 100 {
		t.Fatalf("got %d fields (err %v), want 100", res.fields, res.err)
	}
}

func TestSplitRowAllocatesNothing(t *testing.T) {
	row := []byte(encodeRow(testRow("1001", map[int]string{ColCommentText: `SAID "HI", LEFT`})))
	row = append(row, make([]byte, rowSlack)...)[:len(row)]
	out := make([]byte, len(row)+rowSlack)
	var ends fieldEnds
	allocs := testing.AllocsPerRun(100, func() {
		splitRow(row, out, 0, &ends, false)
	})
	if allocs != 0 {
		t.Errorf("splitRow allocates %v times per row", allocs)
	}
}
