package warehouse

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/report"
)

// batch holds one insert's rows for the four data tables, as columns: the shape the
// Native protocol sends, one slice per column appended in one call each.
//
// The restricted tables are keyed by SUBJECT_ID and input position, the order results
// arrive in, so their columns fill directly. The analytics tables are keyed by the
// pseudonym, which is random with respect to arrival order: their rows are staged
// (persons, convs) and written to columns sorted by key when the batch is sent. A
// MergeTree insert whose block is already in key order skips the server's sort and
// the permutation of every column; measured on 18.16 with 300k analytics decisions,
// 140 ms of server CPU sorted against 410 ms unsorted.
type batch struct {
	rd restrictedDecisions
	rj restrictedRejects

	persons []personRow
	convs   []convRow
	order   []int32 // persons in key order, filled by sortAnalytics
	ad      analyticsDecisions
	pp      people
}

// personRow is a staged <analytics>.people row, with the range of its decisions in
// batch.convs.
type personRow struct {
	person             [sha256.Size]byte
	prefix             uint64 // the pseudonym's first 8 bytes, big-endian: a fast first comparison
	race, gender, band string
	first, n           int32

	convictions, prop64, dismissed, reduced, felonies uint16
	anyRelief, cleared, felonyFree, clear7            uint8
	daCleared, daFelonyFree, daClear7                 uint8
}

// convRow is a staged <analytics>.decisions row; run, person, compute-at and version
// are the person's or the writer's.
type convRow struct {
	county, section, reason, rule, policy, hash string
	conviction, year                            uint16
	felony                                      uint8
	det                                         int8
}

func newBatch(rows int) *batch {
	b := &batch{}
	b.rd.grow(rows)
	b.convs = make([]convRow, 0, rows)
	b.persons = make([]personRow, 0, rows)
	return b
}

// size is what counts towards the batch limit: the rows of its largest insert
// (decisions, people or rejects), each table being inserted on its own. Every insert
// makes a part (a folder of two files per column) that the server creates and later
// merges; filling each insert up to the limit makes fewer of them.
func (b *batch) size() int { return max(len(b.rd.runID), len(b.persons), len(b.rj.runID)) }

func (b *batch) empty() bool { return b.size() == 0 }

func (b *batch) reset() {
	b.rd.reset()
	b.rj.reset()
	// Staged rows hold strings; clearing lets the collector free values of rows that
	// will not be overwritten by a smaller next batch.
	clear(b.persons)
	clear(b.convs)
	b.persons, b.convs, b.order = b.persons[:0], b.convs[:0], b.order[:0]
	b.ad.reset()
	b.pp.reset()
}

// sortAnalytics fills the analytics columns from the staged rows in key order:
// (person, conviction), run and compute-at being the same for every row.
func (b *batch) sortAnalytics(run string, at time.Time, version uint64) {
	p := b.persons
	b.order = b.order[:0]
	for i := range p {
		b.order = append(b.order, int32(i))
	}
	slices.SortFunc(b.order, func(x, y int32) int {
		if c := cmp.Compare(p[x].prefix, p[y].prefix); c != 0 {
			return c
		}
		if c := bytes.Compare(p[x].person[:], p[y].person[:]); c != 0 {
			return c
		}
		// The same subject twice in one batch (not expected of sorted input): keep
		// arrival order, which the server sorts out if needed.
		return cmp.Compare(x, y)
	})
	ad, pp := &b.ad, &b.pp
	ad.grow(len(b.convs))
	pp.grow(len(p))
	for _, i := range b.order {
		r := &p[i]
		person := r.person[:]
		for _, c := range b.convs[r.first : r.first+r.n] {
			ad.runID = append(ad.runID, run)
			ad.person = append(ad.person, person)
			ad.conviction = append(ad.conviction, c.conviction)
			ad.county = append(ad.county, c.county)
			ad.section = append(ad.section, c.section)
			ad.felony = append(ad.felony, c.felony)
			ad.determination = append(ad.determination, c.det)
			ad.reason = append(ad.reason, c.reason)
			ad.ruleID = append(ad.ruleID, c.rule)
			ad.race = append(ad.race, r.race)
			ad.gender = append(ad.gender, r.gender)
			ad.ageBand = append(ad.ageBand, r.band)
			ad.year = append(ad.year, c.year)
			ad.policy = append(ad.policy, c.policy)
			ad.hash = append(ad.hash, c.hash)
			ad.computeAt = append(ad.computeAt, at)
			ad.version = append(ad.version, version)
		}
		pp.runID = append(pp.runID, run)
		pp.person = append(pp.person, person)
		pp.race = append(pp.race, r.race)
		pp.gender = append(pp.gender, r.gender)
		pp.ageBand = append(pp.ageBand, r.band)
		pp.convictions = append(pp.convictions, r.convictions)
		pp.prop64 = append(pp.prop64, r.prop64)
		pp.dismissed = append(pp.dismissed, r.dismissed)
		pp.reduced = append(pp.reduced, r.reduced)
		pp.felonies = append(pp.felonies, r.felonies)
		pp.anyRelief = append(pp.anyRelief, r.anyRelief)
		pp.cleared = append(pp.cleared, r.cleared)
		pp.felonyFree = append(pp.felonyFree, r.felonyFree)
		pp.clear7 = append(pp.clear7, r.clear7)
		pp.daCleared = append(pp.daCleared, r.daCleared)
		pp.daFelonyFree = append(pp.daFelonyFree, r.daFelonyFree)
		pp.daClear7 = append(pp.daClear7, r.daClear7)
		pp.computeAt = append(pp.computeAt, at)
		pp.version = append(pp.version, version)
	}
}

// table is one column-buffered table: its INSERT column list and its columns.
type table interface {
	tableName() string
	columns() string
	values() []any
	rows() int
}

// insert sends a batch: the restricted tables on one connection and the analytics
// tables on another, at the same time. Each insert is one Native block that the
// server processes on one thread, so two in flight keep both of its cores busy while
// the client encodes. Retried inserts may duplicate a block; the tables'
// deduplication absorbs that.
func (w *Writer) insert(b *batch) error {
	defer b.reset()
	var (
		wg         sync.WaitGroup
		restricted error
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		restricted = w.insertTables(w.cfg.Databases.Restricted, &b.rd, &b.rj)
	}()
	b.sortAnalytics(w.cfg.Info.RunID, dateTime(w.computeAt), w.version)
	analytics := w.insertTables(w.cfg.Databases.Analytics, &b.ad, &b.pp)
	wg.Wait()
	return errors.Join(restricted, analytics)
}

// insertTables inserts tables of one database in order, skipping empty ones.
func (w *Writer) insertTables(db string, tables ...table) error {
	for _, t := range tables {
		if t.rows() == 0 {
			continue
		}
		if err := insertColumns(w, db, t); err != nil {
			return err
		}
	}
	return nil
}

// insertBlockRows is how many rows go into one Native block of an insert. An insert
// of a whole batch is sent as several blocks of one INSERT (batch.Flush between them),
// acknowledged once at the end: clickhouse-go's columns then grow to one block's size
// and are reused for the next block, instead of growing by doubling to the whole
// batch's size in every insert (that growth, its page faults and the garbage it left
// were over half of the client's CPU). The server squashes the blocks of an insert
// into parts of up to min_insert_block_size_rows (about a million), so the part count
// does not change. Client CPU (user+system) per run of BenchmarkWriterInsert, blocks of
// 4,096 rows: 0.84 s; 8,192: 0.87-0.89; 32,768: 1.13-1.19; whole batches: 1.7.
const insertBlockRows = 4096

func insertColumns(w *Writer, db string, t table) error {
	// 18.16 answers an INSERT without a column list with an empty header, which
	// clickhouse-go cannot fill: always name the columns.
	q := "INSERT INTO " + db + "." + t.tableName() + " (" + t.columns() + ")"
	vals := t.values()
	rows := t.rows()
	return w.cfg.Retry.do(w.ctx, fmt.Sprintf("insert %d rows into %s.%s", rows, db, t.tableName()), w.observe(db, t.tableName(), rows, func() error {
		b, err := w.conn.PrepareBatch(w.ctx, q)
		if err != nil {
			return err
		}
		for lo := 0; lo < rows; lo += insertBlockRows {
			if lo > 0 {
				if err := b.Flush(); err != nil {
					_ = b.Abort()
					return err
				}
			}
			if err := appendColumns(b, vals, lo, min(lo+insertBlockRows, rows)); err != nil {
				_ = b.Abort()
				return err
			}
		}
		return b.Send()
	}))
}

// appendColumns appends rows [lo,hi) of every column.
func appendColumns(b driver.Batch, vals []any, lo, hi int) error {
	for i, v := range vals {
		part, err := rowRange(v, lo, hi)
		if err == nil {
			err = b.Column(i).Append(part)
		}
		if err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	return nil
}

// rowRange returns rows [lo,hi) of a column's values, one of the slice types the
// tables hold.
func rowRange(v any, lo, hi int) (any, error) {
	switch s := v.(type) {
	case []string:
		return s[lo:hi], nil
	case [][]byte:
		return s[lo:hi], nil
	case []uint8:
		return s[lo:hi], nil
	case []int8:
		return s[lo:hi], nil
	case []uint16:
		return s[lo:hi], nil
	case []uint32:
		return s[lo:hi], nil
	case []uint64:
		return s[lo:hi], nil
	case []time.Time:
		return s[lo:hi], nil
	}
	return nil, fmt.Errorf("warehouse: no row range of %T", v)
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

// grow sizes every column for n rows up front: growing twenty slices by doubling
// while the first batches fill costs more than the rows themselves.
func (t *restrictedDecisions) grow(n int) {
	for _, s := range []*[]string{&t.runID, &t.subjectID, &t.inputFile, &t.cii, &t.name, &t.dob, &t.caseNumbers,
		&t.county, &t.section, &t.convictionDate, &t.reason, &t.ruleID, &t.policy, &t.hash} {
		*s = make([]string, 0, n)
	}
	t.fileIndex = make([]uint32, 0, n)
	t.line = make([]uint64, 0, n)
	t.felony = make([]uint8, 0, n)
	t.determination = make([]int8, 0, n)
	t.computeAt = make([]time.Time, 0, n)
	t.version = make([]uint64, 0, n)
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

// analyticsDecisions are rows of <analytics>.decisions. person holds 32-byte slices
// of the staged pseudonyms (a FixedString(32) column).
type analyticsDecisions struct {
	runID                 []string
	person                [][]byte
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

// grow makes room for n more rows in one allocation per column.
func (t *analyticsDecisions) grow(n int) {
	for _, s := range []*[]string{&t.runID, &t.county, &t.section, &t.reason, &t.ruleID, &t.race, &t.gender,
		&t.ageBand, &t.policy, &t.hash} {
		*s = slices.Grow(*s, n)
	}
	t.person = slices.Grow(t.person, n)
	t.conviction = slices.Grow(t.conviction, n)
	t.felony = slices.Grow(t.felony, n)
	t.determination = slices.Grow(t.determination, n)
	t.year = slices.Grow(t.year, n)
	t.computeAt = slices.Grow(t.computeAt, n)
	t.version = slices.Grow(t.version, n)
}

func (t *analyticsDecisions) reset() {
	clear(t.person) // the pseudonyms' backing array is the batch's; do not pin it
	*t = analyticsDecisions{runID: t.runID[:0], person: t.person[:0], conviction: t.conviction[:0], county: t.county[:0],
		section: t.section[:0], felony: t.felony[:0], determination: t.determination[:0], reason: t.reason[:0],
		ruleID: t.ruleID[:0], race: t.race[:0], gender: t.gender[:0], ageBand: t.ageBand[:0], year: t.year[:0],
		policy: t.policy[:0], hash: t.hash[:0], computeAt: t.computeAt[:0], version: t.version[:0]}
}

// people are rows of <analytics>.people.
type people struct {
	runID                                             []string
	person                                            [][]byte
	race, gender, ageBand                             []string
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

// grow makes room for n more rows in one allocation per column.
func (t *people) grow(n int) {
	for _, s := range []*[]string{&t.runID, &t.race, &t.gender, &t.ageBand} {
		*s = slices.Grow(*s, n)
	}
	t.person = slices.Grow(t.person, n)
	for _, s := range []*[]uint16{&t.convictions, &t.prop64, &t.dismissed, &t.reduced, &t.felonies} {
		*s = slices.Grow(*s, n)
	}
	for _, s := range []*[]uint8{&t.anyRelief, &t.cleared, &t.felonyFree, &t.clear7, &t.daCleared, &t.daFelonyFree, &t.daClear7} {
		*s = slices.Grow(*s, n)
	}
	t.computeAt = slices.Grow(t.computeAt, n)
	t.version = slices.Grow(t.version, n)
}

func (t *people) reset() {
	clear(t.person)
	*t = people{runID: t.runID[:0], person: t.person[:0], race: t.race[:0], gender: t.gender[:0], ageBand: t.ageBand[:0],
		convictions: t.convictions[:0], prop64: t.prop64[:0], dismissed: t.dismissed[:0], reduced: t.reduced[:0],
		felonies: t.felonies[:0], anyRelief: t.anyRelief[:0], cleared: t.cleared[:0], felonyFree: t.felonyFree[:0],
		clear7: t.clear7[:0], daCleared: t.daCleared[:0], daFelonyFree: t.daFelonyFree[:0], daClear7: t.daClear7[:0],
		computeAt: t.computeAt[:0], version: t.version[:0]}
}

// addSubject appends one subject's rows: a restricted row per evaluated conviction
// and the staged analytics rows (decisions and the person).
func (b *batch) addSubject(w *Writer, r *eligibility.Result) {
	s := r.Subject
	run := w.cfg.Info.RunID
	at := dateTime(w.computeAt)

	b.persons = append(b.persons, personRow{first: int32(len(b.convs)), n: int32(len(r.Evaluated))})
	p := &b.persons[len(b.persons)-1]
	w.pseudonym(&p.person, s.ID)
	p.prefix = binary.BigEndian.Uint64(p.person[:8])

	var name, cii string
	if len(s.Events) > 0 {
		c := s.Events[0].Cells
		p.race = trimmedOrUnknown(cellOf(c, doj.ColRaceDescr))
		p.gender = trimmedOrUnknown(cellOf(c, doj.ColGender))
		name = cellOf(c, doj.ColPriName)
		cii = cellOf(c, doj.ColCIINumber)
	} else {
		p.race, p.gender = report.KeyUnknown, report.KeyUnknown
	}
	p.band = report.AgeBand(r.Facts.DOB, w.computeAt)
	dob := w.date(r.Facts.DOB)

	for i := range r.Evaluated {
		c := &r.Evaluated[i]
		src := s.Events[c.Index].Src
		det := int8(c.Determination)
		felony := b2u(c.Felony)
		section := sectionName(c.Section)
		switch c.Determination {
		case eligibility.Dismiss:
			p.dismissed++
		case eligibility.Reduce:
			p.reduced++
		}
		if c.Determination.Relief() {
			p.anyRelief = 1
		}
		if c.Date.Valid() && (!w.earliest.Valid() || c.Date < w.earliest) {
			w.earliest = c.Date
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
		rd.convictionDate = append(rd.convictionDate, w.date(c.Date))
		rd.determination = append(rd.determination, det)
		rd.reason = append(rd.reason, c.Reason)
		rd.ruleID = append(rd.ruleID, c.RuleID)
		rd.policy = append(rd.policy, c.Policy)
		rd.hash = append(rd.hash, c.PolicyHash)
		rd.computeAt = append(rd.computeAt, at)
		rd.version = append(rd.version, w.version)

		year := uint16(0)
		if c.Date.Valid() {
			year = uint16(c.Date.Year())
		}
		b.convs = append(b.convs, convRow{
			county: orUnknown(c.County), section: section, reason: c.Reason, rule: c.RuleID,
			policy: c.Policy, hash: c.PolicyHash, conviction: uint16(i), year: year, felony: felony, det: det,
		})
	}

	if !w.cfg.CountStored { // such writers have the server rebuild the aggregates (tallied)
		w.tally(p, b.convs[p.first:])
	}

	cur, all := report.ClearRecords(r, w.computeAt)
	p.convictions = uint16(cur.Convictions())
	p.prop64 = uint16(len(r.Evaluated))
	p.felonies = uint16(cur.Felonies())
	p.cleared = b2u(cur.Cleared())
	p.felonyFree = b2u(cur.FelonyFree())
	p.clear7 = b2u(cur.Clear7())
	p.daCleared = b2u(all.Cleared())
	p.daFelonyFree = b2u(all.FelonyFree())
	p.daClear7 = b2u(all.Clear7())
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
