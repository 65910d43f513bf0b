package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
)

// extra is an additional output that records how each attempt ended.
type extra struct {
	mu      sync.Mutex
	ends    *[]string // "closed" or "aborted", per attempt in order
	ids     []string
	failAt  int // Subject fails at this call (0: never)
	subject int
}

func (e *extra) Subject(r *eligibility.Result) error {
	e.subject++
	if e.subject == e.failAt {
		return errors.New("extra output refused a subject")
	}
	e.ids = append(e.ids, r.Subject.ID)
	return nil
}

func (e *extra) Reject(doj.Reject) error { return nil }

func (e *extra) Close(context.Context, report.RunStats) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.ends = append(*e.ends, "closed")
	return nil
}

func (e *extra) Abort() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	*e.ends = append(*e.ends, "aborted")
	return nil
}

func config(t *testing.T, in string, workers int) Config {
	at, _ := record.ParseISO("2020-07-01")
	pols := policy.DefaultPolicies()
	return Config{
		Files:   []string{in},
		Engine:  &eligibility.Engine{Policies: pols, ComputeAt: at},
		Info:    report.RunInfo{RunID: "test run", ComputeAt: at, Policies: pols},
		Format:  FormatNative,
		OutDir:  filepath.Join(t.TempDir(), "out"),
		Workers: workers,
		Group:   doj.GroupOptions{MemoryBudget: 1 << 20, TempDir: t.TempDir()},
	}
}

// TestUnsortedRestartsExtra runs unsorted input: the streaming attempt is abandoned (its
// extra output, if it had one, aborted), the spill attempt's outputs are published, and they equal a
// run of the same subjects sorted, whatever the number of workers.
func TestUnsortedRestartsExtra(t *testing.T) {
	in := benchInput(t, 20_000, true)
	var ends []string
	var last *extra
	cfg := config(t, in, 3)
	cfg.Extra = func(report.RunInfo) (report.Output, error) {
		last = &extra{ends: &ends}
		return last, nil
	}
	st, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Group.Mode != "spill" {
		t.Fatalf("mode %q, want spill", st.Group.Mode)
	}
	// The streaming attempt has an output only if some of its results reached the sink
	// before the grouper found the input unsorted.
	if !slices.Equal(ends, []string{"aborted", "closed"}) && !slices.Equal(ends, []string{"closed"}) {
		t.Errorf("extra outputs ended %v, want [aborted closed] or [closed]", ends)
	}
	if int64(len(last.ids)) != st.Subjects || !slices.IsSorted(last.ids) {
		t.Errorf("extra output got %d subjects (sorted: %v), the run counts %d", len(last.ids), slices.IsSorted(last.ids), st.Subjects)
	}
	one := config(t, in, 1)
	if _, err := Run(context.Background(), one); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{report.DecisionsCSV, report.DecisionsParquet, report.RejectsCSV} {
		a, err := os.ReadFile(filepath.Join(cfg.OutDir, name))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(one.OutDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Errorf("%s differs between 3 workers and 1", name)
		}
	}
	if _, err := os.Stat(filepath.Join(cfg.OutDir, report.StagingDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging folder left behind: %v", err)
	}
}

// TestOutputFailure: an output that fails fails the run, which leaves no outputs.
func TestOutputFailure(t *testing.T) {
	in := benchInput(t, 20_000, false)
	var ends []string
	cfg := config(t, in, 2)
	cfg.Extra = func(report.RunInfo) (report.Output, error) { return &extra{ends: &ends, failAt: 100}, nil }
	_, err := Run(context.Background(), cfg)
	if err == nil || err.Error() != "extra output refused a subject" {
		t.Fatalf("got %v, want the output's error", err)
	}
	ents, rerr := os.ReadDir(cfg.OutDir)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(ents) != 0 {
		t.Errorf("a failed run left %d entries in its output folder, e.g. %s", len(ents), ents[0].Name())
	}
	if !slices.Equal(ends, []string{"aborted"}) {
		t.Errorf("extra output ended %v, want [aborted]", ends)
	}
}
