//go:build linux

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// Bounds of the waits below: generous for a loaded 2-core machine, where one run takes
// 3–15 s, yet failing long before go test's own timeout.
const (
	runTimeout  = 3 * time.Minute
	stepTimeout = time.Minute
)

// faultBatch makes ingest publish 16 subjects per message instead of 256: the same run
// in ~1,400 messages, so the evaluators take several seconds and a fault lands mid-run.
var faultBatch = []string{"--batch-subjects", "16"}

// storedSome is the moment to inject a fault: the sink has stored subjects (or the run
// ended, which requireMidRun then reports).
func storedSome(s runStatus) bool {
	return s.State == "complete" || s.State == "failed" || s.Stored > 0
}

// requireMidRun fails the test when the run got too far for the fault to mean anything.
func requireMidRun(t *testing.T, s runStatus, total int64) {
	t.Helper()
	if s.State == "complete" || s.State == "failed" || s.Stored > total*8/10 {
		t.Fatalf("the run got too far before the fault (%v of %d subjects): nothing left to test", s, total)
	}
}

// TestDistributedMatchesRun: 200,000 generated rows through ingest → 2 evaluator
// processes → sink give clearway run's outputs.
func TestDistributedMatchesRun(t *testing.T) {
	h := newHarness(t, sharedBroker(t))
	run := h.runID("match")
	want := h.reference(run)
	h.sink("sink")
	h.evaluator("ev1", "")
	h.evaluator("ev2", "")

	w := h.watch(run)
	start := time.Now()
	if err := h.ingest(run).wait(t, runTimeout); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	ingested := time.Since(start)
	st := w.complete(t, runTimeout)
	elapsed := time.Since(start)
	t.Logf("%d rows, %d subjects: ingest %.1fs, complete %.1fs after ingest start (%.0f rows/s end to end, status seen to 100 ms); %d evaluator instances decided",
		env.rows, st.Stored, ingested.Seconds(), elapsed.Seconds(), float64(env.rows)/elapsed.Seconds(), st.Evaluators)
	if st.Stored != want.subjects {
		t.Errorf("status: %d subjects stored, want %d", st.Stored, want.subjects)
	}
	h.sameOutputs(run, want)
}

// TestEvaluatorKilled: SIGKILL one of two evaluators once results are being stored,
// start it again with the same command line; nothing is missing or doubled.
func TestEvaluatorKilled(t *testing.T) {
	h := newHarness(t, sharedBroker(t))
	run := h.runID("evkill")
	want := h.reference(run)
	h.sink("sink")
	ev1 := h.evaluator("ev1", "")
	h.evaluator("ev2", "")
	w := h.watch(run)
	ing := h.ingest(run, faultBatch...)

	mid := w.until(t, runTimeout, "subjects stored", storedSome)
	ev1.kill9(t)
	requireMidRun(t, mid, want.subjects)
	t.Logf("killed ev1 at %v", mid)
	h.evaluator("ev1", "")

	w.finish(t, ing)
	h.sameOutputs(run, want)
}

// TestSinkKilled: SIGKILL the sink once it has stored subjects and restart it on the
// same --out; it recovers its spool and the run completes with identical outputs.
func TestSinkKilled(t *testing.T) {
	h := newHarness(t, sharedBroker(t))
	run := h.runID("sinkkill")
	want := h.reference(run)
	sink := h.sink("sink")
	h.evaluator("ev1", "")
	h.evaluator("ev2", "")
	w := h.watch(run)
	ing := h.ingest(run, faultBatch...)

	mid := w.until(t, runTimeout, "subjects stored", storedSome)
	sink.kill9(t)
	requireMidRun(t, mid, want.subjects)
	dir := filepath.Join(h.out, run)
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		t.Fatal("the sink finished the run before it was killed: nothing left to recover")
	}
	spools, _ := filepath.Glob(filepath.Join(dir, ".spool", "*"))
	if len(spools) == 0 {
		t.Fatalf("killed sink left no spool in %s, yet status said %d subjects stored", dir, mid.Stored)
	}
	t.Logf("killed the sink at %v; %d spool files", mid, len(spools))
	h.sink("sink")

	w.finish(t, ing)
	h.sameOutputs(run, want)
}

// TestRebalance: a third evaluator joins and the first leaves (SIGTERM) mid-run. The
// ingest is paused (SIGSTOP) across the change, so the run is certainly still in flight,
// and resumed afterwards, so the remaining subjects go to the new membership.
func TestRebalance(t *testing.T) {
	h := newHarness(t, sharedBroker(t))
	run := h.runID("rebalance")
	want := h.reference(run)
	h.sink("sink")
	addr1 := freeAddr(t)
	ev1 := h.evaluator("ev1", addr1)
	h.evaluator("ev2", "")
	// ev1 must be a member (started, topics there, partitions assigned) for its leaving to
	// be a rebalance.
	waitReady(t, ev1, addr1, stepTimeout)
	w := h.watch(run)
	ing := h.ingest(run, faultBatch...)

	mid := w.until(t, runTimeout, "subjects decided", func(s runStatus) bool {
		return s.SubjectsDecided > 0 || s.State == "complete" || s.State == "failed"
	})
	paused := !ing.exited()
	if paused {
		ing.signal(t, syscall.SIGSTOP)
	}
	requireMidRun(t, mid, want.subjects)
	t.Logf("membership change at %v (ingest paused: %v)", mid, paused)

	addr := freeAddr(t)
	ev3 := h.evaluator("ev3", addr)
	waitReady(t, ev3, addr, stepTimeout) // the group rebalanced and gave ev3 partitions
	ev1.signal(t, syscall.SIGTERM)
	if err := ev1.wait(t, stepTimeout); err != nil {
		t.Fatalf("ev1 on SIGTERM: %v (want exit 0 after draining)", err)
	}
	if paused {
		ing.signal(t, syscall.SIGCONT)
	}

	w.finish(t, ing)
	h.sameOutputs(run, want)
}

// TestPoisonMessage: an undecodable subjects message with the run's headers goes to the
// dead-letter topic; the run completes and status counts the dead letter.
func TestPoisonMessage(t *testing.T) {
	h := newHarness(t, sharedBroker(t))
	run := h.runID("poison")
	want := h.reference(run)
	h.sink("sink")
	h.evaluator("ev1", "")
	h.evaluator("ev2", "")

	w := h.watch(run)
	// Before the run's own messages, so it is on partition 0 ahead of the end marker and
	// the run cannot complete without the evaluator having dealt with it.
	topics := control.DefaultTopics()
	topics.Prefix = h.prefix
	publishPoison(t, h.brokers, topics.SubjectsTopic(), run)

	st := w.finish(t, h.ingest(run))
	h.sameOutputs(run, want)

	// status reads the dead-letter topic alongside the control topic; poll until its
	// reader has caught up.
	deadline := time.Now().Add(stepTimeout)
	for {
		st = h.statusOnce(t, run)
		if st.DeadLetters >= 1 || time.Now().After(deadline) {
			break
		}
	}
	if st.State != "complete" || st.DeadLetters != 1 {
		t.Errorf("status after the run: %v; want complete with 1 dead letter", st)
	}
}

// dialPartition0 connects to the leader of topic's partition 0, waiting for the topic
// to be created (by whichever service starts first).
func dialPartition0(t *testing.T, brokers, topic string) *kafkago.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	for {
		conn, err := kafkago.DialLeader(ctx, "tcp", brokers, topic, 0)
		if err == nil {
			return conn
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s never appeared: %v", topic, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// publishPoison writes a subjects message whose headers are right and whose body is not
// an Arrow stream to partition 0 of topic, with a plain kafka-go connection (a foreign
// producer, not clearway's).
func publishPoison(t *testing.T, brokers, topic, run string) {
	t.Helper()
	msg := kafkago.Message{
		Key:   []byte(run),
		Value: []byte("not an Arrow IPC stream of subjects"),
		Headers: []kafkago.Header{
			{Key: control.HeaderRun, Value: []byte(run)},
			{Key: control.HeaderType, Value: []byte(control.TypeSubjects)},
			{Key: control.HeaderSchema, Value: []byte(strconv.Itoa(wire.SubjectsSchemaVersion))},
			{Key: control.HeaderAttempt, Value: []byte("1")},
			// A number no subject of the run has: were the message ever decided, the
			// sink's count for partition 0 would not add up.
			{Key: control.HeaderSeq, Value: control.AppendSeqs(nil, []int64{1 << 40})},
		},
	}
	// A topic just created may not have a leader yet ("Not Leader For Partition"):
	// retry, within the bound.
	deadline := time.Now().Add(stepTimeout)
	for {
		conn := dialPartition0(t, brokers, topic)
		_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := conn.WriteMessages(msg)
		conn.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish poison: %v", err)
		}
		t.Logf("publish poison: %v; retrying", err)
		time.Sleep(100 * time.Millisecond) // back-off between attempts, not synchronisation
	}
}

// TestStatusBeforeTopics: `clearway status --wait` started before the run's topics exist
// (an operator watching a run about to start) should see it complete. Once, on a busy
// shared broker, it did not: the status printed "unknown" for 3 minutes while the run
// completed (its control-topic follower, a pkg/bus/kafka consumer group, had joined
// before the topic existed). Fixed: status now creates the control and dead-letter topics
// before following them.
func TestStatusBeforeTopics(t *testing.T) {
	h := newHarness(t, sharedBroker(t))
	run := h.runID("early")
	want := h.reference(run)
	early := &watcher{notify: make(chan struct{}, 1)}
	early.parser.emit = func(s runStatus) {
		early.last, early.seen = s, true
		select {
		case early.notify <- struct{}{}:
		default:
		}
	}
	args := h.statusArgs()
	early.proc = h.start("status-early", lockedWriter{&early.mu, &early.parser}, append(args, "--wait", "--interval", "100ms", run)...)

	h.sink("sink")
	h.evaluator("ev1", "")
	w := h.watch(run)
	if err := h.ingest(run).wait(t, runTimeout); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	w.complete(t, runTimeout)
	h.sameOutputs(run, want)
	// The run is complete; a working follower reports it within a second or two.
	early.complete(t, 30*time.Second)
}
