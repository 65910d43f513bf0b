package policy

import (
	"reflect"
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
)

const (
	court    = "COURT ACTION"
	arrest   = "ARREST/DETAINED/CITED"
	deceased = "DECEASED"
	register = "REGISTRATION"
	sac      = "SACRAMENTO"
	yolo     = "YOLO"
)

// caseARows are the rows of gogen-behaviour.md §6.1 A (the Sacramento fixture's shape:
// sections, dates, felony flags, counties, step types), with synthetic ids.
func caseARows() []doj {
	return []doj{
		{"A", "19600314", "19790525", arrest, sac, "101001001000", "140189", "503 VC-TAKE CAR W/OUT OWNERS CONSENT", "F", "REL/TOT OTHER JURIS/AUTH", "FELONY", "", ""},
		{"A", "19600314", "19790601", court, sac, "101001002000", "NULL  ", "503 VC-TAKE CAR W/OUT OWNERS CONSENT", "F", "CONVICTED-JAIL", "FELONY", "90D", ""},
		{"A", "19600314", "19810410", arrest, sac, "101001003000", "140190", "632 PC-SPYING ON CATS", "M", "", "MISDEMEANOR", "", ""},
		{"A", "19600314", "19810410", deceased, sac, "101001004000", "140191", "11358 HS-CULTIVATE CANNABIS", "F", "", "FELONY", "", ""},
		{"A", "19600314", "19810411", court, sac, "101001005000", "140192", "632 PC-SPYING ON CATS", "F", "DISMISSED/CHARGE DROPPED", "FELONY", "", ""},
		{"A", "19600314", "19810411", court, sac, "101001006000", "140193", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"B", "19620822", "19790525", arrest, sac, "101001007000", "987340", "503 VC-TAKE CAR W/OUT OWNERS CONSENT", "F", "REL/TOT OTHER JURIS/AUTH", "FELONY", "", ""},
		{"B", "19620822", "19790601", court, sac, "101001008000", "398765", "11357(C)HS-POSSESS MARIJUANA", "F", "CONVICTED-JAIL", "FELONY", "90D", ""},
		{"B", "19620822", "19790601", register, sac, "101001009000", "678544", "290 PC-REGISTRATION OF SEX OFFENDER", "", "", "", "", ""},
		{"B", "19620822", "19851101", court, sac, "101001010000", "398765", "11359(C) HS-CULTIVATE CANNABIS", "F", "CONVICTED-JAIL", "FELONY", "90D", ""},
		{"B", "19620822", "19851101", court, sac, "101001011000", "678544", "503 VC-TAKE CAR W/OUT OWNERS CONSENT", "F", "CONVICTED-JAIL", "FELONY", "10Y", ""},
		{"C", "19600314", "19810411", court, sac, "101001012000", "140194", "SEE COMMENT FOR CHARGE", "F", "CONVICTED-PROBATION", "FELONY", "6M", "11358 HS-CULTIVATE CANNABIS"},
		{"C", "19600314", "19810411", court, yolo, "101001013000", "140194", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "6M", "11359 HS-OTHER CANNABIS"},
		{"C", "19600314", "19810311", court, yolo, "101001014000", "140194", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"C", "19600314", "19830411", court, sac, "101001015000", "140194", "11359(C) HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"C", "19600314", "19830411", court, sac, "101001016000", "140195", "314(1) PC-INDECENT EXPOSURE", "F", "DISMISSED/CHARGE DROPPED", "FELONY", "6M", ""},
		{"D", "19700514", "20040411", court, sac, "101001015500", "140196", "266 PC-CRIME", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"D", "19700514", "20040411", court, sac, "101001017000", "140196", "11359 HS-MARIJUANA POSSESION FOR SALE", "", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"D", "19700514", "20040411", court, sac, "101001018000", "140197", "314(1) PC-INDECENT EXPOSURE", "F", "CONVICTED-PRISON", "FELONY", "6M", ""},
		{"D", "19700514", "20040411", court, sac, "101001019000", "140197", "11358 HS-CULTIVATE CANNABIS", "M", "CONVICTED-PROBATION", "MISDEMEANOR", "6M", ""},
		{"E", "19721127", "19980504", court, sac, "101001020000", "757392", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PRISON", "FELONY", "6M", ""},
		{"E", "19721127", "19980504", court, sac, "101001021000", "757392", "220 PC- COMMIT MAYHEM", "F", "CONVICTED-PRISON", "FELONY", "6M", ""},
		{"E", "19721127", "20150214", court, sac, "101001022000", "", "632 PC-SPYING ON CATS", "M", "CONVICTED-PROBATION", "MISDEMEANOR", "2M", ""},
		{"E", "19721127", "20150519", court, sac, "101001023000", "", "11357(C)HS-POSSESS MARIJUANA", "M", "CONVICTED-PROBATION", "MISDEMEANOR", "2M", ""},
		{"E", "19721127", "20151031", court, sac, "101001024000", "", "11359HS-INTENT SELL CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "2M", ""},
		{"F", "19690314", "20100305", court, sac, "101001025000", "140195", "11359 HS-MARIJUANA POSSESION FOR SALE", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"F", "19690314", "19910411", court, yolo, "101001026000", "222344", "11359 HS-MARIJUANA POSSESION FOR SALE", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"F", "19690314", "20140512", court, sac, "101001027000", "222344", "11359 HS-MARIJUANA POSSESION FOR SALE", "M", "CONVICTED-PROBATION", "MISDEMEANOR", "6M", ""},
		{"G", "19690514", "19910411", court, sac, "101001028000", "140196", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"G", "19690514", "19910411", court, sac, "101001029000", "140134", "187 PC-MURDER", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"H", "20060814", "20080410", court, sac, "101001030000", "", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "", "10Y", ""},
		{"I", "19831119", "20150214", court, sac, "101001031000", "", "11359 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "5Y", ""},
		{"I", "19831119", "20080214", court, sac, "101001032000", "", "", "F", "", "", "5Y", ""},
		{"I", "19831119", "20160214", deceased, sac, "101001033000", "", "555 PC-UH OH", "F", "CONVICTED-PROBATION", "MISDEMEANOR", "5Y", ""},
		{"J", "19800514", "19940912", court, sac, "101001027000", "222344", "11359 HS-MARIJUANA POSSESION FOR SALE", "F", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"K", "19820513", "20120703", court, sac, "101001027000", "222344", "11357 HS-NO SPECIFIED SUBSECTION", "M", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"L", "19700305", "20120703", court, sac, "101001027000", "", "187 PC-MURDER", "M", "CONVICTED-PROBATION", "FELONY", "6M", ""},
		{"M", "19970619", "20170214", court, sac, "101001027000", "344511", "11358 HS-CULTIVATE CANNABIS", "F", "CONVICTED-PROBATION", "FELONY", "2Y", ""},
	}
}

// TestGogenCaseA runs gogen-behaviour.md §6.1 A through the engine with gogen's options
// file: county SACRAMENTO, compute-at 2019-11-11. Every determination, reason and case
// number must equal gogen's.
func TestGogenCaseA(t *testing.T) {
	p, err := LoadFile("testdata/eligibility_options.json")
	if err != nil {
		t.Fatal(err)
	}
	e := &eligibility.Engine{Policies: &eligibility.Policies{Default: p}, ComputeAt: mustDate(t, "2019-11-11"), County: sac}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	type expect struct {
		det    eligibility.Determination
		reason string
		cases  string
	}
	dismiss := func(reason, cases string) expect { return expect{eligibility.Dismiss, reason, cases} }
	// Keyed by source line (data row index + 2).
	want := map[int64]expect{
		7:  dismiss("Dismiss all HS 11358 convictions", "NULL  ; 140192; 140193"),
		9:  dismiss("Dismiss all HS 11357 convictions", "398765; 678544"),
		11: dismiss("57 years or older", "398765; 678544"),
		13: dismiss("Dismiss all HS 11358 convictions", "140194; 140195"),
		16: dismiss("57 years or older", "140194; 140195"),
		19: dismiss("Conviction occurred 10 or more years ago", "140196; 140197"),
		21: dismiss("Misdemeanor or Infraction", "140196; 140197"),
		22: dismiss("Dismiss all HS 11358 convictions", "757392"),
		25: dismiss("Misdemeanor or Infraction", "757392"),
		26: {eligibility.Reduce, "Reduce all HS 11359 convictions", "757392"},
		27: dismiss("Only has 11357-60 charges", "140195; 222344"),
		29: dismiss("Misdemeanor or Infraction", "140195; 222344"),
		30: dismiss("Dismiss all HS 11358 convictions", "140196; 140134"),
		32: dismiss("Dismiss all HS 11358 convictions", ""),
		33: dismiss("Individual is deceased", ""),
		36: dismiss("21 years or younger", "222344"),
		37: dismiss("Dismiss all HS 11357 convictions", "222344"),
		39: dismiss("Dismiss all HS 11358 convictions", "344511"),
	}
	got := map[int64]eligibility.Conviction{}
	bySection := [eligibility.NumSections]int{}
	facts := map[string]eligibility.Facts{}
	for _, s := range subjects(t, caseARows()) {
		res := e.Evaluate(s)
		for line, c := range evaluated(res) {
			got[line] = c
			bySection[c.Section]++
			if c.Policy != "eligibility_options" || c.PolicyHash != p.Hash {
				t.Errorf("line %d: policy %q hash %q", line, c.Policy, c.PolicyHash)
			}
		}
		if len(res.Evaluated) > 0 {
			facts[s.ID] = res.Facts
		}
	}
	if len(got) != len(want) {
		t.Errorf("evaluated %d convictions, want %d", len(got), len(want))
	}
	for line, w := range want {
		c, ok := got[line]
		if !ok {
			t.Errorf("line %d not evaluated", line)
			continue
		}
		if c.Determination != w.det || c.Reason != w.reason || c.CaseNumbers != w.cases {
			t.Errorf("line %d: got %v %q %q, want %v %q %q", line, c.Determination, c.Reason, c.CaseNumbers, w.det, w.reason, w.cases)
		}
	}
	// gogen.json: prop64ConvictionsCountInCountyByCodeSection {11357: 3, 11358: 7, 11359: 8}.
	if bySection != [eligibility.NumSections]int{3, 7, 8, 0} {
		t.Errorf("in-county Prop 64 convictions by section = %v, want [3 7 8 0]", bySection)
	}
	// The subject-level columns of gogen's output.
	checks := []struct {
		id                     string
		convictions, prop64    int
		bySection              [eligibility.NumSections]int
		superstrikes, pc290    []string
		registration, deceased bool
	}{
		{"A", 2, 1, [4]int{0, 1, 0, 0}, nil, nil, false, true},
		{"B", 3, 2, [4]int{1, 0, 1, 0}, nil, nil, true, false},
		{"C", 4, 4, [4]int{0, 3, 1, 0}, nil, nil, false, false},
		{"D", 4, 2, [4]int{0, 1, 1, 0}, nil, []string{"266 PC", "314(1) PC"}, false, false},
		{"E", 5, 3, [4]int{1, 1, 1, 0}, []string{"220 PC"}, nil, false, false},
		{"I", 2, 1, [4]int{0, 0, 1, 0}, nil, nil, false, true},
	}
	for _, c := range checks {
		f := facts[c.id]
		if f.Convictions != c.convictions || f.Prop64Convictions != c.prop64 || f.Prop64BySection != c.bySection ||
			!reflect.DeepEqual(f.Superstrikes, c.superstrikes) || !reflect.DeepEqual(f.PC290, c.pc290) ||
			f.PC290Registration != c.registration || f.Deceased != c.deceased {
			t.Errorf("subject %s facts = %+v, want %+v", c.id, f, c)
		}
	}
	// The YOLO row's comment names another Prop 64 charge.
	r := caseARows()[12]
	if got := eligibility.OtherProp64Charges(r.offense, r.comment); got != "11359 HS-OTHER CANNABIS" {
		t.Errorf("OtherProp64Charges = %q", got)
	}
}
