package doj

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

// groupRow builds a 95-field CSV line for subject id with a distinguishing CNT_ORDER.
func groupRow(id, cnt, date string) string {
	f := make([]string, NumColumns)
	f[ColSubjectID] = id
	f[ColCntOrder] = cnt
	f[ColStpEventDate] = date
	f[ColPriName] = `"DOE,JANE"`
	f[ColStpTypeDescr] = "COURT ACTION"
	f[ColOffenseDescr] = "11357 HS-POSSESS"
	f[ColDispDescr] = "CONVICTED"
	return strings.Join(f, ",")
}

func writeFile(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func openAll(t *testing.T, paths ...string) []*File {
	t.Helper()
	var fs []*File
	for i, p := range paths {
		f, err := Open(p, int32(i))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		fs = append(fs, f)
	}
	return fs
}

// collector is a GroupSink that renders what it gets as comparable strings.
type collector struct {
	subjects []string // "ID: file:line,file:line q=N"
	rejects  []string
}

func (c *collector) Subjects(ss []*record.Subject) error {
	for _, s := range ss {
		var b strings.Builder
		fmt.Fprintf(&b, "%s:", s.ID)
		for _, e := range s.Events {
			if e.SubjectID != s.ID {
				return fmt.Errorf("subject %s holds a row of %s", s.ID, e.SubjectID)
			}
			fmt.Fprintf(&b, " %d:%d", e.Src.File, e.Src.Line)
		}
		if s.Quarantined > 0 {
			fmt.Fprintf(&b, " q=%d", s.Quarantined)
		}
		c.subjects = append(c.subjects, b.String())
	}
	return nil
}

func (c *collector) Rejects(rs []Reject) error {
	for _, r := range rs {
		c.rejects = append(c.rejects, fmt.Sprintf("%d:%d %s", r.FileIndex, r.Line, r.Field))
	}
	return nil
}

func group(t *testing.T, mode string, opt GroupOptions, paths ...string) (*collector, GroupStats, error) {
	t.Helper()
	c := &collector{}
	fn := GroupStreaming
	if mode == "spill" {
		fn = GroupSpill
	}
	st, err := fn(context.Background(), openAll(t, paths...), opt, c)
	return c, st, err
}

func TestGroupStreamingSortedFile(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "a.csv",
		groupRow("100", "101001001000", "20100101"),
		groupRow("100", "101001002000", "20100101"),
		groupRow("200", "101001001000", "20100101"),
		groupRow("300", "101001001000", "20100101"),
		groupRow("300", "102001001000", "20120101"))
	c, st, err := group(t, "stream", GroupOptions{}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"100: 0:1 0:2", "200: 0:3", "300: 0:4 0:5"}
	if !slices.Equal(c.subjects, want) {
		t.Errorf("subjects = %q, want %q", c.subjects, want)
	}
	if st.Mode != "streaming" || st.Subjects != 3 || st.Rows[0] != 5 {
		t.Errorf("stats = %+v", st)
	}
}

func TestGroupOneFileGroupedButNotSortedIsRegrouped(t *testing.T) {
	// Contiguous but unsorted: streaming refuses it so that every mode emits subjects in
	// SUBJECT_ID order; spill mode sorts it.
	p := writeFile(t, t.TempDir(), "a.csv",
		groupRow("300", "101001001000", "20100101"),
		groupRow("100", "101001001000", "20100101"),
		groupRow("100", "101001002000", "20100101"))
	if _, _, err := group(t, "stream", GroupOptions{}, p); !errors.Is(err, ErrNotGrouped) {
		t.Fatalf("streaming error = %v, want ErrNotGrouped", err)
	}
	c, _, err := group(t, "spill", GroupOptions{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"100: 0:2 0:3", "300: 0:1"}; !slices.Equal(c.subjects, want) {
		t.Errorf("subjects = %q, want %q", c.subjects, want)
	}
}

func TestGroupNotContiguousFallsBackToSpill(t *testing.T) {
	p := writeFile(t, t.TempDir(), "a.csv",
		groupRow("100", "101001001000", "20100101"),
		groupRow("200", "101001001000", "20100101"),
		groupRow("100", "102001001000", "20120101"))
	if _, _, err := group(t, "stream", GroupOptions{}, p); !errors.Is(err, ErrNotGrouped) {
		t.Fatalf("streaming error = %v, want ErrNotGrouped", err)
	}
	c, st, err := group(t, "spill", GroupOptions{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"100: 0:1 0:3", "200: 0:2"}; !slices.Equal(c.subjects, want) {
		t.Errorf("subjects = %q, want %q", c.subjects, want)
	}
	if st.Mode != "spill" || st.Spilled != 0 {
		t.Errorf("small input should stay in memory: %+v", st)
	}
}

func TestGroupAcrossFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv",
		groupRow("100", "101001001000", "20100101"),
		groupRow("300", "101001001000", "20100101"))
	b := writeFile(t, dir, "b.csv",
		groupRow("050", "101001001000", "20100101"),
		groupRow("100", "201001001000", "20150101"),
		// Exact copy of a.csv's first row: the same record delivered twice.
		groupRow("100", "101001001000", "20100101"))
	for _, mode := range []string{"stream", "spill"} {
		c, st, err := group(t, mode, GroupOptions{}, a, b)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		want := []string{"050: 1:1", "100: 0:1 1:2", "300: 0:2"}
		if !slices.Equal(sorted(c.subjects), want) {
			t.Errorf("%s: subjects = %q, want %q", mode, c.subjects, want)
		}
		if st.Duplicates != 1 {
			t.Errorf("%s: duplicates = %d, want 1", mode, st.Duplicates)
		}
	}
}

func TestGroupUnsortedSecondFileNeedsSpill(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.csv", groupRow("100", "101001001000", "20100101"))
	b := writeFile(t, dir, "b.csv",
		groupRow("300", "101001001000", "20100101"),
		groupRow("200", "101001001000", "20100101"))
	if _, _, err := group(t, "stream", GroupOptions{}, a, b); !errors.Is(err, ErrNotGrouped) {
		t.Fatalf("streaming error = %v, want ErrNotGrouped", err)
	}
}

func TestGroupCountsQuarantinedRowsOnTheirSubject(t *testing.T) {
	bad := groupRow("200", "101001002000", "20151340") // month 13
	p := writeFile(t, t.TempDir(), "a.csv",
		groupRow("100", "101001001000", "20100101"),
		bad,
		groupRow("200", "101001001000", "20100101"),
		"only,three,fields")
	for _, mode := range []string{"stream", "spill"} {
		c, st, err := group(t, mode, GroupOptions{}, p)
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		if want := []string{"100: 0:1", "200: 0:3 q=1"}; !slices.Equal(sorted(c.subjects), want) {
			t.Errorf("%s: subjects = %q, want %q", mode, c.subjects, want)
		}
		if want := []string{"0:2 STP_EVENT_DATE", "0:4 "}; !slices.Equal(c.rejects, want) {
			t.Errorf("%s: rejects = %q, want %q", mode, c.rejects, want)
		}
		if st.Rows[0] != 4 || st.Rejects[0] != 2 {
			t.Errorf("%s: rows %d rejects %d", mode, st.Rows[0], st.Rejects[0])
		}
	}
}

// TestSpillToDiskMatchesMemory forces the spill files with a tiny budget and checks the
// result equals the in-memory regrouping, and that the temporary folder is removed.
func TestSpillToDiskMatchesMemory(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 3000 {
		id := fmt.Sprintf("%06d", (i*7919)%1000) // 1000 subjects, rows scattered
		lines = append(lines, groupRow(id, fmt.Sprintf("%03d001%03d000", 100+i%900, i%1000), "20100101"))
	}
	p := writeFile(t, dir, "a.csv", lines...)
	mem, _, err := group(t, "spill", GroupOptions{}, p)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	disk, st, err := group(t, "spill", GroupOptions{MemoryBudget: 64 << 10, TempDir: tmp}, p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Spilled == 0 {
		t.Fatal("expected rows to spill to disk")
	}
	if len(mem.subjects) != 1000 || !slices.Equal(mem.subjects, disk.subjects) {
		t.Errorf("disk spill differs from memory: %d vs %d subjects", len(disk.subjects), len(mem.subjects))
	}
	if !slices.IsSorted(mem.subjects) {
		t.Error("spill mode must emit subjects in SUBJECT_ID order")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("spill folder not cleaned up: %v", ents)
	}
	again, _, err := group(t, "spill", GroupOptions{MemoryBudget: 64 << 10, TempDir: tmp}, p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again.subjects, disk.subjects) {
		t.Error("spill order differs between identical runs")
	}
}

// TestSpillGzipInputInSeveralRuns: compressed input regrouped through several run files
// gives the same subjects, in the same order, as the plain file regrouped in memory.
func TestSpillGzipInputInSeveralRuns(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := range 4000 {
		b.WriteString(groupRow(fmt.Sprintf("%06d", (i*7919)%500), fmt.Sprintf("%03d001%03d000", 100+i%900, i%1000), "20100101"))
		b.WriteByte('\n')
	}
	plain := writeFile(t, dir, "a.csv", strings.TrimSuffix(b.String(), "\n"))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write([]byte(b.String()))
	zw.Close()
	gz := filepath.Join(dir, "a.csv.gz")
	if err := os.WriteFile(gz, z.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	want, _, err := group(t, "spill", GroupOptions{}, plain)
	if err != nil {
		t.Fatal(err)
	}
	got, st, err := group(t, "spill", GroupOptions{MemoryBudget: 512 << 10, TempDir: t.TempDir()}, gz)
	if err != nil {
		t.Fatal(err)
	}
	if st.Spilled == 0 {
		t.Fatalf("expected run files (compressed %d bytes, plain %d)", z.Len(), b.Len())
	}
	if !slices.Equal(got.subjects, want.subjects) {
		t.Error("subjects differ between the in-memory sort and the run merge")
	}
}

func TestCorruptSpillRowsAreErrors(t *testing.T) {
	for _, row := range []string{"", "\x01", "\x01\x02\xff", "\x01\x02" + strings.Repeat("\x01", NumColumns)} {
		if _, err := (&subjectCutter{}).decode(row); err == nil {
			t.Errorf("corrupt row %q decoded without error", row)
		}
		if _, _, err := encodedID([]byte(row)); err == nil {
			t.Errorf("corrupt row %q: SUBJECT_ID found", row)
		}
	}
}

func sorted(xs []string) []string {
	ys := slices.Clone(xs)
	slices.Sort(ys)
	return ys
}
