package warehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/synth"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// testKey is the pseudonym secret of the tests (never a deployment's).
var testKey = []byte("clearway-test-pseudonym-key-0001")

// migrated returns a writer connection and two fresh scratch databases with the
// schema applied.
func migrated(t *testing.T) (driver.Conn, warehouse.Databases) {
	t.Helper()
	conn := chtest.Connect(t)
	dbs := warehouse.Databases{Restricted: chtest.Scratch(t, conn), Analytics: chtest.Scratch(t, conn)}
	if _, err := warehouse.Migrate(context.Background(), conn, dbs); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return conn, dbs
}

// statewide is one generated statewide input shared by the tests of this package.
var statewide = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "clearway-warehouse-test")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "statewide.csv")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	_, err = synth.Generate(context.Background(), f, synth.Config{Seed: 7, Rows: 60_000, Header: true})
	return path, err
})

// loadedRun is an embedded run of the statewide input that also wrote to ClickHouse.
type loadedRun struct {
	runID   string
	out     string
	summary *report.Summary // the embedded run's summary.json
}

// runWithClickHouse runs the pipeline on the statewide input with a warehouse writer
// as extra output, as `clearway run --clickhouse` does.
func runWithClickHouse(t *testing.T, conn driver.Conn, dbs warehouse.Databases, runID string) loadedRun {
	t.Helper()
	return runWithPolicies(t, conn, dbs, runID, policy.DefaultPolicies())
}

// runWithPolicies is runWithClickHouse with the given policies.
func runWithPolicies(t *testing.T, conn driver.Conn, dbs warehouse.Databases, runID string, pols *eligibility.Policies) loadedRun {
	t.Helper()
	in, err := statewide()
	if err != nil {
		t.Fatalf("generate input: %v", err)
	}
	ctx := context.Background()
	at := record.MakeDate(2024, 7, 1)
	out := t.TempDir()
	cfg := pipeline.Config{
		Files:  []string{in},
		Engine: &eligibility.Engine{Policies: pols, ComputeAt: at},
		Info: report.RunInfo{RunID: runID, ComputeAt: at, Policies: pols,
			EngineVersion: eligibility.Version, Started: time.Now().UTC()},
		Format: pipeline.FormatNative,
		OutDir: out,
		Extra: func(info report.RunInfo) (report.Output, error) {
			return warehouse.NewWriter(ctx, conn, warehouse.WriterConfig{
				Databases: dbs, PseudonymKey: testKey, Info: info, BatchRows: warehouse.MinBatchRows,
			})
		},
	}
	if _, err := pipeline.Run(ctx, cfg); err != nil {
		t.Fatalf("pipeline with ClickHouse output: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatalf("read embedded summary: %v", err)
	}
	var s report.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("decode embedded summary: %v", err)
	}
	return loadedRun{runID: runID, out: out, summary: &s}
}

// summaryJSON encodes a summary without its timing, the one part that may differ.
func summaryJSON(t *testing.T, s *report.Summary) []byte {
	t.Helper()
	c := *s
	c.Timing = report.Timing{}
	b, err := c.JSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSummaryFromClickHouseEqualsEmbeddedRun(t *testing.T) {
	conn, dbs := migrated(t)
	run := runWithClickHouse(t, conn, dbs, "test-summary")
	if run.summary.Totals.ConvictionsEvaluated == 0 || run.summary.Totals.PeopleWithRelief == 0 {
		t.Fatalf("generated input decided nothing (totals %+v): the comparison would prove little", run.summary.Totals)
	}

	got, err := warehouse.LoadSummary(context.Background(), conn, dbs, run.runID)
	if err != nil {
		t.Fatalf("LoadSummary: %v", err)
	}
	want := summaryJSON(t, run.summary)
	if g := summaryJSON(t, got); !bytes.Equal(g, want) {
		diffJSON(t, g, want)
	}

	// The HTML report renders from the summary alone; with equal summaries (timing
	// aside) the pages are equal too.
	got.Timing = run.summary.Timing
	var a, b bytes.Buffer
	if err := report.WriteHTML(&a, got); err != nil {
		t.Fatal(err)
	}
	if err := report.WriteHTML(&b, run.summary); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatalf("report.html from ClickHouse differs from the embedded run's")
	}
}

// diffJSON fails with the first differing line of two JSON documents.
func diffJSON(t *testing.T, got, want []byte) {
	t.Helper()
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			t.Fatalf("summary from ClickHouse differs from the embedded run's at line %d:\n got: %s\nwant: %s", i+1, gl, wl)
		}
	}
}

func TestMigrationsApplyThenNoOp(t *testing.T) {
	conn := chtest.Connect(t)
	dbs := warehouse.Databases{Restricted: chtest.Scratch(t, conn), Analytics: chtest.Scratch(t, conn)}
	ctx := context.Background()
	// Scratch made the databases; an empty server would not have them either way,
	// so drop them and let the migrations create them.
	for _, db := range []string{dbs.Restricted, dbs.Analytics} {
		if err := conn.Exec(ctx, "DROP DATABASE "+db); err != nil {
			t.Fatal(err)
		}
	}
	first, err := warehouse.Migrate(ctx, conn, dbs)
	if err != nil {
		t.Fatalf("first migrate: %v", err)
	}
	second, err := warehouse.Migrate(ctx, conn, dbs)
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if len(first) != len(second) {
		t.Fatalf("first run reported %d migrations, second %d", len(first), len(second))
	}
	applied := 0
	for i := range first {
		switch {
		case first[i].Action == "applied":
			applied++
			if second[i].Action != "already applied" {
				t.Errorf("%s: second run %q, want already applied", second[i].Name, second[i].Action)
			}
		case strings.HasPrefix(first[i].Action, "skipped"):
			if second[i].Action != first[i].Action {
				t.Errorf("%s: second run %q, want %q", second[i].Name, second[i].Action, first[i].Action)
			}
		default:
			t.Errorf("%s: first run %q on an empty server", first[i].Name, first[i].Action)
		}
	}
	if applied < 3 {
		t.Fatalf("only %d migrations applied on an empty server: %+v", applied, first)
	}
	var recorded uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+dbs.Restricted+".schema_migrations").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if int(recorded) != applied {
		t.Fatalf("schema_migrations holds %d rows after two runs, want %d (one per applied migration)", recorded, applied)
	}
	var tables uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database IN (?, ?)", dbs.Restricted, dbs.Analytics).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	// restricted: decisions, rejects, schema_migrations; analytics: decisions, people,
	// runs, 3 dedup views, the aggregate table and its view.
	if tables != 11 {
		t.Fatalf("%d tables and views after migrating, want 11", tables)
	}
}

// TestLoadingTwiceDoesNotDoubleCount loads the same run twice (a rerun, or a sink
// that redelivers everything): deduplicated reads, the aggregates and the rebuilt
// summary count each conviction once.
func TestLoadingTwiceDoesNotDoubleCount(t *testing.T) {
	conn, dbs := migrated(t)
	ctx := context.Background()
	first := runWithClickHouse(t, conn, dbs, "test-twice")
	runWithClickHouse(t, conn, dbs, "test-twice")
	want := first.summary.Totals

	var raw, dedup, groups, people uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+dbs.Analytics+".decisions WHERE run_id = 'test-twice'").Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+dbs.Analytics+".decisions_dedup WHERE run_id = 'test-twice'").Scan(&dedup); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT sum(convictions) FROM "+dbs.Analytics+".conviction_groups WHERE run_id = 'test-twice'").Scan(&groups); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+dbs.Analytics+".people_dedup WHERE run_id = 'test-twice'").Scan(&people); err != nil {
		t.Fatal(err)
	}
	if raw < 2*uint64(want.ConvictionsEvaluated) && raw != uint64(want.ConvictionsEvaluated) {
		t.Logf("raw rows %d (parts merged in between)", raw)
	}
	if dedup != uint64(want.ConvictionsEvaluated) || groups != uint64(want.ConvictionsEvaluated) || people != uint64(want.Subjects) {
		t.Fatalf("after loading twice: dedup decisions %d, aggregate convictions %d, people %d; want %d, %d, %d",
			dedup, groups, people, want.ConvictionsEvaluated, want.ConvictionsEvaluated, want.Subjects)
	}
	got, err := warehouse.LoadSummary(ctx, conn, dbs, "test-twice")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := summaryJSON(t, got), summaryJSON(t, first.summary); !bytes.Equal(g, w) {
		diffJSON(t, g, w)
	}
}

// TestAnalystRefusedOnRestricted migrates the production database names (what
// users.xml grants) and checks the analyst reads analytics and nothing of restricted.
func TestAnalystRefusedOnRestricted(t *testing.T) {
	writer := chtest.Connect(t)
	ctx := context.Background()
	if _, err := warehouse.Migrate(ctx, writer, warehouse.DefaultDatabases); err != nil {
		t.Fatalf("migrate %v: %v", warehouse.DefaultDatabases, err)
	}
	analyst := chtest.ConnectAnalyst(t)
	var n uint64
	if err := analyst.QueryRow(ctx, "SELECT count() FROM clearway_analytics.decisions_dedup WHERE run_id = 'no-such-run'").Scan(&n); err != nil {
		t.Fatalf("analyst reading clearway_analytics: %v", err)
	}
	for _, q := range []string{
		"SELECT count() FROM clearway_restricted.decisions",
		"SELECT count() FROM clearway_restricted.rejects",
		"SELECT count() FROM clearway_restricted.schema_migrations",
	} {
		err := analyst.QueryRow(ctx, q).Scan(&n)
		var ex *clickhouse.Exception
		if !errors.As(err, &ex) || ex.Code != 291 {
			t.Errorf("analyst %q: err = %v, want ClickHouse exception 291 (access denied)", q, err)
		}
	}
}

// TestAnalyticsHoldsNoIdentifiers inspects the analytics schema for identifying
// columns, and the stored values for raw SUBJECT_IDs.
func TestAnalyticsHoldsNoIdentifiers(t *testing.T) {
	conn, dbs := migrated(t)
	ctx := context.Background()
	rows, err := conn.Query(ctx, "SELECT table, name FROM system.columns WHERE database = ?", dbs.Analytics)
	if err != nil {
		t.Fatal(err)
	}
	forbidden := regexp.MustCompile(`(?i)name|dob|birth|cii|ssn|cdl|licen|subject|fbi|case|ofn|line|file|raw`)
	// Counts, not identifiers. Any other match must be looked at by a person.
	allowed := map[string]bool{"runs.subjects": true, "runs_latest.subjects": true}
	var columns int
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			t.Fatal(err)
		}
		columns++
		if forbidden.MatchString(col) && !allowed[table+"."+col] {
			t.Errorf("analytics column %s.%s looks like an identifier", table, col)
		}
	}
	rows.Close()
	if columns < 40 {
		t.Fatalf("only %d analytics columns listed: is the schema there?", columns)
	}

	// Values: after a load, no string column holds a SUBJECT_ID of the run.
	runWithClickHouse(t, conn, dbs, "test-pii")
	var ids []string
	idRows, err := conn.Query(ctx, "SELECT DISTINCT subject_id FROM "+dbs.Restricted+".decisions WHERE run_id = 'test-pii' LIMIT 300")
	if err != nil {
		t.Fatal(err)
	}
	for idRows.Next() {
		var id string
		if err := idRows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	idRows.Close()
	if len(ids) == 0 {
		t.Fatal("no subject ids stored")
	}
	for _, tc := range []struct{ table, cols string }{
		{"decisions", "person, county, section, reason, rule_id, race, gender, age_band, policy, policy_hash"},
		{"people", "person, race, gender, age_band"},
	} {
		var hits uint64
		q := "SELECT count() FROM " + dbs.Analytics + "." + tc.table + " ARRAY JOIN [" + tc.cols + "] AS v WHERE has(?, v)"
		if err := conn.QueryRow(ctx, q, ids).Scan(&hits); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if hits != 0 {
			t.Errorf("analytics %s holds %d values equal to raw SUBJECT_IDs", tc.table, hits)
		}
	}
	// And the pseudonyms are the keyed hashes of those ids, stored as raw bytes.
	var found uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+dbs.Analytics+".people WHERE lower(hex(person)) = ?", warehouse.Pseudonym(testKey, ids[0])).Scan(&found); err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatalf("no people row for the pseudonym of a stored subject")
	}
}

// TestLargeInsertInBlocks writes inserts of several Native blocks each (batches of
// 40,000 rows, sent in blocks of a few thousand): every row arrives once, with its own
// values, in each table.
func TestLargeInsertInBlocks(t *testing.T) {
	conn, dbs := migrated(t)
	ctx := context.Background()
	const subjects, perSubject = 20_000, 1
	results := syntheticResults(subjects, perSubject)
	w, err := warehouse.NewWriter(ctx, conn, warehouse.WriterConfig{
		Databases: dbs, PseudonymKey: testKey, BatchRows: 40_000,
		Info: report.RunInfo{RunID: "test-blocks", ComputeAt: record.MakeDate(2024, 7, 1), Started: time.Now()},
	})
	if err != nil {
		t.Fatal(err)
	}
	var lines, years uint64
	for i := range results {
		r := &results[i]
		lines += uint64(r.Subject.Events[0].Src.Line)
		years += uint64(r.Evaluated[0].Date.Year())
		if err := w.Subject(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx, report.RunStats{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		want uint64
	}{
		{"SELECT count() FROM " + dbs.Restricted + ".decisions WHERE run_id = 'test-blocks'", subjects},
		{"SELECT uniqExact(subject_id) FROM " + dbs.Restricted + ".decisions WHERE run_id = 'test-blocks'", subjects},
		{"SELECT sum(line) FROM " + dbs.Restricted + ".decisions WHERE run_id = 'test-blocks'", lines},
		{"SELECT count() FROM " + dbs.Analytics + ".decisions WHERE run_id = 'test-blocks'", subjects},
		{"SELECT sum(toUInt64(conviction_year)) FROM " + dbs.Analytics + ".decisions WHERE run_id = 'test-blocks'", years},
		{"SELECT uniqExact(person) FROM " + dbs.Analytics + ".people WHERE run_id = 'test-blocks'", subjects},
		{"SELECT count() FROM " + dbs.Analytics + ".people WHERE run_id = 'test-blocks'", subjects},
	} {
		var got uint64
		if err := conn.QueryRow(ctx, q.sql).Scan(&got); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
		if got != q.want {
			t.Errorf("%s = %d, want %d", q.sql, got, q.want)
		}
	}
}

// TestAggregatesFromTallyEqualRebuild checks that the groups a writer writes from its
// own tally (a fresh run: the stored decisions are exactly the rows it sent) are the
// rows the server computes from the deduplicated decisions (RebuildAggregates).
func TestAggregatesFromTallyEqualRebuild(t *testing.T) {
	conn, dbs := migrated(t)
	ctx := context.Background()
	run := runWithClickHouse(t, conn, dbs, "test-tally")
	groups := func() []string {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT concat(county, '|', section, '|', toString(determination), '|', race, '|', gender, '|', "+
			"age_band, '|', toString(felony), '|', toString(convictions), '|', toString(people)) AS g FROM "+
			dbs.Analytics+".conviction_groups WHERE run_id = 'test-tally' ORDER BY g")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var g string
			if err := rows.Scan(&g); err != nil {
				t.Fatal(err)
			}
			out = append(out, g)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tallied := groups()
	if err := warehouse.RebuildAggregates(ctx, conn, dbs, "test-tally"); err != nil {
		t.Fatal(err)
	}
	rebuilt := groups()
	if len(rebuilt) == 0 {
		t.Fatal("the server rebuilt no groups")
	}
	if !slices.Equal(tallied, rebuilt) {
		t.Fatalf("groups from the writer's tally differ from the rebuild:\ntally   %d rows %q\nrebuild %d rows %q", len(tallied), tallied, len(rebuilt), rebuilt)
	}
	var convictions, multi uint64
	if err := conn.QueryRow(ctx, "SELECT sum(convictions), countIf(people < convictions) FROM "+dbs.Analytics+".conviction_groups WHERE run_id = 'test-tally'").Scan(&convictions, &multi); err != nil {
		t.Fatal(err)
	}
	if convictions != uint64(run.summary.Totals.ConvictionsEvaluated) {
		t.Fatalf("aggregate convictions %d, want %d", convictions, run.summary.Totals.ConvictionsEvaluated)
	}
	if multi == 0 {
		t.Fatal("no group has a person counted for two convictions: the input does not test the distinct people count")
	}
}
