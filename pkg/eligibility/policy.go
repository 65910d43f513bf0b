package eligibility

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
