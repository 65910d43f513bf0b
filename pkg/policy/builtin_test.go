package policy

import (
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

type decision struct {
	det    eligibility.Determination
	reason string
	rule   string
}

// decideFirst evaluates one subject and returns the decision of its first evaluated
// conviction and that conviction's policy name.
func decideFirst(t *testing.T, e *eligibility.Engine, dob string, rows ...doj) (decision, string) {
	t.Helper()
	for i := range rows {
		rows[i].id, rows[i].dob = "X", dob
	}
	s := subjects(t, rows)[0]
	res := e.Evaluate(s)
	if len(res.Evaluated) == 0 {
		t.Fatal("nothing evaluated")
	}
	c := res.Evaluated[0]
	return decision{c.Determination, c.Reason, c.RuleID}, c.Policy
}

// fel and mis are court convictions in county, dated date.
func fel(county, cnt, date, offense string) doj {
	return doj{step: court, county: county, cnt: cnt, date: date, offense: offense, disp: "CONVICTED-PROBATION", stat: "FELONY"}
}

func mis(county, cnt, date, offense string) doj {
	return doj{step: court, county: county, cnt: cnt, date: date, offense: offense, disp: "CONVICTED-PROBATION", stat: "MISDEMEANOR"}
}

func withSentence(r doj, s string) doj { r.sentence = s; return r }

func TestStatewideDefault(t *testing.T) {
	e := &eligibility.Engine{Policies: DefaultPolicies(), ComputeAt: mustDate(t, "2020-07-01")}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	const c = "FRESNO"
	notEligible := func(reason, rule string) decision { return decision{eligibility.NotEligible, reason, rule} }
	tests := []struct {
		name string
		rows []doj
		want decision
	}{
		{"felony possession", []doj{fel(c, "101002001000", "20100101", "11357(A) HS-POSSESS")}, decision{eligibility.Dismiss, "Dismiss all HS 11357 convictions", eligibility.RuleDismissSection}},
		{"misdemeanour", []doj{mis(c, "101002001000", "20120101", "11359 HS-SALE")}, decision{eligibility.Dismiss, "Misdemeanor or Infraction", eligibility.RuleMisdemeanor}},
		{"felony sale", []doj{fel(c, "101002001000", "20120101", "11359 HS-SALE")}, decision{eligibility.Reduce, "Reduce all HS 11359 convictions", eligibility.RuleReduceSection}},
		{"after enactment", []doj{fel(c, "101002001000", "20180101", "11358 HS-CULTIVATE")}, notEligible("Occurred after 11/09/2016", eligibility.RuleAfterEnactment)},
		{"misdemeanour after enactment", []doj{mis(c, "101002001000", "20180101", "11357 HS-POSSESS")}, notEligible("Occurred after 11/09/2016", eligibility.RuleAfterEnactment)},
		{"minors", []doj{fel(c, "101002001000", "20120101", "11360(A)(3)(C) HS-SALE")}, notEligible("Offense involves minors", eligibility.RuleInvolvesMinors)},
		{"prior super strike", []doj{fel(c, "102002001000", "20120101", "11360 HS-SALE"), fel(c, "101002001000", "20000101", "187 PC-MURDER")}, notEligible("PC 667(e)(2)(c)(iv)", eligibility.RulePriorSuperStrike)},
		{"prior PC 290", []doj{fel(c, "102002001000", "20120101", "11360 HS-SALE"), fel(c, "101002001000", "20000101", "314(1) PC-INDECENT EXPOSURE")}, notEligible("PC 290", eligibility.RulePriorPC290)},
		{"two priors", []doj{fel(c, "103002001000", "20120101", "11358 HS"), fel("YOLO", "101002001000", "20000101", "11358 HS"), fel(c, "102002001000", "20050101", "11358(C) HS")}, notEligible("Two priors", eligibility.RuleTwoPriors)},
		{"serving sentence", []doj{withSentence(fel(c, "101002001000", "20150101", "11359 HS-SALE"), "10Y")}, decision{eligibility.HandReview, "Currently serving sentence", eligibility.RuleSentenceNotCompleted}},
		{"synthetic cannabinoids are not Prop 64, the next charge is", []doj{fel(c, "101002001000", "20150101", "11357.5 HS"), fel(c, "102002001000", "20150101", "664-11359 HS-ATTEMPT")}, decision{eligibility.Reduce, "Reduce all HS 11359 convictions", eligibility.RuleReduceSection}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pol := decideFirst(t, e, "19700101", tt.rows...)
			if got != tt.want || pol != StatewideDefault {
				t.Errorf("got %+v by %q, want %+v by %s", got, pol, tt.want, StatewideDefault)
			}
		})
	}
}

func TestLosAngeles2020(t *testing.T) {
	e := &eligibility.Engine{Policies: DefaultPolicies(), ComputeAt: mustDate(t, "2020-07-01"), County: "LOS ANGELES"}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	const c = "LOS ANGELES"
	recent := fel(c, "109002001000", "20190101", "459 PC-BURGLARY") // not crime free, not only Prop 64
	tests := []struct {
		name string
		dob  string
		rows []doj
		want decision
	}{
		{"misdemeanour to hand review", "19800101", []doj{mis(c, "101002001000", "20100101", "11357 HS")}, decision{eligibility.HandReview, "Misdemeanor or Infraction", eligibility.RuleMisdemeanor}},
		{"felony 11357 dismissed", "19800101", []doj{fel(c, "101002001000", "20100101", "11357(A) HS"), recent}, decision{eligibility.Dismiss, "Dismiss all HS 11357 convictions", eligibility.RuleDismissSection}},
		{"after enactment", "19800101", []doj{fel(c, "101002001000", "20170101", "11359 HS")}, decision{eligibility.NotEligible, "Occurred after 11/09/2016", eligibility.RuleAfterEnactment}},
		{"prior super strike", "19600101", []doj{fel(c, "102002001000", "20100101", "11359 HS"), fel(c, "101002001000", "19900101", "187 PC")}, decision{eligibility.NotEligible, "PC 667(e)(2)(c)(iv)", eligibility.RulePriorSuperStrike}},
		{"50 or older", "19700101", []doj{fel(c, "101002001000", "20100101", "11359 HS"), recent}, decision{eligibility.Dismiss, "50 years or older", eligibility.RuleAgeThreshold}},
		{"under 21 at conviction", "19900101", []doj{fel(c, "101002001000", "20100101", "11359 HS"), recent}, decision{eligibility.Dismiss, "21 years or younger", eligibility.RuleUnder21}},
		{"only Prop 64", "19800101", []doj{fel(c, "101002001000", "20150101", "11359 HS")}, decision{eligibility.Dismiss, "Only has 11357-60 charges", eligibility.RuleOnlyProp64}},
		{"ten years crime free", "19800101", []doj{fel(c, "101002001000", "20050101", "11360 HS"), fel(c, "102002001000", "20080101", "459 PC")}, decision{eligibility.Dismiss, "No convictions in the past 10 years", eligibility.RuleCrimeFree}},
		{"serving sentence", "19800101", []doj{withSentence(fel(c, "101002001000", "20150101", "11359 HS"), "10Y"), recent}, decision{eligibility.HandReview, "Currently serving sentence", eligibility.RuleSentenceNotCompleted}},
		{"nothing applies", "19800101", []doj{fel(c, "101002001000", "20150101", "11359 HS"), recent}, decision{eligibility.HandReview, "No applicable eligibility criteria", eligibility.RuleFallback}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pol := decideFirst(t, e, tt.dob, tt.rows...)
			if got != tt.want || pol != LosAngeles2020 {
				t.Errorf("got %+v by %q, want %+v by %s", got, pol, tt.want, LosAngeles2020)
			}
		})
	}
}

// TestPolicyConvictionDateIsEventDate guards the fixture helper: STP_EVENT_DATE drives
// the decision.
func TestPolicyConvictionDateIsEventDate(t *testing.T) {
	e := event(t, 0, fel("YOLO", "101002001000", "20100101", "11359 HS"))
	if e.Date != record.MakeDate(2010, 1, 1) || !e.Convicted || !e.Felony {
		t.Errorf("event = %+v", e)
	}
}
