package policy

import (
	"github.com/clearway/clearway/pkg/record"

	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/clearway/clearway/pkg/eligibility"
)

// schemaVersion is the only YAML policy schema version this package reads.
const schemaVersion = 1

// document is the YAML policy schema (see the package documentation).
type document struct {
	Version       int           `yaml:"version"`
	Name          string        `yaml:"name"`
	Description   string        `yaml:"description"`
	County        string        `yaml:"county"`
	Baseline      baseline      `yaml:"baseline"`
	Misdemeanors  *misdAction   `yaml:"misdemeanors"`
	Disqualifiers disqualifiers `yaml:"disqualifiers"`
	Relief        relief        `yaml:"relief"`
	Fallback      fallback      `yaml:"fallback"`
}

type baseline struct {
	Dismiss sections `yaml:"dismiss"`
	Reduce  sections `yaml:"reduce"`
}

type disqualifiers struct {
	ConvictedAfterEnactment disqAction `yaml:"convicted_after_enactment"`
	InvolvesMinors          disqAction `yaml:"involves_minors"`
	PriorSuperStrike        disqAction `yaml:"prior_super_strike"`
	PriorPC290              disqAction `yaml:"prior_pc290"`
	TwoPriorsSameSection    disqAction `yaml:"two_priors_same_section"`
	SentenceNotCompleted    disqAction `yaml:"sentence_not_completed"`
}

type relief struct {
	Under21AtConviction  bool      `yaml:"under_21_at_conviction"`
	AgeThreshold         threshold `yaml:"age_threshold"`
	YearsSinceConviction threshold `yaml:"years_since_conviction"`
	YearsCrimeFree       threshold `yaml:"years_crime_free"`
	OnlyProp64Charges    bool      `yaml:"only_prop64_charges"`
	Deceased             bool      `yaml:"deceased"`
}

// sections is a list of Prop 64 sections written as numbers or strings (11357 or
// "11357"); anything else is an error naming its line.
type sections []int

// UnmarshalYAML implements yaml.Unmarshaler.
func (s *sections) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.SequenceNode {
		return fmt.Errorf("line %d: expected a list of sections such as [11357, 11358]", n.Line)
	}
	out := make(sections, 0, len(n.Content))
	for _, item := range n.Content {
		idx, ok := -1, false
		if item.Kind == yaml.ScalarNode {
			idx, ok = sectionIndex(item.Value)
		}
		if !ok {
			return fmt.Errorf("line %d: %q is not a Prop 64 section; use 11357, 11358, 11359 or 11360", item.Line, item.Value)
		}
		out = append(out, idx)
	}
	*s = out
	return nil
}

// disqAction is a disqualifier's switch: off, not_eligible or hand_review.
type disqAction eligibility.Action

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *disqAction) UnmarshalYAML(n *yaml.Node) error {
	act, ok := eligibility.ParseAction(n.Value)
	if n.Kind != yaml.ScalarNode || !ok || act == eligibility.ActDismiss {
		return fmt.Errorf("line %d: %q is not a disqualifier action; use off, not_eligible or hand_review", n.Line, n.Value)
	}
	*a = disqAction(act)
	return nil
}

// misdAction is what happens to misdemeanours: dismiss, hand_review, not_eligible or off.
type misdAction eligibility.Action

// UnmarshalYAML implements yaml.Unmarshaler.
func (a *misdAction) UnmarshalYAML(n *yaml.Node) error {
	act, ok := eligibility.ParseAction(n.Value)
	if n.Kind != yaml.ScalarNode || !ok {
		return fmt.Errorf("line %d: misdemeanors: %q is not an action; use dismiss, hand_review, not_eligible or off", n.Line, n.Value)
	}
	*a = misdAction(act)
	return nil
}

// fallback is the determination when no rule decides.
type fallback eligibility.Determination

// UnmarshalYAML implements yaml.Unmarshaler.
func (f *fallback) UnmarshalYAML(n *yaml.Node) error {
	d, ok := eligibility.ParseDetermination(n.Value)
	if n.Kind != yaml.ScalarNode || !ok {
		return fmt.Errorf("line %d: fallback: %q is not a determination; use none, dismiss, reduce, hand_review or not_eligible", n.Line, n.Value)
	}
	*f = fallback(d)
	return nil
}

// threshold is an integer that remembers its line, so a range error can point at it.
type threshold struct {
	value, line int
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (t *threshold) UnmarshalYAML(n *yaml.Node) error {
	v, err := strconv.Atoi(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: %q is not a whole number", n.Line, n.Value)
	}
	*t = threshold{value: v, line: n.Line}
	return nil
}

// check reports a threshold outside 0 or [lo, hi].
func (t threshold) check(key string, lo, hi int) error {
	if t.value != 0 && (t.value < lo || t.value > hi) {
		return fmt.Errorf("line %d: relief.%s should be between %d and %d, or 0 (got %d)", t.line, key, lo, hi, t.value)
	}
	return nil
}

// parseYAML decodes and checks a Clearway YAML policy; it returns the policy and its
// county field as written.
func parseYAML(data []byte) (*eligibility.Policy, string, error) {
	var doc document
	if err := decodeYAML(data, &doc); err != nil {
		return nil, "", err
	}
	if doc.Version != schemaVersion {
		return nil, "", fmt.Errorf("version: this Clearway reads policy schema version %d; the file says %d", schemaVersion, doc.Version)
	}
	if doc.Misdemeanors == nil {
		return nil, "", fmt.Errorf("misdemeanors is required: dismiss, hand_review, not_eligible or off")
	}
	if doc.County != "" && doc.County != DefaultCounty && !record.IsCounty(doc.County) {
		return nil, "", fmt.Errorf("county: %q is not a California county as the DOJ writes it (upper case, e.g. LOS ANGELES), nor %q", doc.County, DefaultCounty)
	}
	r := doc.Relief
	for _, c := range []struct {
		key    string
		t      threshold
		lo, hi int
	}{
		{"age_threshold", r.AgeThreshold, eligibility.MinAgeThreshold, eligibility.MaxAgeThreshold},
		{"years_since_conviction", r.YearsSinceConviction, eligibility.MinYears, eligibility.MaxYears},
		{"years_crime_free", r.YearsCrimeFree, eligibility.MinYears, eligibility.MaxYears},
	} {
		if err := c.t.check(c.key, c.lo, c.hi); err != nil {
			return nil, "", err
		}
	}
	dq := doc.Disqualifiers
	return &eligibility.Policy{
		Name:         doc.Name,
		Description:  doc.Description,
		Dismiss:      []int(doc.Baseline.Dismiss),
		Reduce:       []int(doc.Baseline.Reduce),
		Misdemeanors: eligibility.Action(*doc.Misdemeanors),
		Disqualifiers: eligibility.Disqualifiers{
			ConvictedAfterEnactment: eligibility.Action(dq.ConvictedAfterEnactment),
			InvolvesMinors:          eligibility.Action(dq.InvolvesMinors),
			PriorSuperStrike:        eligibility.Action(dq.PriorSuperStrike),
			PriorPC290:              eligibility.Action(dq.PriorPC290),
			TwoPriorsSameSection:    eligibility.Action(dq.TwoPriorsSameSection),
			SentenceNotCompleted:    eligibility.Action(dq.SentenceNotCompleted),
		},
		Relief: eligibility.Relief{
			Under21AtConviction:  r.Under21AtConviction,
			AgeThreshold:         r.AgeThreshold.value,
			YearsSinceConviction: r.YearsSinceConviction.value,
			YearsCrimeFree:       r.YearsCrimeFree.value,
			OnlyProp64Charges:    r.OnlyProp64Charges,
			Deceased:             r.Deceased,
		},
		Fallback: eligibility.Determination(doc.Fallback),
	}, doc.County, nil
}
