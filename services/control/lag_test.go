package control_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/telemetry/telemetrytest"
	"github.com/clearway/clearway/services/control"
)

// scrapeLag returns clearway_consumer_lag as "group/topic/partition" → value.
func scrapeLag(t *testing.T, tel *telemetry.Telemetry) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range telemetrytest.Scrape(t, tel)["clearway_consumer_lag"].GetMetric() {
		l := telemetrytest.Labels(m)
		out[l["messaging_consumer_group_name"]+"/"+l["messaging_destination_name"]+"/"+l["messaging_destination_partition_id"]] = m.GetGauge().GetValue()
	}
	return out
}

// waitLag polls the scrape until it shows exactly want, or fails at the deadline.
func waitLag(t *testing.T, tel *telemetry.Telemetry, want map[string]float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		got := scrapeLag(t, tel)
		if maps.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("clearway_consumer_lag = %v, want %v", got, want)
		}
		<-tick.C
	}
}

// TestReportLag: the gauge shows the exact lag of each assigned partition, follows
// commits, drops a partition that moves to another member, and disappears on stop.
func TestReportLag(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := memory.New(memory.Config{})
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: "subjects", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	pub := b.Publisher(bus.PublisherOptions{Partitioning: bus.PartitionExplicit})
	var msgs []bus.Message
	for i := range 8 {
		msgs = append(msgs, bus.Message{Topic: "subjects", Partition: min(i/5, 1), Value: []byte{byte(i)}})
	}
	if err := pub.Publish(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	sub, err := b.Subscribe(bus.SubscriberOptions{Group: "eval", Topics: []string{"subjects"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	tel := telemetrytest.New(t, "evaluate")

	stop := control.ReportLag(ctx, tel, b, sub, "eval", 10*time.Millisecond)
	waitLag(t, tel, map[string]float64{"eval/subjects/0": 5, "eval/subjects/1": 3})

	var p0 []bus.Message
	for len(p0) == 0 {
		got, err := sub.Fetch(ctx, 10)
		if err != nil {
			t.Fatal(err)
		}
		if got[0].Partition == 0 {
			p0 = got
		}
	}
	if err := sub.Commit(ctx, p0[1]); err != nil {
		t.Fatal(err)
	}
	waitLag(t, tel, map[string]float64{"eval/subjects/0": 3, "eval/subjects/1": 3})

	// A second member takes partition 1: this member reports partition 0 only.
	other, err := b.Subscribe(bus.SubscriberOptions{Group: "eval", Topics: []string{"subjects"}})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	waitLag(t, tel, map[string]float64{"eval/subjects/0": 3})

	stop()
	if got := scrapeLag(t, tel); len(got) != 0 {
		t.Errorf("after stop: %v, want no series", got)
	}
}

// TestStatusLagAndETA reads the lag of an evaluator and a sink group on the memory bus
// twice, two seconds apart, and checks the exact backlog, rates, drain times and ETA the
// status report shows.
func TestStatusLagAndETA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := memory.New(memory.Config{})
	if err := b.EnsureTopics(ctx, bus.TopicSpec{Name: "subjects", Partitions: 2}, bus.TopicSpec{Name: "decisions", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	pub := b.Publisher(bus.PublisherOptions{Partitioning: bus.PartitionExplicit})
	publish := func(topic string, perPartition ...int) {
		for p, n := range perPartition {
			for range n {
				if err := pub.Publish(ctx, bus.Message{Topic: topic, Partition: p}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	publish("subjects", 5, 3)
	publish("decisions", 2, 2)
	// consume commits the next n messages of partition p of sub's topic, fetching as
	// needed and keeping what it fetched of other partitions for later.
	pending := map[bus.Subscriber]map[int][]bus.Message{}
	consume := func(sub bus.Subscriber, p, n int) {
		t.Helper()
		if pending[sub] == nil {
			pending[sub] = map[int][]bus.Message{}
		}
		have := pending[sub]
		for len(have[p]) < n {
			msgs, err := sub.Fetch(ctx, 10)
			if err != nil {
				t.Fatal(err)
			}
			have[msgs[0].Partition] = append(have[msgs[0].Partition], msgs...)
		}
		if err := sub.Commit(ctx, have[p][:n]...); err != nil {
			t.Fatal(err)
		}
		have[p] = have[p][n:]
	}
	eval, err := b.Subscribe(bus.SubscriberOptions{Group: "eval", Topics: []string{"subjects"}})
	if err != nil {
		t.Fatal(err)
	}
	defer eval.Close()
	consume(eval, 0, 2)

	targets := []control.LagTarget{{Role: "evaluators", Group: "eval", Topic: "subjects"}, {Role: "sink", Group: "sink", Topic: "decisions"}}
	hist := control.LagHistory{Window: 30 * time.Second}
	t0 := time.Date(2026, 11, 25, 23, 0, 0, 0, time.UTC)
	first := hist.Add(t0, control.ReadLag(ctx, b, time.Second, targets...))
	if first[0].Messages() != 6 || first[1].Messages() != 4 || first[0].Rate != -1 {
		t.Fatalf("first reading: evaluators %d (rate %v), sink %d; want 6 (unknown), 4", first[0].Messages(), first[0].Rate, first[1].Messages())
	}

	// Two seconds later the evaluators have committed 4 more, the sink 2 (its first).
	consume(eval, 0, 3)
	consume(eval, 1, 1)
	sinkSub, err := b.Subscribe(bus.SubscriberOptions{Group: "sink", Topics: []string{"decisions"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sinkSub.Close()
	consume(sinkSub, 1, 2)
	second := hist.Add(t0.Add(2*time.Second), control.ReadLag(ctx, b, time.Second, targets...))

	st := control.Status{RunID: "r", State: "deciding", DeadLetters: 0, SubjectsIngested: 10}.WithLag(second)
	if st.ETA != 2*time.Second {
		t.Errorf("ETA = %v, want 2s (the sink: 2 messages at 1 msg/s)", st.ETA)
	}
	want := `run r: deciding
  ingested:      0 rows, 10 subjects, 0 rejects
  decided:       0 rows, 0 subjects (0 evaluator instances)
  stored:        0 subjects
  dead letters:  0
  lag:           4 messages (all runs on the topics)
    evaluators   eval on subjects: 2 [p0=0 p1=2], 2.0 msg/s, drained in ~1s
    sink         sink on decisions: 2 [p0=2 p1=0], 1.0 msg/s, drained in ~2s
  eta:           2s (backlog at the recent consumption rate)
`
	if got := st.String(); got != want {
		t.Errorf("status:\n%s\nwant:\n%s", got, want)
	}

	// A reading that fails is shown with its error, and no ETA is guessed from it.
	broken := append(targets, control.LagTarget{Role: "sink", Group: "sink", Topic: "missing"})
	third := hist.Add(t0.Add(4*time.Second), control.ReadLag(ctx, b, time.Second, broken...))
	st = control.Status{RunID: "r", State: "deciding"}.WithLag(third)
	if st.ETA != 0 || !strings.Contains(st.String(), "  lag:           at least 4 messages") ||
		!strings.Contains(st.String(), "sink on missing: n/a (") {
		t.Errorf("with a failed reading (ETA %v):\n%s", st.ETA, st)
	}
}
