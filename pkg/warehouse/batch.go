package warehouse

import (
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/report"
)

// batch holds rows for the four data tables as columns, the shape the Native
// protocol sends: one slice per column, appended in one call each.
type batch struct {
	rd restrictedDecisions
	rj restrictedRejects
	ad analyticsDecisions
	pp people
}

func newBatch(rows int) *batch {
	b := &batch{}
	b.rd.grow(rows)
	b.ad.grow(rows)
	return b
}

// size is what counts towards the batch limit: decisions, people and rejects.
func (b *batch) size() int { return len(b.rd.runID) + len(b.pp.runID) + len(b.rj.runID) }

func (b *batch) empty() bool { return b.size() == 0 }

func (b *batch) reset() {
	b.rd.reset()
	b.rj.reset()
	b.ad.reset()
	b.pp.reset()
}

// table is one column-buffered table: its INSERT column list and its columns.
type table interface {
	tableName() string
	columns() string
	values() []any
	rows() int
	reset()
}

// insert sends a batch: restricted decisions and rejects, then the analytics rows,
// each as one Native-format block. Retried inserts may duplicate a block; the tables'
// deduplication absorbs that.
func (w *Writer) insert(b *batch) error {
	defer b.reset()
	for _, t := range []struct {
		db string
		t  table
	}{
		{w.cfg.Databases.Restricted, &b.rd},
		{w.cfg.Databases.Restricted, &b.rj},
		{w.cfg.Databases.Analytics, &b.ad},
		{w.cfg.Databases.Analytics, &b.pp},
	} {
		if t.t.rows() == 0 {
			continue
		}
		if err := insertColumns(w, t.db, t.t); err != nil {
			return err
		}
	}
	return nil
}

func insertColumns(w *Writer, db string, t table) error {
	// 18.16 answers an INSERT without a column list with an empty header, which
	// clickhouse-go cannot fill: always name the columns.
	q := "INSERT INTO " + db + "." + t.tableName() + " (" + t.columns() + ")"
	vals := t.values()
	return w.cfg.Retry.do(w.ctx, fmt.Sprintf("insert %d rows into %s.%s", t.rows(), db, t.tableName()), func() error {
		b, err := w.conn.PrepareBatch(w.ctx, q)
		if err != nil {
			return err
		}
		if err := appendColumns(b, vals); err != nil {
			_ = b.Abort()
			return err
		}
		return b.Send()
	})
}

func appendColumns(b driver.Batch, vals []any) error {
	for i, v := range vals {
		if err := b.Column(i).Append(v); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// restrictedDecisions are rows of <restricted>.decisions.
type restrictedDecisions struct {
	runID, subjectID             []string
	fileIndex                    []uint32
	line                         []uint64
	inputFile, cii, name, dob    []string
	caseNumbers, county, section []string
	felony                       []uint8
	convictionDate               []string
	determination                []int8
	reason, ruleID, policy, hash []string
	computeAt                    []time.Time
	version                      []uint64
}

func (t *restrictedDecisions) tableName() string { return "decisions" }
func (t *restrictedDecisions) columns() string {
	return "run_id, subject_id, file_index, line, input_file, cii, name, dob, case_numbers, county, section, felony, " +
		"conviction_date, determination, reason, rule_id, policy, policy_hash, compute_at, version"
}
func (t *restrictedDecisions) values() []any {
	return []any{t.runID, t.subjectID, t.fileIndex, t.line, t.inputFile, t.cii, t.name, t.dob, t.caseNumbers, t.county,
		t.section, t.felony, t.convictionDate, t.determination, t.reason, t.ruleID, t.policy, t.hash, t.computeAt, t.version}
}
func (t *restrictedDecisions) rows() int { return len(t.runID) }
func (t *restrictedDecisions) grow(n int) {
	t.runID, t.subjectID = make([]string, 0, n), make([]string, 0, n)
}
func (t *restrictedDecisions) reset() {
	*t = restrictedDecisions{
		runID: t.runID[:0], subjectID: t.subjectID[:0], fileIndex: t.fileIndex[:0], line: t.line[:0],
		inputFile: t.inputFile[:0], cii: t.cii[:0], name: t.name[:0], dob: t.dob[:0], caseNumbers: t.caseNumbers[:0],
		county: t.county[:0], section: t.section[:0], felony: t.felony[:0], convictionDate: t.convictionDate[:0],
		determination: t.determination[:0], reason: t.reason[:0], ruleID: t.ruleID[:0], policy: t.policy[:0],
		hash: t.hash[:0], computeAt: t.computeAt[:0], version: t.version[:0],
	}
}

// restrictedRejects are rows of <restricted>.rejects.
type restrictedRejects struct {
	runID                                  []string
	fileIndex                              []uint32
	line                                   []uint64
	inputFile, field, reason, subject, raw []string
	version                                []uint64
}

func (t *restrictedRejects) tableName() string { return "rejects" }
func (t *restrictedRejects) columns() string {
	return "run_id, file_index, line, input_file, field, reason, subject_id, raw, version"
}
func (t *restrictedRejects) values() []any {
	return []any{t.runID, t.fileIndex, t.line, t.inputFile, t.field, t.reason, t.subject, t.raw, t.version}
}
func (t *restrictedRejects) rows() int { return len(t.runID) }
func (t *restrictedRejects) reset() {
	*t = restrictedRejects{runID: t.runID[:0], fileIndex: t.fileIndex[:0], line: t.line[:0], inputFile: t.inputFile[:0],
		field: t.field[:0], reason: t.reason[:0], subject: t.subject[:0], raw: t.raw[:0], version: t.version[:0]}
}

// analyticsDecisions are rows of <analytics>.decisions.
type analyticsDecisions struct {
	runID, person         []string
	conviction            []uint16
	county, section       []string
	felony                []uint8
	determination         []int8
	reason, ruleID        []string
	race, gender, ageBand []string
	year                  []uint16
	policy, hash          []string
	computeAt             []time.Time
	version               []uint64
}

func (t *analyticsDecisions) tableName() string { return "decisions" }
func (t *analyticsDecisions) columns() string {
	return "run_id, person, conviction, county, section, felony, determination, reason, rule_id, race, gender, age_band, " +
		"conviction_year, policy, policy_hash, compute_at, version"
}
func (t *analyticsDecisions) values() []any {
	return []any{t.runID, t.person, t.conviction, t.county, t.section, t.felony, t.determination, t.reason, t.ruleID,
		t.race, t.gender, t.ageBand, t.year, t.policy, t.hash, t.computeAt, t.version}
}
func (t *analyticsDecisions) rows() int { return len(t.runID) }
func (t *analyticsDecisions) grow(n int) {
	t.runID, t.person = make([]string, 0, n), make([]string, 0, n)
}
func (t *analyticsDecisions) reset() {
	*t = analyticsDecisions{runID: t.runID[:0], person: t.person[:0], conviction: t.conviction[:0], county: t.county[:0],
		section: t.section[:0], felony: t.felony[:0], determination: t.determination[:0], reason: t.reason[:0],
		ruleID: t.ruleID[:0], race: t.race[:0], gender: t.gender[:0], ageBand: t.ageBand[:0], year: t.year[:0],
		policy: t.policy[:0], hash: t.hash[:0], computeAt: t.computeAt[:0], version: t.version[:0]}
}

// people are rows of <analytics>.people.
type people struct {
	runID, person, race, gender, ageBand              []string
	convictions, prop64, dismissed, reduced, felonies []uint16
	anyRelief, cleared, felonyFree, clear7            []uint8
	daCleared, daFelonyFree, daClear7                 []uint8
	computeAt                                         []time.Time
	version                                           []uint64
}

func (t *people) tableName() string { return "people" }
func (t *people) columns() string {
	return "run_id, person, race, gender, age_band, convictions, prop64, dismissed, reduced, felonies, any_relief, " +
		"fully_cleared, felony_free, clear_last_7y, da_fully_cleared, da_felony_free, da_clear_last_7y, compute_at, version"
}
func (t *people) values() []any {
	return []any{t.runID, t.person, t.race, t.gender, t.ageBand, t.convictions, t.prop64, t.dismissed, t.reduced,
		t.felonies, t.anyRelief, t.cleared, t.felonyFree, t.clear7, t.daCleared, t.daFelonyFree, t.daClear7,
		t.computeAt, t.version}
}
func (t *people) rows() int { return len(t.runID) }
func (t *people) reset() {
	*t = people{runID: t.runID[:0], person: t.person[:0], race: t.race[:0], gender: t.gender[:0], ageBand: t.ageBand[:0],
		convictions: t.convictions[:0], prop64: t.prop64[:0], dismissed: t.dismissed[:0], reduced: t.reduced[:0],
		felonies: t.felonies[:0], anyRelief: t.anyRelief[:0], cleared: t.cleared[:0], felonyFree: t.felonyFree[:0],
		clear7: t.clear7[:0], daCleared: t.daCleared[:0], daFelonyFree: t.daFelonyFree[:0], daClear7: t.daClear7[:0],
		computeAt: t.computeAt[:0], version: t.version[:0]}
}

// addSubject appends one subject's rows: a restricted and an analytics row per
// evaluated conviction, and its people row.
func (b *batch) addSubject(w *Writer, r *eligibility.Result) {
	s := r.Subject
	run := w.cfg.Info.RunID
	person := w.pseudonym(s.ID)
	at := dateTime(w.computeAt)
	var race, gender, name, cii string
	if len(s.Events) > 0 {
		c := s.Events[0].Cells
		race = orUnknown(strings.TrimSpace(cellOf(c, doj.ColRaceDescr)))
		gender = orUnknown(strings.TrimSpace(cellOf(c, doj.ColGender)))
		name = cellOf(c, doj.ColPriName)
		cii = cellOf(c, doj.ColCIINumber)
	} else {
		race, gender = report.KeyUnknown, report.KeyUnknown
	}
	band := report.AgeBand(r.Facts.DOB, w.computeAt)
	dob := r.Facts.DOB.String()

	var dismissed, reduced uint16
	anyRelief := uint8(0)
	for i := range r.Evaluated {
		c := &r.Evaluated[i]
		src := s.Events[c.Index].Src
		det := int8(c.Determination)
		felony := b2u(c.Felony)
		section := sectionName(c.Section)
		switch c.Determination {
		case eligibility.Dismiss:
			dismissed++
		case eligibility.Reduce:
			reduced++
		}
		if c.Determination.Relief() {
			anyRelief = 1
		}

		rd := &b.rd
		rd.runID = append(rd.runID, run)
		rd.subjectID = append(rd.subjectID, s.ID)
		rd.fileIndex = append(rd.fileIndex, uint32(src.File))
		rd.line = append(rd.line, uint64(src.Line))
		rd.inputFile = append(rd.inputFile, w.inputFile(src.File))
		rd.cii = append(rd.cii, cii)
		rd.name = append(rd.name, name)
		rd.dob = append(rd.dob, dob)
		rd.caseNumbers = append(rd.caseNumbers, c.CaseNumbers)
		rd.county = append(rd.county, c.County)
		rd.section = append(rd.section, section)
		rd.felony = append(rd.felony, felony)
		rd.convictionDate = append(rd.convictionDate, c.Date.String())
		rd.determination = append(rd.determination, det)
		rd.reason = append(rd.reason, c.Reason)
		rd.ruleID = append(rd.ruleID, c.RuleID)
		rd.policy = append(rd.policy, c.Policy)
		rd.hash = append(rd.hash, c.PolicyHash)
		rd.computeAt = append(rd.computeAt, at)
		rd.version = append(rd.version, w.version)

		ad := &b.ad
		ad.runID = append(ad.runID, run)
		ad.person = append(ad.person, person)
		ad.conviction = append(ad.conviction, uint16(i))
		ad.county = append(ad.county, orUnknown(c.County))
		ad.section = append(ad.section, section)
		ad.felony = append(ad.felony, felony)
		ad.determination = append(ad.determination, det)
		ad.reason = append(ad.reason, c.Reason)
		ad.ruleID = append(ad.ruleID, c.RuleID)
		ad.race = append(ad.race, race)
		ad.gender = append(ad.gender, gender)
		ad.ageBand = append(ad.ageBand, band)
		year := uint16(0)
		if c.Date.Valid() {
			year = uint16(c.Date.Year())
		}
		ad.year = append(ad.year, year)
		ad.policy = append(ad.policy, c.Policy)
		ad.hash = append(ad.hash, c.PolicyHash)
		ad.computeAt = append(ad.computeAt, at)
		ad.version = append(ad.version, w.version)
	}

	o := w.outcome(r)
	p := &b.pp
	p.runID = append(p.runID, run)
	p.person = append(p.person, person)
	p.race = append(p.race, race)
	p.gender = append(p.gender, gender)
	p.ageBand = append(p.ageBand, band)
	p.convictions = append(p.convictions, uint16(o.cur.convs))
	p.prop64 = append(p.prop64, uint16(len(r.Evaluated)))
	p.dismissed = append(p.dismissed, dismissed)
	p.reduced = append(p.reduced, reduced)
	p.felonies = append(p.felonies, uint16(o.cur.fel))
	p.anyRelief = append(p.anyRelief, anyRelief)
	p.cleared = append(p.cleared, b2u(o.cur.cleared()))
	p.felonyFree = append(p.felonyFree, b2u(o.cur.felonyFree()))
	p.clear7 = append(p.clear7, b2u(o.cur.clear7()))
	p.daCleared = append(p.daCleared, b2u(o.all.cleared()))
	p.daFelonyFree = append(p.daFelonyFree, b2u(o.all.felonyFree()))
	p.daClear7 = append(p.daClear7, b2u(o.all.clear7()))
	p.computeAt = append(p.computeAt, at)
	p.version = append(p.version, w.version)
}

// addReject appends one quarantined row.
func (b *batch) addReject(w *Writer, r doj.Reject) {
	t := &b.rj
	t.runID = append(t.runID, w.cfg.Info.RunID)
	t.fileIndex = append(t.fileIndex, uint32(r.FileIndex))
	t.line = append(t.line, uint64(r.Line))
	path := r.File
	if path == "" {
		path = w.inputFile(r.FileIndex)
	}
	t.inputFile = append(t.inputFile, path)
	t.field = append(t.field, r.Field)
	t.reason = append(t.reason, r.Reason)
	t.subject = append(t.subject, r.SubjectID)
	t.raw = append(t.raw, r.Raw)
	t.version = append(t.version, w.version)
}

func (w *Writer) inputFile(i int32) string {
	if i >= 0 && int(i) < len(w.files) {
		return w.files[i]
	}
	return ""
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// tally counts one subject's convictions (every conviction row, any offense, any
// county) for gogen's "clear record" outcomes, as report.Summary does.
type tally struct{ convs, dismissed, fel, felRelief, recent, recentDismissed int }

func (t *tally) add(felony, recent, dismissed, relieved bool) {
	t.convs++
	if dismissed {
		t.dismissed++
	}
	if felony {
		t.fel++
		if relieved {
			t.felRelief++
		}
	}
	if recent {
		t.recent++
		if dismissed {
			t.recentDismissed++
		}
	}
}

func (t tally) cleared() bool    { return t.convs > 0 && t.convs == t.dismissed }
func (t tally) felonyFree() bool { return t.fel > 0 && t.fel == t.felRelief }
func (t tally) clear7() bool     { return t.recent > 0 && t.recent == t.recentDismissed }

// outcome tallies a subject under the current policy (cur) and under "dismiss every
// Prop 64 conviction in scope" (all).
func (w *Writer) outcome(r *eligibility.Result) (o struct{ cur, all tally }) {
	k := 0
	for i := range r.Subject.Events {
		if i >= len(r.ConvictionRows) || !r.ConvictionRows[i] {
			continue
		}
		ev := &r.Subject.Events[i]
		for k < len(r.Evaluated) && r.Evaluated[k].Index < i {
			k++
		}
		evaluated := k < len(r.Evaluated) && r.Evaluated[k].Index == i
		det := eligibility.None
		if evaluated {
			det = r.Evaluated[k].Determination
		}
		// Dated strictly after compute-at minus 7 years, as gogen (with compute-at for
		// its wall clock).
		recent := ev.Date.Valid() && w.last7.Valid() && ev.Date > w.last7
		o.cur.add(ev.Felony, recent, det == eligibility.Dismiss, det.Relief())
		o.all.add(ev.Felony, recent, evaluated, evaluated)
	}
	return o
}
