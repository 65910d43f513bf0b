package acceptance_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
)

// fixtures is testdata/acceptance at the repository root.
const fixtures = "../testdata/acceptance"

// computeAt is the compute-at date of every §6.1 A and D run.
const computeAt = "2019-11-11"

// run describes one pipeline run of a test.
type run struct {
	files     []string
	county    string // "" = statewide
	computeAt string // YYYY-MM-DD
	options   string // policy file
	format    string
	workers   int // 0 = GOMAXPROCS
	memory    int64
}

// runPipeline runs the embedded pipeline as `clearway run` would and returns the
// output folder. RunID and Started are fixed so that outputs depend only on the inputs,
// the policy and the compute-at date.
func runPipeline(t *testing.T, r run) string {
	t.Helper()
	out, _ := runPipelineStats(t, r)
	return out
}

// runPipelineStats is runPipeline that also returns the run's statistics.
func runPipelineStats(t *testing.T, r run) (string, pipeline.Stats) {
	t.Helper()
	pol, err := policy.LoadFile(r.options)
	if err != nil {
		t.Fatalf("load policy: %v", err)
	}
	at, err := record.ParseISO(r.computeAt)
	if err != nil {
		t.Fatalf("compute-at: %v", err)
	}
	pols := &eligibility.Policies{Default: pol}
	eng := &eligibility.Engine{Policies: pols, ComputeAt: at, County: r.county}
	if err := eng.Validate(); err != nil {
		t.Fatalf("engine: %v", err)
	}
	out := filepath.Join(t.TempDir(), "out")
	st, err := pipeline.Run(context.Background(), pipeline.Config{
		Files:  r.files,
		Engine: eng,
		Info: report.RunInfo{
			RunID: "acceptance", ComputeAt: at, County: r.county, Policies: pols,
			EngineVersion: eligibility.Version,
			Started:       time.Date(2019, 11, 11, 0, 0, 0, 0, time.UTC),
		},
		Format:  r.format,
		OutDir:  out,
		Workers: r.workers,
		Group:   doj.GroupOptions{MemoryBudget: r.memory, TempDir: t.TempDir()},
	})
	if err != nil {
		t.Fatalf("pipeline.Run: %v", err)
	}
	if len(st.Unreadable) > 0 {
		t.Fatalf("unreadable inputs: %v", st.Unreadable)
	}
	return out, st
}

// readCSV reads a whole CSV file (all rows must have the header's width).
func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	if len(rows) == 0 {
		t.Fatalf("%s: empty", path)
	}
	return rows
}

// maxReported bounds the differences reported per file, so one systematic error does
// not drown the log.
const maxReported = 12

// compareCSV compares got with want cell by cell and reports the first differences
// with row number, SUBJECT_ID (when the file has one) and column name.
func compareCSV(t *testing.T, name string, got, want [][]string) {
	t.Helper()
	if !slices.Equal(got[0], want[0]) {
		t.Errorf("%s: header differs:\n got  %q\n want %q", name, got[0], want[0])
		return
	}
	header := want[0]
	subjectCol := slices.Index(header, "SUBJECT_ID")
	if len(got) != len(want) {
		t.Errorf("%s: %d data rows, want %d", name, len(got)-1, len(want)-1)
	}
	diffs := 0
	for r := 1; r < min(len(got), len(want)); r++ {
		if len(got[r]) != len(want[r]) {
			t.Errorf("%s row %d: %d cells, want %d", name, r, len(got[r]), len(want[r]))
			diffs++
			continue
		}
		for c := range want[r] {
			if got[r][c] == want[r][c] {
				continue
			}
			diffs++
			if diffs <= maxReported {
				who := ""
				if subjectCol >= 0 {
					who = fmt.Sprintf(" (SUBJECT_ID %s)", want[r][subjectCol])
				}
				t.Errorf("%s row %d%s, column %q: got %q, want %q", name, r, who, header[c], got[r][c], want[r][c])
			}
		}
	}
	if diffs > maxReported {
		t.Errorf("%s: %d differing cells in all (first %d shown)", name, diffs, maxReported)
	}
}

// Keys of gogen.json that the comparison with gogen's file leaves out: a timing, and
// a count gogen takes from the wall clock (gogen-behaviour.md §8.1).
const (
	keyProcessingTime = "processingTimeInSeconds"
	keyLast7          = "CountSubjectsNoConvictionLast7Years"
	keyCurrent        = "reliefWithCurrentEligibilityChoices"
	keyDismissAll     = "reliefWithDismissAllProp64"
)

// last7 is the hand-derived CountSubjectsNoConvictionLast7Years of a fixture, counted
// back 7 years from compute-at, for both flows.
type last7 struct{ current, dismissAll int64 }

// compareGogenJSON compares our gogen.json with gogen's field by field, apart from the
// timing and the wall-clock field, and checks our wall-clock field against the value
// derived by hand for compute-at − 7 years.
func compareGogenJSON(t *testing.T, gotPath, wantPath string, want7 last7) {
	t.Helper()
	got, want := decodeJSON(t, gotPath), decodeJSON(t, wantPath)
	for _, doc := range []map[string]any{got, want} {
		delete(doc, keyProcessingTime)
	}
	got7 := last7{current: takeLast7(t, got, keyCurrent), dismissAll: takeLast7(t, got, keyDismissAll)}
	takeLast7(t, want, keyCurrent)
	takeLast7(t, want, keyDismissAll)
	if got7 != want7 {
		t.Errorf("gogen.json %s (current, dismiss all) = (%d, %d), want (%d, %d) counted from compute-at",
			keyLast7, got7.current, got7.dismissAll, want7.current, want7.dismissAll)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		g, gok := got[k]
		w, wok := want[k]
		switch {
		case !gok:
			t.Errorf("gogen.json: field %q missing (gogen: %v)", k, w)
		case !wok:
			t.Errorf("gogen.json: extra field %q = %v", k, g)
		case !reflect.DeepEqual(g, w):
			t.Errorf("gogen.json field %q: got %v, want %v", k, g, w)
		}
	}
}

func decodeJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // integers compare as written, not as float64
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	return doc
}

// takeLast7 removes CountSubjectsNoConvictionLast7Years from doc[relief] and returns it.
func takeLast7(t *testing.T, doc map[string]any, relief string) int64 {
	t.Helper()
	m, ok := doc[relief].(map[string]any)
	if !ok {
		t.Fatalf("gogen.json: %s is %T, want an object", relief, doc[relief])
	}
	n, ok := m[keyLast7].(json.Number)
	if !ok {
		t.Fatalf("gogen.json: %s.%s is %T, want a number", relief, keyLast7, m[keyLast7])
	}
	delete(m, keyLast7)
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("gogen.json: %s.%s: %v", relief, keyLast7, err)
	}
	return v
}

// table is a CSV file with a header, addressed by column name.
type table struct {
	header []string
	rows   [][]string
}

func readTable(t *testing.T, path string) table {
	t.Helper()
	rows := readCSV(t, path)
	return table{header: rows[0], rows: rows[1:]}
}

// col returns the index of column name, failing the test when it is absent.
func (tb table) col(t *testing.T, name string) int {
	t.Helper()
	i := slices.Index(tb.header, name)
	if i < 0 {
		t.Fatalf("no column %q in %q", name, tb.header)
	}
	return i
}

// dojRow builds one 95-column DOJ row for hand-made end-to-end cases. Unset columns
// hold filler; the fields are the ones gogen's rules read.
type dojRow struct {
	subject, name, dob, date, step, county, cnt, ofn, offense, toc, disp, conv, comment string
}

func (r dojRow) cells() []string {
	c := make([]string, doj.NumColumns)
	for i := range c {
		c[i] = "#"
	}
	c[doj.ColRecordID] = "R" + r.subject + r.cnt
	c[doj.ColSubjectID] = r.subject
	c[doj.ColPriName] = r.name
	c[doj.ColPriDOB] = r.dob
	c[doj.ColStpEventDate] = r.date
	c[doj.ColDispDate] = r.date
	c[doj.ColStpTypeDescr] = r.step
	c[doj.ColStpOriCntyName] = r.county
	c[doj.ColCntOrder] = r.cnt
	c[doj.ColOFN] = r.ofn
	c[doj.ColOffenseDescr] = r.offense
	c[doj.ColOffenseToc] = r.toc
	c[doj.ColDispDescr] = r.disp
	c[doj.ColConvStatDescr] = r.conv
	c[doj.ColCommentText] = r.comment
	return c
}

// writeDOJ writes rows (no header) to a file in a temporary folder.
func writeDOJ(t *testing.T, rows []dojRow) string {
	t.Helper()
	var b strings.Builder
	w := csv.NewWriter(&b)
	for _, r := range rows {
		if err := w.Write(r.cells()); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "extract.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
