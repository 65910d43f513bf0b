package monitoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const (
	contractPath  = "../../docs/metrics.md"
	dashboardPath = "../grafana/clearway.json"
	alertsPath    = "../prometheus/alerts.yaml"
	runbookPath   = "../../docs/operations.md"
)

func loadContract(t *testing.T) Contract {
	t.Helper()
	c, err := LoadContract(contractPath)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestContractCoversTheIssue: the contract has a metric for each thing issue 6 asks the
// services to measure.
func TestContractCoversTheIssue(t *testing.T) {
	c := loadContract(t)
	want := map[string]string{
		"records in/out per stage":        "clearway_records_processed_total",
		"bytes":                           "clearway_data_processed_bytes_total",
		"batch sizes":                     "clearway_batch_size",
		"processing-latency histograms":   "clearway_batch_duration_seconds",
		"ClickHouse insert duration":      "clearway_clickhouse_insert_duration_seconds",
		"ClickHouse insert rows":          "clearway_clickhouse_insert_rows_total",
		"quarantined rows by reason":      "clearway_rows_quarantined_total",
		"dead-letter messages":            "clearway_deadletter_messages_total",
		"consumer lag per partition":      "clearway_consumer_lag",
		"commit latency":                  "messaging_client_operation_duration_seconds",
		"rebalances":                      "clearway_consumer_rebalances_total",
		"end-to-end latency":              "clearway_pipeline_latency_seconds",
		"run progress":                    "clearway_run_subjects",
		"run completion":                  "clearway_run_complete",
		"message sizes (bytes per batch)": "clearway_message_size_bytes",
	}
	for what, name := range want {
		if _, ok := c[name]; !ok {
			t.Errorf("%s: %s missing from the contract", what, name)
		}
	}
	if l := c["clearway_consumer_lag"].Labels; !slices.Contains(l, "messaging_destination_partition_id") {
		t.Errorf("consumer lag labels %v: not per partition", l)
	}
	if l := c["clearway_rows_quarantined_total"].Labels; !slices.Contains(l, "reason") {
		t.Errorf("quarantined rows labels %v: not by reason", l)
	}
	if len(c) != len(want) {
		t.Errorf("contract has %d metrics, this test knows %d: keep them in step", len(c), len(want))
	}
}

func TestParseContractRejectsMistakes(t *testing.T) {
	header := "| Prometheus name | type | unit | labels | OpenTelemetry instrument | meaning |\n|---|---|---|---|---|---|\n"
	cases := []struct{ name, row, wantErr string }{
		{"ok", "| `a_b_seconds` | histogram | `s` | `stage` | `a.b` | x |", ""},
		{"counter without _total", "| `a_b` | counter | `{x}` | none | `a.b` | x |", "names instrument a.b"},
		{"unit suffix missing", "| `a_b` | histogram | `s` | none | `a.b` | x |", "a_b_seconds"},
		{"unknown type", "| `a_b` | summary | `{x}` | none | `a.b` | x |", "type \"summary\""},
		{"labels not quoted", "| `a_b` | gauge | `{x}` | stage | `a.b` | x |", "want `label`"},
		{"listed twice", "| `a_b` | gauge | `{x}` | none | `a.b` | x |\n| `a_b` | gauge | `{x}` | none | `a.b` | x |", "listed twice"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseContract([]byte(header + tc.row + "\n"))
			if tc.wantErr == "" {
				if err != nil || len(c) != 1 || c["a_b_seconds"].Labels[0] != "stage" {
					t.Fatalf("got %v, %v", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestCheckExpr shows what the PromQL check catches.
func TestCheckExpr(t *testing.T) {
	c := loadContract(t)
	cases := []struct{ expr, wantErr string }{
		{`sum by (stage) (rate(clearway_records_processed_total{namespace="x"}[5m]))`, ""},
		{`histogram_quantile(0.9, sum by (le, table) (rate(clearway_clickhouse_insert_duration_seconds_bucket[5m])))`, ""},
		{`sum(up{pod=~"clearway-.*"})`, ""},
		{`rate(clearway_records_total[5m])`, "clearway_records_total is not in the contract"},
		{`clearway_clickhouse_insert_duration_seconds`, "clearway_clickhouse_insert_duration_seconds is not in the contract"},
		{`clearway_consumer_lag{partition="1"}`, "no label partition"},
		{`sum by (county) (clearway_records_processed_total)`, "no series under it has label county"},
		{`clearway_consumer_lag and on (stage, reason) clearway_records_processed_total`, "has no label reason"},
		{`sum by (le) (clearway_batch_duration_seconds_count)`, "no series under it has label le"},
		{`sum(rate(clearway_records_processed_total[5m])`, "parse"},
	}
	for _, tc := range cases {
		t.Run(tc.expr, func(t *testing.T) {
			_, errs := c.CheckExpr(tc.expr)
			got := fmt.Sprint(errs)
			if tc.wantErr == "" && len(errs) > 0 || tc.wantErr != "" && !strings.Contains(got, tc.wantErr) {
				t.Fatalf("errors %s, want %q", got, tc.wantErr)
			}
		})
	}
}

// grafanaVars replaces the dashboard variables with values PromQL can parse.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$namespace", "clearway")

type dashboard struct {
	Panels []struct {
		ID      int                      `json:"id"`
		Type    string                   `json:"type"`
		Title   string                   `json:"title"`
		GridPos struct{ H, W, X, Y int } `json:"gridPos"`
		Targets []struct {
			RefID      string `json:"refId"`
			Expr       string `json:"expr"`
			Datasource struct {
				UID string `json:"uid"`
			} `json:"datasource"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

// TestDashboard: the dashboard is valid Grafana dashboard JSON (schema), its layout is
// sound, and every query refers only to contract metrics and labels.
func TestDashboard(t *testing.T) {
	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	comp := jsonschema.NewCompiler()
	sch, err := comp.Compile("testdata/grafana-dashboard.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatal(err)
	}
	c := loadContract(t)
	used := map[string]bool{}
	ids := map[int]bool{}
	cells := map[[2]int]string{} // occupied grid cells
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel %q: id %d used twice", p.Title, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.X+g.W > 24 {
			t.Errorf("panel %q: x %d + w %d beyond the 24-column grid", p.Title, g.X, g.W)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, taken := cells[[2]int{x, y}]; taken {
					t.Errorf("panel %q overlaps %q at (%d,%d)", p.Title, other, x, y)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if refs[tg.RefID] {
				t.Errorf("panel %q: refId %s twice", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: datasource %q, want the ${datasource} variable", p.Title, tg.Datasource.UID)
			}
			names, errs := c.CheckExpr(grafanaVars.Replace(tg.Expr))
			for _, err := range errs {
				t.Errorf("panel %q, query %s: %v", p.Title, tg.RefID, err)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := regexp.MustCompile(`^label_values\((.+), *([a-z_]+)\)$`).FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q, want label_values(selector, label)", v.Name, v.Definition)
			continue
		}
		names, errs := c.CheckExpr(fmt.Sprintf("count by (%s) (%s)", m[2], m[1]))
		for _, err := range errs {
			t.Errorf("variable %s: %v", v.Name, err)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	// The issue's panels: throughput per stage, lag per partition, rejects, insert
	// latency, end-to-end latency, run progress.
	for _, n := range []string{"clearway_records_processed_total", "clearway_consumer_lag", "clearway_rows_quarantined_total",
		"clearway_clickhouse_insert_duration_seconds_bucket", "clearway_pipeline_latency_seconds_bucket", "clearway_run_subjects"} {
		if !used[n] {
			t.Errorf("no panel shows %s", n)
		}
	}
	t.Logf("%d panels, %d series names", len(d.Panels), len(used))
}

// ruleFile is the Prometheus rule-file format, decoded with unknown keys rejected.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Record      string            `yaml:"record"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// anchors returns the GitHub anchors of a markdown file's headings.
func anchors(t *testing.T, path string) map[string]bool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a := map[string]bool{}
	strip := regexp.MustCompile(`[^a-z0-9 _-]`)
	for _, line := range strings.Split(string(data), "\n") {
		if h, ok := strings.CutPrefix(line, "#"); ok {
			h = strings.TrimSpace(strings.TrimLeft(h, "#"))
			a[strings.ReplaceAll(strip.ReplaceAllString(strings.ToLower(h), ""), " ", "-")] = true
		}
	}
	return a
}

// TestAlertRules: the rule file decodes strictly, every rule parses and refers only to
// contract metrics and labels, and every alert has a severity and a runbook that exists.
func TestAlertRules(t *testing.T) {
	raw, err := os.ReadFile(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var rf ruleFile
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("alerts: %v", err)
	}
	c := loadContract(t)
	runbooks := anchors(t, runbookPath)
	names := map[string]bool{}
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			id := g.Name + "/" + r.Alert
			if r.Alert == "" || r.Record != "" {
				t.Errorf("%s: only alerting rules belong in this file", id)
			}
			if names[r.Alert] {
				t.Errorf("%s: alert name used twice", id)
			}
			names[r.Alert] = true
			alerts = append(alerts, r.Alert)
			if _, errs := c.CheckExpr(r.Expr); len(errs) > 0 {
				t.Errorf("%s: %v", id, errs)
			}
			if r.For != "" {
				if _, err := model.ParseDuration(r.For); err != nil {
					t.Errorf("%s: for: %v", id, err)
				}
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", id, s)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[k] == "" {
					t.Errorf("%s: no %s annotation", id, k)
				}
			}
			page, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
			if page != "docs/operations.md" || !runbooks[anchor] {
				t.Errorf("%s: runbook %q is not a section of docs/operations.md", id, r.Annotations["runbook_url"])
			}
		}
	}
	// The issue's alerts: lag growing, sink failing, rejects spike, run stalled.
	for _, want := range []string{"ClearwayConsumerLagGrowing", "ClearwaySinkFailing", "ClearwayRejectsSpike", "ClearwayRunStalled"} {
		if !names[want] {
			t.Errorf("no alert %s (have %v)", want, alerts)
		}
	}
}

// TestContractIsUsed keeps the contract honest the other way round: every metric it
// lists is shown on the dashboard or alerted on, or it would be dead weight for the
// services to export.
func TestContractIsUsed(t *testing.T) {
	c := loadContract(t)
	var all strings.Builder
	for _, p := range []string{dashboardPath, alertsPath} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		all.Write(data)
	}
	text := all.String()
	for name, m := range c {
		if !slices.ContainsFunc(m.Series(), func(s string) bool { return regexp.MustCompile(`\b` + s + `\b`).MatchString(text) }) {
			t.Errorf("%s is in the contract but on no panel and in no alert", name)
		}
	}
}
