// Package eligibility is Clearway's pure rule engine: given a subject (all rows of one
// person), a county policy and the compute-at date, it decides every Prop 64 conviction
// in scope with a determination, a human-readable reason and the id of the rule that
// fired. It does no I/O.
package eligibility

import "github.com/clearway/clearway/pkg/record"

// Determination is the outcome for one conviction.
type Determination uint8

// Determinations. None means no rule decided (gogen's blank determination).
const (
	None Determination = iota
	Dismiss
	Reduce
	HandReview
	NotEligible
)

// String returns the native name: "", "dismiss", "reduce", "hand_review", "not_eligible".
func (d Determination) String() string {
	switch d {
	case Dismiss:
		return "dismiss"
	case Reduce:
		return "reduce"
	case HandReview:
		return "hand_review"
	case NotEligible:
		return "not_eligible"
	}
	return ""
}

// GogenString returns gogen's determination text.
func (d Determination) GogenString() string {
	switch d {
	case Dismiss:
		return "Eligible for Dismissal"
	case Reduce:
		return "Eligible for Reduction"
	case HandReview:
		return "Hand Review"
	case NotEligible:
		return "Not eligible"
	}
	return ""
}

// Relief reports whether d grants relief (dismissal or reduction).
func (d Determination) Relief() bool { return d == Dismiss || d == Reduce }

// Decision is what a policy decided for one conviction.
type Decision struct {
	Determination Determination
	// Reason is human text; gogen's exact strings where gogen has the rule.
	Reason string
	// RuleID names the rule that fired, e.g. "baseline.dismiss", "relief.age_threshold".
	RuleID string
}

// Prop 64 code sections, indexes into per-section arrays.
const (
	HS11357 = iota
	HS11358
	HS11359
	HS11360
	NumSections
)

// SectionNames are the Prop 64 sections by index.
var SectionNames = [NumSections]string{"11357", "11358", "11359", "11360"}

// Facts are subject-level facts derived from all of a subject's rows, in all counties.
type Facts struct {
	DOB                  record.Date // from the subject's first row
	Convictions          int         // distinct CNT_ORDER convictions
	Prop64Convictions    int
	Prop64BySection      [NumSections]int
	MostRecentConviction record.Date // NoDate when none has a valid date
	Superstrikes         []string    // code sections, in row order, not de-duplicated
	PC290                []string    // code sections of PC 290 registrable convictions
	PC290Registration    bool
	Deceased             bool
}

// Conviction is one evaluated (in-scope Prop 64) conviction and its decision.
type Conviction struct {
	// Index is the position of the conviction's row in Subject.Events.
	Index int
	// Section is the Prop 64 section index (HS11357…HS11360).
	Section int
	Felony  bool
	Date    record.Date
	// CaseNumbers is the "; "-joined OFN list of court rows in the same cycle+step.
	CaseNumbers string
	County      string
	// Policy names the policy that decided it; PolicyHash is that policy's content hash.
	Policy     string
	PolicyHash string
	Decision
	// SentenceEnd is when the conviction's sentence ends (all its rows' parts added);
	// NoDate when there is no sentence information.
	SentenceEnd record.Date // NoDate when no sentence information
}

// Result is the evaluation of one subject.
type Result struct {
	Subject *record.Subject
	Facts   Facts
	// ConvictionRows marks, per event, whether it is a conviction (first row of its
	// CNT_ORDER with a CONVICTED disposition); duplicates are false.
	ConvictionRows []bool
	// Evaluated are the in-scope Prop 64 convictions in row order.
	Evaluated []Conviction
}
