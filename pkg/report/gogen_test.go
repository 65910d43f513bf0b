package report

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return recs
}

// wantEligibility are the 18 gogen cells of every accepted row of testRows, by line.
var wantEligibility = map[int64][]string{
	2: {"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	3: {"398765; 678544", "3", "", "N", "220 PC", "266 PC;314(1) PC", "Yes", "06/01/1979", "40.4", "34.0", "2", "1", "0", "1", "0", "-", "Eligible for Dismissal", "Dismiss all HS 11357 convictions"},
	4: {"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	5: {"NULL  ; 140192; 140193", "2", "", "N", "-", "-", "-", "04/11/1981", "38.6", "36.6", "2", "0", "2", "0", "0", "Deceased", "Eligible for Dismissal", "Dismiss all HS 11358 convictions"},
	6: {"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	7: {"398765; 678544", "3", "", "N", "220 PC", "266 PC;314(1) PC", "Yes", "11/01/1985", "34.0", "34.0", "2", "1", "0", "1", "0", "-", "Eligible for Dismissal", "57 years or older"},
	// A duplicate CNT_ORDER row is no conviction: only the comment column.
	8: {"", "", "11357(A) HS-SAME COUNT", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	// Other county: not evaluated, but the comment names another Prop 64 section.
	9:  {"", "", "11359 HS-OTHER CANNABIS", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	10: {"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
	12: {"", "2", "", "Y", "-", "-", "-", "02/14/2017", "2.7", "2.7", "2", "0", "0", "1", "1", "-", "Eligible for Reduction", "Reduce all HS 11359 convictions"},
	// Invalid conviction date: empty date (gogen printed 01/01/0001), gogen's -1.0.
	13: {"", "2", "", "N", "-", "-", "-", "", "-1.0", "2.7", "2", "0", "0", "1", "1", "-", "Hand Review", "Record has quarantined rows"},
	14: {"", "1", "", "N", "-", "-", "-", "05/12/2014", "5.5", "5.5", "1", "1", "0", "0", "0", "-", "Eligible for Dismissal", "Misdemeanor or Infraction"},
	15: {"", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", ""},
}

var evaluatedLines = []int64{3, 5, 7, 12, 13, 14}

func TestGogenCSVs(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGogen(dir, testInfo("in.csv"), rowSource(testRows))
	if err != nil {
		t.Fatal(err)
	}
	if err := runOutput(g, []string{"in.csv"}); err != nil {
		t.Fatal(err)
	}

	var accepted []row
	for _, r := range testRows {
		if !r.rejected {
			accepted = append(accepted, r)
		}
	}

	all := readCSV(t, filepath.Join(dir, "All_Results.csv"))
	wantHeader := append(append([]string{}, doj.Header[:]...), EligibilityHeader[:]...)
	if !reflect.DeepEqual(all[0], wantHeader) {
		t.Errorf("All_Results header = %q", all[0])
	}
	if len(all) != 1+len(accepted) {
		t.Fatalf("All_Results has %d rows, want header + %d", len(all), len(accepted))
	}
	for i, r := range accepted {
		got := all[i+1]
		if !reflect.DeepEqual(got[:doj.NumColumns], r.cells()) {
			t.Errorf("line %d: input cells not verbatim:\n got %q\nwant %q", r.line, got[:doj.NumColumns], r.cells())
		}
		if want := wantEligibility[r.line]; !reflect.DeepEqual(got[doj.NumColumns:], want) {
			t.Errorf("line %d: eligibility cells\n got %q\nwant %q", r.line, got[doj.NumColumns:], want)
		}
	}

	cond := readCSV(t, filepath.Join(dir, "All_Results_Condensed.csv"))
	wantCondHeader := []string{"CII_NUMBER", "PRI_NAME", "GENDER", "PRI_DOB", "RACE_DESCR", "CYC_DATE",
		"STP_EVENT_DATE", "STP_ORI_DESCR", "STP_ORI_CNTY_NAME", "DISP_DATE", "OFN", "OFFENSE_DESCR",
		"DISP_DESCR", "CONV_STAT_DESCR", "SENT_LOC_DESCR", "SENT_LENGTH", "SENT_TIME_CODE", "CYC_AGE",
		"COMMENT_TEXT", "END_OF_REC"}
	if !reflect.DeepEqual(cond[0], append(wantCondHeader, EligibilityHeader[:]...)) {
		t.Errorf("condensed header = %q", cond[0])
	}
	if len(cond) != len(all) {
		t.Fatalf("condensed has %d rows, want %d", len(cond), len(all))
	}
	jane := cond[4] // line 5
	wantJane := []string{"CIIS1", "DOE,JANE", "", "19600314", "", "x       ", "19810411", "CASCSACRAMENTO",
		"SACRAMENTO", "19810411", "140193", "11358 HS-CULTIVATE CANNABIS", "CONVICTED-PROBATION", "FELONY",
		"", "6", "M", "", "", "#"}
	if !reflect.DeepEqual(jane, append(wantJane, wantEligibility[5]...)) {
		t.Errorf("condensed line 5 = %q", jane)
	}

	p64 := readCSV(t, filepath.Join(dir, "Prop64_Results.csv"))
	if len(p64) != 1+len(evaluatedLines) {
		t.Fatalf("Prop64_Results has %d rows, want header + %d", len(p64), len(evaluatedLines))
	}
	for i, line := range evaluatedLines {
		got := p64[i+1]
		if got[doj.ColRecordID] != rowAt(testRows, line).cells()[doj.ColRecordID] || !reflect.DeepEqual(got[doj.NumColumns:], wantEligibility[line]) {
			t.Errorf("Prop64_Results row %d = %q, want line %d", i+1, got, line)
		}
	}

	// Quoting as Go's csv.Writer: commas, quotes and a leading space quote a field; LF ends.
	raw, err := os.ReadFile(filepath.Join(dir, "All_Results.csv"))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, want := range []string{`,"DOE,JANE",`, `,"  -  ",`, `"11359 HS-SELL, ""POSSESS"" FOR SALE"`, `,NULL  ; 140192; 140193,`} {
		if !strings.Contains(text, want) {
			t.Errorf("All_Results.csv lacks %s", want)
		}
	}
	if strings.Contains(text, "\r") || !strings.HasSuffix(text, "\n") {
		t.Error("All_Results.csv must use LF line ends")
	}
	if !strings.HasPrefix(text, strings.Join(wantHeader, ",")+"\n") {
		t.Error("header line is not the plain comma-joined names")
	}
	assertNoPartials(t, dir)
}

func TestGogenMultipleFilesAreNumbered(t *testing.T) {
	dir := t.TempDir()
	files := []string{"a.csv", "b.csv"}
	g, err := NewGogen(dir, testInfo(files...), rowSource(testRows))
	if err != nil {
		t.Fatal(err)
	}
	if err := runOutput(g, files); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{
		"All_Results_1.csv", "All_Results_2.csv", "All_Results_Condensed_1.csv", "All_Results_Condensed_2.csv",
		"Prop64_Results_1.csv", "Prop64_Results_2.csv", "gogen.json",
	}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("files = %q, want %q", names, want)
	}
	for _, name := range []string{"Prop64_Results_1.csv", "Prop64_Results_2.csv"} {
		if n := len(readCSV(t, filepath.Join(dir, name))); n != 1+len(evaluatedLines) {
			t.Errorf("%s has %d rows", name, n)
		}
	}
	var doc map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, "gogen.json"))
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc["lineCount"] != float64(2*len(testRows)) || doc["subjectsWithProp64ConvictionCountInCounty"] != float64(8) {
		t.Errorf("two files must add up: %s", b)
	}
}

func TestGogenJSON(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGogen(dir, testInfo("in.csv"), rowSource(testRows))
	if err != nil {
		t.Fatal(err)
	}
	if err := runOutput(g, []string{"in.csv"}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "gogen.json"))
	if err != nil {
		t.Fatal(err)
	}
	// Field order, map key order and compact encoding are gogen's. Clear-record counts:
	// configured flow — S4 has no conviction left (and none in the 7 years before the
	// compute-at date), S3 no felony left; dismiss-all flow — S3 and S4 are cleared,
	// S1 and S2 keep out-of-scope convictions.
	want := `{"county":"SACRAMENTO","earliestConviction":"1979-06-01T00:00:00Z","lineCount":14,` +
		`"processingTimeInSeconds":2,` +
		`"reliefWithCurrentEligibilityChoices":{"CountSubjectsNoConviction":1,"CountSubjectsNoConvictionLast7Years":1,"CountSubjectsNoFelony":1},` +
		`"reliefWithDismissAllProp64":{"CountSubjectsNoConviction":2,"CountSubjectsNoConvictionLast7Years":2,"CountSubjectsNoFelony":1},` +
		`"prop64ConvictionsCountInCountyByCodeSection":{"11357":2,"11358":1,"11359":2,"11360":1},` +
		`"subjectsWithProp64ConvictionCountInCounty":4,"prop64FelonyConvictionsCountInCounty":4,` +
		`"prop64NonFelonyConvictionsCountInCounty":2,"subjectsWithSomeReliefCount":4,` +
		`"convictionDismissalCountByCodeSection":{"11357":1,"11358":1},` +
		`"convictionReductionCountByCodeSection":{"11359":1,"11360":0},` +
		`"convictionDismissalCountByAdditionalRelief":{"57 years or older":1}}`
	if string(got) != want {
		t.Errorf("gogen.json\n got %s\nwant %s", got, want)
	}
}

func TestGogenJSONWithoutConvictions(t *testing.T) {
	info := testInfo("in.csv")
	info.Policies = &eligibility.Policies{Default: &eligibility.Policy{Name: "none"}}
	s := NewSummary(info)
	s.Finish(RunStats{Files: []FileStats{{Rows: 3}}})
	got, err := s.GogenJSON()
	if err != nil {
		t.Fatal(err)
	}
	// No dated conviction: earliestConviction falls back to the compute-at date; empty
	// maps are {} as in gogen.
	want := `{"county":"SACRAMENTO","earliestConviction":"2019-11-11T00:00:00Z","lineCount":3,"processingTimeInSeconds":0,` +
		`"reliefWithCurrentEligibilityChoices":{"CountSubjectsNoConviction":0,"CountSubjectsNoConvictionLast7Years":0,"CountSubjectsNoFelony":0},` +
		`"reliefWithDismissAllProp64":{"CountSubjectsNoConviction":0,"CountSubjectsNoConvictionLast7Years":0,"CountSubjectsNoFelony":0},` +
		`"prop64ConvictionsCountInCountyByCodeSection":{},"subjectsWithProp64ConvictionCountInCounty":0,` +
		`"prop64FelonyConvictionsCountInCounty":0,"prop64NonFelonyConvictionsCountInCounty":0,"subjectsWithSomeReliefCount":0,` +
		`"convictionDismissalCountByCodeSection":{},"convictionReductionCountByCodeSection":{},"convictionDismissalCountByAdditionalRelief":{}}`
	if string(got) != want {
		t.Errorf("gogen.json\n got %s\nwant %s", got, want)
	}
}

func TestGogenMissingRowIsAnError(t *testing.T) {
	dir := t.TempDir()
	// The row source leaves out line 5, which carries a decision.
	var rows []row
	for _, r := range testRows {
		if r.line != 5 {
			rows = append(rows, r)
		}
	}
	g, err := NewGogen(dir, testInfo("in.csv"), rowSource(rows))
	if err != nil {
		t.Fatal(err)
	}
	err = runOutput(g, []string{"in.csv"})
	if err == nil || !strings.Contains(err.Error(), "1 evaluated rows were not found") {
		t.Fatalf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gogen.json")); !os.IsNotExist(err) {
		t.Error("gogen.json written for an inconsistent run")
	}
	if err := g.Subject(&eligibility.Result{Subject: &record.Subject{}}); err != errClosed {
		t.Errorf("Subject after Close = %v", err)
	}
}

func TestGogenRowSourceErrorLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	g, err := NewGogen(dir, testInfo("in.csv"), func(ctx context.Context, file int32, fn func(record.Source, record.Cells) error) error {
		return context.Canceled
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(context.Background(), testStats(1)); err == nil {
		t.Fatal("no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("left files behind: %v", entries)
	}
}

func TestYearsSinceAndDates(t *testing.T) {
	at := record.MakeDate(2020, 7, 1)
	for _, c := range []struct {
		d          record.Date
		years, mdy string
	}{
		{record.MakeDate(2010, 7, 1), "10.0", "07/01/2010"},
		{record.MakeDate(2020, 7, 1), "0.0", "07/01/2020"},
		{record.MakeDate(2021, 1, 1), "-0.5", "01/01/2021"},
		{record.MakeDate(1, 1, 1), "2019.5", "01/01/0001"},
		{record.NoDate, "-1.0", ""},
	} {
		if got := yearsSince(c.d, at); got != c.years {
			t.Errorf("yearsSince(%s) = %s, want %s", c.d, got, c.years)
		}
		if got := gogenDate(c.d); got != c.mdy {
			t.Errorf("gogenDate(%s) = %s, want %s", c.d, got, c.mdy)
		}
	}
}

func TestISODateMatchesRecord(t *testing.T) {
	for d := record.MakeDate(1, 1, 1); d < record.MakeDate(2100, 1, 1); d += 997 {
		if got, want := isoDate(d), d.String(); got != want {
			t.Fatalf("isoDate(%d) = %s, want %s", d, got, want)
		}
	}
	if isoDate(record.NoDate) != "" {
		t.Error("NoDate must format as empty")
	}
}

func assertNoPartials(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
		if fi, err := e.Info(); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", e.Name(), fi.Mode())
		}
	}
}
