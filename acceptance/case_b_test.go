package acceptance_test

import (
	"path/filepath"
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/report"
)

// TestCaseB_EndToEnd carries a few of gogen-behaviour.md §6.1 B's facts and §3.3's
// observed boundaries through CSV rows, the reader and the native output. pkg/eligibility
// tests the same facts on hand-built subjects; here the cells go through parsing too.
// T = 2020-07-01, county LOS ANGELES, options.json (dismiss 11357 and 11358, reduce 11359
// and 11360, under 21, 57, 10 years, deceased, only Prop 64). gogen 0.2.13 gives the same
// determination and reason on every row of this table.
func TestCaseB_EndToEnd(t *testing.T) {
	const county = "LOS ANGELES"
	tests := []struct {
		name          string
		dob, date     string // YYYYMMDD
		offense, conv string
		toc           string
		det           eligibility.Determination
		reason        string
	}{
		{"attempt glued on", "19800101", "19990504", "66411357(A) HS-ATTEMPT POSSESS", "FELONY", "F", eligibility.Dismiss, "Dismiss all HS 11357 convictions"},
		{"no code letters", "19800101", "19990504", "11357(A)-POSSESS", "FELONY", "F", eligibility.Dismiss, "Dismiss all HS 11357 convictions"},
		{"wrong code letters", "19800101", "19990504", "11357(A)PC-POSSESS", "FELONY", "F", eligibility.Dismiss, "Dismiss all HS 11357 convictions"},
		{"misdemeanour 11357(A)", "19800101", "19990504", "11357(A) HS-POSSESS", "MISDEMEANOR", "M", eligibility.Dismiss, eligibility.ReasonMisdemeanor},
		{"misdemeanour status beats TOC F", "19850101", "20150101", "11359 HS-POSSESS FOR SALE", "MISDEMEANOR", "F", eligibility.Dismiss, eligibility.ReasonMisdemeanor},
		{"felony text with a leading space is not FELONY", "19850101", "20150101", "11359 HS-POSSESS FOR SALE", " FELONY", "F", eligibility.Dismiss, eligibility.ReasonMisdemeanor},
		{"felony 11360", "19850101", "20150101", "11360(A) HS-TRANSPORT", "FELONY", "F", eligibility.Reduce, "Reduce all HS 11360 convictions"},
		{"57th birthday on compute-at", "19630701", "20150101", "11359 HS-POSSESS FOR SALE", "FELONY", "F", eligibility.Dismiss, "57 years or older"},
		{"57th birthday the day after", "19630702", "20150101", "11359 HS-POSSESS FOR SALE", "FELONY", "F", eligibility.Reduce, "Reduce all HS 11359 convictions"},
		{"convicted on the 21st birthday", "19900101", "20110101", "11359 HS-POSSESS FOR SALE", "FELONY", "F", eligibility.Reduce, "Reduce all HS 11359 convictions"},
		{"convicted the day before the 21st birthday", "19900101", "20101231", "11359 HS-POSSESS FOR SALE", "FELONY", "F", eligibility.Dismiss, eligibility.ReasonUnder21},
		{"convicted exactly 10 years before", "19750101", "20100701", "11359 HS-POSSESS FOR SALE", "FELONY", "F", eligibility.Dismiss, "Conviction occurred 10 or more years ago"},
		{"convicted a day under 10 years before", "19750101", "20100702", "11359 HS-POSSESS FOR SALE", "FELONY", "F", eligibility.Reduce, "Reduce all HS 11359 convictions"},
	}
	var rows []dojRow
	ids := make(map[string]int, len(tests))
	for i, tc := range tests {
		id := "B" + string(rune('A'+i))
		ids[id] = i
		rows = append(rows,
			dojRow{subject: id, name: "DOE,JANE", dob: tc.dob, date: tc.date, step: "COURT ACTION", county: county,
				cnt: "001002001000", offense: tc.offense, toc: tc.toc, disp: "CONVICTED-PROBATION", conv: tc.conv},
			// A burglary conviction keeps "Only has 11357-60 charges" from deciding first.
			dojRow{subject: id, name: "DOE,JANE", dob: tc.dob, date: "20000101", step: "COURT ACTION", county: county,
				cnt: "002002001000", offense: "459 PC-BURGLARY", toc: "F", disp: "CONVICTED-JAIL", conv: "FELONY"},
		)
	}
	out := runPipeline(t, run{
		files:     []string{writeDOJ(t, rows)},
		county:    county,
		computeAt: "2020-07-01",
		options:   filepath.Join(fixtures, "options.json"),
		format:    pipeline.FormatNative,
	})
	dec := readTable(t, filepath.Join(out, report.DecisionsCSV))
	subj, det, reason := dec.col(t, "subject_id"), dec.col(t, "determination"), dec.col(t, "reason")
	seen := make(map[string]bool)
	for _, row := range dec.rows {
		i, ok := ids[row[subj]]
		if !ok {
			t.Errorf("decision for unknown subject %q", row[subj])
			continue
		}
		if seen[row[subj]] {
			t.Errorf("%s: more than one decision", tests[i].name)
		}
		seen[row[subj]] = true
		if row[det] != tests[i].det.String() || row[reason] != tests[i].reason {
			t.Errorf("%s: got %s / %q, want %s / %q", tests[i].name, row[det], row[reason], tests[i].det, tests[i].reason)
		}
	}
	for id, i := range ids {
		if !seen[id] {
			t.Errorf("%s: no decision", tests[i].name)
		}
	}
}
