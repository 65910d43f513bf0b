package sink

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/services/control"
)

// recorder is an output that lists what it receives and writes one file in its folder.
type recorder struct {
	dir      string
	attempt  int
	subjects []string
	rejects  []string
	closed   bool
	aborted  bool
}

func (r *recorder) Subject(res *eligibility.Result) error {
	r.subjects = append(r.subjects, res.Subject.ID)
	return nil
}

func (r *recorder) Reject(rej doj.Reject) error {
	r.rejects = append(r.rejects, rej.Reason)
	return nil
}

func (r *recorder) Close(context.Context, report.RunStats) error {
	r.closed = true
	return os.WriteFile(filepath.Join(r.dir, "out.txt"), []byte(strconv.Itoa(r.attempt)), 0o644)
}

func (r *recorder) Abort() error { r.aborted = true; return nil }

// TestDirect feeds a direct-mode sink an abandoned first attempt, then a second attempt
// whose results arrive out of sequence order across partitions, with a redelivered
// duplicate and rejects out of order, and checks that the second attempt's output got
// everything once, in sequence order, and was published.
func TestDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broker := memory.New(memory.Config{})
	pub := broker.Publisher(bus.PublisherOptions{Partitioning: bus.PartitionExplicit})
	b := control.Bus{Admin: broker, Publisher: pub,
		Subscribe: func(o bus.SubscriberOptions) (bus.Subscriber, error) { return broker.Subscribe(o) }}
	topics := control.DefaultTopics()
	topics.Partitions = 2
	if err := broker.EnsureTopics(ctx, topics.Specs()...); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var outputs []*recorder
	done := make(chan error, 1)
	cfg := DefaultConfig()
	cfg.Out, cfg.HTTP, cfg.Topics = out, "", topics
	cfg.Direct = &Direct{
		Dir: func(string) string { return out },
		Output: func(_, stage string, start *control.RunStart) (report.Output, error) {
			if start == nil {
				return nil, errors.New("no run-start")
			}
			r := &recorder{dir: stage, attempt: len(outputs) + 1}
			outputs = append(outputs, r)
			return r, nil
		},
		Done: func(_ string, err error) { done <- err },
	}
	s, err := New(cfg, b, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	const run = "r1"
	if err := control.Publish(ctx, pub, topics.ControlTopic(), control.Record{Kind: control.KindRunStart, RunID: run,
		Start: &control.RunStart{ComputeAt: "2020-07-01", Partitions: 2}}); err != nil {
		t.Fatal(err)
	}
	msg := func(p, attempt int, typ string, local any, value []byte, seqs ...int64) bus.Message {
		hs := control.Headers(run, typ, 1)
		hs = append(hs, bus.Header{Key: control.HeaderAttempt, Value: []byte(strconv.Itoa(attempt))})
		if seqs != nil {
			hs = append(hs, bus.Header{Key: control.HeaderSeq, Value: control.AppendSeqs(nil, seqs)})
		}
		return bus.Message{Topic: topics.DecisionsTopic(), Partition: p, Key: []byte(run), Value: value, Headers: hs, Local: local}
	}
	results := func(ids ...string) []eligibility.Result {
		var rs []eligibility.Result
		for _, id := range ids {
			rs = append(rs, eligibility.Result{Subject: &record.Subject{ID: id}})
		}
		return rs
	}
	rejects := func(seqs ...int64) []byte {
		var buf []byte
		for _, q := range seqs {
			line, _ := json.Marshal(control.RejectLine{Seq: q, Reject: doj.Reject{Reason: "r" + strconv.FormatInt(q, 10)}})
			buf = append(append(buf, line...), '\n')
		}
		return buf
	}
	end := func(p, attempt int, n int64) bus.Message {
		body, _ := json.Marshal(control.EndMarker{Partition: p, Attempt: attempt, Subjects: n})
		return msg(p, attempt, control.TypeEnd, nil, body)
	}
	msgs := []bus.Message{
		// Attempt 1, abandoned (the input was not grouped).
		msg(0, 1, control.TypeResults, results("a0", "a2"), nil, 0, 2),
		msg(1, 1, control.TypeResults, results("a1"), nil, 1),
		// Attempt 2: partition 1 runs ahead of partition 0.
		msg(1, 2, control.TypeResults, results("s1", "s3"), nil, 1, 3),
		msg(1, 2, control.TypeResults, results("s4"), nil, 4),
		msg(0, 2, control.TypeRejects, nil, rejects(2, 3), nil...),
		msg(0, 2, control.TypeRejects, nil, rejects(0, 1), nil...),
		msg(0, 2, control.TypeResults, results("s0", "s2"), nil, 0, 2),
		msg(0, 2, control.TypeResults, results("s0", "s2"), nil, 0, 2), // redelivered
		// Attempt 1's leftovers after attempt 2 began are ignored.
		msg(1, 1, control.TypeResults, results("a3"), nil, 3),
		end(0, 2, 2), end(1, 2, 3),
	}
	if err := pub.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := control.Publish(ctx, pub, topics.ControlTopic(), control.Record{Kind: control.KindRunEnd, RunID: run,
		End: &control.RunEnd{Attempt: 2, Subjects: 5, Rejects: 4, PartitionSubjects: []int64{2, 3}}}); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- s.Run(sctx) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run failed: %v", err)
		}
	case err := <-stopped:
		t.Fatalf("sink stopped: %v", err)
	case <-ctx.Done():
		t.Fatal("run not done")
	}
	stop()
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if len(outputs) != 2 {
		t.Fatalf("%d outputs opened, want 2 (one per attempt)", len(outputs))
	}
	if !outputs[0].aborted || outputs[0].closed {
		t.Errorf("attempt 1's output: aborted %v, closed %v; want aborted, not closed", outputs[0].aborted, outputs[0].closed)
	}
	got := outputs[1]
	if want := []string{"s0", "s1", "s2", "s3", "s4"}; !reflect.DeepEqual(got.subjects, want) {
		t.Errorf("subjects written %v, want %v", got.subjects, want)
	}
	if want := []string{"r0", "r1", "r2", "r3"}; !reflect.DeepEqual(got.rejects, want) {
		t.Errorf("rejects written %v, want %v", got.rejects, want)
	}
	if b, err := os.ReadFile(filepath.Join(out, "out.txt")); err != nil || string(b) != "2" {
		t.Errorf("published output: %q, %v; want attempt 2's", b, err)
	}
	if _, err := os.Stat(filepath.Join(out, report.StagingDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging folder left behind: %v", err)
	}
}
