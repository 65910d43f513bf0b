package eligibility

import (
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

// want is an expected decision.
type want struct {
	det    Determination
	reason string
	rule   string
}

func check(t *testing.T, got Decision, w want) {
	t.Helper()
	if got.Determination != w.det || got.Reason != w.reason || got.RuleID != w.rule {
		t.Errorf("decision = {%v %q %s}, want {%v %q %s}", got.Determination, got.Reason, got.RuleID, w.det, w.reason, w.rule)
	}
}

// TestGogenSections is gogen-behaviour.md §6.1 B, the section cases (T 2020-07-01,
// dismiss 11357/11358/11359, reduce 11360).
func TestGogenSections(t *testing.T) {
	p := gogenPolicy([]int{HS11357, HS11358, HS11359}, []int{HS11360}, Relief{})
	tests := []struct {
		name string
		r    row
		want want
	}{
		{"misdemeanor", misd("101002001000", "19990504", "11357(A) HS"), want{Dismiss, "Misdemeanor or Infraction", RuleMisdemeanor}},
		{"felony 11357(D)", conv("101002001000", "19990504", "11357(D) HS"), want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection}},
		{"felony 11358", conv("101002001000", "20090504", "11358 HS"), want{Dismiss, "Dismiss all HS 11358 convictions", RuleDismissSection}},
		{"felony 11360", conv("101002001000", "20110512", "11360 HS"), want{Reduce, "Reduce all HS 11360 convictions", RuleReduceSection}},
		{"misdemeanor in reduce list", misd("101002001000", "20110512", "11360 HS"), want{Dismiss, "Misdemeanor or Infraction", RuleMisdemeanor}},
		{"attempt glued on", conv("101002001000", "19990504", "66411357(A) HS"), want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection}},
		{"no code letters", conv("101002001000", "19990504", "11357(A)"), want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection}},
		{"wrong code letters", conv("101002001000", "19990504", "11357(A)PC"), want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := engine(t, p, "2020-07-01").Evaluate(subject(t, "19780410", tt.r))
			check(t, decisionAt(t, res, 0), tt.want)
		})
	}
}

func TestGogenEmptyDismissList(t *testing.T) {
	p := gogenPolicy(nil, []int{HS11357, HS11358, HS11359, HS11360}, Relief{})
	s := subject(t, "19780410",
		conv("101002001000", "19990504", "11357(A) HS"),
		misd("101002002000", "19990504", "11357(D) HS"),
		conv("102002003000", "20090504", "11358 HS"),
	)
	res := engine(t, p, "2020-07-01").Evaluate(s)
	check(t, decisionAt(t, res, 0), want{Reduce, "Reduce all HS 11357 convictions", RuleReduceSection})
	check(t, decisionAt(t, res, 1), want{Dismiss, "Misdemeanor or Infraction", RuleMisdemeanor})
	check(t, decisionAt(t, res, 2), want{Reduce, "Reduce all HS 11358 convictions", RuleReduceSection})
}

// TestGogenAdditionalRelief is §6.1 B, the additional-relief cases (dismiss 11357,
// reduce 11358/11359/11360), each option on and off.
func TestGogenAdditionalRelief(t *testing.T) {
	reduce := want{Reduce, "Reduce all HS 11359 convictions", RuleReduceSection}
	other := conv("109002001000", "19950101", "459 PC-BURGLARY") // blocks "only Prop 64"
	tests := []struct {
		name   string
		relief Relief
		dob    string
		rows   []row
		want   want
	}{
		{"under 21 on", Relief{Under21AtConviction: true}, "19800514", []row{conv("101002001000", "19960912", "11359 HS"), other}, want{Dismiss, "21 years or younger", RuleUnder21}},
		{"under 21 off", Relief{}, "19800514", []row{conv("101002001000", "19960912", "11359 HS"), other}, reduce},
		{"years since: threshold+1", Relief{YearsSinceConviction: 13}, "19700101", []row{conv("101002001000", "20060701", "11359 HS"), other}, want{Dismiss, "Conviction occurred 13 or more years ago", RuleYearsSinceConviction}},
		{"years since: threshold-1", Relief{YearsSinceConviction: 13}, "19700101", []row{conv("101002001000", "20080701", "11359 HS"), other}, reduce},
		{"crime free: last 7 years ago", Relief{YearsCrimeFree: 6}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20130701", "459 PC")}, want{Dismiss, "No convictions in the past 6 years", RuleCrimeFree}},
		{"crime free: last 5 years ago", Relief{YearsCrimeFree: 6}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20150701", "459 PC")}, reduce},
		{"only Prop 64 on", Relief{OnlyProp64Charges: true}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20130101", "11360 HS")}, want{Dismiss, "Only has 11357-60 charges", RuleOnlyProp64}},
		{"only Prop 64 blocked by any other conviction", Relief{OnlyProp64Charges: true}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20130101", "5555 HS")}, reduce},
		{"only Prop 64 blocked in another county", Relief{OnlyProp64Charges: true}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), {cnt: "102002001000", date: "20130101", offense: "459 PC", county: "YOLO", convicted: true}}, reduce},
		{"only Prop 64 off", Relief{}, "19700101", []row{conv("101002001000", "20120101", "11359 HS")}, reduce},
		{"deceased on", Relief{Deceased: true}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), {cnt: "102001001000", date: "20150101", step: record.StepDeceased}}, want{Dismiss, "Individual is deceased", RuleDeceased}},
		{"deceased off", Relief{}, "19700101", []row{conv("101002001000", "20120101", "11359 HS"), {cnt: "102001001000", date: "20150101", step: record.StepDeceased}}, reduce},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gogenPolicy([]int{HS11357}, []int{HS11358, HS11359, HS11360}, tt.relief)
			res := engine(t, p, "2020-07-01").Evaluate(subject(t, tt.dob, tt.rows...))
			check(t, decisionAt(t, res, 0), tt.want)
		})
	}
}

// TestGogenOnlyProp64DismissesAll: every non-dismissed Prop 64 felony of the subject.
func TestGogenOnlyProp64DismissesAll(t *testing.T) {
	p := gogenPolicy([]int{HS11357}, []int{HS11358, HS11359, HS11360}, Relief{OnlyProp64Charges: true})
	s := subject(t, "19700101",
		conv("101002001000", "20120101", "11357 HS"),
		conv("102002001000", "20130101", "11358 HS"),
		conv("103002001000", "20140101", "11360 HS"),
	)
	res := engine(t, p, "2020-07-01").Evaluate(s)
	check(t, decisionAt(t, res, 0), want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection})
	check(t, decisionAt(t, res, 1), want{Dismiss, "Only has 11357-60 charges", RuleOnlyProp64})
	check(t, decisionAt(t, res, 2), want{Dismiss, "Only has 11357-60 charges", RuleOnlyProp64})
}

// TestGogenBoundaries are the observed boundaries of §3.3 (T 2020-07-01, the options
// fixture), and Feb-29 birthdays.
func TestGogenBoundaries(t *testing.T) {
	reduce := want{Reduce, "Reduce all HS 11359 convictions", RuleReduceSection}
	other := conv("109002001000", "20150101", "459 PC-BURGLARY") // blocks "only Prop 64"
	tests := []struct {
		name string
		at   string
		dob  string
		date string
		want want
	}{
		{"age threshold reached on the birthday", "2020-07-01", "19630701", "20150101", want{Dismiss, "57 years or older", RuleAgeThreshold}},
		{"age threshold one day short", "2020-07-01", "19630702", "20150101", reduce},
		{"21st birthday is not under 21", "2020-07-01", "19900101", "20110101", reduce},
		{"day before 21st birthday", "2020-07-01", "19900101", "20101231", want{Dismiss, "21 years or younger", RuleUnder21}},
		{"exactly 10 years ago", "2020-07-01", "19700101", "20100701", want{Dismiss, "Conviction occurred 10 or more years ago", RuleYearsSinceConviction}},
		{"a day less than 10 years ago", "2020-07-01", "19700101", "20100702", reduce},
		// Feb 29 + N years normalises to Mar 1 (Go's AddDate), as gogen.
		{"Feb 29 birthday: 21 on Mar 1", "2020-07-01", "19920229", "20130228", want{Dismiss, "21 years or younger", RuleUnder21}},
		{"Feb 29 birthday: not under 21 on Mar 1", "2020-07-01", "19920229", "20130301", reduce},
		{"Feb 29 birthday: 57 not yet on Feb 28", "2021-02-28", "19640229", "20150101", reduce},
		{"Feb 29 birthday: 57 on Mar 1", "2021-03-01", "19640229", "20150101", want{Dismiss, "57 years or older", RuleAgeThreshold}},
	}
	p := gogenPolicy([]int{HS11357, HS11358}, []int{HS11359, HS11360}, fixtureRelief())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := engine(t, p, tt.at).Evaluate(subject(t, tt.dob, conv("101002001000", tt.date, "11359 HS"), other))
			check(t, decisionAt(t, res, 0), tt.want)
		})
	}
}

// TestPartialOptions: when no rule decides, gogen leaves the determination blank.
func TestPartialOptions(t *testing.T) {
	p := gogenPolicy([]int{HS11357}, nil, Relief{})
	res := engine(t, p, "2020-07-01").Evaluate(subject(t, "19700101", conv("101002001000", "20120101", "11359 HS")))
	got := decisionAt(t, res, 0)
	check(t, got, want{None, "", RuleFallback})
	if got.Determination.GogenString() != "" {
		t.Errorf("gogen determination = %q, want blank", got.Determination.GogenString())
	}
}

// TestInvalidDatesNeverGrantRelief: gogen treats missing dates as year 1 and grants
// relief (§8.3); the engine skips the rule and sends the conviction to hand review.
func TestInvalidDatesNeverGrantRelief(t *testing.T) {
	other := conv("109002001000", "20150101", "459 PC-BURGLARY")
	missingDOB := want{HandReview, ReasonMissingDOB, RuleMissingDate}
	missingDate := want{HandReview, ReasonMissingConvictionDate, RuleMissingDate}
	tests := []struct {
		name   string
		relief Relief
		dob    string
		rows   []row
		want   want
	}{
		{"missing DOB, age threshold (gogen: 57 years or older)", Relief{AgeThreshold: 57}, "", []row{conv("101002001000", "20150101", "11359 HS"), other}, missingDOB},
		{"junk DOB, under 21", Relief{Under21AtConviction: true}, "1970XXXX", []row{conv("101002001000", "20150101", "11359 HS"), other}, missingDOB},
		{"missing conviction date, under 21 (gogen: 21 years or younger)", Relief{Under21AtConviction: true}, "19700101", []row{conv("101002001000", "", "11359 HS"), other}, missingDate},
		{"missing conviction date, years since (gogen: 10 or more years ago)", Relief{YearsSinceConviction: 10}, "19700101", []row{conv("101002001000", "", "11359 HS"), other}, missingDate},
		{"undated other conviction, crime free", Relief{YearsCrimeFree: 5}, "19700101", []row{conv("101002001000", "20010101", "11359 HS"), conv("102002001000", "", "459 PC")}, want{HandReview, ReasonMissingOtherDate, RuleMissingDate}},
		{"all dated, crime free", Relief{YearsCrimeFree: 5}, "19700101", []row{conv("101002001000", "20010101", "11359 HS"), conv("102002001000", "20020101", "459 PC")}, want{Dismiss, "No convictions in the past 5 years", RuleCrimeFree}},
		{"missing DOB is irrelevant to the dismiss list", Relief{AgeThreshold: 57}, "", []row{conv("101002001000", "20150101", "11357 HS"), other}, want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection}},
		{"missing DOB, a later rule dismisses anyway", Relief{AgeThreshold: 57, OnlyProp64Charges: true}, "", []row{conv("101002001000", "20150101", "11359 HS")}, want{Dismiss, "Only has 11357-60 charges", RuleOnlyProp64}},
		{"missing DOB, no relief rule needs it", Relief{YearsSinceConviction: 10}, "", []row{conv("101002001000", "20150101", "11359 HS"), other}, want{Reduce, "Reduce all HS 11359 convictions", RuleReduceSection}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gogenPolicy([]int{HS11357}, []int{HS11359}, tt.relief)
			res := engine(t, p, "2020-07-01").Evaluate(subject(t, tt.dob, tt.rows...))
			check(t, decisionAt(t, res, 0), tt.want)
		})
	}
}

func TestMissingDateWithDisqualifiers(t *testing.T) {
	p := gogenPolicy([]int{HS11357}, []int{HS11359}, Relief{})
	p.Disqualifiers.ConvictedAfterEnactment = ActNotEligible
	// Undated: it may be after enactment, so a dismissal must not be granted blind.
	res := engine(t, p, "2020-07-01").Evaluate(subject(t, "19700101", misd("101002001000", "", "11357 HS")))
	check(t, decisionAt(t, res, 0), want{HandReview, ReasonMissingConvictionDate, RuleMissingDate})

	p = gogenPolicy(nil, []int{HS11359}, Relief{})
	p.Disqualifiers.PriorSuperStrike = ActNotEligible
	res = engine(t, p, "2020-07-01").Evaluate(subject(t, "19700101",
		conv("101002001000", "20100101", "11359 HS"),
		conv("102002001000", "", "187 PC"), // when was it?
	))
	check(t, decisionAt(t, res, 0), want{HandReview, ReasonMissingOtherDate, RuleMissingDate})
}

func TestProp64ClassificationFixes(t *testing.T) {
	p := gogenPolicy([]int{HS11357, HS11358}, []int{HS11359, HS11360}, Relief{})
	s := subject(t, "19700101",
		conv("101002001000", "20100101", "11357.5 HS-SYNTHETIC CANNABINOIDS"),
		conv("102002001000", "20100101", "664-11357(A) HS-ATTEMPT"),
		conv("103002001000", "20100101", "113570 HS"),
	)
	res := engine(t, p, "2020-07-01").Evaluate(s)
	if len(res.Evaluated) != 1 || res.Evaluated[0].Index != 1 {
		t.Fatalf("evaluated %+v, want only the dash attempt (row 1)", res.Evaluated)
	}
	check(t, res.Evaluated[0].Decision, want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection})
	if res.Evaluated[0].Section != HS11357 {
		t.Errorf("section = %d, want 11357", res.Evaluated[0].Section)
	}
}

// TestDisqualifiers switches each disqualifier on and off. The base policy is gogen's
// fixture; with a switch off, the decision is gogen's.
func TestDisqualifiers(t *testing.T) {
	const dob = "19800101" // 40 at T: no age relief
	reduce59 := want{Reduce, "Reduce all HS 11359 convictions", RuleReduceSection}
	tests := []struct {
		name string
		set  func(*Disqualifiers, Action)
		act  Action
		rows []row
		on   want
		off  want
	}{
		{
			"after enactment", func(d *Disqualifiers, a Action) { d.ConvictedAfterEnactment = a }, ActNotEligible,
			[]row{conv("101002001000", "20161110", "11358 HS")},
			want{NotEligible, ReasonAfterEnactment, RuleAfterEnactment},
			want{Dismiss, "Dismiss all HS 11358 convictions", RuleDismissSection},
		},
		{
			"after enactment: the day itself is not after", func(d *Disqualifiers, a Action) { d.ConvictedAfterEnactment = a }, ActNotEligible,
			[]row{conv("101002001000", "20161109", "11358 HS")},
			want{Dismiss, "Dismiss all HS 11358 convictions", RuleDismissSection},
			want{Dismiss, "Dismiss all HS 11358 convictions", RuleDismissSection},
		},
		{
			"after enactment applies to misdemeanours", func(d *Disqualifiers, a Action) { d.ConvictedAfterEnactment = a }, ActHandReview,
			[]row{misd("101002001000", "20180101", "11357 HS")},
			want{HandReview, ReasonAfterEnactment, RuleAfterEnactment},
			want{Dismiss, ReasonMisdemeanor, RuleMisdemeanor},
		},
		{
			"involves minors", func(d *Disqualifiers, a Action) { d.InvolvesMinors = a }, ActNotEligible,
			[]row{conv("101002001000", "20120101", "11359(D) HS"), conv("102002001000", "20100101", "459 PC")},
			want{NotEligible, ReasonInvolvesMinors, RuleInvolvesMinors},
			reduce59,
		},
		{
			"prior super strike", func(d *Disqualifiers, a Action) { d.PriorSuperStrike = a }, ActNotEligible,
			[]row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20050101", "187 PC-MURDER")},
			want{NotEligible, ReasonPriorSuperStrike, RulePriorSuperStrike},
			reduce59,
		},
		{
			"super strike in the same case is not a prior (People v. Smit)", func(d *Disqualifiers, a Action) { d.PriorSuperStrike = a }, ActNotEligible,
			[]row{conv("101002001000", "20120101", "11359 HS"), conv("101002002000", "20050101", "187 PC-MURDER")},
			reduce59, reduce59,
		},
		{
			"later super strike is not a prior", func(d *Disqualifiers, a Action) { d.PriorSuperStrike = a }, ActNotEligible,
			[]row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20120101", "187 PC-MURDER")},
			reduce59, reduce59,
		},
		{
			"1187 PC is not a super strike for the disqualifier", func(d *Disqualifiers, a Action) { d.PriorSuperStrike = a }, ActNotEligible,
			[]row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20050101", "1187 PC")},
			reduce59, reduce59,
		},
		{
			"prior super strike does not touch 11357", func(d *Disqualifiers, a Action) { d.PriorSuperStrike = a }, ActNotEligible,
			[]row{conv("101002001000", "20100101", "11357 HS"), conv("102002001000", "20050101", "187 PC-MURDER")},
			want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection},
			want{Dismiss, "Dismiss all HS 11357 convictions", RuleDismissSection},
		},
		{
			"prior PC 290 conviction", func(d *Disqualifiers, a Action) { d.PriorPC290 = a }, ActNotEligible,
			[]row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20050101", "314(1) PC-INDECENT EXPOSURE")},
			want{NotEligible, ReasonPriorPC290, RulePriorPC290},
			reduce59,
		},
		{
			"PC 290 registration", func(d *Disqualifiers, a Action) { d.PriorPC290 = a }, ActHandReview,
			[]row{conv("101002001000", "20120101", "11359 HS"), conv("102002001000", "20050101", "459 PC"), {cnt: "103001001000", date: "20150101", step: record.StepRegistration, offense: "290 PC-REGISTRATION"}},
			want{HandReview, ReasonPriorPC290, RulePriorPC290},
			reduce59,
		},
		{
			"two priors of the same section", func(d *Disqualifiers, a Action) { d.TwoPriorsSameSection = a }, ActNotEligible,
			[]row{conv("103002001000", "20120101", "11359 HS"), conv("101002001000", "20000101", "11359(A) HS"), misd("102002001000", "20050101", "11359 HS"), conv("104002001000", "20050101", "459 PC")},
			want{NotEligible, ReasonTwoPriors, RuleTwoPriors},
			reduce59,
		},
		{
			"one prior is not two", func(d *Disqualifiers, a Action) { d.TwoPriorsSameSection = a }, ActNotEligible,
			[]row{conv("103002001000", "20120101", "11359 HS"), conv("101002001000", "20000101", "11359 HS"), conv("102002001000", "20050101", "11360 HS"), conv("104002001000", "20050101", "459 PC")},
			reduce59, reduce59,
		},
		{
			"sentence not completed", func(d *Disqualifiers, a Action) { d.SentenceNotCompleted = a }, ActHandReview,
			[]row{withSentence(conv("101002001000", "20150101", "11359 HS"), "6Y"), conv("102002001000", "20050101", "459 PC")},
			want{HandReview, ReasonSentenceNotCompleted, RuleSentenceNotCompleted},
			reduce59,
		},
		{
			"sentence completed", func(d *Disqualifiers, a Action) { d.SentenceNotCompleted = a }, ActHandReview,
			[]row{withSentence(conv("101002001000", "20150101", "11359 HS"), "5Y"), conv("102002001000", "20050101", "459 PC")},
			reduce59, reduce59,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, on := range []bool{true, false} {
				p := gogenPolicy([]int{HS11357, HS11358}, []int{HS11359, HS11360}, fixtureRelief())
				w := tt.off
				if on {
					tt.set(&p.Disqualifiers, tt.act)
					w = tt.on
				}
				res := engine(t, p, "2020-07-01").Evaluate(subject(t, dob, tt.rows...))
				check(t, decisionAt(t, res, 0), w)
			}
		})
	}
}

func TestSentenceCheckComesAfterDeceased(t *testing.T) {
	p := gogenPolicy(nil, []int{HS11359}, Relief{Deceased: true})
	p.Disqualifiers.SentenceNotCompleted = ActHandReview
	s := subject(t, "19800101",
		withSentence(conv("101002001000", "20150101", "11359 HS"), "10Y"),
		row{cnt: "102001001000", date: "20190101", step: record.StepDeceased},
	)
	check(t, decisionAt(t, engine(t, p, "2020-07-01").Evaluate(s), 0), want{Dismiss, ReasonDeceased, RuleDeceased})
}

func TestMisdemeanorActions(t *testing.T) {
	tests := []struct {
		act  Action
		want want
	}{
		{ActDismiss, want{Dismiss, ReasonMisdemeanor, RuleMisdemeanor}},
		{ActHandReview, want{HandReview, ReasonMisdemeanor, RuleMisdemeanor}},
		{ActNotEligible, want{NotEligible, ReasonMisdemeanor, RuleMisdemeanor}},
		{Off, want{Reduce, "Reduce all HS 11359 convictions", RuleReduceSection}}, // decided like a felony
	}
	for _, tt := range tests {
		p := gogenPolicy(nil, []int{HS11359}, Relief{})
		p.Misdemeanors = tt.act
		res := engine(t, p, "2020-07-01").Evaluate(subject(t, "19800101", misd("101002001000", "20100101", "11359 HS")))
		check(t, decisionAt(t, res, 0), tt.want)
	}
}

func TestQuarantinedAndFallback(t *testing.T) {
	p := gogenPolicy(nil, nil, Relief{})
	p.Fallback = HandReview
	s := subject(t, "19800101", conv("101002001000", "20100101", "11359 HS"), misd("102002001000", "20100101", "11357 HS"))
	res := engine(t, p, "2020-07-01").Evaluate(s)
	check(t, decisionAt(t, res, 0), want{HandReview, ReasonNoCriteria, RuleFallback})
	check(t, decisionAt(t, res, 1), want{Dismiss, ReasonMisdemeanor, RuleMisdemeanor})

	s.Quarantined = 1
	res = engine(t, p, "2020-07-01").Evaluate(s)
	check(t, decisionAt(t, res, 0), want{HandReview, ReasonQuarantined, RuleQuarantined})
	check(t, decisionAt(t, res, 1), want{HandReview, ReasonQuarantined, RuleQuarantined})
}

func TestCountyScope(t *testing.T) {
	la := &Policy{Name: "la", Hash: "hla", Dismiss: []int{HS11357, HS11358, HS11359, HS11360}, Misdemeanors: ActHandReview}
	def := &Policy{Name: "default", Hash: "hdef", Reduce: []int{HS11357, HS11358, HS11359, HS11360}, Misdemeanors: ActDismiss}
	pols := &Policies{ByCounty: map[string]*Policy{"LOS ANGELES": la}, Default: def}
	s := subject(t, "19800101",
		row{cnt: "101002001000", date: "20100101", county: "LOS ANGELES", offense: "11359 HS", convicted: true, felony: true},
		row{cnt: "102002001000", date: "20100101", county: "YOLO", offense: "11359 HS", convicted: true, felony: true},
		row{cnt: "103002001000", date: "20100101", county: "LOS ANGELES ", offense: "11359 HS", convicted: true, felony: true}, // exact match only
	)
	at := date(t, "2020-07-01")

	statewide := &Engine{Policies: pols, ComputeAt: at}
	if err := statewide.Validate(); err != nil {
		t.Fatal(err)
	}
	res := statewide.Evaluate(s)
	if len(res.Evaluated) != 3 {
		t.Fatalf("statewide evaluated %d, want 3", len(res.Evaluated))
	}
	for i, w := range []struct{ policy, hash, county string }{{"la", "hla", "LOS ANGELES"}, {"default", "hdef", "YOLO"}, {"default", "hdef", "LOS ANGELES "}} {
		c := res.Evaluated[i]
		if c.Policy != w.policy || c.PolicyHash != w.hash || c.County != w.county {
			t.Errorf("conviction %d: policy %q/%q county %q, want %+v", i, c.Policy, c.PolicyHash, c.County, w)
		}
	}
	check(t, res.Evaluated[0].Decision, want{Dismiss, "Dismiss all HS 11359 convictions", RuleDismissSection})
	check(t, res.Evaluated[1].Decision, want{Reduce, "Reduce all HS 11359 convictions", RuleReduceSection})

	one := &Engine{Policies: pols, ComputeAt: at, County: "LOS ANGELES"}
	res = one.Evaluate(s)
	if len(res.Evaluated) != 1 || res.Evaluated[0].Index != 0 {
		t.Fatalf("county run evaluated %+v, want row 0 only", res.Evaluated)
	}
	if res.Facts.Convictions != 3 || res.Facts.Prop64Convictions != 3 {
		t.Errorf("facts span all counties: %+v", res.Facts)
	}

	none := &Engine{Policies: pols, ComputeAt: at, County: "SAN DIEGO"}
	if res := none.Evaluate(s); res.Evaluated != nil || res.ConvictionRows != nil || res.Subject != s {
		t.Errorf("out-of-county subject: %+v", res)
	}
}

func TestEngineValidate(t *testing.T) {
	good := gogenPolicy([]int{HS11357}, nil, Relief{})
	tests := []struct {
		name string
		e    Engine
		ok   bool
	}{
		{"ok", Engine{Policies: &Policies{Default: good}, ComputeAt: 1}, true},
		{"no policies", Engine{ComputeAt: 1}, false},
		{"no date", Engine{Policies: &Policies{Default: good}, ComputeAt: record.NoDate}, false},
		{"statewide without default", Engine{Policies: &Policies{ByCounty: map[string]*Policy{"YOLO": good}}, ComputeAt: 1}, false},
		{"county with its own policy", Engine{Policies: &Policies{ByCounty: map[string]*Policy{"YOLO": good}}, ComputeAt: 1, County: "YOLO"}, true},
		{"bad threshold", Engine{Policies: &Policies{Default: &Policy{Relief: Relief{AgeThreshold: 30}}}, ComputeAt: 1}, false},
		{"bad section", Engine{Policies: &Policies{Default: &Policy{Dismiss: []int{7}}}, ComputeAt: 1}, false},
		{"dismiss is not a disqualifier action", Engine{Policies: &Policies{Default: &Policy{Disqualifiers: Disqualifiers{PriorPC290: ActDismiss}}}, ComputeAt: 1}, false},
	}
	for _, tt := range tests {
		if err := tt.e.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

// nonProp64Subject is a typical subject: a dozen rows, convictions, no Prop 64.
func nonProp64Subject(t testing.TB) *record.Subject {
	var rows []row
	for i := 0; i < 6; i++ {
		rows = append(rows,
			row{cnt: "10" + string(rune('0'+i)) + "001001000", date: "20100101", step: "ARREST/DETAINED/CITED", offense: "459 PC-BURGLARY"},
			conv("10"+string(rune('0'+i))+"002001000", "20100301", "459 PC-BURGLARY"),
		)
	}
	return subject(t, "19800101", rows...)
}

func TestEvaluateWithoutProp64DoesNotAllocate(t *testing.T) {
	e := engine(t, gogenPolicy([]int{HS11357}, nil, fixtureRelief()), "2020-07-01")
	s := nonProp64Subject(t)
	var res Result
	allocs := testing.AllocsPerRun(100, func() { res = e.Evaluate(s) })
	if allocs != 0 {
		t.Errorf("Evaluate allocated %.1f times per call, want 0", allocs)
	}
	if res.Subject != s || res.Evaluated != nil {
		t.Errorf("result = %+v", res)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	e := engine(b, gogenPolicy([]int{HS11357, HS11358}, []int{HS11359, HS11360}, fixtureRelief()), "2020-07-01")
	b.Run("no_prop64", func(b *testing.B) {
		s := nonProp64Subject(b)
		b.ReportAllocs()
		for b.Loop() {
			e.Evaluate(s)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s.Events)), "ns/row")
	})
	b.Run("prop64", func(b *testing.B) {
		s := nonProp64Subject(b)
		s.Events = append(s.Events, subject(b, "19800101",
			row{cnt: "201002001000", date: "20120101", offense: "11359 HS-SALE", ofn: "C1", convicted: true, felony: true, sentence: "6M"},
			row{cnt: "201002001000", date: "20120101", offense: "11359 HS-SALE", ofn: "C1", convicted: true, felony: true, sentence: "10D"},
			conv("202002001000", "20130101", "187 PC-MURDER"),
		).Events...)
		b.ReportAllocs()
		for b.Loop() {
			e.Evaluate(s)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(s.Events)), "ns/row")
	})
}

// TestRelevanceFilter is gogen's relevance spec: only Prop 64 convictions in the county
// are evaluated; arrests, registrations, other offences and other counties are not.
func TestRelevanceFilter(t *testing.T) {
	p := gogenPolicy([]int{HS11357, HS11358, HS11359}, []int{HS11360}, Relief{})
	s := subject(t, "19780410",
		misd("101001001000", "19990504", "11357 HS"),
		row{cnt: "101001002000", date: "20080414", offense: "11357 HS", ofn: "1235"}, // not convicted
		conv("102001003000", "20090504", "11358 PC"),
		conv("103001004000", "20010504", "187 PC"),
		row{cnt: "104001005000", date: "20110512", county: "OTHER COUNTY", offense: "11360 HS", convicted: true, felony: true},
		row{cnt: "105001007000", date: "20080619", step: record.StepRegistration, offense: "290 PC"},
	)
	res := engine(t, p, "2020-07-01").Evaluate(s)
	var got []int
	for _, c := range res.Evaluated {
		got = append(got, c.Index)
	}
	if len(got) != 2 || got[0] != 0 || got[1] != 2 {
		t.Errorf("evaluated rows %v, want [0 2]", got)
	}
	wantRows := []bool{true, false, true, true, true, false}
	for i, w := range wantRows {
		if res.ConvictionRows[i] != w {
			t.Errorf("ConvictionRows[%d] = %v, want %v", i, res.ConvictionRows[i], w)
		}
	}
}
