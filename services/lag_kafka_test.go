package services_test

import (
	"context"
	"testing"
	"time"

	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/evaluator"
	"github.com/clearway/clearway/services/sink"
)

// TestKafkaLag reads the evaluators' and the sink's lag on a real broker the way
// `clearway status` does: a run published before any consumer starts lags by every
// message on the subjects topic; once the run is complete both groups drain to zero.
func TestKafkaLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, topics, prefix := kafkaTestBus(ctx, t, "test-lag-")
	targets := []control.LagTarget{
		{Role: "evaluators", Group: prefix + evaluator.DefaultConfig().Group, Topic: topics.SubjectsTopic()},
		{Role: "sink", Group: prefix + sink.DefaultConfig().Group, Topic: topics.DecisionsTopic()},
	}

	const runID = "test-lag"
	ingestRun(ctx, t, b, topics, runID, []string{generate(t, 3000, false)})
	before := control.ReadLag(ctx, b.Admin, 10*time.Second, targets...)
	for _, g := range before {
		if g.Err != nil {
			t.Fatalf("%s lag: %v", g.Role, g.Err)
		}
	}
	var published int64
	for _, p := range before[0].Partitions {
		published += p.End
		if p.Committed != -1 {
			t.Errorf("evaluators committed %d on %s before starting", p.Committed, p.TopicPartition)
		}
	}
	if got := before[0].Messages(); got == 0 || got != published {
		t.Errorf("evaluators' lag before consuming = %d, want every message published on the subjects topic (%d)", got, published)
	}
	if got := before[1].Messages(); got != 0 {
		t.Errorf("sink's lag before any decision = %d, want 0", got)
	}

	c := &cluster{t: t, bus: b, topics: topics, out: t.TempDir(), log: quietLog(t), group: prefix}
	c.evaluator("ev1")
	c.sink()
	defer c.stopAll()
	if run := waitRun(ctx, t, b, topics, runID); run.Failed != nil {
		t.Fatalf("run failed: %s", run.Failed.Reason)
	}
	// The sink completes the run once its writes are durable and commits right after, and
	// an evaluator commits after publishing: poll until both groups have caught up.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		after := control.ReadLag(ctx, b.Admin, 10*time.Second, targets...)
		if after[0].Err == nil && after[1].Err == nil && after[0].Messages() == 0 && after[1].Messages() == 0 {
			if after[1].Partitions[0].Committed < 0 && after[1].Partitions[1].Committed < 0 {
				t.Errorf("sink lag 0 without commits: %+v", after[1].Partitions)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("lag did not reach zero after the run completed: evaluators %d (%v), sink %d (%v)",
				after[0].Messages(), after[0].Err, after[1].Messages(), after[1].Err)
		case <-tick.C:
		}
	}
}
