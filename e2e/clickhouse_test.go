//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// chRows is the size of the ClickHouse tests' statewide load: enough for every county
// and for a sink kill to land mid-run, small enough for CI.
const chRows = 60_000

// chInput is `clearway gen --seed 3 --rows chRows` (statewide: all counties) plus one
// malformed row, so that a quarantined row travels to ClickHouse too. It is generated
// once, for the first test that needs it, next to the suite's input.
var chInput = sync.OnceValues(func() (string, error) {
	path := filepath.Join(filepath.Dir(env.input), "clickhouse.csv")
	if out, err := exec.Command(env.bin, "gen", "--seed", "3", "--rows", strconv.Itoa(chRows), "-o", path).CombinedOutput(); err != nil {
		return "", fmt.Errorf("clearway gen: %w\n%s", err, out)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return "", err
	}
	if _, err := f.WriteString("DOE,JANE,TOO,FEW\n"); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
})

// warehouseHarness is a harness whose sink also stores runs in two scratch databases
// of the ClickHouse server at CLEARWAY_CLICKHOUSE_ADDR, migrated with `clearway migrate`.
type warehouseHarness struct {
	*harness
	addr                  string
	conn                  driver.Conn
	restricted, analytics string
	input                 string
}

func newWarehouseHarness(t *testing.T) *warehouseHarness {
	brokers := sharedBroker(t)
	addr := chtest.Addr(t)
	in, err := chInput()
	if err != nil {
		t.Fatalf("generate the ClickHouse tests' input: %v", err)
	}
	conn := chtest.Connect(t)
	h := &warehouseHarness{harness: newHarness(t, brokers), addr: addr, conn: conn,
		restricted: chtest.Scratch(t, conn), analytics: chtest.Scratch(t, conn), input: in}
	// childEnv drops CLEARWAY_*: give the processes the writer's password back.
	h.env = []string{"CLEARWAY_CH_PASSWORD=" + chtest.Writer().Password}
	out, err := h.clearway(append([]string{"migrate"}, h.chArgs()...)...)
	if err != nil {
		t.Fatalf("clearway migrate: %v\n%s", err, out)
	}
	return h
}

// chArgs select the server, the writer user and the test's databases.
func (h *warehouseHarness) chArgs() []string {
	return []string{"--clickhouse", h.addr, "--ch-user", chtest.Writer().User,
		"--restricted-db", h.restricted, "--analytics-db", h.analytics}
}

// clearway runs a short clearway command to its end and returns its output.
func (h *warehouseHarness) clearway(args ...string) ([]byte, error) {
	cmd := exec.Command(env.bin, args...)
	cmd.Env = append(childEnv(), h.env...)
	return cmd.CombinedOutput()
}

// chSink starts `clearway sink --clickhouse` (with the public development pseudonym
// key); extra adds flags such as --out.
func (h *warehouseHarness) chSink(name string, extra ...string) *proc {
	args := append([]string{"sink"}, h.serviceArgs()...)
	args = append(args, "--group", h.prefix+"sink", "--instance", name, "--http", "", "--dev")
	args = append(args, h.chArgs()...)
	return h.start(name, nil, append(args, extra...)...)
}

// count returns the deduplicated rows of run in db.table.
func (h *warehouseHarness) count(db, table, run string) int64 {
	h.t.Helper()
	var n uint64
	if err := h.conn.QueryRow(context.Background(), "SELECT count() FROM "+db+"."+table+" FINAL WHERE run_id = ?", run).Scan(&n); err != nil {
		h.t.Fatalf("count %s.%s: %v", db, table, err)
	}
	return int64(n)
}

// sameAsReference checks what ClickHouse holds of run against `clearway run`'s
// summary.json: the deduplicated row counts equal its totals, and `clearway report
// --clickhouse` writes the same summary.json, timing aside.
func (h *warehouseHarness) sameAsReference(run string, want reference) {
	h.t.Helper()
	ws := summaryWithoutTiming(h.t, filepath.Join(want.dir, "summary.json"))
	totals := ws["totals"].(map[string]any)
	for _, c := range []struct {
		db, table, total string
	}{
		{h.restricted, "decisions", "convictions_evaluated"},
		{h.analytics, "decisions", "convictions_evaluated"},
		{h.analytics, "people", "subjects"},
		{h.restricted, "rejects", "rejects"},
	} {
		w, ok := totals[c.total].(float64)
		if !ok {
			h.t.Fatalf("reference summary.json has no totals.%s", c.total)
		}
		if got := h.count(c.db, c.table, run); got != int64(w) {
			h.t.Errorf("%s.%s holds %d deduplicated rows of the run; clearway run's totals.%s is %d", c.db, c.table, got, c.total, int64(w))
		}
	}
	if totals["rejects"].(float64) < 1 || totals["convictions_evaluated"].(float64) < 1 {
		h.t.Fatalf("reference totals %v: the comparison would prove little", totals)
	}

	dir := filepath.Join(h.dir, "report")
	out, err := h.clearway(append([]string{"report", "--run", run, "--out", dir}, h.chArgs()...)...)
	if err != nil {
		h.t.Fatalf("clearway report --clickhouse: %v\n%s", err, out)
	}
	gs := summaryWithoutTiming(h.t, filepath.Join(dir, "summary.json"))
	for k := range ws {
		if !reflect.DeepEqual(gs[k], ws[k]) {
			h.t.Errorf("summary.json from ClickHouse: %q differs from clearway run's", k)
		}
	}
	for k := range gs {
		if _, ok := ws[k]; !ok {
			h.t.Errorf("summary.json from ClickHouse has %q, clearway run's has not", k)
		}
	}
}

// TestClickHouseSinkMatchesRun: a generated statewide load through ingest → 2 evaluator
// processes → `clearway sink --clickhouse` (ClickHouse only, no --out): the
// deduplicated counts and the summary `clearway report --clickhouse` rebuilds equal
// `clearway run`'s on the same input.
func TestClickHouseSinkMatchesRun(t *testing.T) {
	h := newWarehouseHarness(t)
	run := h.runID("ch-match")
	want := h.referenceOf(run, h.input)
	h.chSink("sink", "--state", filepath.Join(h.dir, "state"))
	h.evaluator("ev1", "")
	h.evaluator("ev2", "")

	w := h.watch(run)
	if err := h.ingestFile(run, h.input).wait(t, runTimeout); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	st := w.complete(t, runTimeout)
	if st.Stored != want.subjects {
		t.Errorf("status: %d subjects stored, want %d", st.Stored, want.subjects)
	}
	h.sameAsReference(run, want)
	if _, err := os.Stat(filepath.Join(h.dir, "state", run, ".complete")); err != nil {
		t.Errorf("sink did not mark the run complete in its state folder: %v", err)
	}
}

// TestClickHouseSinkKilled: SIGKILL a sink that writes files and ClickHouse once it has
// inserted some of the run but not all, and restart it: ClickHouse's deduplicated
// results and the files still equal `clearway run`'s; nothing is missing.
func TestClickHouseSinkKilled(t *testing.T) {
	h := newWarehouseHarness(t)
	run := h.runID("ch-kill")
	want := h.referenceOf(run, h.input)
	sink := h.chSink("sink", "--out", h.out)
	h.evaluator("ev1", "")
	h.evaluator("ev2", "")
	w := h.watch(run)
	ing := h.ingestFile(run, h.input, faultBatch...)

	// Stored subjects were inserted first: ClickHouse has part of the run. A fifth of
	// the run, so that the restarted sink has both rows to redo and rows to redeliver.
	mid := w.until(t, runTimeout, "a fifth of the subjects stored", func(s runStatus) bool {
		return s.State == "complete" || s.State == "failed" || s.Stored >= want.subjects/5
	})
	sink.kill9(t)
	requireMidRun(t, mid, want.subjects)
	people := h.count(h.analytics, "people", run)
	if people == 0 || people >= want.subjects {
		t.Fatalf("killed the sink with %d of %d people in ClickHouse: want some but not all", people, want.subjects)
	}
	t.Logf("killed the sink at %v; %d people in ClickHouse", mid, people)
	h.chSink("sink", "--out", h.out)

	w.finish(t, ing)
	h.sameAsReference(run, want)
	h.sameOutputs(run, want)
}
