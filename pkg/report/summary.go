package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// Summary is one run's statistics: provenance, totals, gogen's summary numbers and
// breakdowns of the evaluated convictions. Both outputs build one with Add/AddReject
// and Finish; WriteHTML renders the report from a Summary alone, so a Summary loaded
// from JSON (or rebuilt from a warehouse) gives the same report. It round-trips
// through encoding/json. Only Timing holds values that differ between identical runs.
type Summary struct {
	Run        RunSummary    `json:"run"`
	Timing     Timing        `json:"timing"`
	Totals     Totals        `json:"totals"`
	Gogen      GogenStats    `json:"gogen"`
	Breakdowns Breakdowns    `json:"breakdowns"`
	Rejects    []RejectCount `json:"rejects_by_reason"`

	// Derived from Run.ComputeAt by init; not serialised.
	computeAt record.Date
	last7     record.Date // compute-at minus 7 years: the "last 7 years" window start
	earliest  record.Date // Gogen.EarliestConviction as a date (NoDate when unset)
}

// RunSummary is a run's provenance.
type RunSummary struct {
	RunID string `json:"run_id"`
	// ComputeAt is the date every rule was evaluated at, YYYY-MM-DD.
	ComputeAt string `json:"compute_at"`
	// Scope is "statewide" or "county"; County is set for a county run.
	Scope         string          `json:"scope"`
	County        string          `json:"county,omitempty"`
	EngineVersion string          `json:"engine_version"`
	Files         []FileSummary   `json:"files"`
	Policies      []PolicySummary `json:"policies"`
}

// Scopes of a run.
const (
	ScopeStatewide = "statewide"
	ScopeCounty    = "county"
)

// FileSummary describes one input file. Rows counts data rows (accepted and
// quarantined); Rejects the quarantined ones.
type FileSummary struct {
	Index     int32  `json:"index"`
	Path      string `json:"path"`
	Size      int64  `json:"size"`
	Rows      int64  `json:"rows"`
	Rejects   int64  `json:"rejects"`
	HasHeader bool   `json:"has_header"`
}

// PolicySummary identifies the policy used for one county (Default: every county
// without its own policy) and its baseline sections.
type PolicySummary struct {
	County  string   `json:"county,omitempty"`
	Default bool     `json:"default,omitempty"`
	Name    string   `json:"name"`
	Hash    string   `json:"hash"`
	Dismiss []string `json:"dismiss"`
	Reduce  []string `json:"reduce"`
}

// Timing holds the only non-deterministic values of a summary.
type Timing struct {
	Started         time.Time `json:"started"`
	Finished        time.Time `json:"finished"`
	DurationSeconds float64   `json:"duration_seconds"`
	RowsPerSecond   float64   `json:"rows_per_second"`
}

// Totals are the run's headline counts.
type Totals struct {
	// Rows counts every data row of every input file; Rejects the quarantined ones.
	Rows    int64 `json:"rows"`
	Rejects int64 `json:"rejects"`
	// Subjects counts people (subjects) processed; SubjectsWithProp64 those with at
	// least one Prop 64 conviction in scope (evaluated).
	Subjects             int64 `json:"subjects"`
	SubjectsWithProp64   int64 `json:"subjects_with_prop64_in_scope"`
	ConvictionsEvaluated int64 `json:"convictions_evaluated"`
	// The evaluated convictions by determination.
	ConvictionsDismissed   int64 `json:"convictions_dismissed"`
	ConvictionsReduced     int64 `json:"convictions_reduced"`
	ConvictionsHandReview  int64 `json:"convictions_hand_review"`
	ConvictionsNotEligible int64 `json:"convictions_not_eligible"`
	ConvictionsUndecided   int64 `json:"convictions_undecided"`
	// PeopleWithRelief have at least one conviction dismissed or reduced.
	PeopleWithRelief int64 `json:"people_with_relief"`
	// RecordsFullyCleared are people every one of whose convictions, in any county and
	// of any offense, is dismissed (gogen's CountSubjectsNoConviction).
	RecordsFullyCleared int64 `json:"records_fully_cleared"`
}

// GogenStats are the numbers of gogen's gogen.json (gogen-behaviour.md §4.3), with
// two fixes: the "last 7 years" window ends at the compute-at date, not the wall
// clock, and invalid dates never become the earliest conviction. Processing time lives
// in Timing; GogenJSON assembles the exact document.
type GogenStats struct {
	County string `json:"county"`
	// EarliestConviction is YYYY-MM-DD, or "" when no evaluated conviction has a
	// valid date.
	EarliestConviction                          string           `json:"earliestConviction"`
	LineCount                                   int64            `json:"lineCount"`
	ReliefWithCurrentEligibilityChoices         ReliefCounts     `json:"reliefWithCurrentEligibilityChoices"`
	ReliefWithDismissAllProp64                  ReliefCounts     `json:"reliefWithDismissAllProp64"`
	Prop64ConvictionsCountInCountyByCodeSection map[string]int64 `json:"prop64ConvictionsCountInCountyByCodeSection"`
	SubjectsWithProp64ConvictionCountInCounty   int64            `json:"subjectsWithProp64ConvictionCountInCounty"`
	Prop64FelonyConvictionsCountInCounty        int64            `json:"prop64FelonyConvictionsCountInCounty"`
	Prop64NonFelonyConvictionsCountInCounty     int64            `json:"prop64NonFelonyConvictionsCountInCounty"`
	SubjectsWithSomeReliefCount                 int64            `json:"subjectsWithSomeReliefCount"`
	ConvictionDismissalCountByCodeSection       map[string]int64 `json:"convictionDismissalCountByCodeSection"`
	ConvictionReductionCountByCodeSection       map[string]int64 `json:"convictionReductionCountByCodeSection"`
	ConvictionDismissalCountByAdditionalRelief  map[string]int64 `json:"convictionDismissalCountByAdditionalRelief"`
}

// ReliefCounts are gogen's "clear record" statistics for one flow. Field order is
// gogen's (its map keys, sorted).
type ReliefCounts struct {
	CountSubjectsNoConviction           int64
	CountSubjectsNoConvictionLast7Years int64
	CountSubjectsNoFelony               int64
}

// Breakdowns split the evaluated convictions by one attribute each.
type Breakdowns struct {
	County        Breakdown `json:"by_county"`
	Section       Breakdown `json:"by_section"`
	Determination Breakdown `json:"by_determination"`
	// Reason entries carry the rule id; one reason text may come from several rules.
	Reason  Breakdown `json:"by_reason"`
	Race    Breakdown `json:"by_race"`
	Gender  Breakdown `json:"by_gender"`
	AgeBand Breakdown `json:"by_age_band"`
	Felony  Breakdown `json:"by_felony"`
}

// Breakdown is a list of entries sorted by (Key, RuleID); sorted order keeps the JSON
// deterministic and lookups logarithmic without a side index.
type Breakdown []Entry

// Entry counts the evaluated convictions with one attribute value, by determination,
// and the distinct people they belong to.
type Entry struct {
	Key             string              `json:"key"`
	RuleID          string              `json:"rule_id,omitempty"`
	Convictions     int64               `json:"convictions"`
	ByDetermination DeterminationCounts `json:"by_determination"`
	People          int64               `json:"people"`
}

// DeterminationCounts counts convictions per determination.
type DeterminationCounts struct {
	Dismiss     int64 `json:"dismiss"`
	Reduce      int64 `json:"reduce"`
	HandReview  int64 `json:"hand_review"`
	NotEligible int64 `json:"not_eligible"`
	None        int64 `json:"none"`
}

// RejectCount counts quarantined rows with one reason (and field).
type RejectCount struct {
	Reason string `json:"reason"`
	Field  string `json:"field,omitempty"`
	Rows   int64  `json:"rows"`
}

// Breakdown keys that are not attribute values.
const (
	KeyUnknown       = "unknown"
	KeyUndecided     = "none"
	KeyFelony        = "felony"
	KeyNonFelony     = "misdemeanor or infraction"
	gogenMisdemeanor = "Misdemeanor or Infraction"
	gogenDismissAll  = "Dismiss all HS "
	gogenReduceAll   = "Reduce all HS "
	gogenConvictions = " convictions"
)

// AgeBands are the age bands at the compute-at date, in display order.
var AgeBands = [...]string{"under 21", "21-29", "30-39", "40-49", "50-59", "60+", KeyUnknown}

// enactment is Prop 64's enactment date; gogen's "Occurred after 11/9/2016" column.
var enactment = record.MakeDate(2016, 11, 9)

// NewSummary starts the summary of a run.
func NewSummary(info RunInfo) *Summary {
	s := &Summary{
		Run: RunSummary{
			RunID:         info.RunID,
			ComputeAt:     info.ComputeAt.String(),
			Scope:         ScopeStatewide,
			County:        info.County,
			EngineVersion: info.EngineVersion,
			Files:         make([]FileSummary, len(info.Files)),
		},
		Timing: Timing{Started: info.Started},
		Gogen: GogenStats{
			County: info.County,
			Prop64ConvictionsCountInCountyByCodeSection: map[string]int64{},
			ConvictionDismissalCountByCodeSection:       map[string]int64{},
			ConvictionReductionCountByCodeSection:       map[string]int64{},
			ConvictionDismissalCountByAdditionalRelief:  map[string]int64{},
		},
		Rejects: []RejectCount{},
	}
	if info.County != "" {
		s.Run.Scope = ScopeCounty
	}
	for i, f := range info.Files {
		s.Run.Files[i] = FileSummary{Index: f.Index, Path: f.Path, Size: f.Size}
	}
	s.Run.Policies = policySummaries(info)
	// gogen lists every configured section, even at zero. A statewide run has one
	// policy per county, so it lists the union of their sections.
	for _, p := range s.Run.Policies {
		for _, sec := range p.Dismiss {
			s.Gogen.ConvictionDismissalCountByCodeSection[sec] = 0
		}
		for _, sec := range p.Reduce {
			s.Gogen.ConvictionReductionCountByCodeSection[sec] = 0
		}
	}
	s.init()
	return s
}

// policySummaries lists the policies that can decide a conviction in the run's scope:
// the county's own in a county run, every configured one in a statewide run.
func policySummaries(info RunInfo) []PolicySummary {
	out := []PolicySummary{}
	if info.Policies == nil {
		return out
	}
	if info.County != "" {
		if p := info.Policies.For(info.County); p != nil {
			out = append(out, policySummary(info.County, false, p))
		}
		return out
	}
	counties := make([]string, 0, len(info.Policies.ByCounty))
	for c := range info.Policies.ByCounty {
		counties = append(counties, c)
	}
	sort.Strings(counties)
	for _, c := range counties {
		if p := info.Policies.ByCounty[c]; p != nil {
			out = append(out, policySummary(c, false, p))
		}
	}
	if info.Policies.Default != nil {
		out = append(out, policySummary("", true, info.Policies.Default))
	}
	return out
}

func policySummary(county string, def bool, p *eligibility.Policy) PolicySummary {
	return PolicySummary{
		County: county, Default: def, Name: p.Name, Hash: p.Hash,
		Dismiss: sectionNames(p.Dismiss), Reduce: sectionNames(p.Reduce),
	}
}

func sectionNames(idx []int) []string {
	out := make([]string, 0, len(idx))
	for _, i := range idx {
		out = append(out, sectionName(i))
	}
	return out
}

func sectionName(i int) string {
	if i >= 0 && i < eligibility.NumSections {
		return eligibility.SectionNames[i]
	}
	return KeyUnknown
}

// init derives the unexported dates from Run.ComputeAt.
func (s *Summary) init() {
	s.computeAt = record.NoDate
	if d, err := record.ParseISO(s.Run.ComputeAt); err == nil {
		s.computeAt = d
	}
	s.last7 = s.computeAt.AddYears(-7)
	s.earliest = record.NoDate
	if d, err := record.ParseISO(s.Gogen.EarliestConviction); err == nil {
		s.earliest = d
	}
}

// UnmarshalJSON decodes a summary and restores the state Add needs, so a loaded
// summary can keep accumulating.
func (s *Summary) UnmarshalJSON(b []byte) error {
	type plain Summary // drops the methods, so this does not recurse
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return fmt.Errorf("decode summary: %w", err)
	}
	*s = Summary(p)
	s.init()
	return nil
}

// ComputeAt returns the compute-at date (NoDate when the summary has none).
func (s *Summary) ComputeAt() record.Date { return s.computeAt }

// Add accounts for one subject's evaluation.
func (s *Summary) Add(r *eligibility.Result) {
	s.Totals.Subjects++
	s.addReliefCounts(r)
	if len(r.Evaluated) == 0 {
		return
	}
	s.Totals.SubjectsWithProp64++
	s.Gogen.SubjectsWithProp64ConvictionCountInCounty++

	person := s.personKeys(r)
	keys := make([][numBreakdowns]string, len(r.Evaluated))
	relief := false
	for i := range r.Evaluated {
		c := &r.Evaluated[i]
		det := c.Determination
		relief = relief || det.Relief()
		s.addTotals(det)
		s.addGogen(c)

		keys[i] = [numBreakdowns]string{
			bCounty:        orUnknown(c.County),
			bSection:       sectionName(c.Section),
			bDetermination: determinationKey(det),
			bReason:        c.Reason,
			bRace:          person[0],
			bGender:        person[1],
			bAgeBand:       person[2],
			bFelony:        felonyKey(c.Felony),
		}
		for b := range numBreakdowns {
			// A person counts once per entry: only on the first of their convictions
			// that lands in it.
			first := true
			for j := 0; j < i && first; j++ {
				first = keys[j][b] != keys[i][b] || (b == bReason && r.Evaluated[j].RuleID != c.RuleID)
			}
			rule := ""
			if b == bReason {
				rule = c.RuleID
			}
			s.breakdown(b).add(keys[i][b], rule, det, first)
		}
	}
	if relief {
		s.Totals.PeopleWithRelief++
		s.Gogen.SubjectsWithSomeReliefCount++
	}
}

func (s *Summary) addTotals(det eligibility.Determination) {
	s.Totals.ConvictionsEvaluated++
	switch det {
	case eligibility.Dismiss:
		s.Totals.ConvictionsDismissed++
	case eligibility.Reduce:
		s.Totals.ConvictionsReduced++
	case eligibility.HandReview:
		s.Totals.ConvictionsHandReview++
	case eligibility.NotEligible:
		s.Totals.ConvictionsNotEligible++
	default:
		s.Totals.ConvictionsUndecided++
	}
}

// addGogen counts one evaluated conviction into gogen's statistics (§4.3).
func (s *Summary) addGogen(c *eligibility.Conviction) {
	g := &s.Gogen
	g.Prop64ConvictionsCountInCountyByCodeSection[sectionName(c.Section)]++
	if c.Felony {
		g.Prop64FelonyConvictionsCountInCounty++
	} else {
		g.Prop64NonFelonyConvictionsCountInCounty++
	}
	if c.Date.Valid() && (!s.earliest.Valid() || c.Date < s.earliest) {
		s.earliest = c.Date
		g.EarliestConviction = isoDate(c.Date)
	}
	switch c.Determination {
	case eligibility.Dismiss:
		if sec, ok := baselineSection(c.Reason, gogenDismissAll); ok {
			// Only configured sections count, as in gogen (keys preset to 0).
			if _, configured := g.ConvictionDismissalCountByCodeSection[sec]; configured {
				g.ConvictionDismissalCountByCodeSection[sec]++
			}
		} else if !strings.HasPrefix(c.Reason, gogenDismissAll) && !strings.HasPrefix(c.Reason, gogenMisdemeanor) {
			g.ConvictionDismissalCountByAdditionalRelief[c.Reason]++
		}
	case eligibility.Reduce:
		if sec, ok := baselineSection(c.Reason, gogenReduceAll); ok {
			if _, configured := g.ConvictionReductionCountByCodeSection[sec]; configured {
				g.ConvictionReductionCountByCodeSection[sec]++
			}
		}
	}
}

// baselineSection extracts s from gogen's "<prefix><s> convictions" reasons.
func baselineSection(reason, prefix string) (string, bool) {
	rest, ok := strings.CutPrefix(reason, prefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(rest, gogenConvictions)
}

// addReliefCounts computes gogen's "clear record" statistics for one subject over ALL
// its convictions (any county, any offense), for the configured flow and for the
// hypothetical flow that dismisses every Prop 64 conviction in scope (§3.4).
func (s *Summary) addReliefCounts(r *eligibility.Result) {
	cur, all := clearRecords(r, s.last7)
	cur.addTo(&s.Gogen.ReliefWithCurrentEligibilityChoices)
	all.addTo(&s.Gogen.ReliefWithDismissAllProp64)
	if cur.Cleared() {
		s.Totals.RecordsFullyCleared++
	}
}

// ClearRecord tallies one subject's convictions — every conviction row, any offense, any
// county — for gogen's "clear record" outcomes.
type ClearRecord struct{ convs, dismissed, fel, felRelief, recent, recentDismissed int }

// ClearRecords tallies r's convictions under its decisions (cur) and under the
// hypothetical flow that dismisses every evaluated Prop 64 conviction (all). "Recent"
// means dated strictly after computeAt minus 7 years (gogen used the wall clock).
func ClearRecords(r *eligibility.Result, computeAt record.Date) (cur, all ClearRecord) {
	return clearRecords(r, computeAt.AddYears(-7))
}

func clearRecords(r *eligibility.Result, last7 record.Date) (cur, all ClearRecord) {
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
		recent := ev.Date.Valid() && last7.Valid() && ev.Date > last7
		cur.add(ev.Felony, recent, det == eligibility.Dismiss, det.Relief())
		all.add(ev.Felony, recent, evaluated, evaluated)
	}
	return cur, all
}

func (t *ClearRecord) add(felony, recent, dismissed, relieved bool) {
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

// Convictions counts the subject's convictions.
func (t ClearRecord) Convictions() int { return t.convs }

// Felonies counts the subject's felony convictions.
func (t ClearRecord) Felonies() int { return t.fel }

// Cleared: the subject has convictions and every one is dismissed.
func (t ClearRecord) Cleared() bool { return t.convs > 0 && t.convs == t.dismissed }

// FelonyFree: the subject has felonies and every one is dismissed or reduced.
func (t ClearRecord) FelonyFree() bool { return t.fel > 0 && t.fel == t.felRelief }

// Clear7: the subject has convictions in the last 7 years and every one is dismissed.
func (t ClearRecord) Clear7() bool { return t.recent > 0 && t.recent == t.recentDismissed }

// addTo counts the subject where every conviction of a kind would be gone.
func (t ClearRecord) addTo(out *ReliefCounts) {
	if t.Cleared() {
		out.CountSubjectsNoConviction++
	}
	if t.FelonyFree() {
		out.CountSubjectsNoFelony++
	}
	if t.Clear7() {
		out.CountSubjectsNoConvictionLast7Years++
	}
}

// personKeys returns race, gender and age band of a subject. Race and gender come from
// the subject's first row, as its DOB does, so every conviction of a person is counted
// under the same values.
func (s *Summary) personKeys(r *eligibility.Result) [3]string {
	var race, gender string
	if len(r.Subject.Events) > 0 {
		c := r.Subject.Events[0].Cells
		race = strings.TrimSpace(cell(c, doj.ColRaceDescr))
		gender = strings.TrimSpace(cell(c, doj.ColGender))
	}
	return [3]string{orUnknown(race), orUnknown(gender), AgeBand(r.Facts.DOB, s.computeAt)}
}

// AgeBand returns the age band of someone born on dob at date at.
func AgeBand(dob, at record.Date) string {
	age := record.YearsBetween(dob, at)
	switch {
	case age < 0:
		return KeyUnknown
	case age < 21:
		return AgeBands[0]
	case age < 30:
		return AgeBands[1]
	case age < 40:
		return AgeBands[2]
	case age < 50:
		return AgeBands[3]
	case age < 60:
		return AgeBands[4]
	}
	return AgeBands[5]
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return KeyUnknown
	}
	return s
}

func determinationKey(d eligibility.Determination) string {
	if d == eligibility.None {
		return KeyUndecided
	}
	return d.String()
}

func felonyKey(felony bool) string {
	if felony {
		return KeyFelony
	}
	return KeyNonFelony
}

// Breakdown identifiers, indexes of a conviction's key array.
const (
	bCounty = iota
	bSection
	bDetermination
	bReason
	bRace
	bGender
	bAgeBand
	bFelony
	numBreakdowns
)

func (s *Summary) breakdown(b int) *Breakdown {
	switch b {
	case bCounty:
		return &s.Breakdowns.County
	case bSection:
		return &s.Breakdowns.Section
	case bDetermination:
		return &s.Breakdowns.Determination
	case bReason:
		return &s.Breakdowns.Reason
	case bRace:
		return &s.Breakdowns.Race
	case bGender:
		return &s.Breakdowns.Gender
	case bAgeBand:
		return &s.Breakdowns.AgeBand
	}
	return &s.Breakdowns.Felony
}

// add counts one conviction under (key, rule); newPerson adds its person.
func (b *Breakdown) add(key, rule string, det eligibility.Determination, newPerson bool) {
	e := b.entry(key, rule)
	e.Convictions++
	e.ByDetermination.add(det)
	if newPerson {
		e.People++
	}
}

// entry finds or inserts the entry for (key, rule), keeping the order.
func (b *Breakdown) entry(key, rule string) *Entry {
	s := *b
	i := sort.Search(len(s), func(i int) bool {
		return s[i].Key > key || (s[i].Key == key && s[i].RuleID >= rule)
	})
	if i == len(s) || s[i].Key != key || s[i].RuleID != rule {
		s = append(s, Entry{})
		copy(s[i+1:], s[i:])
		s[i] = Entry{Key: key, RuleID: rule}
		*b = s
	}
	return &s[i]
}

// Find returns the entry for key (and rule id, for reasons), or nil.
func (b Breakdown) Find(key, rule string) *Entry {
	for i := range b {
		if b[i].Key == key && b[i].RuleID == rule {
			return &b[i]
		}
	}
	return nil
}

func (d *DeterminationCounts) add(det eligibility.Determination) {
	switch det {
	case eligibility.Dismiss:
		d.Dismiss++
	case eligibility.Reduce:
		d.Reduce++
	case eligibility.HandReview:
		d.HandReview++
	case eligibility.NotEligible:
		d.NotEligible++
	default:
		d.None++
	}
}

// Get returns the count of one determination.
func (d DeterminationCounts) Get(det eligibility.Determination) int64 {
	switch det {
	case eligibility.Dismiss:
		return d.Dismiss
	case eligibility.Reduce:
		return d.Reduce
	case eligibility.HandReview:
		return d.HandReview
	case eligibility.NotEligible:
		return d.NotEligible
	}
	return d.None
}

// AddReject accounts for one quarantined row.
func (s *Summary) AddReject(r doj.Reject) {
	i := sort.Search(len(s.Rejects), func(i int) bool {
		x := s.Rejects[i]
		return x.Reason > r.Reason || (x.Reason == r.Reason && x.Field >= r.Field)
	})
	if i == len(s.Rejects) || s.Rejects[i].Reason != r.Reason || s.Rejects[i].Field != r.Field {
		s.Rejects = append(s.Rejects, RejectCount{})
		copy(s.Rejects[i+1:], s.Rejects[i:])
		s.Rejects[i] = RejectCount{Reason: r.Reason, Field: r.Field}
	}
	s.Rejects[i].Rows++
}

// Finish records the end-of-run counts and timing.
func (s *Summary) Finish(st RunStats) {
	s.Totals.Rows, s.Totals.Rejects = 0, 0
	for i, f := range st.Files {
		if i < len(s.Run.Files) {
			s.Run.Files[i].Rows = f.Rows
			s.Run.Files[i].Rejects = f.Rejects
			s.Run.Files[i].HasHeader = f.HasHeader
		}
		s.Totals.Rows += f.Rows
		s.Totals.Rejects += f.Rejects
	}
	s.Gogen.LineCount = s.Totals.Rows
	s.Timing.Finished = st.Finished
	if !s.Timing.Started.IsZero() && !st.Finished.IsZero() {
		s.Timing.DurationSeconds = st.Finished.Sub(s.Timing.Started).Seconds()
	}
	if s.Timing.DurationSeconds > 0 {
		s.Timing.RowsPerSecond = float64(s.Totals.Rows) / s.Timing.DurationSeconds
	}
}

// gogenDocument is gogen.json, fields in gogen's order.
type gogenDocument struct {
	County                                      string           `json:"county"`
	EarliestConviction                          time.Time        `json:"earliestConviction"`
	LineCount                                   int64            `json:"lineCount"`
	ProcessingTimeInSeconds                     float64          `json:"processingTimeInSeconds"`
	ReliefWithCurrentEligibilityChoices         ReliefCounts     `json:"reliefWithCurrentEligibilityChoices"`
	ReliefWithDismissAllProp64                  ReliefCounts     `json:"reliefWithDismissAllProp64"`
	Prop64ConvictionsCountInCountyByCodeSection map[string]int64 `json:"prop64ConvictionsCountInCountyByCodeSection"`
	SubjectsWithProp64ConvictionCountInCounty   int64            `json:"subjectsWithProp64ConvictionCountInCounty"`
	Prop64FelonyConvictionsCountInCounty        int64            `json:"prop64FelonyConvictionsCountInCounty"`
	Prop64NonFelonyConvictionsCountInCounty     int64            `json:"prop64NonFelonyConvictionsCountInCounty"`
	SubjectsWithSomeReliefCount                 int64            `json:"subjectsWithSomeReliefCount"`
	ConvictionDismissalCountByCodeSection       map[string]int64 `json:"convictionDismissalCountByCodeSection"`
	ConvictionReductionCountByCodeSection       map[string]int64 `json:"convictionReductionCountByCodeSection"`
	ConvictionDismissalCountByAdditionalRelief  map[string]int64 `json:"convictionDismissalCountByAdditionalRelief"`
}

// GogenJSON returns the gogen.json document: gogen's fields, order and compact
// encoding (no trailing newline). processingTimeInSeconds is the whole run. When no
// evaluated conviction has a valid date, earliestConviction is the compute-at date
// (gogen wrote the wall-clock time; a date keeps reruns identical).
func (s *Summary) GogenJSON() ([]byte, error) {
	g := &s.Gogen
	earliest := s.computeAt
	if d, err := record.ParseISO(g.EarliestConviction); err == nil {
		earliest = d
	}
	doc := gogenDocument{
		County:                              g.County,
		LineCount:                           g.LineCount,
		ProcessingTimeInSeconds:             s.Timing.DurationSeconds,
		ReliefWithCurrentEligibilityChoices: g.ReliefWithCurrentEligibilityChoices,
		ReliefWithDismissAllProp64:          g.ReliefWithDismissAllProp64,
		Prop64ConvictionsCountInCountyByCodeSection: nonNil(g.Prop64ConvictionsCountInCountyByCodeSection),
		SubjectsWithProp64ConvictionCountInCounty:   g.SubjectsWithProp64ConvictionCountInCounty,
		Prop64FelonyConvictionsCountInCounty:        g.Prop64FelonyConvictionsCountInCounty,
		Prop64NonFelonyConvictionsCountInCounty:     g.Prop64NonFelonyConvictionsCountInCounty,
		SubjectsWithSomeReliefCount:                 g.SubjectsWithSomeReliefCount,
		ConvictionDismissalCountByCodeSection:       nonNil(g.ConvictionDismissalCountByCodeSection),
		ConvictionReductionCountByCodeSection:       nonNil(g.ConvictionReductionCountByCodeSection),
		ConvictionDismissalCountByAdditionalRelief:  nonNil(g.ConvictionDismissalCountByAdditionalRelief),
	}
	if earliest.Valid() {
		doc.EarliestConviction = earliest.Time()
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode gogen.json: %w", err)
	}
	return b, nil
}

// nonNil makes an absent map encode as {} as gogen's always-made maps do.
func nonNil(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// JSON returns the summary as indented JSON with a trailing newline.
func (s *Summary) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode summary: %w", err)
	}
	return append(b, '\n'), nil
}
