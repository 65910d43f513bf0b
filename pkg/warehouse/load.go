package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
)

// ErrRunNotFound is returned by LoadSummary for a run id the warehouse does not hold.
var ErrRunNotFound = errors.New("warehouse: no such run")

// RunRecord is a run's current row in the runs table.
type RunRecord struct {
	RunID            string
	Status           string // running, complete or failed
	Started          time.Time
	Finished         time.Time
	Rows, Subjects   uint64
	Convictions      uint64
	Provenance       report.RunSummary
	DurationSeconds  float64
	EarliestRecorded string
}

// LoadRun reads a run's latest state (deduplicated with FINAL).
func LoadRun(ctx context.Context, conn driver.Conn, dbs Databases, runID string) (RunRecord, error) {
	if err := dbs.Validate(); err != nil {
		return RunRecord{}, err
	}
	var (
		rec  = RunRecord{RunID: runID}
		prov string
	)
	q := "SELECT toString(status), started, finished, rows, subjects, convictions, duration_seconds, earliest_conviction, provenance FROM " +
		dbs.Analytics + ".runs FINAL WHERE run_id = ? ORDER BY version DESC LIMIT 1"
	rows, err := conn.Query(ctx, q, runID)
	if err != nil {
		return rec, fmt.Errorf("warehouse: read run %s: %w", runID, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return rec, fmt.Errorf("warehouse: read run %s: %w", runID, err)
		}
		return rec, fmt.Errorf("%w: %q", ErrRunNotFound, runID)
	}
	if err := rows.Scan(&rec.Status, &rec.Started, &rec.Finished, &rec.Rows, &rec.Subjects, &rec.Convictions,
		&rec.DurationSeconds, &rec.EarliestRecorded, &prov); err != nil {
		return rec, fmt.Errorf("warehouse: read run %s: %w", runID, err)
	}
	if err := json.Unmarshal([]byte(prov), &rec.Provenance); err != nil {
		return rec, fmt.Errorf("warehouse: run %s: decode provenance: %w", runID, err)
	}
	return rec, nil
}

// LoadSummary rebuilds a complete run's report.Summary from the stored rows, read
// deduplicated: the per-person rows and the pseudonymised decisions feed
// report.Summary.Add exactly as the run's own results did, the quarantined rows feed
// AddReject, and the provenance (input files and their row counts, policies) comes
// from the runs table. The result equals the run's summary.json except for Timing,
// which is the writer's (started when the writer opened, finished when it closed).
func LoadSummary(ctx context.Context, conn driver.Conn, dbs Databases, runID string) (*report.Summary, error) {
	rec, err := LoadRun(ctx, conn, dbs, runID)
	if err != nil {
		return nil, err
	}
	if rec.Status != "complete" {
		return nil, fmt.Errorf("warehouse: run %s is %s, not complete: its report would be partial", runID, rec.Status)
	}
	s, err := emptySummary(rec)
	if err != nil {
		return nil, err
	}
	at := s.ComputeAt()

	// People without an evaluated conviction count as subjects only; everyone's outcome
	// flags make the "clear record" statistics.
	q := "SELECT prop64, fully_cleared, felony_free, clear_last_7y, da_fully_cleared, da_felony_free, da_clear_last_7y FROM " +
		dbs.Analytics + ".people FINAL WHERE run_id = ?"
	rows, err := conn.Query(ctx, q, runID)
	if err != nil {
		return nil, fmt.Errorf("warehouse: read people of run %s: %w", runID, err)
	}
	var (
		prop64                    uint16
		cur, all                  report.ReliefCounts
		fc, ff, c7, dfc, dff, dc7 uint8
		cleared                   int64
		empty                     eligibility.Result
	)
	empty.Subject = &record.Subject{}
	for rows.Next() {
		if err := rows.Scan(&prop64, &fc, &ff, &c7, &dfc, &dff, &dc7); err != nil {
			rows.Close()
			return nil, fmt.Errorf("warehouse: read people of run %s: %w", runID, err)
		}
		if prop64 == 0 {
			s.Add(&empty)
		}
		cur.CountSubjectsNoConviction += int64(fc)
		cur.CountSubjectsNoFelony += int64(ff)
		cur.CountSubjectsNoConvictionLast7Years += int64(c7)
		all.CountSubjectsNoConviction += int64(dfc)
		all.CountSubjectsNoFelony += int64(dff)
		all.CountSubjectsNoConvictionLast7Years += int64(dc7)
		cleared += int64(fc)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("warehouse: read people of run %s: %w", runID, err)
	}
	s.Gogen.ReliefWithCurrentEligibilityChoices = cur
	s.Gogen.ReliefWithDismissAllProp64 = all
	s.Totals.RecordsFullyCleared = cleared

	if err := addDecisions(ctx, conn, dbs, runID, s, at); err != nil {
		return nil, err
	}

	// Quarantined rows, by reason and field.
	rows, err = conn.Query(ctx, "SELECT reason, field, count() FROM "+dbs.Restricted+".rejects FINAL WHERE run_id = ? GROUP BY reason, field", runID)
	if err != nil {
		return nil, fmt.Errorf("warehouse: read rejects of run %s: %w", runID, err)
	}
	for rows.Next() {
		var (
			rj doj.Reject
			n  uint64
		)
		if err := rows.Scan(&rj.Reason, &rj.Field, &n); err != nil {
			rows.Close()
			return nil, fmt.Errorf("warehouse: read rejects of run %s: %w", runID, err)
		}
		for range n {
			s.AddReject(rj)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("warehouse: read rejects of run %s: %w", runID, err)
	}

	// The earliest valid conviction date is the one date analytics does not hold (it
	// keeps the year): read it from the restricted decisions.
	var earliest string
	if err := conn.QueryRow(ctx, "SELECT min(conviction_date) FROM "+dbs.Restricted+".decisions FINAL WHERE run_id = ? AND conviction_date != ''", runID).
		Scan(&earliest); err != nil {
		return nil, fmt.Errorf("warehouse: read earliest conviction of run %s: %w", runID, err)
	}
	s.Gogen.EarliestConviction = earliest

	st := report.RunStats{Finished: rec.Finished, Files: make([]report.FileStats, len(rec.Provenance.Files))}
	for i, f := range rec.Provenance.Files {
		st.Files[i] = report.FileStats{Rows: f.Rows, Rejects: f.Rejects, HasHeader: f.HasHeader}
	}
	s.Finish(st)
	return s, nil
}

// addDecisions feeds the run's evaluated convictions to s.Add, one person at a time.
// Each person becomes a Result holding what Add reads: the convictions' section,
// felony, county and decision, and race, gender and a date of birth in the stored age
// band. Dates are left out: the earliest conviction is set from the restricted table.
func addDecisions(ctx context.Context, conn driver.Conn, dbs Databases, runID string, s *report.Summary, at record.Date) error {
	q := "SELECT person, conviction, county, section, felony, toInt8(determination), reason, rule_id, race, gender, age_band FROM " +
		dbs.Analytics + ".decisions FINAL WHERE run_id = ? ORDER BY person, conviction"
	rows, err := conn.Query(ctx, q, runID)
	if err != nil {
		return fmt.Errorf("warehouse: read decisions of run %s: %w", runID, err)
	}
	defer rows.Close()
	var (
		person, cur                   string
		conviction                    uint16
		county, section, reason, rule string
		race, gender, band            string
		felony                        uint8
		det                           int8
		res                           eligibility.Result
		subject                       record.Subject
	)
	flush := func() {
		if len(res.Evaluated) > 0 {
			s.Add(&res)
		}
		res.Evaluated = res.Evaluated[:0]
	}
	cells := make([]string, doj.NumColumns)
	for rows.Next() {
		if err := rows.Scan(&person, &conviction, &county, &section, &felony, &det, &reason, &rule, &race, &gender, &band); err != nil {
			return fmt.Errorf("warehouse: read decisions of run %s: %w", runID, err)
		}
		if person != cur {
			flush()
			cur = person
			cells[doj.ColRaceDescr], cells[doj.ColGender] = race, gender
			subject = record.Subject{Events: []record.Event{{Cells: record.CellsOf(cells)}}}
			res.Subject = &subject
			res.Facts = eligibility.Facts{DOB: dobInBand(band, at)}
		}
		res.Evaluated = append(res.Evaluated, eligibility.Conviction{
			Index:   int(conviction),
			Section: sectionIndex(section),
			Felony:  felony != 0,
			Date:    record.NoDate,
			County:  county,
			Decision: eligibility.Decision{
				Determination: eligibility.Determination(det), Reason: reason, RuleID: rule,
			},
		})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("warehouse: read decisions of run %s: %w", runID, err)
	}
	flush()
	return nil
}

// dobInBand returns a date of birth whose age at `at` falls in band: the stored age
// band stands in for the date of birth, which analytics does not hold.
func dobInBand(band string, at record.Date) record.Date {
	ages := map[string]int{"under 21": 10, "21-29": 25, "30-39": 35, "40-49": 45, "50-59": 55, "60+": 70}
	age, ok := ages[band]
	if !ok || !at.Valid() {
		return record.NoDate
	}
	return at.AddYears(-age)
}

func sectionIndex(name string) int {
	for i, n := range eligibility.SectionNames {
		if n == name {
			return i
		}
	}
	return -1
}

// emptySummary starts a summary from a run's provenance, with gogen's per-section
// counts preset to zero for every configured section as report.NewSummary does. It
// goes through JSON because that is how a Summary restores its derived state.
func emptySummary(rec RunRecord) (*report.Summary, error) {
	s := report.Summary{
		Run:     rec.Provenance,
		Timing:  report.Timing{Started: rec.Started},
		Rejects: []report.RejectCount{},
		Gogen: report.GogenStats{
			County: rec.Provenance.County,
			Prop64ConvictionsCountInCountyByCodeSection: map[string]int64{},
			ConvictionDismissalCountByCodeSection:       map[string]int64{},
			ConvictionReductionCountByCodeSection:       map[string]int64{},
			ConvictionDismissalCountByAdditionalRelief:  map[string]int64{},
		},
	}
	for _, p := range rec.Provenance.Policies {
		for _, sec := range p.Dismiss {
			s.Gogen.ConvictionDismissalCountByCodeSection[sec] = 0
		}
		for _, sec := range p.Reduce {
			s.Gogen.ConvictionReductionCountByCodeSection[sec] = 0
		}
	}
	b, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("warehouse: start summary: %w", err)
	}
	out := new(report.Summary)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("warehouse: start summary: %w", err)
	}
	return out, nil
}
