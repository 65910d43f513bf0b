package acceptance_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/report"
)

// decision is one expected determination, identified by subject and CNT_ORDER.
type decision struct {
	subject, cnt string
	section      string // Prop 64 section, e.g. "11358"
	date         string // conviction date, YYYY-MM-DD
	det          eligibility.Determination
	reason       string
	rule         string
	cases        string // Case Number
	// extra are further Prop64_Results.csv columns worth pinning for this row.
	extra map[string]string
}

func dismiss(subject, cnt, section, date, reason, rule, cases string, extra map[string]string) decision {
	return decision{subject, cnt, section, date, eligibility.Dismiss, reason, rule, cases, extra}
}

// Reasons and rule ids of the dismiss/reduce lists of options.json.
func dismissSection(s string) (string, string) {
	return fmt.Sprintf("Dismiss all HS %s convictions", s), eligibility.RuleDismissSection
}

func reduceSection(s string) (string, string) {
	return fmt.Sprintf("Reduce all HS %s convictions", s), eligibility.RuleReduceSection
}

const (
	misd   = eligibility.ReasonMisdemeanor
	over57 = "57 years or older"
	ago10  = "Conviction occurred 10 or more years ago"
)

// caseADecisions is gogen-behaviour.md §6.1 A's table on testdata/acceptance/case-a.csv
// (the README maps its people to the table's).
func caseADecisions() []decision {
	r57, rule57 := dismissSection("11357")
	r58, rule58 := dismissSection("11358")
	r59, rrule59 := reduceSection("11359")
	return []decision{
		dismiss("40129001", "001002003000", "11358", "1981-04-11", r58, rule58, "NULL  ; 4410207; 4410208",
			map[string]string{"Deceased": "Deceased", "# of convictions on record": "2"}),
		dismiss("40129017", "002002001000", "11357", "1979-06-01", r57, rule57, "4410311",
			map[string]string{"PC290 Registration": "Yes"}),
		dismiss("40129017", "003002001000", "11359", "1985-11-01", over57, eligibility.RuleAgeThreshold, "4410540; 4410541",
			map[string]string{"PC290 Registration": "Yes"}),
		dismiss("40129023", "001002001000", "11358", "1981-04-11", r58, rule58, "4410622",
			map[string]string{"# of convictions on record": "4", "# of HS 11358 convictions": "3"}),
		dismiss("40129023", "004002001000", "11359", "1983-04-11", over57, eligibility.RuleAgeThreshold, "4410790; 4410791", nil),
		dismiss("40129031", "001002002000", "11359", "2004-04-11", ago10, eligibility.RuleYearsSinceConviction, "04F01562; 04F01563",
			map[string]string{"PC290 Code Section(s)": "266 PC;314(1) PC"}),
		dismiss("40129031", "001002004000", "11358", "2004-04-11", misd, eligibility.RuleMisdemeanor, "04F01562; 04F01563",
			map[string]string{"Occurred after 11/9/2016": "N"}),
		dismiss("40129048", "001002001000", "11358", "1998-05-04", r58, rule58, "98F03317",
			map[string]string{"Superstrike Code Section(s)": "220 PC"}),
		dismiss("40129048", "003002001000", "11357", "2015-05-19", misd, eligibility.RuleMisdemeanor, "", nil),
		{"40129048", "004002001000", "11359", "2015-10-31", eligibility.Reduce, r59, rrule59, "", nil},
		dismiss("40129052", "002002001000", "11359", "2010-03-05", eligibility.ReasonOnlyProp64, eligibility.RuleOnlyProp64, "10F00718", nil),
		dismiss("40129052", "003002001000", "11359", "2014-05-12", misd, eligibility.RuleMisdemeanor, "14M02944", nil),
		dismiss("40129066", "001002001000", "11358", "1991-04-11", r58, rule58, "91F01120; 91F01121",
			map[string]string{"Superstrike Code Section(s)": "187 PC"}),
		dismiss("40129070", "001002001000", "11358", "2008-04-10", r58, rule58, "", nil),
		dismiss("40129085", "003002001000", "11359", "2015-02-14", eligibility.ReasonDeceased, eligibility.RuleDeceased, "",
			map[string]string{"# of convictions on record": "2", "Years Since Any Conviction": "3.7", "Deceased": "Deceased"}),
		dismiss("40129094", "001002001000", "11359", "1994-09-12", eligibility.ReasonUnder21, eligibility.RuleUnder21, "94J00871", nil),
		dismiss("40129105", "001002001000", "11357", "2012-07-03", r57, rule57, "12F02291", nil),
		dismiss("40129124", "001002001000", "11358", "2017-02-14", r58, rule58, "17F00409",
			map[string]string{"Occurred after 11/9/2016": "Y"}),
	}
}

// caseDDecisions are §6.1 D's notable facts (and the rest of the fixture's decisions).
func caseDDecisions() []decision {
	r57, rule57 := dismissSection("11357")
	r58, rule58 := dismissSection("11358")
	r60, rrule60 := reduceSection("11360")
	return []decision{
		// The DISMISSED court row's OFN is this conviction's case number.
		dismiss("52270014", "002002002000", "11358", "2014-02-11", r58, rule58, "13F04471", nil),
		dismiss("52270029", "001002001000", "11359", "2010-06-01", eligibility.ReasonUnder21, eligibility.RuleUnder21, "10F02877", nil),
		{"52270029", "003002001000", "11360", "2016-03-03", eligibility.Reduce, r60, rrule60, "16F00933", nil},
		dismiss("52270033", "001002001000", "11359", "1991-08-20", ago10, eligibility.RuleYearsSinceConviction, "91F03302", nil),
		dismiss("52270048", "001002001000", "11357", "1987-03-09", r57, rule57, "87F00991",
			map[string]string{"Deceased": "Deceased"}),
		// Lower-case 11357(b).
		dismiss("52270048", "002002001000", "11357", "1988-04-12", r57, rule57, "88F01204", nil),
		dismiss("52270048", "003002001000", "11359", "1999-05-05", over57, eligibility.RuleAgeThreshold, "99F02210", nil),
		dismiss("52270052", "002002001000", "11360", "2005-07-19", ago10, eligibility.RuleYearsSinceConviction, "05F02456",
			map[string]string{"Superstrike Code Section(s)": "288(A) PC", "PC290 Code Section(s)": "-"}),
		dismiss("52270052", "003002001000", "11358", "2017-03-12", misd, eligibility.RuleMisdemeanor, "17M00802",
			map[string]string{"Occurred after 11/9/2016": "Y"}),
		dismiss("52270071", "001002001000", "11360", "2011-02-02", eligibility.ReasonOnlyProp64, eligibility.RuleOnlyProp64, "11F00210; 11M00211", nil),
		dismiss("52270071", "001002002000", "11357", "2011-02-02", misd, eligibility.RuleMisdemeanor, "11F00210; 11M00211", nil),
	}
}

// TestCaseA_Determinations asserts §6.1 A's determinations, reasons and case numbers in
// both output formats: Prop64_Results.csv (gogen) and decisions.csv (native).
func TestCaseA_Determinations(t *testing.T) { checkDeterminations(t, caseA, caseADecisions()) }

// TestCaseD_Determinations does the same for §6.1 D.
func TestCaseD_Determinations(t *testing.T) { checkDeterminations(t, caseD, caseDDecisions()) }

func checkDeterminations(t *testing.T, c gogenCase, want []decision) {
	r := run{
		files:     []string{filepath.Join(fixtures, c.input)},
		county:    c.county,
		computeAt: computeAt,
		options:   filepath.Join(fixtures, "options.json"),
	}
	t.Run("gogen", func(t *testing.T) {
		r := r
		r.format = pipeline.FormatGogen
		p64 := readTable(t, filepath.Join(runPipeline(t, r), "Prop64_Results.csv"))
		subj, cnt := p64.col(t, "SUBJECT_ID"), p64.col(t, "CNT_ORDER")
		got := make(map[string][]string, len(p64.rows))
		for _, row := range p64.rows {
			got[row[subj]+"/"+row[cnt]] = row
		}
		if len(got) != len(want) {
			t.Errorf("Prop64_Results.csv has %d convictions, want %d", len(got), len(want))
		}
		for _, w := range want {
			row, ok := got[w.subject+"/"+w.cnt]
			if !ok {
				t.Errorf("subject %s count %s: not in Prop64_Results.csv", w.subject, w.cnt)
				continue
			}
			cols := map[string]string{
				"Eligibility Determination":             w.det.GogenString(),
				"Eligibility Reason":                    w.reason,
				"Case Number":                           w.cases,
				"Date of Conviction":                    w.date[5:7] + "/" + w.date[8:10] + "/" + w.date[:4],
				"# of HS " + w.section + " convictions": nonZero,
			}
			for k, v := range w.extra {
				cols[k] = v
			}
			for name, v := range cols {
				g := row[p64.col(t, name)]
				if v == nonZero {
					if g == "" || g == "0" {
						t.Errorf("subject %s count %s: %q = %q, want at least 1", w.subject, w.cnt, name, g)
					}
					continue
				}
				if g != v {
					t.Errorf("subject %s count %s: %q = %q, want %q", w.subject, w.cnt, name, g, v)
				}
			}
		}
	})
	t.Run("native", func(t *testing.T) {
		r := r
		r.format = pipeline.FormatNative
		dec := readTable(t, filepath.Join(runPipeline(t, r), report.DecisionsCSV))
		subj, cnt := dec.col(t, "subject_id"), dec.col(t, "cnt_order")
		got := make(map[string][]string, len(dec.rows))
		for _, row := range dec.rows {
			got[row[subj]+"/"+row[cnt]] = row
		}
		if len(got) != len(dec.rows) || len(got) != len(want) {
			t.Errorf("decisions.csv has %d rows (%d distinct convictions), want %d", len(dec.rows), len(got), len(want))
		}
		for _, w := range want {
			row, ok := got[w.subject+"/"+w.cnt]
			if !ok {
				t.Errorf("subject %s count %s: not in decisions.csv", w.subject, w.cnt)
				continue
			}
			cols := map[string]string{
				"determination":   w.det.String(),
				"reason":          w.reason,
				"rule_id":         w.rule,
				"case_numbers":    w.cases,
				"prop64_section":  w.section,
				"conviction_date": w.date,
				"county":          c.county,
				"policy":          "options",
				"compute_at":      computeAt,
			}
			for name, v := range cols {
				if g := row[dec.col(t, name)]; g != v {
					t.Errorf("subject %s count %s: %s = %q, want %q", w.subject, w.cnt, name, g, v)
				}
			}
		}
	})
}

// nonZero marks an expected cell that must hold a positive count.
const nonZero = "\x00nonzero"
