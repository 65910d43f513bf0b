package warehouse_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

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
	in, err := statewide()
	if err != nil {
		t.Fatalf("generate input: %v", err)
	}
	ctx := context.Background()
	pols := policy.DefaultPolicies()
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
