package policy

import (
	"github.com/clearway/clearway/pkg/record"

	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadGogenOptions(t *testing.T) {
	p, err := LoadFile("testdata/eligibility_options.json")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/eligibility_options.json")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := &eligibility.Policy{
		Name:         "eligibility_options",
		Hash:         hex.EncodeToString(sum[:]),
		Dismiss:      []int{eligibility.HS11357, eligibility.HS11358},
		Reduce:       []int{eligibility.HS11359, eligibility.HS11360},
		Misdemeanors: eligibility.ActDismiss,
		Relief: eligibility.Relief{
			Under21AtConviction: true, AgeThreshold: 57, YearsSinceConviction: 10,
			OnlyProp64Charges: true, Deceased: true,
		},
		Fallback: eligibility.None,
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("policy =\n%+v\nwant\n%+v", p, want)
	}
}

func TestGogenOptionsParsing(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    *eligibility.Policy // Name/Hash ignored
		wantErr string
	}{
		{
			name: "keys match case-insensitively, unknown keys are ignored, missing means off",
			json: `{"BASELINEELIGIBILITY": {"Dismiss": ["11360"]}, "additionalrelief": {"subjectisdeceased": true}, "comment": "x"}`,
			want: &eligibility.Policy{Dismiss: []int{eligibility.HS11360}, Reduce: []int{}, Misdemeanors: eligibility.ActDismiss, Relief: eligibility.Relief{Deceased: true}},
		},
		{
			name: "empty object",
			json: `{}`,
			want: &eligibility.Policy{Dismiss: []int{}, Reduce: []int{}, Misdemeanors: eligibility.ActDismiss},
		},
		{"subsection in a section list", `{"baselineEligibility": {"dismiss": ["11357", "11357(A)"]}}`, nil,
			`opts.json: baselineEligibility.dismiss: "11357(A)" is not a Prop 64 section; use exactly "11357", "11358", "11359" or "11360"`},
		{"bad reduce section", `{"baselineEligibility": {"reduce": ["HS 11359"]}}`, nil,
			`opts.json: baselineEligibility.reduce: "HS 11359" is not a Prop 64 section`},
		{"age threshold", `{"additionalRelief": {"subjectAgeThreshold": 39}}`, nil,
			"opts.json: SubjectAgeThreshold should be between 40 and 65, or 0"},
		{"years since conviction", `{"additionalRelief": {"yearsSinceConvictionThreshold": 16}}`, nil,
			"opts.json: YearsSinceConvictionThreshold should be between 1 and 15, or 0"},
		{"years crime free", `{"additionalRelief": {"yearsCrimeFreeThreshold": -1}}`, nil,
			"opts.json: YearsCrimeFreeThreshold should be between 1 and 15, or 0"},
		{"not JSON", `dismiss: 11357`, nil, "opts.json: not a gogen eligibility-options file: "},
		{"wrong type", `{"additionalRelief": {"subjectAgeThreshold": "57"}}`, nil, "opts.json: not a gogen eligibility-options file: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, county, err := Parse("opts.json", []byte(tt.json))
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want prefix %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error is not one line: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if county != "" || p.Name != "opts" || len(p.Hash) != 64 {
				t.Errorf("county %q name %q hash %q", county, p.Name, p.Hash)
			}
			p.Name, p.Hash = "", ""
			if !reflect.DeepEqual(p, tt.want) {
				t.Errorf("policy =\n%+v\nwant\n%+v", p, tt.want)
			}
		})
	}
}

const validYAML = `version: 1
name: test-policy
description: a test
county: YOLO
baseline:
  dismiss: [11357, "11358"]
  reduce: [11359, 11360]
misdemeanors: hand_review
disqualifiers:
  convicted_after_enactment: not_eligible
  involves_minors: hand_review
  sentence_not_completed: hand_review
relief:
  under_21_at_conviction: true
  age_threshold: 50
  years_crime_free: 10
fallback: not_eligible
`

func TestParseYAML(t *testing.T) {
	p, county, err := Parse("yolo.yaml", []byte(validYAML))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(validYAML))
	want := &eligibility.Policy{
		Name:         "test-policy",
		Hash:         hex.EncodeToString(sum[:]),
		Description:  "a test",
		Dismiss:      []int{eligibility.HS11357, eligibility.HS11358},
		Reduce:       []int{eligibility.HS11359, eligibility.HS11360},
		Misdemeanors: eligibility.ActHandReview,
		Disqualifiers: eligibility.Disqualifiers{
			ConvictedAfterEnactment: eligibility.ActNotEligible,
			InvolvesMinors:          eligibility.ActHandReview,
			SentenceNotCompleted:    eligibility.ActHandReview,
		},
		Relief:   eligibility.Relief{Under21AtConviction: true, AgeThreshold: 50, YearsCrimeFree: 10},
		Fallback: eligibility.NotEligible,
	}
	if county != "YOLO" || !reflect.DeepEqual(p, want) {
		t.Errorf("county %q policy =\n%+v\nwant\n%+v", county, p, want)
	}

	// Without a name, the file's base name is the policy name.
	p, _, err = Parse("dir/my-county.yml", []byte(strings.Replace(validYAML, "name: test-policy\n", "", 1)))
	if err != nil || p.Name != "my-county" {
		t.Errorf("name = %q, err %v", p.Name, err)
	}
}

func TestParseYAMLErrors(t *testing.T) {
	edit := func(old, new string) string { return strings.Replace(validYAML, old, new, 1) }
	tests := []struct {
		name, yaml, want string
	}{
		{"typo in a key", edit("  reduce:", "  reduse:"), `p.yaml: line 7: unknown key reduse`},
		{"typo at top level", edit("fallback:", "fallbak:"), `p.yaml: line 17: unknown key fallbak`},
		{"bad disqualifier action", edit("involves_minors: hand_review", "involves_minors: dismiss"), `p.yaml: line 11: "dismiss" is not a disqualifier action; use off, not_eligible or hand_review`},
		{"bad misdemeanour action", edit("misdemeanors: hand_review", "misdemeanors: yes"), `p.yaml: line 8: misdemeanors: "yes" is not an action`},
		{"missing misdemeanours", edit("misdemeanors: hand_review\n", ""), `p.yaml: misdemeanors is required`},
		{"bad section", edit(`"11358"`, "11358(A)"), `p.yaml: line 6: "11358(A)" is not a Prop 64 section; use 11357, 11358, 11359 or 11360`},
		{"section list not a list", edit("[11359, 11360]", "11359"), `p.yaml: line 7: expected a list of sections`},
		{"age threshold out of range", edit("age_threshold: 50", "age_threshold: 70"), `p.yaml: line 15: relief.age_threshold should be between 40 and 65, or 0 (got 70)`},
		{"threshold not a number", edit("years_crime_free: 10", "years_crime_free: ten"), `p.yaml: line 16: "ten" is not a whole number`},
		{"bad fallback", edit("fallback: not_eligible", "fallback: maybe"), `p.yaml: line 17: fallback: "maybe" is not a determination`},
		{"version", edit("version: 1", "version: 2"), `p.yaml: version: this Clearway reads policy schema version 1; the file says 2`},
		{"unknown county", edit("county: YOLO", "county: Yolo"), `p.yaml: county: "Yolo" is not a California county`},
		{"empty", "", `p.yaml: empty policy file`},
		{"two documents", validYAML + "---\n" + validYAML, `p.yaml: more than one YAML document`},
		{"syntax", "version: [1\n", `p.yaml: line 1: did not find expected`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Parse("p.yaml", []byte(tt.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error = %v, want prefix %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
	path := writeFile(t, dir, "policy.toml", "x")
	if _, err := LoadFile(path); err == nil || !strings.Contains(err.Error(), `unknown policy format ".toml"`) {
		t.Errorf("unknown extension: %v", err)
	}
}

func TestLoadDir(t *testing.T) {
	yamlFor := func(county string) string {
		return strings.Replace(validYAML, "county: YOLO", "county: "+county, 1)
	}
	opts, err := os.ReadFile("testdata/eligibility_options.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		files   map[string]string
		want    map[string]string // county → policy name; "default" → default policy name
		wantErr string
	}{
		{
			name: "counties, a default file and a gogen file named after its county",
			files: map[string]string{
				"yolo.yaml":      yamlFor("YOLO"),
				"default.yaml":   strings.Replace(yamlFor("YOLO"), "county: YOLO\n", "", 1),
				"san-diego.json": string(opts),
				"README.md":      "not a policy",
			},
			want: map[string]string{"YOLO": "test-policy", "SAN DIEGO": "san-diego", "default": "test-policy"},
		},
		{
			name:  "county: default in any file; no default file needed",
			files: map[string]string{"state.yaml": yamlFor("default"), "sf.yaml": yamlFor("SAN FRANCISCO")},
			want:  map[string]string{"SAN FRANCISCO": "test-policy", "default": "test-policy"},
		},
		{
			name:  "without a default, the built-in statewide default",
			files: map[string]string{"la.yaml": yamlFor("LOS ANGELES")},
			want:  map[string]string{"LOS ANGELES": "test-policy", "default": StatewideDefault},
		},
		{
			name:    "two files for one county",
			files:   map[string]string{"a.yaml": yamlFor("YOLO"), "b.yml": yamlFor("YOLO")},
			wantErr: "two policies for county YOLO: a.yaml and b.yml; keep one",
		},
		{
			name:    "two defaults",
			files:   map[string]string{"default.json": string(opts), "state.yaml": yamlFor("default")},
			wantErr: "two policies for the default: default.json and state.yaml",
		},
		{
			name:    "unknown county",
			files:   map[string]string{"a.yaml": yamlFor("NARNIA")},
			wantErr: `a.yaml: county: "NARNIA" is not a California county`,
		},
		{
			name:    "gogen file not named after a county",
			files:   map[string]string{"options.json": string(opts)},
			wantErr: `options.json: a gogen options file in a policy directory is named after its county`,
		},
		{
			name:    "YAML without county",
			files:   map[string]string{"a.yaml": strings.Replace(validYAML, "county: YOLO\n", "", 1)},
			wantErr: "a.yaml: county is missing",
		},
		{
			name:    "default.yaml naming a county",
			files:   map[string]string{"default.yaml": yamlFor("YOLO")},
			wantErr: "default.yaml: a file named default.yaml is the default policy, but it says county: YOLO",
		},
		{
			name:    "no policies",
			files:   map[string]string{"notes.txt": "x"},
			wantErr: "no policy files (.yaml, .yml or .json) in the directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tt.files {
				writeFile(t, dir, name, content)
			}
			pols, err := LoadDir(dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{"default": pols.Default.Name}
			for county, p := range pols.ByCounty {
				got[county] = p.Name
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("policies = %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := LoadDir(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestBuiltins(t *testing.T) {
	if got := BuiltinNames(); !reflect.DeepEqual(got, []string{LosAngeles2020, StatewideDefault}) {
		t.Errorf("BuiltinNames() = %v", got)
	}
	for _, name := range BuiltinNames() {
		p, err := Builtin(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Name != name || len(p.Hash) != 64 || p.Description == "" {
			t.Errorf("%s: name %q hash %q description %q", name, p.Name, p.Hash, p.Description)
		}
	}
	if _, err := Builtin("los-angeles-2020.yaml"); err != nil {
		t.Errorf("suffix not accepted: %v", err)
	}
	if _, err := Builtin("narnia"); err == nil || !strings.Contains(err.Error(), "built-in: los-angeles-2020, statewide-default") {
		t.Errorf("unknown built-in: %v", err)
	}

	sw, _ := Builtin(StatewideDefault)
	want := &eligibility.Policy{
		Name: sw.Name, Hash: sw.Hash, Description: sw.Description,
		Dismiss:      []int{eligibility.HS11357},
		Reduce:       []int{eligibility.HS11358, eligibility.HS11359, eligibility.HS11360},
		Misdemeanors: eligibility.ActDismiss,
		Disqualifiers: eligibility.Disqualifiers{
			ConvictedAfterEnactment: eligibility.ActNotEligible,
			InvolvesMinors:          eligibility.ActNotEligible,
			PriorSuperStrike:        eligibility.ActNotEligible,
			PriorPC290:              eligibility.ActNotEligible,
			TwoPriorsSameSection:    eligibility.ActNotEligible,
			SentenceNotCompleted:    eligibility.ActHandReview,
		},
		Fallback: eligibility.HandReview,
	}
	if !reflect.DeepEqual(sw, want) {
		t.Errorf("statewide-default =\n%+v\nwant\n%+v", sw, want)
	}

	pols := DefaultPolicies()
	if pols.For("LOS ANGELES").Name != LosAngeles2020 || pols.For("YOLO").Name != StatewideDefault || pols.For("Los Angeles").Name != StatewideDefault {
		t.Errorf("DefaultPolicies: LA %q, YOLO %q", pols.For("LOS ANGELES").Name, pols.For("YOLO").Name)
	}
}

func TestCounties(t *testing.T) {
	var all []string
	for _, c := range record.Counties() {
		all = append(all, c.Name)
	}
	if len(all) != 58 {
		t.Fatalf("%d counties, want 58", len(all))
	}
	for _, c := range all {
		if !record.IsCounty(c) {
			t.Errorf("record.IsCounty(%q) = false", c)
		}
	}
	for _, c := range []string{"", "Los Angeles", "LOS ANGELES ", "NARNIA", "default"} {
		if record.IsCounty(c) {
			t.Errorf("record.IsCounty(%q) = true", c)
		}
	}
}
