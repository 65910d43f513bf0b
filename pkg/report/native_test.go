package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

func runNative(t testing.TB, dir string, files ...string) *Native {
	t.Helper()
	n, err := NewNative(dir, testInfo(files...))
	if err != nil {
		t.Fatal(err)
	}
	if err := runOutput(n, files); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNativeDecisionsCSV(t *testing.T) {
	dir := t.TempDir()
	runNative(t, dir, "in.csv")
	h := testPolicy.Hash
	want := [][]string{
		DecisionColumns[:],
		{"run-0001", "in.csv", "5", "S1", "CIIS1", "DOE,JANE", "1960-03-14", "F", "WHITE", "SACRAMENTO", "002001002000", "NULL  ; 140192; 140193", "11358 HS", "11358", "true", "1981-04-11", "dismiss", "Dismiss all HS 11358 convictions", "baseline.dismiss", "sacramento.json", h, "clearway-engine/test", "2019-11-11"},
		{"run-0001", "in.csv", "3", "S2", "CIIS2", "ROE,RICHARD", "1962-08-22", "M", "BLACK", "SACRAMENTO", "001002001000", "398765; 678544", "11357(C)HS", "11357", "true", "1979-06-01", "dismiss", "Dismiss all HS 11357 convictions", "baseline.dismiss", "sacramento.json", h, "clearway-engine/test", "2019-11-11"},
		{"run-0001", "in.csv", "7", "S2", "CIIS2", "ROE,RICHARD", "1962-08-22", "M", "BLACK", "SACRAMENTO", "002001002000", "398765; 678544", "11359(C) HS", "11359", "true", "1985-11-01", "dismiss", "57 years or older", "relief.age_threshold", "sacramento.json", h, "clearway-engine/test", "2019-11-11"},
		{"run-0001", "in.csv", "12", "S3", "CIIS3", "POE,EDGAR", "1997-06-19", "M", "", "SACRAMENTO", "001001001000", "", "11359 HS", "11359", "true", "2017-02-14", "reduce", "Reduce all HS 11359 convictions", "baseline.reduce", "sacramento.json", h, "clearway-engine/test", "2019-11-11"},
		{"run-0001", "in.csv", "13", "S3", "CIIS3", "POE,EDGAR", "1997-06-19", "M", "", "SACRAMENTO", "002001001000", "", "11360 HS", "11360", "false", "", "hand_review", "Record has quarantined rows", "data.quarantined", "sacramento.json", h, "clearway-engine/test", "2019-11-11"},
		{"run-0001", "in.csv", "14", "S4", "CIIS4", "LOE,CHLOE", "2000-01-01", "F", "HISPANIC", "SACRAMENTO", "001001001000", "", "11357 HS", "11357", "false", "2014-05-12", "dismiss", "Misdemeanor or Infraction", "baseline.misdemeanor", "sacramento.json", h, "clearway-engine/test", "2019-11-11"},
	}
	got := readCSV(t, filepath.Join(dir, DecisionsCSV))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("decisions.csv\n got %q\nwant %q", got, want)
	}

	rejects := readCSV(t, filepath.Join(dir, RejectsCSV))
	wantRejects := [][]string{RejectColumns[:], {"in.csv", "11", "CNT_ORDER", "wrong number of fields", "S3", `1,A,S3,"DOE, J"`}}
	if !reflect.DeepEqual(rejects, wantRejects) {
		t.Errorf("rejects.csv = %q", rejects)
	}
	assertNoPartials(t, dir)
}

// parquetRows reads decisions.parquet back and renders each value as decisions.csv does.
func parquetRows(t *testing.T, path string) (rows [][]string, rowGroups int) {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	// The reader adds field-id metadata; names, types and nullability must match.
	want := DecisionSchema()
	for i, f := range tbl.Schema().Fields() {
		w := want.Field(i)
		if f.Name != w.Name || !arrow.TypeEqual(f.Type, w.Type) || f.Nullable != w.Nullable {
			t.Errorf("column %d = %s %s (nullable %v), want %s %s", i, f.Name, f.Type, f.Nullable, w.Name, w.Type)
		}
	}
	rows = make([][]string, tbl.NumRows())
	for i := range rows {
		rows[i] = make([]string, tbl.NumCols())
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		r := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for i := 0; i < chunk.Len(); i++ {
				rows[r][c] = parquetValue(t, chunk, i)
				r++
			}
		}
	}
	return rows, pf.NumRowGroups()
}

func parquetValue(t *testing.T, a arrow.Array, i int) string {
	if a.IsNull(i) {
		return ""
	}
	switch a := a.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Int64:
		return strconv.FormatInt(a.Value(i), 10)
	case *array.Boolean:
		return strconv.FormatBool(a.Value(i))
	case *array.Date32:
		return record.Date(a.Value(i)).String()
	}
	t.Fatalf("unexpected column type %s", a.DataType())
	return ""
}

func TestNativeParquetMatchesCSV(t *testing.T) {
	dir := t.TempDir()
	runNative(t, dir, "a.csv", "b.csv")
	csvRows := readCSV(t, filepath.Join(dir, DecisionsCSV))
	pqRows, groups := parquetRows(t, filepath.Join(dir, DecisionsParquet))
	if len(csvRows) != 1+2*len(evaluatedLines) {
		t.Fatalf("decisions.csv has %d rows", len(csvRows))
	}
	if !reflect.DeepEqual(pqRows, csvRows[1:]) {
		t.Errorf("parquet rows differ from csv:\n pq %q\ncsv %q", pqRows, csvRows[1:])
	}
	if groups != 1 {
		t.Errorf("%d row groups, want 1", groups)
	}
	if pqRows[6][dInputFile] != "b.csv" {
		t.Errorf("second file's decisions name %q", pqRows[6][dInputFile])
	}
}

func TestNativeParquetRowGroups(t *testing.T) {
	dir := t.TempDir()
	n, err := NewNative(dir, testInfo("in.csv"))
	if err != nil {
		t.Fatal(err)
	}
	r := testResults(testRows, 0)[3] // one decision per subject
	const subjects = rowGroupRows + 1000
	for range subjects {
		if err := n.Subject(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Close(context.Background(), testStats(1)); err != nil {
		t.Fatal(err)
	}
	rows, groups := parquetRows(t, filepath.Join(dir, DecisionsParquet))
	if len(rows) != subjects || groups != 2 {
		t.Errorf("%d rows in %d row groups, want %d in 2", len(rows), groups, subjects)
	}
	if n.Summary().Totals.ConvictionsDismissed != subjects {
		t.Errorf("summary counted %d dismissals", n.Summary().Totals.ConvictionsDismissed)
	}
}

func TestNativeIsDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	runNative(t, a, "in.csv", "more.csv")
	runNative(t, b, "in.csv", "more.csv")
	for _, name := range []string{DecisionsCSV, DecisionsParquet, RejectsCSV, SummaryJSON, ReportHTML} {
		x, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatal(err)
		}
		y, err := os.ReadFile(filepath.Join(b, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(x) == 0 || !bytes.Equal(x, y) {
			t.Errorf("%s differs between identical runs (%d vs %d bytes)", name, len(x), len(y))
		}
	}
}

func TestNativeFilesAppearOnlyAtClose(t *testing.T) {
	dir := t.TempDir()
	n, err := NewNative(dir, testInfo("in.csv"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range testResults(testRows, 0) {
		if err := n.Subject(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{DecisionsCSV, DecisionsParquet, RejectsCSV, SummaryJSON, ReportHTML} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s visible before Close", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := n.Close(ctx, testStats(1)); err == nil {
		t.Fatal("Close with a cancelled context succeeded")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("a failed Close left %v", entries)
	}
	if err := n.Reject(testReject("in.csv", 0, testRows[0])); err != errClosed {
		t.Errorf("Reject after Close = %v", err)
	}
}

func TestSummaryJSON(t *testing.T) {
	dir := t.TempDir()
	n := runNative(t, dir, "in.csv")
	raw, err := os.ReadFile(filepath.Join(dir, SummaryJSON))
	if err != nil {
		t.Fatal(err)
	}
	var s Summary
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&s, n.Summary()) {
		t.Errorf("summary does not round-trip:\n got %+v\nwant %+v", s, *n.Summary())
	}
	again, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, raw) {
		t.Error("re-encoding a loaded summary changes it")
	}

	wantTotals := Totals{
		Rows: 14, Rejects: 1, Subjects: 5, SubjectsWithProp64: 4, ConvictionsEvaluated: 6,
		ConvictionsDismissed: 4, ConvictionsReduced: 1, ConvictionsHandReview: 1,
		PeopleWithRelief: 4, RecordsFullyCleared: 1,
	}
	if s.Totals != wantTotals {
		t.Errorf("totals = %+v\nwant %+v", s.Totals, wantTotals)
	}
	wantRun := RunSummary{
		RunID: testRunID, ComputeAt: "2019-11-11", Scope: ScopeCounty, County: testCounty,
		EngineVersion: "clearway-engine/test",
		Files:         []FileSummary{{Index: 0, Path: "in.csv", Size: 4096, Rows: 14, Rejects: 1, HasHeader: true}},
		Policies: []PolicySummary{{County: testCounty, Name: "sacramento.json", Hash: testPolicy.Hash,
			Dismiss: []string{"11357", "11358"}, Reduce: []string{"11359", "11360"}}},
	}
	if !reflect.DeepEqual(s.Run, wantRun) {
		t.Errorf("run = %+v\nwant %+v", s.Run, wantRun)
	}
	if s.Timing.DurationSeconds != 2 || s.Timing.RowsPerSecond != 7 {
		t.Errorf("timing = %+v", s.Timing)
	}

	b := s.Breakdowns
	checks := []struct {
		name  string
		bd    Breakdown
		key   string
		rule  string
		want  Entry
		count int
	}{
		{"county", b.County, testCounty, "", Entry{Key: testCounty, Convictions: 6, People: 4,
			ByDetermination: DeterminationCounts{Dismiss: 4, Reduce: 1, HandReview: 1}}, 1},
		{"section", b.Section, "11359", "", Entry{Key: "11359", Convictions: 2, People: 2,
			ByDetermination: DeterminationCounts{Dismiss: 1, Reduce: 1}}, 4},
		{"determination", b.Determination, "dismiss", "", Entry{Key: "dismiss", Convictions: 4, People: 3,
			ByDetermination: DeterminationCounts{Dismiss: 4}}, 3},
		{"reason", b.Reason, "Dismiss all HS 11357 convictions", "baseline.dismiss", Entry{Key: "Dismiss all HS 11357 convictions",
			RuleID: "baseline.dismiss", Convictions: 1, People: 1, ByDetermination: DeterminationCounts{Dismiss: 1}}, 6},
		{"race", b.Race, KeyUnknown, "", Entry{Key: KeyUnknown, Convictions: 2, People: 1,
			ByDetermination: DeterminationCounts{Reduce: 1, HandReview: 1}}, 4},
		{"gender", b.Gender, "M", "", Entry{Key: "M", Convictions: 4, People: 2,
			ByDetermination: DeterminationCounts{Dismiss: 2, Reduce: 1, HandReview: 1}}, 2},
		// Ages on 2019-11-11: 59 and 57; 22; 19.
		{"age", b.AgeBand, "50-59", "", Entry{Key: "50-59", Convictions: 3, People: 2,
			ByDetermination: DeterminationCounts{Dismiss: 3}}, 3},
		{"felony", b.Felony, KeyNonFelony, "", Entry{Key: KeyNonFelony, Convictions: 2, People: 2,
			ByDetermination: DeterminationCounts{Dismiss: 1, HandReview: 1}}, 2},
	}
	for _, c := range checks {
		e := c.bd.Find(c.key, c.rule)
		if e == nil || *e != c.want {
			t.Errorf("%s[%s] = %+v, want %+v", c.name, c.key, e, c.want)
		}
		if len(c.bd) != c.count {
			t.Errorf("%s has %d entries, want %d", c.name, len(c.bd), c.count)
		}
	}
	if want := []RejectCount{{Reason: "wrong number of fields", Field: "CNT_ORDER", Rows: 1}}; !reflect.DeepEqual(s.Rejects, want) {
		t.Errorf("rejects = %+v", s.Rejects)
	}

	// The gogen numbers in summary.json are gogen.json's.
	g := NewSummary(testInfo("in.csv"))
	for _, r := range testResults(testRows, 0) {
		g.Add(r)
	}
	g.Finish(testStats(1))
	if !reflect.DeepEqual(g.Gogen, s.Gogen) {
		t.Errorf("gogen stats differ: %+v vs %+v", g.Gogen, s.Gogen)
	}
}

func TestSummaryStatewideUnionsPolicySections(t *testing.T) {
	info := testInfo("in.csv")
	info.County = ""
	info.Policies = &eligibility.Policies{
		ByCounty: map[string]*eligibility.Policy{
			"YOLO":       {Name: "yolo", Dismiss: []int{eligibility.HS11360}},
			"SACRAMENTO": testPolicy,
		},
		Default: &eligibility.Policy{Name: "default", Dismiss: []int{eligibility.HS11357}, Reduce: []int{eligibility.HS11358}},
	}
	s := NewSummary(info)
	if s.Run.Scope != ScopeStatewide {
		t.Errorf("scope = %q", s.Run.Scope)
	}
	var names []string
	for _, p := range s.Run.Policies {
		names = append(names, p.Name)
	}
	if want := []string{"sacramento.json", "yolo", "default"}; !reflect.DeepEqual(names, want) {
		t.Errorf("policies = %q, want %q", names, want)
	}
	wantDismiss := map[string]int64{"11357": 0, "11358": 0, "11360": 0}
	wantReduce := map[string]int64{"11358": 0, "11359": 0, "11360": 0}
	if !reflect.DeepEqual(s.Gogen.ConvictionDismissalCountByCodeSection, wantDismiss) ||
		!reflect.DeepEqual(s.Gogen.ConvictionReductionCountByCodeSection, wantReduce) {
		t.Errorf("configured sections = %v / %v", s.Gogen.ConvictionDismissalCountByCodeSection, s.Gogen.ConvictionReductionCountByCodeSection)
	}
}

func TestAgeBand(t *testing.T) {
	at := record.MakeDate(2020, 7, 1)
	for _, c := range []struct {
		dob  record.Date
		want string
	}{
		{record.MakeDate(1999, 7, 2), "under 21"},
		{record.MakeDate(1999, 7, 1), "21-29"},
		{record.MakeDate(1990, 7, 2), "21-29"},
		{record.MakeDate(1990, 7, 1), "30-39"},
		{record.MakeDate(1971, 1, 1), "40-49"},
		{record.MakeDate(1961, 1, 1), "50-59"},
		{record.MakeDate(1960, 7, 1), "60+"},
		{record.NoDate, "unknown"},
		{record.MakeDate(2021, 1, 1), "unknown"},
	} {
		if got := AgeBand(c.dob, at); got != c.want {
			t.Errorf("AgeBand(%s) = %q, want %q", c.dob, got, c.want)
		}
	}
}

func TestWriteHTML(t *testing.T) {
	dir := t.TempDir()
	n := runNative(t, dir, "in.csv")
	raw, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	// The report is rebuilt from a Summary alone: one loaded from summary.json renders
	// the same page.
	var loaded Summary
	js, _ := os.ReadFile(filepath.Join(dir, SummaryJSON))
	if err := json.Unmarshal(js, &loaded); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	if err := WriteHTML(&again, &loaded); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), raw) {
		t.Error("report from the loaded summary differs")
	}

	page := string(raw)
	for _, want := range []string{
		"<title>Prop 64 relief — Sacramento County — computed 2019-11-11</title>",
		`<div class="value">4</div><div class="label">People who get relief</div><div class="note">of 4 people with a Prop 64 conviction</div>`,
		`<div class="value">4</div><div class="label">Convictions dismissed</div><div class="note">of 6 Prop 64 convictions</div>`,
		`<div class="value">1</div><div class="label">Convictions reduced</div>`,
		`<div class="value">1</div><div class="label">Records fully cleared</div>`,
		`id="chart-county"`, `id="chart-section"`, `id="chart-race"`, `id="chart-gender"`, `id="chart-age"`, `id="chart-felony"`, `id="chart-determination"`,
		">HS 11359</text>", ">50-59</text>",
		"<td>57 years or older</td><td><code>relief.age_threshold</code></td>",
		"<td>wrong number of fields</td><td>CNT_ORDER</td><td class=\"num\">1</td>",
		"<code>run-0001</code>", "sacramento.json", "<code>in.csv</code>",
		"14 data rows were read; 1 were set aside",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("report lacks %s", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://", "src=", "@import", "url("} {
		if strings.Contains(page, bad) {
			t.Errorf("report is not self-contained: contains %q", bad)
		}
	}
	if n.Summary().Totals.PeopleWithRelief != 4 {
		t.Error("summary changed by rendering")
	}
}

func TestWriteHTMLTopCounties(t *testing.T) {
	s := NewSummary(testInfo())
	for i := range 25 {
		r := testResults(testRows, 0)[3]
		r.Evaluated[0].County = "COUNTY " + strconv.Itoa(100+i)
		for range i + 1 {
			s.Add(r)
		}
	}
	var buf bytes.Buffer
	if err := WriteHTML(&buf, s); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, ">All other counties (5)</text>") || !strings.Contains(page, ">County 124</text>") ||
		strings.Contains(page, ">County 104</text>") {
		t.Error("county chart must show the 20 largest and fold the rest")
	}
}

func BenchmarkNative(b *testing.B) {
	results := testResults(testRows, 0)
	var decisions int
	for _, r := range results {
		decisions += len(r.Evaluated)
	}
	n, err := NewNative(b.TempDir(), testInfo("in.csv"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		for _, r := range results {
			if err := n.Subject(r); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := n.Close(context.Background(), testStats(1)); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*decisions)/b.Elapsed().Seconds(), "decisions/s")
}

func BenchmarkGogenCSV(b *testing.B) {
	// Rows shaped like gogen's generator output: every otherwise empty cell holds the
	// space-padded filler, so about half the cells need quoting (≈ 900 bytes a row).
	var accepted []record.Cells
	for _, r := range testRows {
		if !r.rejected {
			c := r.cells()
			for i := range c {
				if c[i] == "" {
					c[i] = "  -  "
				}
			}
			accepted = append(accepted, record.CellsOf(c))
		}
	}
	results := testResults(testRows, 0)
	for b.Loop() {
		b.StopTimer()
		g, err := NewGogen(b.TempDir(), testInfo("in.csv"), func(ctx context.Context, file int32, fn func(record.Source, record.Cells) error) error {
			// 100k rows: the test file's rows repeated; decisions sit on the first copy.
			for i := range 100_000 / len(accepted) {
				for j, c := range accepted {
					line := int64(2 + i*len(accepted) + j)
					if i == 0 {
						line = rowAtIndex(j)
					}
					if err := fn(record.Source{File: file, Line: line}, c); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		for _, r := range results {
			if err := g.Subject(r); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := g.Close(context.Background(), testStats(1)); err != nil {
			b.Fatal(err)
		}
	}
	rows := 100_000 / len(accepted) * len(accepted)
	b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(b.N*rows*accepted[0].Len())/b.Elapsed().Seconds(), "cells/s")
}

// rowAtIndex is the line of the j-th accepted test row.
func rowAtIndex(j int) int64 {
	for _, r := range testRows {
		if r.rejected {
			continue
		}
		if j == 0 {
			return r.line
		}
		j--
	}
	return -1
}
