package services_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/telemetry/telemetrytest"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/warehouse/chtest"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/ingest"
	"github.com/clearway/clearway/services/sink"
)

// warehouseKey is the pseudonym secret of these tests (never a deployment's).
var warehouseKey = []byte("clearway-test-pseudonym-key-0002")

// scratchWarehouse returns a writer connection and two fresh scratch databases with the
// schema applied; it skips without CLEARWAY_CLICKHOUSE_ADDR.
func scratchWarehouse(t *testing.T) (driver.Conn, warehouse.Databases) {
	t.Helper()
	conn := chtest.Connect(t)
	dbs := warehouse.Databases{Restricted: chtest.Scratch(t, conn), Analytics: chtest.Scratch(t, conn)}
	if _, err := warehouse.Migrate(context.Background(), conn, dbs); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return conn, dbs
}

// clickhouseSink starts a sink that stores runs in ClickHouse only (no --out), with its
// state in a temporary folder and its metrics in tel.
func (c *cluster) clickhouseSink(conn driver.Conn, dbs warehouse.Databases, tel *telemetry.Telemetry) func() error {
	return c.startSink(chSinkConfig(c, conn, dbs, tel))
}

// chSinkConfig is the configuration of a ClickHouse-only sink of the cluster, with short
// waits between retries.
func chSinkConfig(c *cluster, conn driver.Conn, dbs warehouse.Databases, tel *telemetry.Telemetry) sink.Config {
	cfg := sink.DefaultConfig()
	cfg.Topics, cfg.HTTP, cfg.State, cfg.Instance = c.topics, "127.0.0.1:0", c.t.TempDir(), "sink"
	cfg.Group = c.group + cfg.Group
	cfg.ProgressInterval = 200 * time.Millisecond
	cfg.Telemetry = tel
	cfg.Warehouse = &sink.Warehouse{Conn: conn, Databases: dbs, PseudonymKey: warehouseKey,
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second}
	return cfg
}

func (c *cluster) startSink(cfg sink.Config) func() error {
	s, err := sink.New(cfg, c.bus, c.log.With("service", "sink"))
	if err != nil {
		c.t.Fatal(err)
	}
	return c.start(s.Run)
}

// readSummary reads an embedded run's summary.json.
func readSummary(t *testing.T, dir string) *report.Summary {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, report.SummaryJSON))
	if err != nil {
		t.Fatal(err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return &s
}

// sameSummary checks the summary rebuilt from ClickHouse against the embedded run's,
// timing aside, and the deduplicated row counts against its totals.
func sameSummary(t *testing.T, conn driver.Conn, dbs warehouse.Databases, runID string, want *report.Summary) {
	t.Helper()
	ctx := context.Background()
	got, err := warehouse.LoadSummary(ctx, conn, dbs, runID)
	if err != nil {
		t.Fatalf("LoadSummary: %v", err)
	}
	g, w := *got, *want
	g.Timing, w.Timing = report.Timing{}, report.Timing{}
	gj, err := g.JSON()
	if err != nil {
		t.Fatal(err)
	}
	wj, err := w.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gj, wj) {
		gl, wl := strings.Split(string(gj), "\n"), strings.Split(string(wj), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("summary from ClickHouse differs from the embedded run's at line %d:\n got: %s\nwant: %s", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("summary from ClickHouse has %d lines, the embedded run's %d", len(gl), len(wl))
	}
	counts := map[string]int64{
		dbs.Analytics + ".decisions":  want.Totals.ConvictionsEvaluated,
		dbs.Restricted + ".decisions": want.Totals.ConvictionsEvaluated,
		dbs.Analytics + ".people":     want.Totals.Subjects,
		dbs.Restricted + ".rejects":   want.Totals.Rejects,
	}
	for table, n := range counts {
		var stored uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" FINAL WHERE run_id = ?", runID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if int64(stored) != n {
			t.Errorf("%s holds %d deduplicated rows of the run, want %d", table, stored, n)
		}
	}
	rec, err := warehouse.LoadRun(ctx, conn, dbs, runID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != "complete" || int64(rec.Subjects) != want.Totals.Subjects || int64(rec.Convictions) != want.Totals.ConvictionsEvaluated {
		t.Errorf("runs row: %s, %d subjects, %d convictions; want complete, %d, %d",
			rec.Status, rec.Subjects, rec.Convictions, want.Totals.Subjects, want.Totals.ConvictionsEvaluated)
	}
}

// TestSinkToClickHouse: ingest → 2 evaluators → a ClickHouse-only sink over the memory
// bus. The summary rebuilt from ClickHouse equals the embedded run's, and the sink's
// /metrics count exactly the rows ClickHouse acknowledged per table (issue 6).
func TestSinkToClickHouse(t *testing.T) {
	conn, dbs := scratchWarehouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := generate(t, 30_000, false)
	// A row the reader quarantines, so rejects reach ClickHouse too.
	appendLine(t, in, "DOE,JANE,TOO,FEW")
	runID := "test-ch-sink"
	want := readSummary(t, embedded(t, runID, []string{in}))
	if want.Totals.ConvictionsEvaluated == 0 || want.Totals.Rejects != 1 {
		t.Fatalf("input decided %d convictions with %d rejects: the comparison would prove little", want.Totals.ConvictionsEvaluated, want.Totals.Rejects)
	}

	tel := telemetrytest.New(t, "sink")
	broker := memory.New(memory.Config{})
	c := &cluster{t: t, bus: memoryBus(broker), topics: control.DefaultTopics(), log: quietLog(t)}
	c.evaluator("ev1")
	c.evaluator("ev2")
	c.clickhouseSink(conn, dbs, tel)
	defer c.stopAll()

	st := ingestRun(ctx, t, c.bus, c.topics, runID, []string{in})
	run := waitRun(ctx, t, c.bus, c.topics, runID)
	if run.Failed != nil {
		t.Fatalf("run failed: %s", run.Failed.Reason)
	}
	if run.Complete.Subjects != st.Subjects || run.Complete.Evaluated != want.Totals.ConvictionsEvaluated || run.Complete.Dir != "" {
		t.Errorf("run-complete record %+v; want %d subjects, %d convictions, no folder", *run.Complete, st.Subjects, want.Totals.ConvictionsEvaluated)
	}
	sameSummary(t, conn, dbs, runID, want)

	// Over the memory bus nothing is redelivered: each table's acknowledged rows are the
	// run's rows exactly.
	m := scrapeMetrics(t, tel)
	for table, n := range map[string]int64{
		"restricted.decisions": want.Totals.ConvictionsEvaluated,
		"analytics.decisions":  want.Totals.ConvictionsEvaluated,
		"analytics.people":     want.Totals.Subjects,
		"restricted.rejects":   want.Totals.Rejects,
	} {
		if got := m.sum("clearway_clickhouse_insert_rows_total", map[string]string{"table": table}); int64(got) != n {
			t.Errorf("clearway_clickhouse_insert_rows_total{table=%q} = %v, want %d", table, got, n)
		}
		if got := m.sum("clearway_clickhouse_insert_duration_seconds", map[string]string{"table": table, "outcome": "ok"}); got < 1 {
			t.Errorf("clearway_clickhouse_insert_duration_seconds{table=%q,outcome=ok} has %v samples", table, got)
		}
	}
	for _, table := range []string{"analytics.runs", "analytics.conviction_group_counts"} {
		if got := m.sum("clearway_clickhouse_insert_duration_seconds", map[string]string{"table": table, "outcome": "ok"}); got < 1 {
			t.Errorf("clearway_clickhouse_insert_duration_seconds{table=%q,outcome=ok} has %v samples", table, got)
		}
	}
	if got := m.sum("clearway_clickhouse_insert_duration_seconds", map[string]string{"outcome": "error"}); got != 0 {
		t.Errorf("%v failed inserts recorded against a healthy server", got)
	}
}

// TestSinkToClickHouseAbandonedAttempt: input sorted but for one row moved to the end,
// so ingest streams almost everything in attempt 1, finds the input not grouped and
// publishes it again in attempt 2. The sink inserted most of attempt 1 (one subject
// cut short) before attempt 2 arrived; the stored results must still be exactly the
// embedded run's, and no row of attempt 1 may remain.
func TestSinkToClickHouseAbandonedAttempt(t *testing.T) {
	conn, dbs := scratchWarehouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := generate(t, 20_000, false)
	appendLine(t, in, "DOE,JANE,TOO,FEW") // quarantined in both attempts: one reject row
	moveRowToEnd(t, in, 200)
	runID := "test-ch-attempts"
	want := readSummary(t, embedded(t, runID, []string{in}))

	tel := telemetrytest.New(t, "sink")
	broker := memory.New(memory.Config{})
	c := &cluster{t: t, bus: memoryBus(broker), topics: control.DefaultTopics(), log: quietLog(t)}
	c.evaluator("ev1")
	c.clickhouseSink(conn, dbs, tel)
	defer c.stopAll()

	// Small messages: attempt 1's subjects are published as the grouper goes, not held
	// in per-partition batches that the failed attempt drops.
	icfg := ingestConfig(c.topics, runID)
	icfg.BatchSubjects = 16
	st, err := ingest.Run(ctx, c.bus, icfg, []string{in}, quietLog(t).With("service", "ingest"))
	if err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if st.Attempt != 2 {
		t.Fatalf("ingest finished in attempt %d; want 2 (the moved row makes the input not grouped)", st.Attempt)
	}
	run := waitRun(ctx, t, c.bus, c.topics, runID)
	if run.Failed != nil {
		t.Fatalf("run failed: %s", run.Failed.Reason)
	}
	if want.Totals.Rejects != 1 {
		t.Fatalf("embedded run quarantined %d rows, want 1", want.Totals.Rejects)
	}
	people := scrapeMetrics(t, tel).sum("clearway_clickhouse_insert_rows_total", map[string]string{"table": "analytics.people"})
	t.Logf("%d subjects; %v people rows inserted over both attempts", want.Totals.Subjects, people)
	if int64(people) <= want.Totals.Subjects {
		t.Errorf("only %v people rows inserted for %d subjects: attempt 1 never reached ClickHouse, so the test proves nothing", people, want.Totals.Subjects)
	}
	sameSummary(t, conn, dbs, runID, want)
	for _, table := range []string{dbs.Restricted + ".decisions", dbs.Restricted + ".rejects", dbs.Analytics + ".decisions", dbs.Analytics + ".people"} {
		var left uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE run_id = ? AND version < 2", runID).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%s keeps %d rows of the abandoned attempt", table, left)
		}
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// moveRowToEnd moves data row n (1-based, after the header) of a CSV file to its end.
func moveRowToEnd(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if n < 1 || n >= len(lines) {
		t.Fatalf("row %d of a file of %d lines", n, len(lines))
	}
	row := lines[n]
	rest := append(append([]string{}, lines[:n]...), lines[n+1:]...)
	if err := os.WriteFile(path, []byte(strings.Join(append(rest, row), "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// errDown is what a ClickHouse client sees of a server that is down.
var errDown = &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}

// flakyConn is a ClickHouse connection that fails, while told to, every insert
// (PrepareBatch: the server is down) or the aggregate rebuild of a run's completion.
type flakyConn struct {
	driver.Conn
	inserts, rebuild                atomic.Bool
	insertFailures, rebuildFailures atomic.Int64
}

func (c *flakyConn) PrepareBatch(ctx context.Context, query string, opts ...driver.PrepareBatchOption) (driver.Batch, error) {
	if c.inserts.Load() {
		c.insertFailures.Add(1)
		return nil, errDown
	}
	return c.Conn.PrepareBatch(ctx, query, opts...)
}

func (c *flakyConn) Exec(ctx context.Context, query string, args ...any) error {
	if c.rebuild.Load() && strings.Contains(query, "conviction_group_counts") {
		c.rebuildFailures.Add(1)
		return errDown
	}
	return c.Conn.Exec(ctx, query, args...)
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
}

// readyz returns the status code of addr's /readyz.
func readyz(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestSinkClickHouseOutage: ClickHouse is down while a run's batches arrive, then
// fails the run's completion, and the sink is stopped during that outage and replaced.
// The sink retries, is unready while it fails, commits nothing it could not insert,
// publishes no run-failed; the replacement finishes the run from its spool; the stored
// results equal the embedded run's, and the failed inserts are counted.
func TestSinkClickHouseOutage(t *testing.T) {
	conn, dbs := scratchWarehouse(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := generate(t, 10_000, false)
	runID := "test-ch-outage"
	want := readSummary(t, embedded(t, runID, []string{in}))

	tel := telemetrytest.New(t, "sink")
	broker := memory.New(memory.Config{})
	c := &cluster{t: t, bus: memoryBus(broker), topics: control.DefaultTopics(), log: quietLog(t)}
	c.evaluator("ev1")
	defer c.stopAll()

	flaky := &flakyConn{Conn: conn}
	flaky.inserts.Store(true)
	cfg := chSinkConfig(c, flaky, dbs, tel)
	cfg.Warehouse.Retry = warehouse.Retry{Attempts: 2, Initial: time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTP = l.Addr().String()
	l.Close()
	stop := c.startSink(cfg)

	ingestRun(ctx, t, c.bus, c.topics, runID, []string{in})
	// 1. Down during inserts: retried, unready, nothing stored.
	waitFor(t, "failed inserts", func() bool { return flaky.insertFailures.Load() >= 6 })
	waitFor(t, "the sink to report unready", func() bool { return readyz(t, cfg.HTTP) == http.StatusServiceUnavailable })
	var people uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+dbs.Analytics+".people WHERE run_id = ?", runID).Scan(&people); err != nil {
		t.Fatal(err)
	}
	if people != 0 {
		t.Fatalf("%d people stored while every insert failed", people)
	}

	// 2. Back for inserts, down for the completion: the rows go in, the run stays running.
	flaky.rebuild.Store(true)
	flaky.inserts.Store(false)
	waitFor(t, "failed completions", func() bool { return flaky.rebuildFailures.Load() >= 3 })
	waitFor(t, "the sink to report unready", func() bool { return readyz(t, cfg.HTTP) == http.StatusServiceUnavailable })
	rec, err := warehouse.LoadRun(ctx, conn, dbs, runID)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != "running" {
		t.Fatalf("run recorded %s while its completion failed", rec.Status)
	}
	// 3. Stopped during the outage: a clean stop, no run-failed; a new sink with a
	// working connection finishes the run from the spool.
	if err := stop(); err != nil {
		t.Fatalf("sink stopped during the outage: %v", err)
	}
	cfg2 := cfg
	cfg2.HTTP = "127.0.0.1:0"
	w2 := *cfg.Warehouse
	w2.Conn = conn
	cfg2.Warehouse = &w2
	c.startSink(cfg2)
	run := waitRun(ctx, t, c.bus, c.topics, runID)
	if run.Failed != nil {
		t.Fatalf("run failed: %s", run.Failed.Reason)
	}
	sameSummary(t, conn, dbs, runID, want)

	m := scrapeMetrics(t, tel)
	if got := m.sum("clearway_clickhouse_insert_duration_seconds", map[string]string{"outcome": "error"}); got < 6 {
		t.Errorf("%v failed inserts recorded, want at least 6", got)
	}
	if got := m.sum("clearway_clickhouse_insert_duration_seconds", map[string]string{"table": "analytics.conviction_group_counts", "outcome": "error"}); got < 3 {
		t.Errorf("%v failed aggregate rebuilds recorded, want at least 3", got)
	}
}
