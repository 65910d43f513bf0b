//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// computeAt is the law date of every run, so the reference and the pipeline agree.
const computeAt = "2020-07-01"

// suite is what TestMain prepares once: the binary and the generated input. It is set
// before m.Run and only read afterwards.
type suite struct {
	bin     string // clearway built from ./cmd/clearway
	repo    string // repository root (scripts/)
	input   string // `clearway gen --seed 1 --rows rows`
	rows    int
	brokers string // CLEARWAY_KAFKA_BROKERS; "" skips the shared-broker tests
}

var env suite

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		// The tests skip themselves; do not spend a build on them.
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "clearway-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	repo, err := filepath.Abs("..")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	rows := 200_000
	if v := os.Getenv("CLEARWAY_E2E_ROWS"); v != "" {
		if rows, err = strconv.Atoi(v); err != nil || rows < 1 {
			fmt.Fprintf(os.Stderr, "e2e: CLEARWAY_E2E_ROWS=%q: want a positive number\n", v)
			return 1
		}
	}
	env = suite{
		bin:     filepath.Join(dir, "clearway"),
		repo:    repo,
		input:   filepath.Join(dir, "in.csv"),
		rows:    rows,
		brokers: os.Getenv("CLEARWAY_KAFKA_BROKERS"),
	}
	build := exec.Command("go", "build", "-o", env.bin, "./cmd/clearway")
	build.Dir = repo
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/clearway: %v\n%s", err, out)
		return 1
	}
	gen := exec.Command(env.bin, "gen", "--seed", "1", "--rows", strconv.Itoa(rows), "-o", env.input)
	if out, err := gen.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: clearway gen: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// sharedBroker returns the broker of CLEARWAY_KAFKA_BROKERS or skips the test.
func sharedBroker(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e tests spawn processes and need a broker; skipped with -short")
	}
	if env.brokers == "" {
		t.Skip("CLEARWAY_KAFKA_BROKERS is not set; start a broker with: eval \"$(scripts/start-kafka)\" && export CLEARWAY_KAFKA_BROKERS")
	}
	return env.brokers
}

// harness runs one test's pipeline: its processes share a topic prefix and consumer
// groups no other test uses, so tests on the same broker never see each other's
// messages.
type harness struct {
	t       *testing.T
	brokers string
	tag     string // random, unique to the test
	prefix  string // topic and consumer-group prefix
	dir     string // process logs, reference outputs
	out     string // the sink's --out

	env []string // added to every process's environment (after childEnv)

	mu    sync.Mutex
	procs []*proc
}

func newHarness(t *testing.T, brokers string) *harness {
	var b [4]byte
	_, _ = rand.Read(b[:])
	tag := hex.EncodeToString(b[:])
	h := &harness{t: t, brokers: brokers, tag: tag, prefix: "e2e-" + tag + ".", dir: t.TempDir()}
	h.out = filepath.Join(h.dir, "out")
	t.Cleanup(h.stopAll)
	return h
}

// runID names a run of this test.
func (h *harness) runID(name string) string { return "e2e-" + name + "-" + h.tag }

// stopAll kills every process still running and, when the test failed, shows the end
// of each log (the services log no personal data: counts, partitions, run ids).
func (h *harness) stopAll() {
	h.mu.Lock()
	procs := h.procs
	h.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot die otherwise
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	if !h.t.Failed() {
		return
	}
	seen := map[string]bool{}
	for _, p := range procs {
		if seen[p.log] {
			continue
		}
		seen[p.log] = true
		b, _ := os.ReadFile(p.log)
		if len(b) > 3000 {
			b = b[len(b)-3000:]
		}
		h.t.Logf("--- tail of %s:\n%s", filepath.Base(p.log), b)
	}
}

// proc is one clearway process.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // exit status; valid once done is closed
}

// start runs the clearway binary. Its stderr (and stdout) go to DIR/<name>.log, appended
// to by a restarted process of the same name; stdout also goes to stdout when not nil.
func (h *harness) start(name string, stdout io.Writer, args ...string) *proc {
	h.t.Helper()
	logPath := filepath.Join(h.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(env.bin, args...)
	cmd.Env = append(childEnv(), h.env...)
	cmd.Stderr = f
	cmd.Stdout = f
	if stdout != nil {
		cmd.Stdout = io.MultiWriter(f, stdout)
	}
	// If the test binary dies (timeout, ^C), its processes die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		h.t.Fatalf("start clearway %s: %v", args[0], err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	h.mu.Lock()
	h.procs = append(h.procs, p)
	h.mu.Unlock()
	return p
}

// childEnv is the test's environment without CLEARWAY_* variables: every setting the
// processes get is on their command line (a stray CLEARWAY_RUN_ID would change them).
func childEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		// KAFKA_* describe the shared broker (scripts/test exports what start-kafka
		// printed): a child that inherited KAFKA_DATA would start or stop our own broker
		// on the shared broker's data folder.
		if !strings.HasPrefix(kv, "CLEARWAY_") && !strings.HasPrefix(kv, "KAFKA_") {
			out = append(out, kv)
		}
	}
	return out
}

func (p *proc) signal(t *testing.T, sig os.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%s: send %v: %v", p.name, sig, err)
	}
}

// wait returns the process's exit error, failing the test if it runs longer than timeout.
func (p *proc) wait(t *testing.T, timeout time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v", p.name, timeout)
		return nil
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill9 kills the process with SIGKILL and waits for it.
func (p *proc) kill9(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGKILL)
	var ee *exec.ExitError
	if err := p.wait(t, 10*time.Second); !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s: want death by SIGKILL, got %v", p.name, err)
	}
}

// busArgs select the test's broker and topics.
func (h *harness) busArgs() []string {
	return []string{"--brokers", h.brokers, "--topic-prefix", h.prefix}
}

// serviceArgs are the settings of the long-running services: frequent progress records
// (the tests wait on them) and consumer timeouts short enough that a killed member is
// noticed in seconds rather than Kafka's default 30 s.
func (h *harness) serviceArgs() []string {
	return append(h.busArgs(),
		"--progress-interval", "200ms",
		"--kafka.session-timeout", "6s",
		"--kafka.heartbeat-interval", "1s",
		"--kafka.rebalance-timeout", "6s",
		"--kafka.join-group-backoff", "500ms",
		"--kafka.fetch-max-wait", "100ms",
	)
}

// evaluator starts `clearway evaluate` as instance name; httpAddr "" serves no endpoint.
func (h *harness) evaluator(name, httpAddr string) *proc {
	args := append([]string{"evaluate"}, h.serviceArgs()...)
	args = append(args, "--group", h.prefix+"evaluators", "--instance", name, "--http", httpAddr, "--drain-timeout", "20s")
	return h.start(name, nil, args...)
}

// sink starts `clearway sink` writing to h.out.
func (h *harness) sink(name string) *proc {
	args := append([]string{"sink"}, h.serviceArgs()...)
	args = append(args, "--group", h.prefix+"sink", "--instance", name, "--http", "", "--out", h.out)
	return h.start(name, nil, args...)
}

// ingest starts `clearway ingest` of the suite's input as run.
func (h *harness) ingest(run string, extra ...string) *proc {
	return h.ingestFile(run, env.input, extra...)
}

// ingestFile starts `clearway ingest` of input as run.
func (h *harness) ingestFile(run, input string, extra ...string) *proc {
	args := append([]string{"ingest"}, h.serviceArgs()...)
	args = append(args, "--run-id", run, "--compute-at", computeAt)
	args = append(args, extra...)
	return h.start("ingest", nil, append(args, input)...)
}

// reference is `clearway run` of the suite's input: what the pipeline must reproduce.
type reference struct {
	dir      string
	subjects int64 // summary.json totals.subjects: what `status` counts as stored
}

func (h *harness) reference(run string) reference {
	h.t.Helper()
	return h.referenceOf(run, env.input)
}

// referenceOf is `clearway run` of input.
func (h *harness) referenceOf(run, input string) reference {
	h.t.Helper()
	dir := filepath.Join(h.dir, "reference")
	cmd := exec.Command(env.bin, "run", "--progress", "none", "--run-id", run, "--compute-at", computeAt, "--out", dir, input)
	cmd.Env = childEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("clearway run: %v\n%s", err, out)
	}
	var sum struct {
		Totals struct {
			Subjects int64 `json:"subjects"`
		} `json:"totals"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "summary.json"))
	if err == nil {
		err = json.Unmarshal(b, &sum)
	}
	if err != nil || sum.Totals.Subjects == 0 {
		h.t.Fatalf("reference summary.json: %v (subjects %d)", err, sum.Totals.Subjects)
	}
	return reference{dir: dir, subjects: sum.Totals.Subjects}
}

// sameOutputs checks the sink's folder of run against the reference: decisions.csv,
// decisions.parquet and rejects.csv byte for byte, summary.json except its timing, and
// the sink's own bookkeeping (.complete written, spool and partial folder gone).
func (h *harness) sameOutputs(run string, want reference) {
	h.t.Helper()
	got := filepath.Join(h.out, run)
	for _, name := range []string{"decisions.csv", "decisions.parquet", "rejects.csv"} {
		g, err := os.ReadFile(filepath.Join(got, name))
		if err != nil {
			h.t.Errorf("pipeline output: %v", err)
			continue
		}
		w, err := os.ReadFile(filepath.Join(want.dir, name))
		if err != nil {
			h.t.Fatal(err)
		}
		if !bytes.Equal(g, w) {
			h.t.Errorf("%s differs from clearway run's (%d bytes, want %d)%s", name, len(g), len(w), lineDiff(name, g, w))
		}
	}
	gs, ws := summaryWithoutTiming(h.t, filepath.Join(got, "summary.json")), summaryWithoutTiming(h.t, filepath.Join(want.dir, "summary.json"))
	for k := range ws {
		if !reflect.DeepEqual(gs[k], ws[k]) {
			h.t.Errorf("summary.json %q differs from clearway run's", k)
		}
	}
	for k := range gs {
		if _, ok := ws[k]; !ok {
			h.t.Errorf("summary.json has %q, clearway run's has not", k)
		}
	}
	if _, err := os.Stat(filepath.Join(got, ".complete")); err != nil {
		h.t.Errorf("sink did not mark the run complete: %v", err)
	}
	for _, leftover := range []string{".spool", ".clearway-partial"} {
		if _, err := os.Stat(filepath.Join(got, leftover)); !errors.Is(err, os.ErrNotExist) {
			h.t.Errorf("%s left behind after completion (stat: %v)", leftover, err)
		}
	}
}

// lineDiff explains a CSV mismatch by lines missing from and extra in got (duplicates
// show as extra), without printing the lines (they describe people, even if invented).
func lineDiff(name string, got, want []byte) string {
	if !strings.HasSuffix(name, ".csv") {
		return ""
	}
	count := map[string]int{}
	for _, l := range strings.Split(string(want), "\n") {
		count[l]++
	}
	extra := 0
	for _, l := range strings.Split(string(got), "\n") {
		if count[l] > 0 {
			count[l]--
		} else {
			extra++
		}
	}
	missing := 0
	for _, n := range count {
		missing += n
	}
	if missing == 0 && extra == 0 {
		return ": same lines in another order"
	}
	return fmt.Sprintf(": %d lines missing, %d extra or duplicated", missing, extra)
}

func summaryWithoutTiming(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("summary: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if _, ok := m["timing"]; !ok {
		t.Errorf("%s has no timing object", path)
	}
	delete(m, "timing")
	return m
}

// freeAddr returns a loopback address with a port free right now, for a service's
// /readyz. (Another process could take it before the service binds; on a test machine
// that does not happen in practice, and the service would fail loudly if it did.)
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// waitReady polls addr's /readyz until it answers 200: for an evaluator, the group has
// given it partitions.
func waitReady(t *testing.T, p *proc, addr string, timeout time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: /readyz not 200 within %v", p.name, timeout)
		case <-p.done:
			t.Fatalf("%s exited (%v) before it was ready", p.name, p.err)
		case <-tick.C:
		}
	}
}
