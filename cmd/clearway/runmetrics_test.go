package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/telemetry/telemetrytest"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// TestRunClickHouseInsertMetrics: `clearway run --clickhouse` records every insert in
// the contract's ClickHouse metrics: rows per table equal the run's rows.
func TestRunClickHouseInsertMetrics(t *testing.T) {
	conn := chtest.Connect(t)
	ctx := context.Background()
	c := runConfig{ClickHouse: clickhouseStoreFlags{Dev: true, clickhouseFlags: clickhouseFlags{
		Addr: chtest.Addr(t), User: chtest.Writer().User, Restricted: chtest.Scratch(t, conn), Analytics: chtest.Scratch(t, conn)}}}
	t.Setenv(envCHPassword, chtest.Writer().Password)
	t.Setenv(envPseudonymKey, "")
	dbs, err := c.ClickHouse.databases()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := warehouse.Migrate(ctx, conn, dbs); err != nil {
		t.Fatal(err)
	}
	in := genFile(t, "--rows", "20000", "--seed", "5")

	tel, stop, err := startRunMetrics(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	at := record.MakeDate(2020, 7, 1)
	pols := policy.DefaultPolicies()
	cfg := pipeline.Config{
		Files: []string{in}, Engine: &eligibility.Engine{Policies: pols, ComputeAt: at},
		Info: report.RunInfo{RunID: "metrics", ComputeAt: at, Policies: pols, EngineVersion: eligibility.Version,
			Started: time.Now().UTC()},
		Format: pipeline.FormatNative, OutDir: t.TempDir(),
	}
	closeCH, err := c.addClickHouse(ctx, &cfg, tel)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCH()
	st, err := pipeline.Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}

	fams := telemetrytest.Scrape(t, tel)
	rows := map[string]float64{}
	for _, m := range fams["clearway_clickhouse_insert_rows_total"].GetMetric() {
		rows[telemetrytest.Labels(m)["table"]] += m.GetCounter().GetValue()
	}
	want := map[string]float64{
		"restricted.decisions": float64(st.Evaluated), "analytics.decisions": float64(st.Evaluated),
		"analytics.people": float64(st.Subjects), "analytics.runs": 2, // running, then complete
	}
	for table, n := range want {
		if rows[table] != n {
			t.Errorf("clearway_clickhouse_insert_rows_total{table=%q} = %v, want %v (all: %v)", table, rows[table], n, rows)
		}
	}
	var ok uint64
	for _, m := range fams["clearway_clickhouse_insert_duration_seconds"].GetMetric() {
		if telemetrytest.Labels(m)["outcome"] == "ok" {
			ok += m.GetHistogram().GetSampleCount()
		}
	}
	if ok < 5 {
		t.Errorf("%d successful inserts timed, want one per table at least", ok)
	}
}

func TestSinkNeedsSomewhereToStore(t *testing.T) {
	code, _, stderr := clearway(t, "sink", "--brokers", "127.0.0.1:1")
	if code != 2 || !strings.Contains(stderr, "--out DIR, --clickhouse ADDR or both") {
		t.Errorf("sink without --out or --clickhouse: exit %d, stderr %q; want a usage error", code, stderr)
	}
}
