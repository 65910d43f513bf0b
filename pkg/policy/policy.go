// Package policy loads county policies for the eligibility engine: Clearway's own YAML
// policy files, gogen's eligibility-options JSON, directories of county policies, and
// the built-in policies embedded from schemas/policies.
//
// # The YAML policy schema (version 1)
//
//	version: 1                  # required
//	name: my-county-2024        # optional; default: the file name without extension
//	description: free text      # optional; shown in reports
//	county: SAN DIEGO           # a county as the DOJ writes it (upper case), or default
//	baseline:
//	  dismiss: [11357]          # sections dismissed outright, checked in this order
//	  reduce: [11358, 11359, 11360]
//	misdemeanors: dismiss       # required: dismiss | hand_review | not_eligible | off
//	disqualifiers:              # each off | not_eligible | hand_review; missing = off
//	  convicted_after_enactment: not_eligible   # dated after 2016-11-09
//	  involves_minors: not_eligible             # 11359(c)(3), 11359(d), 11360(a)(3)(C)/(D)
//	  prior_super_strike: not_eligible          # PC 667(e)(2)(C)(iv), earlier case
//	  prior_pc290: not_eligible                 # earlier PC 290 conviction, or a registration
//	  two_priors_same_section: not_eligible
//	  sentence_not_completed: hand_review       # sentence ends after the compute-at date
//	relief:                     # gogen's "additional relief"; missing = off
//	  under_21_at_conviction: false
//	  age_threshold: 0          # 0 or 40–65
//	  years_since_conviction: 0 # 0 or 1–15
//	  years_crime_free: 0       # 0 or 1–15
//	  only_prop64_charges: false
//	  deceased: false
//	fallback: hand_review       # none | dismiss | reduce | hand_review | not_eligible
//
// Unknown keys are errors (a typo must not silently switch a rule off). The engine's
// decision order is documented on eligibility.Engine.Evaluate and in
// docs/gogen-differences.md. misdemeanors: off sends misdemeanours through the same
// rules as felonies.
package policy

import (
	"github.com/clearway/clearway/pkg/record"

	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/schemas/policies"
)

// DefaultCounty is the county value of a policy that covers every county without one.
const DefaultCounty = "default"

// Built-in policy names.
const (
	StatewideDefault = "statewide-default"
	LosAngeles2020   = "los-angeles-2020"
)

// LoadFile loads one policy file: ".json" is a gogen eligibility-options file, ".yaml"
// or ".yml" a Clearway policy. The policy's Hash is the hex SHA-256 of the file's bytes.
func LoadFile(path string) (*eligibility.Policy, error) {
	p, _, err := loadFile(path)
	return p, err
}

// loadFile is LoadFile that also returns the policy's county ("" when the file does
// not say: gogen JSON, or YAML without county).
func loadFile(path string) (*eligibility.Policy, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a policy document; name is its file name (the extension picks the
// format, the base name is the default policy name, and errors start with it). It
// returns the policy and its county: a county name, DefaultCounty, or "" when the
// document does not say.
func Parse(name string, data []byte) (*eligibility.Policy, string, error) {
	var (
		p      *eligibility.Policy
		county string
		err    error
	)
	switch ext := strings.ToLower(filepath.Ext(name)); ext {
	case ".json":
		p, err = parseGogenOptions(data)
	case ".yaml", ".yml":
		p, county, err = parseYAML(data)
	default:
		return nil, "", fmt.Errorf("%s: unknown policy format %q (use .yaml, .yml or gogen's .json)", name, ext)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	}
	sum := sha256.Sum256(data)
	p.Hash = hex.EncodeToString(sum[:])
	if err := p.Validate(); err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	return p, county, nil
}

// gogenOptions is gogen's eligibility-options document (gogen-behaviour.md §3.2).
// encoding/json matches keys case-insensitively and ignores unknown ones, as gogen did.
type gogenOptions struct {
	BaselineEligibility struct {
		Dismiss []string `json:"dismiss"`
		Reduce  []string `json:"reduce"`
	} `json:"baselineEligibility"`
	AdditionalRelief struct {
		SubjectUnder21AtConviction    bool `json:"subjectUnder21AtConviction"`
		SubjectHasOnlyProp64Charges   bool `json:"subjectHasOnlyProp64Charges"`
		SubjectIsDeceased             bool `json:"subjectIsDeceased"`
		SubjectAgeThreshold           int  `json:"subjectAgeThreshold"`
		YearsSinceConvictionThreshold int  `json:"yearsSinceConvictionThreshold"`
		YearsCrimeFreeThreshold       int  `json:"yearsCrimeFreeThreshold"`
	} `json:"additionalRelief"`
}

// parseGogenOptions maps a gogen options file onto a policy that makes gogen's
// decisions: every disqualifier off, misdemeanours dismissed, no fallback.
func parseGogenOptions(data []byte) (*eligibility.Policy, error) {
	var o gogenOptions
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("not a gogen eligibility-options file: %w", err)
	}
	r := o.AdditionalRelief
	// gogen's own checks and messages, in gogen's order.
	if r.SubjectAgeThreshold != 0 && (r.SubjectAgeThreshold < eligibility.MinAgeThreshold || r.SubjectAgeThreshold > eligibility.MaxAgeThreshold) {
		return nil, errors.New("SubjectAgeThreshold should be between 40 and 65, or 0")
	}
	if r.YearsSinceConvictionThreshold != 0 && (r.YearsSinceConvictionThreshold < eligibility.MinYears || r.YearsSinceConvictionThreshold > eligibility.MaxYears) {
		return nil, errors.New("YearsSinceConvictionThreshold should be between 1 and 15, or 0")
	}
	if r.YearsCrimeFreeThreshold != 0 && (r.YearsCrimeFreeThreshold < eligibility.MinYears || r.YearsCrimeFreeThreshold > eligibility.MaxYears) {
		return nil, errors.New("YearsCrimeFreeThreshold should be between 1 and 15, or 0")
	}
	// gogen crashed on any other section string (§3.2, §8.9); say which one instead.
	dismiss, err := gogenSections("baselineEligibility.dismiss", o.BaselineEligibility.Dismiss)
	if err != nil {
		return nil, err
	}
	reduce, err := gogenSections("baselineEligibility.reduce", o.BaselineEligibility.Reduce)
	if err != nil {
		return nil, err
	}
	return &eligibility.Policy{
		Dismiss:      dismiss,
		Reduce:       reduce,
		Misdemeanors: eligibility.ActDismiss,
		Relief: eligibility.Relief{
			Under21AtConviction:  r.SubjectUnder21AtConviction,
			AgeThreshold:         r.SubjectAgeThreshold,
			YearsSinceConviction: r.YearsSinceConvictionThreshold,
			YearsCrimeFree:       r.YearsCrimeFreeThreshold,
			OnlyProp64Charges:    r.SubjectHasOnlyProp64Charges,
			Deceased:             r.SubjectIsDeceased,
		},
		Fallback: eligibility.None,
	}, nil
}

func gogenSections(list string, names []string) ([]int, error) {
	out := make([]int, 0, len(names))
	for _, s := range names {
		idx, ok := sectionIndex(s)
		if !ok {
			return nil, fmt.Errorf("%s: %q is not a Prop 64 section; use exactly \"11357\", \"11358\", \"11359\" or \"11360\"", list, s)
		}
		out = append(out, idx)
	}
	return out, nil
}

// sectionIndex maps exactly "11357"…"11360" to HS11357…HS11360.
func sectionIndex(s string) (int, bool) {
	for i, name := range eligibility.SectionNames {
		if s == name {
			return i, true
		}
	}
	return -1, false
}

// LoadDir loads a directory of county policies (*.yaml, *.yml, *.json; other files and
// sub-directories are ignored). A YAML policy's county field decides its county; a file
// named default.yaml (or default.json, or with county: default) is the default; a gogen
// JSON file takes its county from its file name (los-angeles.json → LOS ANGELES).
// Two policies for one county, or an unknown county, are errors. Without a default in
// the directory, the built-in statewide default covers the other counties.
func LoadDir(dir string) (*eligibility.Policies, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	pols := &eligibility.Policies{ByCounty: map[string]*eligibility.Policy{}}
	from := map[string]string{} // county → file that defined it
	for _, ent := range entries {
		name := ent.Name()
		ext := strings.ToLower(filepath.Ext(name))
		if ent.IsDir() || strings.HasPrefix(name, ".") || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
			continue
		}
		path := filepath.Join(dir, name)
		p, county, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		county, err = dirCounty(path, county)
		if err != nil {
			return nil, err
		}
		if prev, dup := from[county]; dup {
			return nil, fmt.Errorf("%s: two policies for %s: %s and %s; keep one", dir, countyLabel(county), filepath.Base(prev), name)
		}
		from[county] = path
		if county == DefaultCounty {
			pols.Default = p
		} else {
			pols.ByCounty[county] = p
		}
	}
	if len(from) == 0 {
		return nil, fmt.Errorf("%s: no policy files (.yaml, .yml or .json) in the directory", dir)
	}
	if pols.Default == nil {
		def, err := Builtin(StatewideDefault)
		if err != nil {
			return nil, err
		}
		pols.Default = def
	}
	return pols, nil
}

// dirCounty decides which county a file in a policy directory covers.
func dirCounty(path, county string) (string, error) {
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	isDefaultName := strings.EqualFold(stem, DefaultCounty)
	switch {
	case county == "" && isDefaultName:
		return DefaultCounty, nil
	case county == "" && strings.EqualFold(filepath.Ext(path), ".json"):
		c := strings.ToUpper(strings.NewReplacer("-", " ", "_", " ").Replace(stem))
		if !record.IsCounty(c) {
			return "", fmt.Errorf("%s: a gogen options file in a policy directory is named after its county (e.g. los-angeles.json) or default.json; %q is not a California county", path, c)
		}
		return c, nil
	case county == "":
		return "", fmt.Errorf("%s: county is missing; set county: to a county name as the DOJ writes it (e.g. LOS ANGELES) or to default", path)
	case isDefaultName && county != DefaultCounty:
		return "", fmt.Errorf("%s: a file named %s is the default policy, but it says county: %s; rename the file or set county: default", path, filepath.Base(path), county)
	}
	return county, nil
}

func countyLabel(county string) string {
	if county == DefaultCounty {
		return "the default"
	}
	return "county " + county
}

// Builtin returns a built-in policy by name ("statewide-default", "los-angeles-2020";
// a ".yaml" suffix is accepted).
func Builtin(name string) (*eligibility.Policy, error) {
	file := strings.TrimSuffix(name, ".yaml") + ".yaml"
	data, err := policies.FS.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("unknown built-in policy %q (built-in: %s)", name, strings.Join(BuiltinNames(), ", "))
	}
	p, _, err := Parse("builtin:"+file, data)
	return p, err
}

// BuiltinNames lists the built-in policies, sorted.
func BuiltinNames() []string {
	entries, err := policies.FS.ReadDir(".")
	if err != nil {
		return nil // an embed.FS root always reads
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// DefaultPolicies are the built-in policies of a run without policy flags: Los Angeles
// County decides by los-angeles-2020, every other county by statewide-default.
func DefaultPolicies() *eligibility.Policies {
	la, err := Builtin(LosAngeles2020)
	if err != nil {
		panic(err) // the embedded files are tested; failing here is a build defect
	}
	def, err := Builtin(StatewideDefault)
	if err != nil {
		panic(err)
	}
	return &eligibility.Policies{ByCounty: map[string]*eligibility.Policy{"LOS ANGELES": la}, Default: def}
}

// decodeYAML strictly decodes exactly one YAML document into v.
func decodeYAML(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty policy file")
		}
		return yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document; a policy file holds one policy")
	}
	return nil
}

// yamlError makes a yaml.v3 error one readable line: its type errors name Go types
// ("field dismis not found in type policy.baseline"), which mean nothing to the author.
func yamlError(err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		if before, _, ok := strings.Cut(m, " not found in type "); ok {
			if line, field, ok := strings.Cut(before, ": field "); ok {
				m = line + ": unknown key " + field
			}
		}
		msgs[i] = m
	}
	return errors.New(strings.Join(msgs, "; "))
}
