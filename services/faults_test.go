package services_test

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// waitProgress waits until some progress record of the run satisfies ok.
func waitProgress(ctx context.Context, t *testing.T, f *control.Follower, runID string, ok func(control.Progress) bool) {
	t.Helper()
	for {
		changed := f.Registry.Changed()
		if st, found := f.Registry.Run(runID); found {
			for _, p := range st.Progress {
				if ok(p) {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("run %s: progress never reached: %v", runID, ctx.Err())
		case <-changed:
		}
	}
}

// TestMembershipChangesAndRestarts changes the pipeline mid-run: an evaluator leaves and
// a third joins once decisions flow, and the sink is stopped once it has stored some
// subjects and a new one resumes from its spool. The outputs must still equal clearway
// run's: nothing missing, nothing twice.
func TestMembershipChangesAndRestarts(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := generate(t, 40_000, false)
	const runID = "test-churn"
	want := embedded(t, runID, []string{in})

	// Bounded partitions keep the ingest from running far ahead of the consumers, so the
	// changes below happen while the run is in flight. The control topic, which followers
	// read from the start and never trim, must hold every control record however long
	// the run takes (a slow machine makes more progress records): it is not bounded so.
	topics := control.DefaultTopics()
	broker := memory.New(memory.Config{PartitionCapacity: 512,
		TopicCapacity: map[string]int{topics.ControlTopic(): 1 << 20}})
	c := &cluster{t: t, bus: memoryBus(broker), topics: topics, out: t.TempDir(), log: quietLog(t)}
	if err := c.bus.Admin.EnsureTopics(ctx, c.topics.Specs()...); err != nil {
		t.Fatal(err)
	}
	stopEv1 := c.evaluator("ev1")
	c.evaluator("ev2")
	stopSink := c.sink()
	defer c.stopAll()

	f, err := control.Follow(ctx, c.bus, c.topics.ControlTopic(), "test", quietLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	ingested := make(chan error, 1)
	go func() {
		cfg := ingestConfig(c.topics, runID)
		cfg.BatchSubjects = 32 // many small messages: more to redeliver
		cfg.ProgressInterval = 50 * time.Millisecond
		_, err := runIngest(ctx, c.bus, cfg, in, quietLog(t))
		ingested <- err
	}()

	waitProgress(ctx, t, f, runID, func(p control.Progress) bool { return p.Service == "evaluator" && p.Subjects > 0 })
	if err := stopEv1(); err != nil {
		t.Fatalf("evaluator 1 shutdown: %v", err)
	}
	c.evaluator("ev3")
	waitProgress(ctx, t, f, runID, func(p control.Progress) bool { return p.Service == "sink" && p.Subjects > 0 })
	if err := stopSink(); err != nil {
		t.Fatalf("sink shutdown: %v", err)
	}
	c.sink()

	if err := <-ingested; err != nil {
		t.Fatalf("ingest: %v", err)
	}
	st := waitRun(ctx, t, c.bus, c.topics, runID)
	if st.Failed != nil {
		t.Fatalf("run failed: %s", st.Failed.Reason)
	}
	sameOutputs(t, filepath.Join(c.out, runID), want)
}

// TestPoisonMessage sends undecodable and unannounced messages among a run's: they go to
// the dead-letter topic with their reason and the run completes unaffected.
func TestPoisonMessage(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	in := generate(t, 5_000, false)
	const runID = "test-poison"
	want := embedded(t, runID, []string{in})

	broker := memory.New(memory.Config{})
	c := &cluster{t: t, bus: memoryBus(broker), topics: control.DefaultTopics(), out: t.TempDir(), log: quietLog(t)}
	if err := c.bus.Admin.EnsureTopics(ctx, c.topics.Specs()...); err != nil {
		t.Fatal(err)
	}
	dlq, err := broker.Subscribe(bus.SubscriberOptions{Group: "test-dlq", Topics: []string{c.topics.DeadLetterTopic()}})
	if err != nil {
		t.Fatal(err)
	}
	defer dlq.Close()

	// Poison first, so it sits before the run's messages on its partition.
	poison := func(typ string, value []byte) bus.Message {
		hs := control.Headers(runID, typ, wire.SubjectsSchemaVersion)
		hs = append(hs, bus.Header{Key: control.HeaderAttempt, Value: []byte("1")})
		return bus.Message{Topic: c.topics.SubjectsTopic(), Partition: 1, Value: value, Headers: hs}
	}
	if err := c.bus.Publisher.Publish(ctx,
		poison(control.TypeSubjects, []byte("not an arrow stream")),
		poison("mystery", []byte("{}")),
	); err != nil {
		t.Fatal(err)
	}
	c.evaluator("ev1")
	c.evaluator("ev2")
	c.sink()
	defer c.stopAll()
	ingestRun(ctx, t, c.bus, c.topics, runID, []string{in})
	st := waitRun(ctx, t, c.bus, c.topics, runID)
	if st.Failed != nil {
		t.Fatalf("run failed: %s", st.Failed.Reason)
	}
	sameOutputs(t, filepath.Join(c.out, runID), want)

	// Delivery is at least once: a rebalance may dead-letter a message twice. Distinct
	// original offsets count.
	reasons := map[string]string{}
	for len(reasons) < 2 {
		msgs, err := dlq.Fetch(ctx, 10)
		if err != nil {
			t.Fatalf("dead letters: %v", err)
		}
		for _, m := range msgs {
			if got := control.HeaderString(m, control.HeaderRun); got != runID {
				t.Errorf("dead letter of run %q, want %q", got, runID)
			}
			if got := control.HeaderString(m, control.HeaderDLQTopic); got != c.topics.SubjectsTopic() {
				t.Errorf("dead letter from topic %q", got)
			}
			if p, _ := strconv.Atoi(control.HeaderString(m, control.HeaderDLQPartition)); p != 1 {
				t.Errorf("dead letter from partition %d, want 1", p)
			}
			reasons[control.HeaderString(m, control.HeaderDLQOffset)] = control.HeaderString(m, control.HeaderDLQReason)
		}
	}
	if len(reasons) != 2 || reasons["0"] == "" || reasons["1"] == "" {
		t.Fatalf("dead letters by offset: %q, want offsets 0 and 1 with reasons", reasons)
	}
	t.Logf("dead-letter reasons: %q", reasons)
}
