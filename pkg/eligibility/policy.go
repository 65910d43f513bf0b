package eligibility

import "fmt"

// Action is what a disqualifier does when it applies.
type Action uint8

// Actions for disqualifiers and for misdemeanours.
const (
	Off Action = iota
	ActNotEligible
	ActHandReview
	ActDismiss
)

// Policy is one county's Prop 64 policy. The zero value decides nothing. A gogen
// eligibility-options file maps onto Baseline + Relief with every Disqualifier off,
// Misdemeanors = ActDismiss and Fallback = None, and then this engine makes gogen's
// exact decisions (gogen-behaviour.md §3.3), except where docs/gogen-differences.md says.
type Policy struct {
	// Name identifies the policy (file name or the YAML name field); Hash is the
	// hex SHA-256 of the policy document as loaded.
	Name string
	Hash string
	// Description is the policy document's free-text description, for reports.
	Description string

	// Dismiss and Reduce list Prop 64 sections (indexes HS11357…) in the order written.
	Dismiss []int
	Reduce  []int

	// Misdemeanors: what happens to a non-felony conviction. gogen: ActDismiss with
	// reason "Misdemeanor or Infraction".
	Misdemeanors Action

	Disqualifiers Disqualifiers
	Relief        Relief

	// Fallback is the determination when nothing else decides (gogen: None).
	Fallback Determination
}

// Disqualifiers are the law's exclusions and hand-review tier, each a switch.
type Disqualifiers struct {
	// ConvictedAfterEnactment: conviction dated after 2016-11-09.
	ConvictedAfterEnactment Action
	// InvolvesMinors: 11359(c)(3), 11359(d), 11360(a)(3)(C)/(D).
	InvolvesMinors Action
	// PriorSuperStrike: a super-strike conviction in an earlier case.
	PriorSuperStrike Action
	// PriorPC290: an earlier PC 290 registrable conviction or a registration.
	PriorPC290 Action
	// TwoPriorsSameSection: two or more earlier convictions of the same section.
	TwoPriorsSameSection Action
	// SentenceNotCompleted: the sentence had not ended by the compute-at date.
	SentenceNotCompleted Action
}

// Relief are gogen's "additional relief" options; zero disables a threshold.
type Relief struct {
	Under21AtConviction  bool
	AgeThreshold         int // 0 or 40–65
	YearsSinceConviction int // 0 or 1–15
	YearsCrimeFree       int // 0 or 1–15
	OnlyProp64Charges    bool
	Deceased             bool
}

// Policies maps counties to policies. A conviction is decided by the policy of the
// county where it happened (STP_ORI_CNTY_NAME); Default covers every other county.
type Policies struct {
	ByCounty map[string]*Policy
	Default  *Policy
}

// For returns the policy for county.
func (p *Policies) For(county string) *Policy {
	if pol, ok := p.ByCounty[county]; ok {
		return pol
	}
	return p.Default
}

// Gogen's ranges for the additional-relief thresholds (gogen-behaviour.md §3.2).
const (
	MinAgeThreshold = 40
	MaxAgeThreshold = 65
	MinYears        = 1
	MaxYears        = 15
)

// Validate checks that p only holds values the engine understands: known sections,
// thresholds in gogen's ranges (0 = off), and actions each switch supports.
func (p *Policy) Validate() error {
	for _, list := range []struct {
		name     string
		sections []int
	}{{"dismiss", p.Dismiss}, {"reduce", p.Reduce}} {
		for _, s := range list.sections {
			if s < 0 || s >= NumSections {
				return fmt.Errorf("policy %q: %s list holds section index %d, not one of 11357, 11358, 11359, 11360", p.Name, list.name, s)
			}
		}
	}
	r := p.Relief
	if r.AgeThreshold != 0 && (r.AgeThreshold < MinAgeThreshold || r.AgeThreshold > MaxAgeThreshold) {
		return fmt.Errorf("policy %q: age threshold %d should be between %d and %d, or 0", p.Name, r.AgeThreshold, MinAgeThreshold, MaxAgeThreshold)
	}
	if r.YearsSinceConviction != 0 && (r.YearsSinceConviction < MinYears || r.YearsSinceConviction > MaxYears) {
		return fmt.Errorf("policy %q: years since conviction %d should be between %d and %d, or 0", p.Name, r.YearsSinceConviction, MinYears, MaxYears)
	}
	if r.YearsCrimeFree != 0 && (r.YearsCrimeFree < MinYears || r.YearsCrimeFree > MaxYears) {
		return fmt.Errorf("policy %q: years crime free %d should be between %d and %d, or 0", p.Name, r.YearsCrimeFree, MinYears, MaxYears)
	}
	if p.Misdemeanors > ActDismiss {
		return fmt.Errorf("policy %q: unknown misdemeanors action %d", p.Name, p.Misdemeanors)
	}
	d := p.Disqualifiers
	for _, sw := range []struct {
		name string
		act  Action
	}{
		{"convicted after enactment", d.ConvictedAfterEnactment},
		{"involves minors", d.InvolvesMinors},
		{"prior super strike", d.PriorSuperStrike},
		{"prior PC 290", d.PriorPC290},
		{"two priors of the same section", d.TwoPriorsSameSection},
		{"sentence not completed", d.SentenceNotCompleted},
	} {
		if sw.act != Off && sw.act != ActNotEligible && sw.act != ActHandReview {
			return fmt.Errorf("policy %q: disqualifier %q must be off, not eligible or hand review", p.Name, sw.name)
		}
	}
	if p.Fallback > NotEligible {
		return fmt.Errorf("policy %q: unknown fallback determination %d", p.Name, p.Fallback)
	}
	return nil
}

// ParseAction parses an action's policy-file spelling: off, not_eligible, hand_review
// or dismiss.
func ParseAction(s string) (Action, bool) {
	switch s {
	case "off":
		return Off, true
	case "not_eligible":
		return ActNotEligible, true
	case "hand_review":
		return ActHandReview, true
	case "dismiss":
		return ActDismiss, true
	}
	return Off, false
}

// String returns the policy-file spelling of a.
func (a Action) String() string {
	switch a {
	case Off:
		return "off"
	case ActNotEligible:
		return "not_eligible"
	case ActHandReview:
		return "hand_review"
	case ActDismiss:
		return "dismiss"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// ParseDetermination parses a determination's native name ("none" for None); see
// Determination.String.
func ParseDetermination(s string) (Determination, bool) {
	switch s {
	case "none", "":
		return None, true
	case "dismiss":
		return Dismiss, true
	case "reduce":
		return Reduce, true
	case "hand_review":
		return HandReview, true
	case "not_eligible":
		return NotEligible, true
	}
	return None, false
}
