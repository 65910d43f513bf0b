//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clearway/clearway/services/control"
)

// runStatus is one report printed by `clearway status`.
type runStatus struct {
	State                                   string
	RowsIngested, SubjectsIngested, Rejects int64
	RowsDecided, SubjectsDecided            int64
	Evaluators                              int
	Stored                                  int64
	DeadLetters                             int64 // -1: n/a
	Reason                                  string
}

func (s runStatus) String() string {
	return fmt.Sprintf("%s: ingested %d subjects, decided %d (%d instances), stored %d, dead letters %d",
		s.State, s.SubjectsIngested, s.SubjectsDecided, s.Evaluators, s.Stored, s.DeadLetters)
}

// statusParser turns `clearway status` output into runStatus values. A report ends
// with its "lag:" line (eta and reason lines may follow; a reason updates the report).
type statusParser struct {
	cur     runStatus
	partial []byte
	emit    func(runStatus)
	err     error // first unparsable line
}

func (p *statusParser) Write(b []byte) (int, error) {
	p.partial = append(p.partial, b...)
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		line := string(p.partial[:i])
		p.partial = p.partial[i+1:]
		if err := p.line(line); err != nil && p.err == nil {
			p.err = err
		}
	}
}

func (p *statusParser) line(line string) error {
	if strings.HasPrefix(line, "run ") {
		i := strings.LastIndex(line, ": ")
		if i < 0 {
			return fmt.Errorf("status line %q: no state", line)
		}
		p.cur = runStatus{State: line[i+2:], DeadLetters: -1}
		return nil
	}
	key, val, ok := strings.Cut(strings.TrimSpace(line), ":")
	if !ok {
		return nil // not a status report line (e.g. a log line)
	}
	val = strings.TrimSpace(val)
	var err error
	switch key {
	case "ingested":
		_, err = fmt.Sscanf(val, "%d rows, %d subjects, %d rejects", &p.cur.RowsIngested, &p.cur.SubjectsIngested, &p.cur.Rejects)
	case "decided":
		_, err = fmt.Sscanf(val, "%d rows, %d subjects (%d evaluator instances)", &p.cur.RowsDecided, &p.cur.SubjectsDecided, &p.cur.Evaluators)
	case "stored":
		_, err = fmt.Sscanf(val, "%d subjects", &p.cur.Stored)
	case "dead letters":
		if val != "n/a" {
			_, err = fmt.Sscanf(val, "%d", &p.cur.DeadLetters)
		}
	case "lag":
		p.emit(p.cur)
	case "reason":
		p.cur.Reason = val
		p.emit(p.cur)
	}
	if err != nil {
		return fmt.Errorf("status line %q: %w", line, err)
	}
	return nil
}

// watcher follows a run through a `clearway status --wait` process: it keeps the latest
// report and wakes waiters when a new one arrives.
type watcher struct {
	proc   *proc
	notify chan struct{} // one pending wake-up is enough: waiters re-read last

	mu     sync.Mutex
	parser statusParser
	last   runStatus
	seen   bool
}

// watch starts `clearway status --wait` on run, reporting every 100 ms, once the
// control topic exists: a status started before it was once seen never to find the
// run (TestStatusBeforeTopics).
func (h *harness) watch(run string) *watcher {
	topics := control.DefaultTopics()
	topics.Prefix = h.prefix
	dialPartition0(h.t, h.brokers, topics.ControlTopic()).Close()
	w := &watcher{notify: make(chan struct{}, 1)}
	w.parser.emit = func(s runStatus) {
		w.last, w.seen = s, true
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
	args := h.statusArgs()
	args = append(args, "--kafka.fetch-max-wait", "100ms", "--wait", "--interval", "100ms", run)
	w.proc = h.start("status", lockedWriter{&w.mu, &w.parser}, args...)
	return w
}

// lockedWriter serialises the exec copy goroutine's writes with the waiters' reads.
type lockedWriter struct {
	mu *sync.Mutex
	w  *statusParser
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (w *watcher) snapshot() (runStatus, bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last, w.seen, w.parser.err
}

// until waits for a report satisfying ok and returns it. It fails the test after
// timeout, on unparsable output, and when the status process ends first (it ends by
// itself once the run is complete or failed).
func (w *watcher) until(t *testing.T, timeout time.Duration, what string, ok func(runStatus) bool) runStatus {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		st, seen, err := w.snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if seen && ok(st) {
			return st
		}
		select {
		case <-w.notify:
		case <-w.proc.done:
			// The exit waited for the output to be copied: the last report is in.
			if st, seen, _ := w.snapshot(); seen && ok(st) {
				return st
			}
			t.Fatalf("waiting for %s: clearway status exited (%v); last report %v", what, w.proc.err, st)
		case <-deadline.C:
			t.Fatalf("waiting for %s: not reached within %v; last report %v", what, timeout, st)
		}
	}
}

// complete waits for the run to complete and for the status process to exit 0.
func (w *watcher) complete(t *testing.T, timeout time.Duration) runStatus {
	t.Helper()
	st := w.until(t, timeout, "run complete", func(s runStatus) bool { return s.State == "complete" || s.State == "failed" })
	if st.State == "failed" {
		t.Fatalf("run failed: %s", st.Reason)
	}
	if err := w.proc.wait(t, 30*time.Second); err != nil {
		t.Fatalf("clearway status --wait on a complete run: %v", err)
	}
	return st
}

// finish waits for the ingest process to exit 0 and then for the run to complete,
// and logs the final status.
func (w *watcher) finish(t *testing.T, ing *proc) runStatus {
	t.Helper()
	if err := ing.wait(t, runTimeout); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	st := w.complete(t, runTimeout)
	t.Logf("complete: %v", st)
	return st
}

// statusArgs starts a `clearway status` command line: the test's topics, and its
// consumer groups, whose lag status reports.
func (h *harness) statusArgs() []string {
	return append([]string{"status"}, append(h.busArgs(),
		"--evaluator-group", h.prefix+"evaluators", "--sink-group", h.prefix+"sink")...)
}

// statusOnce runs `clearway status` without --wait and parses its report.
func (h *harness) statusOnce(t *testing.T, run string) runStatus {
	t.Helper()
	args := h.statusArgs()
	args = append(args, "--kafka.fetch-max-wait", "100ms", "--settle", "500ms", "--timeout", "30s", run)
	cmd := exec.Command(env.bin, args...)
	cmd.Env = childEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("clearway status: %v\n%s", err, stderr.Bytes())
	}
	var got []runStatus
	p := statusParser{emit: func(s runStatus) { got = append(got, s) }}
	_, _ = p.Write(out)
	if p.err != nil || len(got) == 0 {
		t.Fatalf("clearway status printed no report (%v):\n%s", p.err, out)
	}
	return got[len(got)-1]
}

func TestStatusParser(t *testing.T) {
	out := `run r1: deciding
  started:       2026-11-25T21:30:19Z
  ingested:      200002 rows, 21625 subjects, 3 rejects
  decided:       183617 rows, 19888 subjects (2 evaluator instances)
  stored:        20112 subjects
  dead letters:  n/a
  lag:           1736 messages (all runs on the topics)
    evaluators   clearway-evaluator on clearway.subjects.v1: 1700 [p0=425 p1=425 p2=425 p3=425], 850.0 msg/s, drained in ~2s
    sink         clearway-sink on clearway.decisions.v1: 36 [p0=9 p1=9 p2=9 p3=9], 870.5 msg/s, drained in ~0s
  eta:           2s (backlog at the recent consumption rate)
run r1: failed
  started:       2026-11-25T21:30:19Z
  ingested:      200002 rows, 21625 subjects, 3 rejects
  decided:       200002 rows, 21625 subjects (3 evaluator instances)
  stored:        21625 subjects
  dead letters:  1
  lag:           at least 0 messages (all runs on the topics)
    evaluators   clearway-evaluator on clearway.subjects.v1: 0 [p0=0 p1=0 p2=0 p3=0], 12.5 msg/s
    sink         clearway-sink on clearway.decisions.v1: n/a (lag of clearway-sink on clearway.decisions.v1: context deadline exceeded)
  reason:        attempt 2: no: such thing
`
	var got []runStatus
	p := statusParser{emit: func(s runStatus) { got = append(got, s) }}
	// Split mid-line: the process's writes need not end at line ends.
	_, _ = p.Write([]byte(out[:100]))
	_, _ = p.Write([]byte(out[100:]))
	if p.err != nil {
		t.Fatal(p.err)
	}
	want := []runStatus{
		{State: "deciding", RowsIngested: 200002, SubjectsIngested: 21625, Rejects: 3, RowsDecided: 183617, SubjectsDecided: 19888, Evaluators: 2, Stored: 20112, DeadLetters: -1},
		{State: "failed", RowsIngested: 200002, SubjectsIngested: 21625, Rejects: 3, RowsDecided: 200002, SubjectsDecided: 21625, Evaluators: 3, Stored: 21625, DeadLetters: 1},
	}
	want = append(want, want[1])
	want[2].Reason = "attempt 2: no: such thing"
	if len(got) != len(want) {
		t.Fatalf("got %d reports, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("report %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}
