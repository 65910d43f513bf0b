package synth

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/record"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr []string // substrings of the error; nil = valid
	}{
		{"statewide", Config{Rows: 1}, nil},
		{"one county", Config{Rows: 10, County: "SAN LUIS OBISPO"}, nil},
		{"zero rows", Config{Rows: 0}, []string{"rows must be greater than 0"}},
		{"negative rows", Config{Rows: -5}, []string{"got -5"}},
		{"lower case county", Config{Rows: 1, County: "Los Angeles"}, []string{`unknown county "Los Angeles"`, `did you mean "LOS ANGELES"`}},
		{"extra spaces", Config{Rows: 1, County: " SAN  DIEGO "}, []string{`did you mean "SAN DIEGO"`}},
		{"no such county", Config{Rows: 1, County: "NARNIA"}, []string{"upper case", "ALAMEDA, ALPINE", "YOLO, YUBA"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
		})
	}
	if _, err := Generate(context.Background(), io.Discard, Config{Rows: 0}); err == nil {
		t.Error("Generate accepted an invalid config")
	}
}

func TestCounties(t *testing.T) {
	cs := record.Counties()
	if len(cs) != 58 {
		t.Fatalf("len(record.Counties()) = %d, want 58", len(cs))
	}
	seen := map[string]bool{}
	largest := cs[0]
	for i, c := range cs {
		if c.Name != strings.ToUpper(c.Name) || seen[c.Name] {
			t.Errorf("county %q is not upper case or repeated", c.Name)
		}
		seen[c.Name] = true
		if i > 0 && cs[i-1].Name >= c.Name {
			t.Errorf("counties not in alphabetical order at %q", c.Name)
		}
		if c.Population <= 0 {
			t.Errorf("%s population %d", c.Name, c.Population)
		}
		if c.Population > largest.Population {
			largest = c
		}
	}
	if largest.Name != "LOS ANGELES" {
		t.Errorf("largest county %s, want LOS ANGELES", largest.Name)
	}
	if cs[0].Code != "01" || cs[57].Code != "58" || cs[57].Name != "YUBA" {
		t.Errorf("codes: first %+v last %+v", cs[0], cs[57])
	}
	cs[0].Name = "CHANGED"
	if record.Counties()[0].Name != "ALAMEDA" {
		t.Error("record.Counties() shares its backing array with callers")
	}
}

// generateBytes runs Generate and returns the output.
func generateBytes(t *testing.T, c Config) ([]byte, Stats) {
	t.Helper()
	return generateLimits(t, c, defaultShuffleLimits())
}

func generateLimits(t *testing.T, c Config, l shuffleLimits) ([]byte, Stats) {
	t.Helper()
	if c.Shuffle && c.TempDir == "" {
		c.TempDir = t.TempDir()
	}
	var buf bytes.Buffer
	st, err := generate(context.Background(), &buf, c, l)
	if err != nil {
		t.Fatalf("Generate(%+v): %v", c, err)
	}
	if st.Bytes != int64(buf.Len()) {
		t.Errorf("Stats.Bytes = %d, wrote %d", st.Bytes, buf.Len())
	}
	return buf.Bytes(), st
}

func TestDeterminism(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		c := Config{Seed: 42, Rows: 5000, Shuffle: shuffle, Header: true}
		a, sa := generateBytes(t, c)
		b, sb := generateBytes(t, c)
		if !bytes.Equal(a, b) {
			t.Errorf("shuffle=%v: same seed gave different output", shuffle)
		}
		if sa.Rows != sb.Rows || sa.Prop64Convictions != sb.Prop64Convictions {
			t.Errorf("shuffle=%v: same seed gave different stats %+v / %+v", shuffle, sa, sb)
		}
		c.Seed = 43
		d, _ := generateBytes(t, c)
		if bytes.Equal(a, d) {
			t.Errorf("shuffle=%v: seeds 42 and 43 gave identical output", shuffle)
		}
	}
}

// parsed is a generated file read back with encoding/csv.
type parsed struct {
	header []string
	rows   [][]string
}

func parse(t *testing.T, data []byte, header bool) parsed {
	t.Helper()
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = doj.NumColumns
	all, err := r.ReadAll()
	if err != nil {
		t.Fatalf("encoding/csv cannot read the output: %v", err)
	}
	var p parsed
	if header {
		p.header, all = all[0], all[1:]
	}
	p.rows = all
	return p
}

func TestRowsHonouredAndWellFormed(t *testing.T) {
	for _, target := range []int{1, 7, 1000, 25_000} {
		data, st := generateBytes(t, Config{Seed: int64(target), Rows: target, Header: true})
		p := parse(t, data, true)
		if !slices.Equal(p.header, doj.Header[:]) {
			t.Fatalf("header = %v", p.header)
		}
		if int64(len(p.rows)) != st.Rows {
			t.Fatalf("Stats.Rows = %d, file has %d", st.Rows, len(p.rows))
		}
		if len(p.rows) < target {
			t.Fatalf("rows = %d, want at least %d", len(p.rows), target)
		}
		// Overshoot is less than the last person's rows.
		last := p.rows[len(p.rows)-1][doj.ColSubjectID]
		lastRows := 0
		for _, r := range p.rows {
			if r[doj.ColSubjectID] == last {
				lastRows++
			}
		}
		if over := len(p.rows) - target; over >= lastRows {
			t.Errorf("target %d: overshoot %d, last person has %d rows", target, over, lastRows)
		}
		checkRows(t, p.rows)
		checkGrouped(t, p.rows, st.Subjects)
	}
}

// checkRows asserts the per-row invariants a reader relies on.
func checkRows(t *testing.T, rows [][]string) {
	t.Helper()
	lo, hi := record.MakeDate(1961, 1, 1), record.MakeDate(2020, 12, 31)
	seps := []int{doj.ColReqSegSep, doj.ColPiiSegSep, doj.ColPdrSegSep, doj.ColCycSegSep, doj.ColStpSegSep, doj.ColCntSegSep, doj.ColSentSegSep}
	for i, r := range rows {
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("row %d (%s): "+format, append([]any{i + 1, strings.Join(r, ",")}, args...)...)
		}
		for _, c := range seps {
			if r[c] != "#" {
				fail("column %s = %q, want #", doj.Header[c], r[c])
			}
		}
		if len(r[doj.ColSubjectID]) != 9 {
			fail("SUBJECT_ID %q is not 9 digits", r[doj.ColSubjectID])
		}
		if !strings.Contains(r[doj.ColPriName], ",") {
			fail("PRI_NAME %q is not LAST,FIRST", r[doj.ColPriName])
		}
		dob, ok := record.ParseYYYYMMDD(r[doj.ColPriDOB])
		if !ok {
			fail("bad DOB")
		}
		event, ok := record.ParseYYYYMMDD(r[doj.ColStpEventDate])
		if !ok || event < lo || event > hi {
			fail("STP_EVENT_DATE %q outside 1961-2020", r[doj.ColStpEventDate])
		}
		if _, ok := record.ParseYYYYMMDD(r[doj.ColCycDate]); !ok {
			fail("bad CYC_DATE")
		}
		co := r[doj.ColCntOrder]
		if len(co) != 12 || co[:3] != r[doj.ColCycOrder] || co[3:6] != r[doj.ColStpOrder] || co[9:] != "000" {
			fail("CNT_ORDER %q does not match cycle %q and step %q", co, r[doj.ColCycOrder], r[doj.ColStpOrder])
		}
		if strings.HasPrefix(r[doj.ColDispDescr], "CONVICTED") {
			if r[doj.ColStpTypeDescr] != record.StepCourtAction {
				fail("conviction on a %s step", r[doj.ColStpTypeDescr])
			}
			age := record.YearsBetween(dob, event)
			if age < minAge || age > maxAge {
				fail("conviction at age %d", age)
			}
			switch r[doj.ColConvStatDescr] {
			case "FELONY":
				if r[doj.ColOffenseToc] != "F" {
					fail("felony with OFFENSE_TOC %q", r[doj.ColOffenseToc])
				}
			case "MISDEMEANOR", "INFRACTION":
			default:
				fail("CONV_STAT_DESCR %q", r[doj.ColConvStatDescr])
			}
			if r[doj.ColSentLocDescr] == "" {
				fail("conviction without a sentence")
			}
		}
		if r[doj.ColStpTypeDescr] == "ARREST/DETAINED/CITED" && r[doj.ColOFN] != "" {
			fail("OFN on an arrest row")
		}
	}
}

// checkGrouped asserts that rows are grouped by subject in increasing SUBJECT_ID.
func checkGrouped(t *testing.T, rows [][]string, subjects int64) {
	t.Helper()
	groups := int64(0)
	prev := ""
	for i, r := range rows {
		id := r[doj.ColSubjectID]
		if id == prev {
			continue
		}
		if id < prev {
			t.Fatalf("row %d: SUBJECT_ID %s after %s", i+1, id, prev)
		}
		groups++
		prev = id
	}
	if groups != subjects {
		t.Errorf("%d subject groups, Stats.Subjects = %d", groups, subjects)
	}
}

func sortedLines(data []byte) []string {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(lines)
	return lines
}

// adjacentSameSubject is the share of neighbouring rows with the same SUBJECT_ID.
func adjacentSameSubject(t *testing.T, rows [][]string) float64 {
	same := 0
	for i := 1; i < len(rows); i++ {
		if rows[i][doj.ColSubjectID] == rows[i-1][doj.ColSubjectID] {
			same++
		}
	}
	return float64(same) / float64(len(rows)-1)
}

func TestShuffleIsAPermutation(t *testing.T) {
	tiny := shuffleLimits{targetBytes: 64 << 10, maxBytes: 128 << 10, maxBuckets: 4, rowBytes: 8}
	for _, tt := range []struct {
		name   string
		limits shuffleLimits
	}{
		{"default limits", defaultShuffleLimits()},
		// Under-estimated rows and tiny buckets force oversized buckets to be split,
		// recursively.
		{"forced splits", tiny},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tmp := t.TempDir()
			base := Config{Seed: 7, Rows: 20_000, Header: true}
			grouped, gs := generateBytes(t, base)
			sc := base
			sc.Shuffle, sc.TempDir = true, tmp
			shuffled, ss := generateLimits(t, sc, tt.limits)

			if gs.Rows != ss.Rows || gs.Subjects != ss.Subjects || gs.Prop64Convictions != ss.Prop64Convictions {
				t.Errorf("stats differ: grouped %+v, shuffled %+v", gs, ss)
			}
			hdr := len(headerLine())
			if !bytes.Equal(grouped[:hdr], shuffled[:hdr]) {
				t.Fatal("shuffled output does not start with the header")
			}
			if !slices.Equal(sortedLines(grouped[hdr:]), sortedLines(shuffled[hdr:])) {
				t.Fatal("shuffled rows are not a permutation of the grouped rows")
			}
			if bytes.Equal(grouped, shuffled) {
				t.Fatal("shuffle left the rows in order")
			}
			g, s := adjacentSameSubject(t, parse(t, grouped, true).rows), adjacentSameSubject(t, parse(t, shuffled, true).rows)
			if g < 0.8 || s > 0.01 {
				t.Errorf("neighbours with the same subject: grouped %.3f, shuffled %.3f", g, s)
			}
			left, err := os.ReadDir(tmp)
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

func TestSingleCounty(t *testing.T) {
	const county = "YOLO"
	data, st := generateBytes(t, Config{Seed: 3, Rows: 20_000, County: county})
	p := parse(t, data, false)
	elsewhere := 0
	prev := ""
	for _, r := range p.rows {
		id := r[doj.ColSubjectID]
		if id != prev && r[doj.ColStpOriCntyName] != county {
			t.Fatalf("subject %s starts in %s, want home county %s", id, r[doj.ColStpOriCntyName], county)
		}
		if r[doj.ColStpOriCntyName] != county {
			elsewhere++
		}
		prev = id
	}
	for _, c := range st.Counties {
		if c.Name == county && c.Subjects != st.Subjects || c.Name != county && c.Subjects != 0 {
			t.Errorf("county %s has %d home subjects of %d", c.Name, c.Subjects, st.Subjects)
		}
	}
	// About 10% of cycles after the first happen elsewhere, as in a real extract.
	if share := float64(elsewhere) / float64(len(p.rows)); share < 0.02 || share > 0.15 {
		t.Errorf("share of rows outside %s = %.3f", county, share)
	}
}

func TestStatewide(t *testing.T) {
	data, st := generateBytes(t, Config{Seed: 5, Rows: 60_000})
	p := parse(t, data, false)
	firstCounty := map[string]int{}
	prev := ""
	for _, r := range p.rows {
		if id := r[doj.ColSubjectID]; id != prev {
			firstCounty[r[doj.ColStpOriCntyName]]++
			prev = id
		}
	}
	if len(firstCounty) < 40 {
		t.Errorf("people live in %d counties, want at least 40", len(firstCounty))
	}
	biggest, n := "", 0
	for c, k := range firstCounty {
		if k > n {
			biggest, n = c, k
		}
	}
	if biggest != "LOS ANGELES" {
		t.Errorf("most people live in %s, want LOS ANGELES", biggest)
	}
	// LA holds about a quarter of Californians.
	if share := float64(n) / float64(st.Subjects); share < 0.2 || share > 0.32 {
		t.Errorf("LOS ANGELES share %.3f", share)
	}
	var sum int64
	for _, c := range st.Counties {
		sum += c.Subjects
		if int64(firstCounty[c.Name]) != c.Subjects {
			t.Errorf("%s: Stats says %d home subjects, file says %d", c.Name, c.Subjects, firstCounty[c.Name])
		}
	}
	if sum != st.Subjects {
		t.Errorf("county subjects sum to %d, want %d", sum, st.Subjects)
	}
}

// isProp64 reports whether a row's charge is H&S 11357-11360 (11357.5 excluded),
// reading the charge from COMMENT_TEXT when OFFENSE_DESCR points there.
func isProp64(r []string) bool {
	s := r[doj.ColOffenseDescr]
	if s == seeComment {
		s = r[doj.ColCommentText]
	}
	s, _, _ = strings.Cut(s, "-")
	if strings.Contains(s, "11357.5") {
		return false
	}
	for _, sec := range []string{"11357", "11358", "11359", "11360"} {
		if strings.Contains(s, sec) {
			return true
		}
	}
	return false
}

func TestPopulationLooksLikeAnExtract(t *testing.T) {
	data, st := generateBytes(t, Config{Seed: 11, Rows: 300_000})
	p := parse(t, data, false)

	type key struct{ subject, cnt string }
	convictions := map[key]bool{}
	prop64People := map[string]bool{}
	var felonyBefore, convBefore, after2016, before1975, viaComment, synthetic, deceased, registered, twoPartSentences int
	prevKey := key{}
	p64Cut := record.MakeDate(2016, 11, 9)
	for _, r := range p.rows {
		event, _ := record.ParseYYYYMMDD(r[doj.ColStpEventDate])
		if event < record.MakeDate(1975, 1, 1) {
			before1975++
		}
		switch r[doj.ColStpTypeDescr] {
		case record.StepDeceased:
			deceased++
		case record.StepRegistration:
			if strings.HasPrefix(r[doj.ColOffenseDescr], "290") {
				registered++
			}
		}
		if strings.HasPrefix(r[doj.ColOffenseDescr], "11357.5") {
			synthetic++
		}
		if !strings.HasPrefix(r[doj.ColDispDescr], "CONVICTED") {
			continue
		}
		k := key{r[doj.ColSubjectID], r[doj.ColCntOrder]}
		if k == prevKey {
			twoPartSentences++
		}
		prevKey = k
		if !isProp64(r) || convictions[k] {
			continue
		}
		convictions[k] = true
		prop64People[k.subject] = true
		if r[doj.ColOffenseDescr] == seeComment {
			viaComment++
		}
		if event < p64Cut {
			convBefore++
			if r[doj.ColConvStatDescr] == "FELONY" {
				felonyBefore++
			}
		} else {
			after2016++
		}
	}

	if int64(len(convictions)) != st.Prop64Convictions || int64(len(prop64People)) != st.Prop64Subjects {
		t.Errorf("file has %d Prop 64 convictions of %d people; Stats says %d of %d",
			len(convictions), len(prop64People), st.Prop64Convictions, st.Prop64Subjects)
	}
	if int64(deceased) != st.Deceased || int64(registered) != st.Registered {
		t.Errorf("file has %d deceased / %d registered; Stats says %d / %d", deceased, registered, st.Deceased, st.Registered)
	}
	people := float64(st.Subjects)
	rows := float64(st.Rows)
	checks := []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"share of people with a Prop 64 conviction", float64(len(prop64People)) / people, 0.08, 0.12},
		{"felony share of Prop 64 convictions before 2016-11-09", float64(felonyBefore) / float64(convBefore), 0.5, 0.7},
		{"share of Prop 64 convictions after 2016-11-09", float64(after2016) / float64(len(convictions)), 0.005, 0.2},
		{"share of Prop 64 convictions carried in the comment", float64(viaComment) / float64(len(convictions)), 0.015, 0.045},
		{"share of people deceased", float64(deceased) / people, 0.006, 0.014},
		{"share of people registered under PC 290", float64(registered) / people, 0.006, 0.014},
		{"share of rows before 1975", float64(before1975) / rows, 0.002, 0.1},
		{"rows per person", rows / people, 8, 15},
		{"bytes per row", float64(st.Bytes) / rows, 380, 520},
		{"11357.5 rows", float64(synthetic), 1, rows},
		{"second sentence rows", float64(twoPartSentences), 1, rows},
	}
	for _, c := range checks {
		t.Logf("%s: %.4f", c.what, c.got)
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s = %.4f, want %.3f..%.3f", c.what, c.got, c.lo, c.hi)
		}
	}
}

// TestVocabularyIsCSVSafe guards the unquoted fast path of the row writer.
func TestVocabularyIsCSVSafe(t *testing.T) {
	var all []string
	for _, list := range [][]string{hispanicSurnames, generalSurnames, asianSurnames, maleGivenNames, femaleGivenNames} {
		all = append(all, list...)
	}
	for _, r := range races {
		all = append(all, r.code, r.descr)
	}
	for _, list := range [][]codeDescr{eyeColors, hairColors} {
		for _, c := range list {
			all = append(all, c.code, c.descr)
		}
	}
	for _, list := range placesOfBirth {
		for _, p := range list {
			all = append(all, p.code, p.name, p.kind, p.citizenship)
		}
	}
	for _, list := range [][]*offence{prop64Offences, otherOffences, violentOffences, pc290Offences, {registration}} {
		for _, o := range list {
			all = append(all, o.descr, o.descrNew, o.code, o.toc)
			if !strings.Contains(o.descr, "-") {
				t.Errorf("offence %q has no '-' between section and text", o.descr)
			}
		}
	}
	for _, list := range [][]outcome{nonConvictions, arrestOnlyOutcomes} {
		for _, o := range list {
			all = append(all, o.code, o.descr)
		}
	}
	for _, c := range record.Counties() {
		all = append(all, c.Name, c.Code)
	}
	for _, s := range all {
		if strings.ContainsAny(s, ",\"\r\n") {
			t.Errorf("%q needs quoting but is written unquoted", s)
		}
	}
}

func TestAppendField(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"PROB MODIFIED", "PROB MODIFIED"},
		{"A, B", `"A, B"`},
		{`SAID "NO"`, `"SAID ""NO"""`},
	}
	for _, tt := range tests {
		if got := string(appendField(nil, tt.in)); got != tt.want {
			t.Errorf("appendField(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCancelled(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		tmp := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Generate(ctx, io.Discard, Config{Rows: 1_000_000, Shuffle: shuffle, TempDir: tmp})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("shuffle=%v: err = %v, want context.Canceled", shuffle, err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("shuffle=%v: temporary files left behind: %v", shuffle, left)
		}
	}
}

type failingWriter struct{ after int }

var errDiskFull = errors.New("disk full")

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, errDiskFull
	}
	f.after--
	return len(p), nil
}

func TestWriteErrorsSurface(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		_, err := Generate(context.Background(), &failingWriter{after: 1}, Config{Rows: 20_000, Shuffle: shuffle, TempDir: t.TempDir()})
		if !errors.Is(err, errDiskFull) {
			t.Errorf("shuffle=%v: err = %v, want the writer's error", shuffle, err)
		}
	}
}
