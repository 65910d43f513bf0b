package doj

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// openTestdata opens a fixture as input file number 7.
func openTestdata(t testing.TB, name string) *File {
	t.Helper()
	f, err := Open(filepath.Join("testdata", name), 7)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func scanTestdata(t testing.TB, name string, opt ScanOptions) result {
	t.Helper()
	return collect(t, openTestdata(t, name), opt)
}

// subjects lists line:SUBJECT_ID (or line:reject) per row.
func summary(r result) []string {
	var out []string
	for _, row := range r.Rows {
		s := itoa(int(row.Line)) + ":"
		if row.Reject != "" {
			s += "REJECT " + row.Reject
		} else {
			s += strings.Split(row.Cells, "\x1f")[ColSubjectID]
		}
		out = append(out, s)
	}
	return out
}

func TestScanHeaderVariants(t *testing.T) {
	withHeader := []string{"2:1001", "3:1001", "4:1002"}
	tests := []struct {
		file      string
		hasHeader bool
		want      []string
	}{
		{"header.csv", true, withHeader},
		{"header_crlf.csv", true, withHeader},
		{"header.csv.gz", true, withHeader},
		{"bom_header.csv", true, withHeader},
		{"trailing_comma_header.csv", true, withHeader},
		{"no_final_newline.csv", true, withHeader},
		{"noheader.csv", false, []string{"1:1001", "2:1001", "3:1002"}},
		{"bom_noheader.csv", false, []string{"1:1001", "2:1001", "3:1002"}},
		{"header_only.csv", true, nil},
		{"empty.csv", false, nil},
	}
	a, b, c := fixtureRows()
	var wantCells []string
	for _, r := range []string{a, b, c} {
		cells, _ := split(r)
		wantCells = append(wantCells, cellsRow(cells))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := scanTestdata(t, tt.file, ScanOptions{})
			if res.Err != "" {
				t.Fatal(res.Err)
			}
			if res.HasHeader != tt.hasHeader {
				t.Errorf("HasHeader = %v, want %v", res.HasHeader, tt.hasHeader)
			}
			if got := summary(res); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("rows = %q, want %q", got, tt.want)
			}
			if res.NRows != len(tt.want) {
				t.Errorf("Rows = %d, want %d", res.NRows, len(tt.want))
			}
			// Every variant yields the very same cells (no BOM, no CR in the last field).
			for i, row := range res.Rows {
				if row.Cells != wantCells[i] {
					t.Errorf("line %d cells differ:\n got %q\nwant %q", row.Line, row.Cells, wantCells[i])
				}
			}
		})
	}
}

func TestScanQuoted(t *testing.T) {
	lf := scanTestdata(t, "quoted.csv", ScanOptions{})
	crlf := scanTestdata(t, "quoted_crlf.csv", ScanOptions{})
	if want := []string{"2:2001", "4:2002", "5:2003", "7:2004"}; !reflect.DeepEqual(summary(lf), want) {
		t.Fatalf("rows = %q, want %q (physical line numbers)", summary(lf), want)
	}
	if !reflect.DeepEqual(lf.Rows, crlf.Rows) {
		t.Errorf("CRLF and LF files give different rows:\n%v\n%v", lf.Rows, crlf.Rows)
	}
	cell := func(row, col int) string { return strings.Split(lf.Rows[row].Cells, "\x1f")[col] }
	checks := []struct {
		row, col int
		want     string
	}{
		{0, ColCommentText, "LINE ONE\nLINE TWO, AND MORE"},
		{0, ColPriName, "DOE,JANE Q"},
		{1, ColPriName, "          "},
		{1, ColOFN, "  "},
		{2, ColPriName, `SMITH,"SMITTY" JOHN`},
		{3, ColEndOfRec, "E"},
	}
	for _, c := range checks {
		if got := cell(c.row, c.col); got != c.want {
			t.Errorf("row %d %s = %q, want %q", c.row, Header[c.col], got, c.want)
		}
	}
}

func TestScanRejects(t *testing.T) {
	res := scanTestdata(t, "rejects.csv", ScanOptions{})
	if res.Err != "" {
		t.Fatal(res.Err)
	}
	want := []string{
		"2:3001",
		"3:REJECT : has 94 fields, want 95",
		"4:REJECT : has 96 fields, want 95",
		`5:REJECT PRI_NAME: bare " in unquoted field`,
		`6:REJECT OFN: unexpected text after closing " of quoted field`,
		"7:REJECT SUBJECT_ID: empty",
		"8:REJECT CNT_ORDER: shorter than 6 characters",
		"9:REJECT STP_EVENT_DATE: not a valid YYYYMMDD date",
		"10:REJECT PRI_DOB: not a valid YYYYMMDD date",
		"11:3010",
		"12:3011",
		"13:REJECT COMMENT_TEXT: unterminated quoted field",
		"14:3013",
		"15:3014",
		"16:REJECT COMMENT_TEXT: unterminated quoted field",
		"17:3016",
	}
	if got := summary(res); !reflect.DeepEqual(got, want) {
		t.Errorf("rows:\n got %q\nwant %q", got, want)
	}
	wantSubjects := map[int64]string{3: "3002", 4: "3003", 5: "3004", 6: "3005", 7: "   ", 8: "3007", 13: "3012", 16: "3015"}
	for _, row := range res.Rows {
		if want, ok := wantSubjects[row.Line]; ok && row.Sub != want {
			t.Errorf("line %d: reject SubjectID = %q, want %q", row.Line, row.Sub, want)
		}
	}
}

func TestRejectCarriesLocationAndRaw(t *testing.T) {
	f := openTestdata(t, "rejects.csv")
	s := f.Scan(context.Background(), ScanOptions{})
	defer s.Close()
	b, err := s.Next()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join("testdata", "rejects.csv"))
	line3 := strings.Split(string(raw), "\n")[2]
	r := b.Rejects[0]
	if r.Line != 3 || r.Raw != line3 || r.File != f.Path || r.FileIndex != 7 {
		t.Errorf("reject = %+v", r)
	}
	if got, want := r.Error(), filepath.Join("testdata", "rejects.csv")+":3: has 94 fields, want 95"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

// TestScanSettingsAgree checks that rows do not depend on workers or chunking.
func TestScanSettingsAgree(t *testing.T) {
	settings := []ScanOptions{
		{Workers: 4},
		{Workers: 1, ChunkSize: 1},
		{Workers: 3, ChunkSize: 7},
		{Workers: 2, ChunkSize: 500},
		{Workers: 2, ChunkSize: 4096},
	}
	inputs := map[string][]byte{"generated": generated(3000, 11)}
	for name := range fixtures() {
		inputs[name], _ = os.ReadFile(filepath.Join("testdata", name))
	}
	for name, data := range inputs {
		t.Run(name, func(t *testing.T) {
			want := scanMem(t, data, ScanOptions{Workers: 1})
			for _, opt := range settings {
				if got := scanMem(t, data, opt); !reflect.DeepEqual(got, want) {
					t.Errorf("%+v gives different rows than 1 worker", opt)
				}
			}
		})
	}
}

// generated builds n rows with a mix of quoting, multi-line fields, blank lines and
// bad rows, deterministically from seed.
func generated(n int, seed uint64) []byte {
	var b strings.Builder
	b.WriteString(headerLine() + "\r\n")
	x := seed
	for i := range n {
		x = x*6364136223846793005 + 1442695040888963407
		set := map[int]string{ColCntOrder: "00100200" + itoa(1000+i%9000)}
		switch x >> 60 {
		case 0:
			set[ColCommentText] = "MULTI\nLINE, COMMENT"
		case 1:
			set[ColPriName] = "          "
		case 2:
			set[ColStpEventDate] = "20150230"
		case 3:
			b.WriteString("\n")
		case 4:
			b.WriteString(`1,2,"OPEN` + "\n")
		}
		row := encodeRow(testRow(itoa(5000+i/3), set))
		if x>>60 == 5 {
			row = strings.Replace(row, "COURT", `CO"URT`, 1)
		}
		b.WriteString(row + "\n")
	}
	return []byte(b.String())
}

func TestGzipDetectedByContent(t *testing.T) {
	dir := t.TempDir()
	plain, _ := os.ReadFile(filepath.Join("testdata", "header.csv"))
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain)
	zw.Close()
	// Misnamed both ways: content decides.
	gzNamedCSV := filepath.Join(dir, "really_gzip.csv")
	plainNamedGz := filepath.Join(dir, "really_plain.csv.gz")
	os.WriteFile(gzNamedCSV, zipped.Bytes(), 0o644)
	os.WriteFile(plainNamedGz, plain, 0o644)
	want := scanTestdata(t, "header.csv", ScanOptions{})
	for _, path := range []string{gzNamedCSV, plainNamedGz} {
		f, err := Open(path, 7)
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, f, ScanOptions{Workers: 3, ChunkSize: 100})
		f.Close()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: rows differ from the plain file", filepath.Base(path))
		}
	}
	f := openTestdata(t, "header.csv.gz")
	if f.Size() != 673 && f.Size() == int64(len(plain)) {
		t.Errorf("Size() = %d, want the compressed size", f.Size())
	}
}

func TestOpenErrorsNamePath(t *testing.T) {
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.gz")
	os.WriteFile(corrupt, []byte("\x1f\x8bnot really gzip at all"), 0o644)
	for _, path := range []string{filepath.Join(dir, "missing.csv"), corrupt, dir} {
		f, err := Open(path, 0)
		if err == nil {
			// A directory opens but cannot be read: that error must name it too.
			res := collect(t, f, ScanOptions{})
			f.Close()
			if res.Err == "" || !strings.Contains(res.Err, path) {
				t.Errorf("%s: error %q does not name the path", path, res.Err)
			}
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
}

func TestTruncatedGzipDeliversRowsThenError(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(generated(2000, 3))
	zw.Close()
	cut := zipped.Bytes()[:zipped.Len()*3/4]
	path := filepath.Join(t.TempDir(), "truncated.csv.gz")
	os.WriteFile(path, cut, 0o644)
	f, err := Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res := collect(t, f, ScanOptions{ChunkSize: 4096})
	if res.NRows == 0 || !strings.Contains(res.Err, path) || !strings.Contains(res.Err, "unexpected EOF") {
		t.Errorf("got %d rows, error %q; want rows then an unexpected EOF naming the path", res.NRows, res.Err)
	}
}

func TestOverlongRow(t *testing.T) {
	good := encodeRow(testRow("4001", nil))
	long := encodeRow(testRow("4002", map[int]string{ColCommentText: strings.Repeat("Z", 1000)}))
	openQuote := strings.Replace(encodeRow(testRow("4003", map[int]string{ColCommentText: "QQQ"})), "QQQ", `"OPEN`, 1)
	data := lines("\n", good, long, good, openQuote, strings.Repeat("x,", 200), good)
	for _, opt := range []ScanOptions{{maxRow: 600}, {maxRow: 600, ChunkSize: 50, Workers: 3}} {
		res := scanMem(t, []byte(data), opt)
		want := []string{"1:4001", "2:REJECT : row longer than 1 MiB", "3:4001", "4:REJECT COMMENT_TEXT: unterminated quoted field", "5:REJECT : has 201 fields, want 95", "6:4001"}
		if got := summary(res); !reflect.DeepEqual(got, want) {
			t.Errorf("%+v: rows %q, want %q", opt, got, want)
		}
		if res.Rows[1].Sub != "4002" {
			t.Errorf("over-long row's SubjectID = %q, want 4002", res.Rows[1].Sub)
		}
	}

	// The real 1 MiB bound, with the long line's tail beyond any one read.
	big := lines("\n", good, strings.Repeat("Q", 3<<20), good)
	res := scanMem(t, []byte(big), ScanOptions{})
	if want := []string{"1:4001", "2:REJECT : row longer than 1 MiB", "3:4001"}; !reflect.DeepEqual(summary(res), want) {
		t.Errorf("rows %q, want %q", summary(res), want)
	}
	if len(res.Rows) == 3 && res.Rows[1].Sub != "" {
		t.Errorf("SubjectID %q from a row with one field", res.Rows[1].Sub)
	}
}

func TestBatchesAreIndependent(t *testing.T) {
	data := generated(5000, 5)
	f := memFile(t, "mem.csv", data)
	s := f.Scan(context.Background(), ScanOptions{ChunkSize: 1024})
	defer s.Close()
	var kept []*Batch
	for {
		b, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kept = append(kept, b)
	}
	// Re-derive the rows after all buffers have been recycled many times.
	var again []rowOut
	for _, b := range kept {
		again = append(again, mergeBatch(t, b)...)
	}
	if want := scanMem(t, data, ScanOptions{}); !reflect.DeepEqual(again, want.Rows) {
		t.Error("batches kept across Next calls changed")
	}
	if last := kept[len(kept)-1]; last.Offset != int64(len(data)) {
		t.Errorf("last Offset = %d, want %d", last.Offset, len(data))
	}
}

func TestNoGoroutineLeaks(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(generated(20000, 9))
	zw.Close()
	plain := generated(20000, 9)
	for _, data := range [][]byte{plain, zipped.Bytes()} {
		// Close after one batch.
		s := memFile(t, "mem", data).Scan(context.Background(), ScanOptions{ChunkSize: 2048})
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
		if _, err := s.Next(); !errors.Is(err, ErrClosed) {
			t.Errorf("Next after Close = %v, want ErrClosed", err)
		}
		// Cancel the context after one batch, without Close.
		ctx, cancel := context.WithCancel(context.Background())
		s = memFile(t, "mem", data).Scan(ctx, ScanOptions{ChunkSize: 2048})
		if _, err := s.Next(); err != nil {
			t.Fatal(err)
		}
		cancel()
		for {
			if _, err := s.Next(); err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("Next after cancel = %v, want context.Canceled", err)
				}
				break
			}
		}
		stopped := make(chan struct{})
		go func() { s.wg.Wait(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Fatal("goroutines still running 10s after cancel")
		}
		// Close after EOF.
		s = memFile(t, "mem", data).Scan(context.Background(), ScanOptions{})
		for {
			if _, err := s.Next(); err != nil {
				break
			}
		}
		s.Close()
	}
	assertNoScannerGoroutines(t)
}

// assertNoScannerGoroutines fails if a goroutine of this package is still alive. A
// goroutine that has called wg.Done may need a moment to exit, so yield a few times.
func assertNoScannerGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	for range 1000 {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "doj.(*Scanner)") && !strings.Contains(stacks, "doj.(*asyncReader)") {
			return
		}
		runtime.Gosched()
	}
	t.Errorf("scanner goroutines leaked:\n%s", stacks)
}

func TestScanTwice(t *testing.T) {
	f := openTestdata(t, "header.csv")
	s1 := f.Scan(context.Background(), ScanOptions{})
	defer s1.Close()
	s2 := f.Scan(context.Background(), ScanOptions{})
	defer s2.Close()
	if _, err := s2.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("second Scan: Next = %v, want an error", err)
	}
}
