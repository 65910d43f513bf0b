package acceptance_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/synth"
)

// synthFile writes a generated extract into a temporary folder.
func synthFile(t *testing.T, cfg synth.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synth.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TempDir = t.TempDir()
	if _, err := synth.Generate(context.Background(), f, cfg); err != nil {
		f.Close()
		t.Fatalf("synth.Generate: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// spillBudget is a memory budget far below the generated files' size, so that
// regrouping a shuffled file goes through spill files on disk.
const spillBudget = 1 << 20

// TestNativeDeterministic: the same input, policy and compute-at date give
// byte-identical decisions.csv and decisions.parquet on repeated runs, whatever the
// number of evaluation workers (the two runs use 1 and 4). Inputs: case A, and
// synth seed 1 with 20,000 rows, grouped (streaming) and shuffled (regrouped in memory,
// and through spill files).
func TestNativeDeterministic(t *testing.T) {
	tests := []struct {
		name   string
		input  func(t *testing.T) string
		county string
		memory int64
		mode   string // the grouping mode the run must use
		// spilled says whether rows must have gone through spill files.
		spilled bool
		// minDecisions guards against a vacuous pass on an input nothing is decided in.
		minDecisions int
	}{
		{name: "case A", input: func(*testing.T) string { return filepath.Join(fixtures, caseA.input) },
			county: caseA.county, mode: "streaming", minDecisions: 18},
		{name: "synth seed 1", input: func(t *testing.T) string {
			return synthFile(t, synth.Config{Seed: 1, Rows: 20000, Header: true})
		}, mode: "streaming", minDecisions: 100},
		{name: "synth seed 1 shuffled", input: func(t *testing.T) string {
			return synthFile(t, synth.Config{Seed: 1, Rows: 20000, Header: true, Shuffle: true})
		}, mode: "spill", minDecisions: 100},
		{name: "synth seed 1 shuffled, spilled to disk", input: func(t *testing.T) string {
			return synthFile(t, synth.Config{Seed: 1, Rows: 20000, Header: true, Shuffle: true})
		}, memory: spillBudget, mode: "spill", spilled: true, minDecisions: 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run{
				files:     []string{tc.input(t)},
				county:    tc.county,
				computeAt: computeAt,
				options:   filepath.Join(fixtures, "options.json"),
				format:    pipeline.FormatNative,
				workers:   1,
				memory:    tc.memory,
			}
			first, st := runPipelineStats(t, r)
			if st.Group.Mode != tc.mode || (st.Group.Spilled > 0) != tc.spilled {
				t.Errorf("grouping mode %q, %d bytes spilled; the case needs mode %q, spilled %v",
					st.Group.Mode, st.Group.Spilled, tc.mode, tc.spilled)
			}
			r.workers = 4
			second := runPipeline(t, r)
			for _, name := range []string{report.DecisionsCSV, report.DecisionsParquet} {
				a, b := readFile(t, filepath.Join(first, name)), readFile(t, filepath.Join(second, name))
				if !bytes.Equal(a, b) {
					t.Errorf("%s differs between runs (%d and %d bytes)", name, len(a), len(b))
				}
			}
			if n := len(readCSV(t, filepath.Join(first, report.DecisionsCSV))) - 1; n < tc.minDecisions {
				t.Errorf("%d decisions, want at least %d", n, tc.minDecisions)
			}
		})
	}
}

// TestNativeDecisionsIndependentOfMemory: the memory budget may change the order of
// decisions (in spill mode it sets the number of partitions; docs/architecture.md,
// "Determinism"), but never the decisions themselves.
func TestNativeDecisionsIndependentOfMemory(t *testing.T) {
	r := run{
		files:     []string{synthFile(t, synth.Config{Seed: 1, Rows: 20000, Header: true, Shuffle: true})},
		computeAt: computeAt,
		options:   filepath.Join(fixtures, "options.json"),
		format:    pipeline.FormatNative,
	}
	inMemory := readCSV(t, filepath.Join(runPipeline(t, r), report.DecisionsCSV))
	r.memory = spillBudget
	spilled := readCSV(t, filepath.Join(runPipeline(t, r), report.DecisionsCSV))
	if !slices.Equal(inMemory[0], spilled[0]) {
		t.Fatalf("headers differ: %q and %q", inMemory[0], spilled[0])
	}
	a, b := joinRows(inMemory[1:]), joinRows(spilled[1:])
	slices.Sort(a)
	slices.Sort(b)
	if len(a) != len(b) {
		t.Fatalf("%d decisions in memory, %d when spilled", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("sorted decision %d differs:\n in memory %s\n spilled   %s", i, a[i], b[i])
			break
		}
	}
}

// joinRows makes each CSV row one comparable string.
func joinRows(rows [][]string) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = strings.Join(r, "\x00")
	}
	return out
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
