package policy

import (
	"strconv"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// doj is a synthetic DOJ row with the columns the engine reads, parsed the way the
// reader parses them (gogen-behaviour.md §1.3).
type doj struct {
	id, dob, date, step, county, cnt, ofn, offense, toc, disp, stat, sentence, comment string
}

// subjects groups rows into subjects by id, in first-seen order.
func subjects(t testing.TB, rows []doj) []*record.Subject {
	t.Helper()
	var out []*record.Subject
	byID := map[string]*record.Subject{}
	for i, r := range rows {
		s := byID[r.id]
		if s == nil {
			s = &record.Subject{ID: r.id}
			byID[r.id] = s
			out = append(out, s)
		}
		s.Events = append(s.Events, event(t, i, r))
	}
	return out
}

func event(t testing.TB, i int, r doj) record.Event {
	t.Helper()
	date, _ := record.ParseYYYYMMDD(r.date)
	dob, _ := record.ParseYYYYMMDD(r.dob)
	src := r.offense
	if tr := strings.TrimSpace(r.offense); tr == "" || tr == "SEE COMMENT FOR CHARGE" {
		src = r.comment
	}
	section, _, _ := strings.Cut(src, "-")
	e := record.Event{
		Src:       record.Source{Line: int64(i + 2)},
		SubjectID: r.id,
		CntOrder:  r.cnt,
		Date:      date,
		DOB:       dob,
		StepType:  r.step,
		County:    r.county,
		Section:   section,
		Offense:   r.offense,
		Comment:   r.comment,
		OFN:       r.ofn,
		Convicted: strings.HasPrefix(r.disp, "CONVICTED"),
		Felony:    r.stat == "FELONY" || (r.stat == "" && r.toc == "F"),
	}
	if r.sentence != "" {
		n, err := strconv.Atoi(r.sentence[:len(r.sentence)-1])
		if err != nil {
			t.Fatalf("bad sentence %q", r.sentence)
		}
		e.SentenceLength, e.SentenceUnit = n, r.sentence[len(r.sentence)-1]
	}
	return e
}

// evaluated indexes a result's convictions by their row's source line.
func evaluated(res eligibility.Result) map[int64]eligibility.Conviction {
	m := map[int64]eligibility.Conviction{}
	for _, c := range res.Evaluated {
		m[res.Subject.Events[c.Index].Src.Line] = c
	}
	return m
}

func mustDate(t testing.TB, iso string) record.Date {
	t.Helper()
	d, err := record.ParseISO(iso)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
