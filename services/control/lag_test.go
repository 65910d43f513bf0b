package control_test

import (
	"context"
	"maps"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/memory"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/services/control"
)

// scrapeLag returns clearway_consumer_lag as "group/topic/partition" → value.
func scrapeLag(t *testing.T, tel *telemetry.Telemetry) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	tel.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	out := map[string]float64{}
	for _, m := range fams["clearway_consumer_lag"].GetMetric() {
		l := map[string]string{}
		for _, p := range m.GetLabel() {
			l[p.GetName()] = p.GetValue()
		}
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
	tel, err := telemetry.New(ctx, telemetry.Options{Service: "evaluate", Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer tel.Shutdown(ctx)

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
