package eligibility

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/clearway/clearway/pkg/record"
)

// Engine decides the Prop 64 convictions of subjects. It is read-only after
// construction, so one Engine may evaluate subjects from many goroutines at once.
type Engine struct {
	// Policies decide each conviction by the county where it happened.
	Policies *Policies
	// ComputeAt is the date the decisions are made for (gogen's --compute-at).
	ComputeAt record.Date
	// County limits the run to convictions whose STP_ORI_CNTY_NAME equals it exactly
	// (as gogen's --county). "" is a statewide run: every county, each with its policy.
	County string
}

// Validate checks the engine's configuration: a valid compute-at date, a policy for
// every conviction in scope, and valid policies.
func (e *Engine) Validate() error {
	if e.Policies == nil {
		return errors.New("eligibility: no policies configured")
	}
	if !e.ComputeAt.Valid() {
		return errors.New("eligibility: compute-at date is missing")
	}
	if e.County != "" {
		if e.Policies.For(e.County) == nil {
			return fmt.Errorf("eligibility: no policy for county %q and no default policy", e.County)
		}
	} else if e.Policies.Default == nil {
		return errors.New("eligibility: a statewide run needs a default policy for counties without their own")
	}
	for county, p := range e.Policies.ByCounty {
		if p == nil {
			return fmt.Errorf("eligibility: county %q has a nil policy", county)
		}
		if err := p.Validate(); err != nil {
			return fmt.Errorf("eligibility: policy for county %q: %w", county, err)
		}
	}
	if e.Policies.Default != nil {
		if err := e.Policies.Default.Validate(); err != nil {
			return fmt.Errorf("eligibility: default policy: %w", err)
		}
	}
	return nil
}

// policyFor returns the policy that decides a conviction in county, or nil when the
// conviction is out of scope.
func (e *Engine) policyFor(county string) *Policy {
	if e.County != "" {
		if county != e.County {
			return nil
		}
	}
	return e.Policies.For(county)
}

// Evaluate decides every in-scope Prop 64 conviction of s: the first row of its
// CNT_ORDER with a CONVICTED disposition, a Prop 64 section (Prop64Section, including
// dash-written attempts) and a county in scope.
//
// Each is decided by its county's policy; the first matching rule wins:
//  0. the subject has quarantined rows → hand review;
//  1. disqualifiers for any class: convicted after 2016-11-09, offence involves minors;
//  2. not a felony → the policy's Misdemeanors action;
//  3. prior disqualifiers (11358–11360 only): prior super strike, prior PC 290 or a
//     registration, two priors of the same section;
//  4. gogen's flow (gogen-behaviour.md §3.3 steps 2–9): dismiss list, under 21 at
//     conviction, age threshold, years since conviction, crime-free years, only Prop 64
//     convictions, deceased; then sentence not completed; then the reduce list;
//  5. the policy's Fallback.
//
// Rules needing a missing date are skipped and never grant relief (rule id
// data.missing_date; docs/gogen-differences.md, "Missing and invalid dates"). A
// policy mapped from gogen options (disqualifiers off, misdemeanours dismissed, no
// fallback) makes gogen's decisions; docs/gogen-differences.md lists the exceptions.
//
// Most subjects have no such conviction. For them Evaluate returns Result{Subject: s}
// after one pass over the rows without allocating: Facts is then zero and
// ConvictionRows nil (call Analyze when those are needed anyway). Whenever Evaluated is
// non-empty, Facts and ConvictionRows are filled in.
func (e *Engine) Evaluate(s *record.Subject) Result {
	if !e.anyInScope(s) {
		return Result{Subject: s}
	}
	a := analyze(s)
	res := Result{Subject: s, Facts: a.facts, ConvictionRows: a.rows}
	for k := range a.convs {
		c := &a.convs[k]
		if c.section < 0 {
			continue
		}
		ev := &s.Events[c.index]
		p := e.policyFor(ev.County)
		if p == nil {
			continue
		}
		res.Evaluated = append(res.Evaluated, Conviction{
			Index:       c.index,
			Section:     c.section,
			Felony:      c.felony,
			Date:        c.date,
			CaseNumbers: caseNumbers(s, record.CycleStep(ev.CntOrder)),
			County:      ev.County,
			Policy:      p.Name,
			PolicyHash:  p.Hash,
			Decision:    e.decide(p, s, a, c),
			SentenceEnd: c.sentenceEnd,
		})
	}
	return res
}

// anyInScope is Evaluate's cheap pre-check: does any CONVICTED row have a Prop 64
// section in a county in scope? (A duplicate row can make it say yes for a subject
// whose convictions turn out not to be Prop 64; analysis then finds nothing.)
func (e *Engine) anyInScope(s *record.Subject) bool {
	for i := range s.Events {
		ev := &s.Events[i]
		if !ev.Convicted {
			continue
		}
		if _, ok := EventProp64Section(ev); !ok {
			continue
		}
		if e.policyFor(ev.County) != nil {
			return true
		}
	}
	return false
}

// missing records rules that could not be applied because a date they need is missing;
// see decide. Each field holds the reason naming the first such date, or "".
type missing struct {
	disqualifier string // a skipped rule could have denied relief
	dismissal    string // a skipped rule could have dismissed
}

func (m *missing) note(reason string, disqualifier bool) {
	switch {
	case disqualifier && m.disqualifier == "":
		m.disqualifier = reason
	case !disqualifier && m.dismissal == "":
		m.dismissal = reason
	}
}

// decide runs the policy's decision order for one conviction (first match wins).
//
// Missing dates never grant relief (gogen-behaviour.md §8.3): a rule that needs a date
// that is missing is skipped, and the outcome is then checked. If a skipped rule was a
// disqualifier and the outcome grants relief, or a skipped rule could have dismissed and
// the outcome is neither a dismissal nor already a hand review, the conviction goes to
// hand review with a reason naming the missing date.
func (e *Engine) decide(p *Policy, s *record.Subject, a *analysis, c *conviction) Decision {
	var m missing
	d := e.decideRules(p, s, a, c, &m)
	switch {
	case m.disqualifier != "" && d.Determination.Relief():
		return Decision{HandReview, m.disqualifier, RuleMissingDate}
	case m.dismissal != "" && d.Determination != Dismiss && d.Determination != HandReview:
		return Decision{HandReview, m.dismissal, RuleMissingDate}
	}
	return d
}

// decideRules is the decision order of Evaluate; m collects rules skipped for missing
// dates.
func (e *Engine) decideRules(p *Policy, s *record.Subject, a *analysis, c *conviction, m *missing) Decision {
	T := e.ComputeAt
	dq := &p.Disqualifiers

	// 0. A subject with rejected rows may be missing the very row that disqualifies.
	if s.Quarantined > 0 {
		return Decision{HandReview, ReasonQuarantined, RuleQuarantined}
	}

	// 1. Disqualifiers that apply whatever the conviction's class.
	if dq.ConvictedAfterEnactment != Off {
		if !c.date.Valid() {
			m.note(ReasonMissingConvictionDate, true)
		} else if c.date > Enactment {
			return actionDecision(dq.ConvictedAfterEnactment, ReasonAfterEnactment, RuleAfterEnactment)
		}
	}
	if dq.InvolvesMinors != Off && InvolvesMinors(c.text) {
		return actionDecision(dq.InvolvesMinors, ReasonInvolvesMinors, RuleInvolvesMinors)
	}

	// 2. Misdemeanours and infractions.
	if !c.felony && p.Misdemeanors != Off {
		return actionDecision(p.Misdemeanors, ReasonMisdemeanor, RuleMisdemeanor)
	}

	// 3. Prior-conviction disqualifiers. They keep a felony possible only for 11358,
	// 11359 and 11360: possession (11357) is at most a misdemeanour after Prop 64
	// whatever the person's record (prop64-law.md).
	if c.section != HS11357 {
		if d, ok := priorDisqualifiers(dq, a, c, m); ok {
			return d
		}
	}

	// 4. gogen's configurable flow, steps 2–9 (§3.3), in its order.
	for _, sec := range p.Dismiss {
		if hasSection(c.text, sec) {
			return Decision{Dismiss, "Dismiss all HS " + SectionNames[sec] + " convictions", RuleDismissSection}
		}
	}
	dob := a.facts.DOB
	r := &p.Relief
	if r.Under21AtConviction {
		switch {
		case !dob.Valid():
			m.note(ReasonMissingDOB, false)
		case !c.date.Valid():
			m.note(ReasonMissingConvictionDate, false)
		case dob.AddYears(21) > c.date:
			return Decision{Dismiss, ReasonUnder21, RuleUnder21}
		}
	}
	if r.AgeThreshold != 0 {
		if !dob.Valid() {
			m.note(ReasonMissingDOB, false)
		} else if dob.AddYears(r.AgeThreshold) <= T {
			return Decision{Dismiss, strconv.Itoa(r.AgeThreshold) + " years or older", RuleAgeThreshold}
		}
	}
	if r.YearsSinceConviction != 0 {
		if !c.date.Valid() {
			m.note(ReasonMissingConvictionDate, false)
		} else if c.date <= T.AddYears(-r.YearsSinceConviction) {
			return Decision{Dismiss, "Conviction occurred " + strconv.Itoa(r.YearsSinceConviction) + " or more years ago", RuleYearsSinceConviction}
		}
	}
	if r.YearsCrimeFree != 0 {
		switch {
		case !c.date.Valid():
			m.note(ReasonMissingConvictionDate, false)
		case a.undated > 0:
			// An undated conviction may be the most recent one.
			m.note(ReasonMissingOtherDate, false)
		case a.facts.MostRecentConviction < T.AddYears(-r.YearsCrimeFree):
			return Decision{Dismiss, "No convictions in the past " + strconv.Itoa(r.YearsCrimeFree) + " years", RuleCrimeFree}
		}
	}
	if r.OnlyProp64Charges && a.facts.Convictions == a.facts.Prop64Convictions {
		return Decision{Dismiss, ReasonOnlyProp64, RuleOnlyProp64}
	}
	if r.Deceased && a.facts.Deceased {
		return Decision{Dismiss, ReasonDeceased, RuleDeceased}
	}
	if dq.SentenceNotCompleted != Off && c.sentenced {
		if !c.sentenceEnd.Valid() {
			m.note(ReasonMissingConvictionDate, true)
		} else if c.sentenceEnd > T {
			return actionDecision(dq.SentenceNotCompleted, ReasonSentenceNotCompleted, RuleSentenceNotCompleted)
		}
	}
	for _, sec := range p.Reduce {
		if hasSection(c.text, sec) {
			return Decision{Reduce, "Reduce all HS " + SectionNames[sec] + " convictions", RuleReduceSection}
		}
	}

	// 5. Nothing decided.
	if p.Fallback == None {
		return Decision{RuleID: RuleFallback}
	}
	return Decision{p.Fallback, ReasonNoCriteria, RuleFallback}
}

// priorDisqualifiers applies the prior super strike, prior PC 290 and two-priors
// disqualifiers. A prior is a conviction in a different cycle (a super strike in the
// same case is not a prior: People v. Smit) dated strictly before this one.
func priorDisqualifiers(dq *Disqualifiers, a *analysis, c *conviction, m *missing) (Decision, bool) {
	if dq.PriorSuperStrike == Off && dq.PriorPC290 == Off && dq.TwoPriorsSameSection == Off {
		return Decision{}, false
	}
	if !c.date.Valid() {
		m.note(ReasonMissingConvictionDate, true)
		if dq.PriorPC290 != Off && a.facts.PC290Registration {
			return actionDecision(dq.PriorPC290, ReasonPriorPC290, RulePriorPC290), true
		}
		return Decision{}, false
	}
	var strike, pc290, unknownStrike, unknownPC290 bool
	priors, unknownPriors := 0, 0
	for k := range a.convs {
		o := &a.convs[k]
		if o == c {
			continue
		}
		before := o.date.Valid() && o.date < c.date
		unknown := !o.date.Valid()
		if o.strike || o.pc290 {
			// A super strike or PC 290 conviction in the same cycle is part of the same
			// case, never a prior.
			if o.cycle != c.cycle {
				if o.strike {
					strike = strike || before
					unknownStrike = unknownStrike || unknown
				}
				if o.pc290 {
					pc290 = pc290 || before
					unknownPC290 = unknownPC290 || unknown
				}
			}
		}
		if o.section == c.section {
			if before {
				priors++
			} else if unknown {
				unknownPriors++
			}
		}
	}
	if dq.PriorSuperStrike != Off {
		if strike {
			return actionDecision(dq.PriorSuperStrike, ReasonPriorSuperStrike, RulePriorSuperStrike), true
		}
		if unknownStrike {
			m.note(ReasonMissingOtherDate, true)
		}
	}
	if dq.PriorPC290 != Off {
		// A registration step means a registrable conviction exists somewhere, maybe
		// outside this extract; registrations recur, so their date says nothing about
		// when the offence was.
		if pc290 || a.facts.PC290Registration {
			return actionDecision(dq.PriorPC290, ReasonPriorPC290, RulePriorPC290), true
		}
		if unknownPC290 {
			m.note(ReasonMissingOtherDate, true)
		}
	}
	if dq.TwoPriorsSameSection != Off {
		if priors >= 2 {
			return actionDecision(dq.TwoPriorsSameSection, ReasonTwoPriors, RuleTwoPriors), true
		}
		if priors+unknownPriors >= 2 {
			m.note(ReasonMissingOtherDate, true)
		}
	}
	return Decision{}, false
}

// actionDecision turns a switch's Action into a Decision.
func actionDecision(act Action, reason, rule string) Decision {
	switch act {
	case ActNotEligible:
		return Decision{NotEligible, reason, rule}
	case ActHandReview:
		return Decision{HandReview, reason, rule}
	case ActDismiss:
		return Decision{Dismiss, reason, rule}
	}
	return Decision{}
}
