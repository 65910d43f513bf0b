package eligibility

import (
	"strings"

	"github.com/clearway/clearway/pkg/record"
)

// conviction is the engine's working view of one conviction (the first CONVICTED row
// of a CNT_ORDER).
type conviction struct {
	index   int    // position of its row in Subject.Events
	cycle   string // record.Cycle of its CNT_ORDER: convictions of one case share it
	section int    // Prop 64 section index, or -1
	text    string // EffectiveSection of the row
	date    record.Date
	felony  bool
	// gogenStrike and gogenPC290 are gogen's matchers (for its columns); strike and
	// pc290 the bounded ones that drive disqualifiers.
	gogenStrike, gogenPC290 bool
	strike, pc290           bool
	// sentenceEnd is date plus every sentence part of the CNT_ORDER's rows; NoDate
	// when no row carries a sentence part or when date is missing.
	sentenceEnd record.Date
	sentenced   bool // some row carries a sentence part
}

// analysis is everything Evaluate derives from a subject's rows.
type analysis struct {
	facts Facts
	rows  []bool
	convs []conviction
	// undated counts convictions whose date is missing: "most recent conviction" is
	// then unknown, not merely the latest valid date.
	undated int
	// byCntOrder indexes convs once a subject has many convictions; small subjects
	// use a linear scan, which is faster and allocation-free.
	byCntOrder map[string]int
}

// mapThreshold is the conviction count at which CNT_ORDER lookups switch to a map.
const mapThreshold = 32

// Analyze derives the subject-level facts of gogen-behaviour.md §2 from all of a
// subject's rows (every county), and marks which rows are convictions: the first row of
// the subject with a CONVICTED disposition for a given CNT_ORDER, on any step type.
// Later CONVICTED rows with the same CNT_ORDER are not convictions; they extend that
// conviction's sentence.
func Analyze(s *record.Subject) (Facts, []bool) {
	a := analyze(s)
	return a.facts, a.rows
}

func analyze(s *record.Subject) *analysis {
	a := &analysis{rows: make([]bool, len(s.Events))}
	if len(s.Events) > 0 {
		a.facts.DOB = s.Events[0].DOB
	}
	a.facts.MostRecentConviction = record.NoDate
	for i := range s.Events {
		e := &s.Events[i]
		switch e.StepType {
		case record.StepDeceased:
			a.facts.Deceased = true
		case record.StepRegistration:
			if strings.HasPrefix(e.Offense, "290") {
				a.facts.PC290Registration = true
			}
		}
		if !e.Convicted {
			continue
		}
		if k := a.find(s, e.CntOrder); k >= 0 {
			// A duplicate extends the conviction with the SAME CNT_ORDER, wherever it
			// is; gogen extended the most recently added conviction (§8.8).
			a.convs[k].addSentence(e)
			continue
		}
		a.add(s, i)
	}
	a.fillFacts(s)
	return a
}

// find returns the index in convs of the conviction with CNT_ORDER cnt, or -1.
func (a *analysis) find(s *record.Subject, cnt string) int {
	if a.byCntOrder != nil {
		if k, ok := a.byCntOrder[cnt]; ok {
			return k
		}
		return -1
	}
	for k := range a.convs {
		if s.Events[a.convs[k].index].CntOrder == cnt {
			return k
		}
	}
	return -1
}

// add records row i as a new conviction.
func (a *analysis) add(s *record.Subject, i int) {
	e := &s.Events[i]
	text, section := effectiveSection(e)
	c := conviction{
		index:       i,
		cycle:       record.Cycle(e.CntOrder),
		section:     section,
		text:        text,
		date:        e.Date,
		felony:      e.Felony,
		gogenStrike: IsSuperstrike(e.Section),
		gogenPC290:  IsPC290(e.Section),
		sentenceEnd: e.Date,
	}
	c.strike = c.gogenStrike && isSuperstrikeStrict(e.Section)
	c.pc290 = c.gogenPC290 && isPC290Strict(e.Section)
	c.addSentence(e)
	a.convs = append(a.convs, c)
	a.rows[i] = true
	switch {
	case a.byCntOrder != nil:
		a.byCntOrder[e.CntOrder] = len(a.convs) - 1
	case len(a.convs) == mapThreshold:
		a.byCntOrder = make(map[string]int, 2*mapThreshold)
		for k := range a.convs {
			a.byCntOrder[s.Events[a.convs[k].index].CntOrder] = k
		}
	}
}

// addSentence adds e's sentence part to the conviction's sentence end with calendar
// arithmetic (gogen used 366-day years and 30.5-day months, §8.8).
func (c *conviction) addSentence(e *record.Event) {
	if e.SentenceLength <= 0 {
		return
	}
	switch e.SentenceUnit {
	case 'D':
		if c.sentenceEnd.Valid() {
			c.sentenceEnd += record.Date(e.SentenceLength)
		}
	case 'M':
		c.sentenceEnd = c.sentenceEnd.AddMonths(e.SentenceLength)
	case 'Y':
		c.sentenceEnd = c.sentenceEnd.AddYears(e.SentenceLength)
	default:
		return
	}
	c.sentenced = true
}

// fillFacts computes the subject-level counts and lists from the convictions.
func (a *analysis) fillFacts(s *record.Subject) {
	f := &a.facts
	f.Convictions = len(a.convs)
	for k := range a.convs {
		c := &a.convs[k]
		if !c.sentenced {
			c.sentenceEnd = record.NoDate
		}
		if c.section >= 0 {
			f.Prop64Convictions++
			f.Prop64BySection[c.section]++
		}
		if !c.date.Valid() {
			a.undated++
		} else if !f.MostRecentConviction.Valid() || c.date > f.MostRecentConviction {
			f.MostRecentConviction = c.date
		}
		// The lists feed gogen's columns: gogen's exact matchers on the row's section.
		section := s.Events[c.index].Section
		if c.gogenStrike {
			f.Superstrikes = append(f.Superstrikes, section)
		}
		if c.gogenPC290 {
			f.PC290 = append(f.PC290, section)
		}
	}
}

// caseNumbers joins, with "; ", the distinct non-empty OFNs of the subject's COURT
// ACTION rows whose CNT_ORDER has the given cycle+step, in first-seen order, verbatim.
func caseNumbers(s *record.Subject, cycleStep string) string {
	var b strings.Builder
	n := 0
	for i := range s.Events {
		e := &s.Events[i]
		if e.OFN == "" || e.StepType != record.StepCourtAction || record.CycleStep(e.CntOrder) != cycleStep {
			continue
		}
		if seenOFN(s, i, cycleStep) {
			continue
		}
		if n > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e.OFN)
		n++
	}
	return b.String()
}

// seenOFN reports whether an earlier qualifying row than i carries the same OFN.
func seenOFN(s *record.Subject, i int, cycleStep string) bool {
	ofn := s.Events[i].OFN
	for j := 0; j < i; j++ {
		e := &s.Events[j]
		if e.OFN == ofn && e.StepType == record.StepCourtAction && record.CycleStep(e.CntOrder) == cycleStep {
			return true
		}
	}
	return false
}
