package eligibility

import "github.com/clearway/clearway/pkg/record"

// Rule ids: stable, dotted names of the rule that decided a conviction. Outputs and the
// warehouse store them, so never rename one; add a new id instead. "gogen." rules and
// "relief." rules are gogen's configurable flow (gogen-behaviour.md §3.3); "disq." rules
// are the law's disqualifiers; "data." rules are data-quality guards.
const (
	RuleQuarantined          = "data.quarantined"
	RuleMissingDate          = "data.missing_date"
	RuleAfterEnactment       = "disq.after_enactment"
	RuleInvolvesMinors       = "disq.involves_minors"
	RuleMisdemeanor          = "gogen.misdemeanor"
	RulePriorSuperStrike     = "disq.prior_superstrike"
	RulePriorPC290           = "disq.prior_pc290"
	RuleTwoPriors            = "disq.two_priors"
	RuleDismissSection       = "gogen.dismiss_section"
	RuleUnder21              = "relief.under21"
	RuleAgeThreshold         = "relief.age_threshold"
	RuleYearsSinceConviction = "relief.years_since_conviction"
	RuleCrimeFree            = "relief.crime_free"
	RuleOnlyProp64           = "relief.only_prop64"
	RuleDeceased             = "relief.deceased"
	RuleSentenceNotCompleted = "disq.sentence_not_completed"
	RuleReduceSection        = "gogen.reduce_section"
	RuleFallback             = "fallback"
)

// Reasons with fixed text. gogen's strings are reproduced exactly; the thresholds' and
// sections' reasons are formatted ("57 years or older", "Dismiss all HS 11357 convictions").
const (
	ReasonQuarantined          = "Record has quarantined rows; review the full record"
	ReasonAfterEnactment       = "Occurred after 11/09/2016"
	ReasonInvolvesMinors       = "Offense involves minors"
	ReasonMisdemeanor          = "Misdemeanor or Infraction"
	ReasonPriorSuperStrike     = "PC 667(e)(2)(c)(iv)"
	ReasonPriorPC290           = "PC 290"
	ReasonTwoPriors            = "Two priors"
	ReasonUnder21              = "21 years or younger"
	ReasonOnlyProp64           = "Only has 11357-60 charges"
	ReasonDeceased             = "Individual is deceased"
	ReasonSentenceNotCompleted = "Currently serving sentence"
	// ReasonNoCriteria is the fallback's reason when the fallback decides something
	// (gogen's fallback decides nothing and has an empty reason).
	ReasonNoCriteria = "No applicable eligibility criteria"

	ReasonMissingDOB            = "Date of birth missing or invalid; needs review"
	ReasonMissingConvictionDate = "Conviction date missing or invalid; needs review"
	ReasonMissingOtherDate      = "Date of another conviction missing or invalid; needs review"
)

// Enactment is 2016-11-09, the day Prop 64 took effect; a conviction dated strictly
// after it "Occurred after 11/09/2016". (A constant, checked against record.MakeDate in
// the tests, so that no package-level variable exists.)
const Enactment record.Date = 17114
