package eligibility

import (
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

// row is a compact, synthetic DOJ row for tests: only what the engine reads.
type row struct {
	cnt       string // CNT_ORDER; cycle = first 3, cycle+step = first 6
	date      string // STP_EVENT_DATE, YYYYMMDD; "" or junk = missing
	step      string // STP_TYPE_DESCR; "" = COURT ACTION
	county    string // "" = testCounty
	offense   string // OFFENSE_DESCR
	comment   string // COMMENT_TEXT
	ofn       string
	convicted bool
	felony    bool
	sentence  string // e.g. "6M", "90D", "2Y"
}

const testCounty = "SACRAMENTO"

// subject builds a subject the way the reader does: Section is the offense description
// (or the comment for a blank / "see comment" description) up to the first '-'.
func subject(t testing.TB, dob string, rows ...row) *record.Subject {
	t.Helper()
	s := &record.Subject{ID: "S1"}
	d, _ := record.ParseYYYYMMDD(dob)
	for i, r := range rows {
		date, _ := record.ParseYYYYMMDD(r.date)
		src := r.offense
		if chargeInComment(r.offense) {
			src = r.comment
		}
		section, _, _ := strings.Cut(src, "-")
		e := record.Event{
			Src:       record.Source{Line: int64(i + 2)},
			SubjectID: s.ID,
			CntOrder:  r.cnt,
			Date:      date,
			DOB:       d,
			StepType:  r.step,
			County:    r.county,
			Section:   section,
			Offense:   r.offense,
			Comment:   r.comment,
			OFN:       r.ofn,
			Convicted: r.convicted,
			Felony:    r.felony,
		}
		if e.StepType == "" {
			e.StepType = record.StepCourtAction
		}
		if e.County == "" {
			e.County = testCounty
		}
		if r.sentence != "" {
			n := 0
			for _, c := range r.sentence[:len(r.sentence)-1] {
				n = n*10 + int(c-'0')
			}
			e.SentenceLength, e.SentenceUnit = n, r.sentence[len(r.sentence)-1]
		}
		s.Events = append(s.Events, e)
	}
	return s
}

func date(t testing.TB, iso string) record.Date {
	t.Helper()
	d, err := record.ParseISO(iso)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// gogenPolicy is a policy as a gogen options file maps onto one.
func gogenPolicy(dismiss, reduce []int, relief Relief) *Policy {
	return &Policy{Name: "gogen", Hash: "h", Dismiss: dismiss, Reduce: reduce, Misdemeanors: ActDismiss, Relief: relief}
}

// fixtureRelief is the additional relief of gogen's options fixture.
func fixtureRelief() Relief {
	return Relief{Under21AtConviction: true, AgeThreshold: 57, YearsSinceConviction: 10, Deceased: true, OnlyProp64Charges: true}
}

func engine(t testing.TB, p *Policy, at string) *Engine {
	t.Helper()
	e := &Engine{Policies: &Policies{Default: p}, ComputeAt: date(t, at), County: testCounty}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	return e
}

// decisionAt returns the decision for the conviction on row index i.
func decisionAt(t testing.TB, res Result, i int) Decision {
	t.Helper()
	for _, c := range res.Evaluated {
		if c.Index == i {
			return c.Decision
		}
	}
	t.Fatalf("row %d was not evaluated (evaluated: %+v)", i, res.Evaluated)
	return Decision{}
}

// conv is a felony court conviction row.
func conv(cnt, date, offense string) row {
	return row{cnt: cnt, date: date, offense: offense, convicted: true, felony: true}
}

// misd is a misdemeanour court conviction row.
func misd(cnt, date, offense string) row {
	return row{cnt: cnt, date: date, offense: offense, convicted: true}
}
