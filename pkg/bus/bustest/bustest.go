// Package bustest is the conformance suite every bus implementation must pass: round trips
// with keys and headers, per-partition order, commit semantics, redelivery after a member
// dies, consumer-group rebalancing, backpressure, idempotent topic creation and
// consumer-group lag.
//
// An implementation's test calls Run with a Factory:
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, func(t *testing.T) bustest.Bus { ... })
//	}
//
// Every wait in the suite is event-driven (a Fetch, an assignment-change channel, a
// result channel) and bounded by the subtest's context deadline; nothing sleeps.
package bustest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clearway/clearway/pkg/bus"
)

// Bus is what the suite needs from an implementation for one subtest. Topic and group
// names are unique per subtest, so a Factory may hand every subtest the same broker.
type Bus struct {
	Admin         bus.Admin
	NewPublisher  func(opts bus.PublisherOptions) (bus.Publisher, error)
	NewSubscriber func(opts bus.SubscriberOptions) (bus.Subscriber, error)
	// PartitionCapacity is the number of uncommitted messages after which a publisher to
	// that partition blocks. Zero skips the backpressure subtest, with SkipBackpressure as
	// the reason.
	PartitionCapacity int
	SkipBackpressure  string
	// Timeout bounds each subtest; zero means one minute.
	Timeout time.Duration
}

// Factory returns the bus for one subtest. It may call t.Skip or t.Fatal.
type Factory func(t *testing.T) Bus

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, factory Factory) {
	tests := []struct {
		name string
		fn   func(*env)
	}{
		{"RoundTrip", testRoundTrip},
		{"ExplicitPartitions", testExplicitPartitions},
		{"PartitionOrder", testPartitionOrder},
		{"CommitSemantics", testCommitSemantics},
		{"RedeliveryAfterMemberDies", testRedelivery},
		{"Rebalance", testRebalance},
		{"Backpressure", testBackpressure},
		{"EnsureTopicsIdempotent", testEnsureTopics},
		{"Lag", testLag},
		{"Close", testClose},
		{"LocalContent", testLocal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := factory(t)
			timeout := b.Timeout
			if timeout == 0 {
				timeout = time.Minute
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			t.Cleanup(cancel)
			tt.fn(&env{t: t, ctx: ctx, b: b, prefix: uniquePrefix(t)})
		})
	}
}

// env holds one subtest's bus, deadline and name prefix.
type env struct {
	t      *testing.T
	ctx    context.Context
	b      Bus
	prefix string
	n      int
}

func uniquePrefix(t *testing.T) string {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatalf("random name: %v", err)
	}
	name := strings.Map(func(c rune) rune {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-':
			return c
		}
		return '.'
	}, t.Name())
	if len(name) > 120 {
		name = name[len(name)-120:]
	}
	return "bustest." + name + "." + hex.EncodeToString(r[:])
}

func (e *env) name(kind string) string {
	e.n++
	return fmt.Sprintf("%s.%s%d", e.prefix, kind, e.n)
}

// topic creates a fresh topic.
func (e *env) topic(partitions int) string {
	e.t.Helper()
	name := e.name("topic")
	if err := e.b.Admin.EnsureTopics(e.ctx, bus.TopicSpec{Name: name, Partitions: partitions, ReplicationFactor: 1}); err != nil {
		e.t.Fatalf("EnsureTopics(%s): %v", name, err)
	}
	return name
}

func (e *env) publisher(p bus.Partitioning) bus.Publisher {
	e.t.Helper()
	pub, err := e.b.NewPublisher(bus.PublisherOptions{Partitioning: p})
	if err != nil {
		e.t.Fatalf("NewPublisher: %v", err)
	}
	e.t.Cleanup(func() { _ = pub.Close() })
	return pub
}

func (e *env) subscriber(group string, topics ...string) bus.Subscriber {
	e.t.Helper()
	sub, err := e.b.NewSubscriber(bus.SubscriberOptions{Group: group, Topics: topics})
	if err != nil {
		e.t.Fatalf("NewSubscriber(%s): %v", group, err)
	}
	e.t.Cleanup(func() { _ = sub.Close() })
	return sub
}

func (e *env) publish(pub bus.Publisher, msgs ...bus.Message) {
	e.t.Helper()
	if err := pub.Publish(e.ctx, msgs...); err != nil {
		e.t.Fatalf("Publish(%d messages): %v", len(msgs), err)
	}
}

// fetchN fetches until n messages arrived, checking that every batch is one partition in
// consecutive offset order.
func (e *env) fetchN(sub bus.Subscriber, n, max int) []bus.Message {
	e.t.Helper()
	var got []bus.Message
	for len(got) < n {
		batch, err := sub.Fetch(e.ctx, max)
		if err != nil {
			e.t.Fatalf("Fetch after %d of %d messages: %v", len(got), n, err)
		}
		checkBatch(e.t, batch, max)
		got = append(got, batch...)
	}
	if len(got) > n {
		e.t.Fatalf("fetched %d messages, want %d", len(got), n)
	}
	return got
}

func (e *env) commit(sub bus.Subscriber, msgs ...bus.Message) {
	e.t.Helper()
	if err := sub.Commit(e.ctx, msgs...); err != nil {
		e.t.Fatalf("Commit: %v", err)
	}
}

func checkBatch(t *testing.T, batch []bus.Message, max int) {
	t.Helper()
	if len(batch) == 0 || len(batch) > max {
		t.Fatalf("Fetch returned %d messages, want 1..%d", len(batch), max)
	}
	for i, m := range batch[1:] {
		prev := batch[i]
		if m.Topic != prev.Topic || m.Partition != prev.Partition {
			t.Fatalf("batch mixes partitions %s[%d] and %s[%d]", prev.Topic, prev.Partition, m.Topic, m.Partition)
		}
		if m.Offset != prev.Offset+1 {
			t.Fatalf("batch offsets %d then %d on %s[%d], want consecutive", prev.Offset, m.Offset, m.Topic, m.Partition)
		}
	}
}

// waitAssignment waits until ok holds for the subscribers' current assignments, waking on
// their change channels.
func (e *env) waitAssignment(what string, ok func(assigned [][]bus.TopicPartition) bool, subs ...bus.Subscriber) [][]bus.TopicPartition {
	e.t.Helper()
	for {
		assigned := make([][]bus.TopicPartition, len(subs))
		cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(e.ctx.Done())}}
		for i, s := range subs {
			tps, changed := s.Assignment()
			assigned[i] = tps
			cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(changed)})
		}
		if ok(assigned) {
			return assigned
		}
		if chosen, _, _ := reflect.Select(cases); chosen == 0 {
			e.t.Fatalf("waiting for %s: %v; last assignments %v", what, e.ctx.Err(), assigned)
		}
	}
}

// splits reports whether the assignments are disjoint, each non-empty, and cover all n
// partitions of topic.
func splits(topic string, n int) func([][]bus.TopicPartition) bool {
	return func(assigned [][]bus.TopicPartition) bool {
		seen := make(map[bus.TopicPartition]bool)
		for _, tps := range assigned {
			if len(tps) == 0 {
				return false
			}
			for _, tp := range tps {
				if tp.Topic != topic || seen[tp] {
					return false
				}
				seen[tp] = true
			}
		}
		return len(seen) == n
	}
}

func keyed(topic string, n, first int) []bus.Message {
	msgs := make([]bus.Message, n)
	for i := range msgs {
		v := first + i
		msgs[i] = bus.Message{Topic: topic, Key: []byte(fmt.Sprintf("subject-%03d", v)), Value: []byte(strconv.Itoa(v))}
	}
	return msgs
}

// countIn counts the messages whose key hashes into one of tps.
func countIn(msgs []bus.Message, partitions int, tps []bus.TopicPartition) int {
	n := 0
	for _, m := range msgs {
		if slices.Contains(tps, bus.TopicPartition{Topic: m.Topic, Partition: bus.PartitionFor(m.Key, partitions)}) {
			n++
		}
	}
	return n
}

func values(msgs []bus.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Value)
	}
	slices.Sort(out)
	return out
}

// positions lists partition@offset of msgs, sorted.
func positions(msgs []bus.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = fmt.Sprintf("%s[%d]@%d", m.Topic, m.Partition, m.Offset)
	}
	slices.Sort(out)
	return out
}

func testRoundTrip(e *env) {
	t := e.t
	topic := e.topic(3)
	pub := e.publisher(bus.PartitionByKey)
	sent := []bus.Message{
		{Topic: topic, Key: []byte("subject-1"), Value: []byte("first"), Headers: []bus.Header{
			{Key: "run-id", Value: []byte("run-1")},
			{Key: "empty", Value: nil},
			{Key: "run-id", Value: []byte("run-2")},
		}},
		{Topic: topic, Key: []byte("subject-2"), Value: []byte("second")},
		{Topic: topic, Key: []byte("subject-1"), Value: bytes.Repeat([]byte{0, 1, 2, 255}, 1000)},
	}
	before := time.Now().Add(-time.Minute)
	e.publish(pub, sent...)
	sub := e.subscriber(e.name("group"), topic)
	got := e.fetchN(sub, len(sent), 10)

	byValue := make(map[string]bus.Message)
	for _, m := range got {
		byValue[string(m.Value)] = m
	}
	for _, want := range sent {
		m, ok := byValue[string(want.Value)]
		if !ok {
			t.Fatalf("message with key %q not received", want.Key)
		}
		if m.Topic != topic || !bytes.Equal(m.Key, want.Key) {
			t.Errorf("got topic %q key %q, want %q %q", m.Topic, m.Key, topic, want.Key)
		}
		if p := bus.PartitionFor(want.Key, 3); m.Partition != p {
			t.Errorf("key %q landed in partition %d, want %d", want.Key, m.Partition, p)
		}
		if len(m.Headers) != len(want.Headers) {
			t.Fatalf("key %q: got %d headers, want %d", want.Key, len(m.Headers), len(want.Headers))
		}
		for i, h := range want.Headers {
			if m.Headers[i].Key != h.Key || !bytes.Equal(m.Headers[i].Value, h.Value) {
				t.Errorf("header %d = %q:%q, want %q:%q", i, m.Headers[i].Key, m.Headers[i].Value, h.Key, h.Value)
			}
		}
		if m.Time.Before(before) || m.Time.After(time.Now().Add(time.Minute)) {
			t.Errorf("message time %v is not about now", m.Time)
		}
	}
	first := byValue["first"]
	if v, ok := first.Header("run-id"); !ok || string(v) != "run-1" {
		t.Errorf(`Header("run-id") = %q, %v; want "run-1", true`, v, ok)
	}
	// Same key, same partition, publish order: the large value follows "first".
	if large := byValue[string(sent[2].Value)]; large.Partition != first.Partition || large.Offset <= first.Offset {
		t.Errorf("second message of key subject-1 at %d@%d, want after the first at %d@%d",
			large.Partition, large.Offset, first.Partition, first.Offset)
	}
}

func testExplicitPartitions(e *env) {
	t := e.t
	const n = 4
	topic := e.topic(n)
	pub := e.publisher(bus.PartitionExplicit)
	var msgs []bus.Message
	for p := range n {
		// The same key for every partition: the key must not decide.
		msgs = append(msgs, bus.Message{Topic: topic, Partition: p, Key: []byte("end-marker"), Value: []byte(strconv.Itoa(p))})
	}
	e.publish(pub, msgs...)
	if err := pub.Publish(e.ctx, bus.Message{Topic: topic, Partition: n, Value: []byte("nowhere")}); err == nil {
		t.Errorf("Publish to partition %d of a %d-partition topic succeeded", n, n)
	}
	sub := e.subscriber(e.name("group"), topic)
	for _, m := range e.fetchN(sub, n, 10) {
		if want := strconv.Itoa(m.Partition); string(m.Value) != want {
			t.Errorf("partition %d holds %q, want %q", m.Partition, m.Value, want)
		}
	}
}

func testPartitionOrder(e *env) {
	t := e.t
	const (
		partitions = 4
		total      = 1000
		keys       = 25
	)
	topic := e.topic(partitions)
	sub := e.subscriber(e.name("group"), topic)
	pub := e.publisher(bus.PartitionByKey)
	// Publish while consuming, so that a bus with small bounded partitions keeps flowing.
	published := make(chan error, 1)
	go func() {
		for start := 0; start < total; start += 100 {
			batch := make([]bus.Message, 100)
			for i := range batch {
				seq := start + i
				batch[i] = bus.Message{
					Topic:   topic,
					Key:     []byte(fmt.Sprintf("key-%02d", seq%keys)),
					Value:   []byte(strconv.Itoa(seq)),
					Headers: []bus.Header{{Key: "seq", Value: []byte(strconv.Itoa(seq))}},
				}
			}
			if err := pub.Publish(e.ctx, batch...); err != nil {
				published <- fmt.Errorf("publish messages %d..%d: %w", start, start+99, err)
				return
			}
		}
		published <- nil
	}()
	var got []bus.Message
	for len(got) < total {
		batch, err := sub.Fetch(e.ctx, 64)
		if err != nil {
			t.Fatalf("Fetch after %d of %d messages: %v", len(got), total, err)
		}
		checkBatch(t, batch, 64)
		e.commit(sub, batch...)
		got = append(got, batch...)
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	if len(got) != total {
		t.Fatalf("fetched %d messages, want %d", len(got), total)
	}

	nextOffset := make(map[int]int64)
	lastSeq := make(map[string]int)
	keyPartition := make(map[string]int)
	seen := make(map[int]bool)
	for _, m := range got {
		if m.Offset != nextOffset[m.Partition] {
			t.Fatalf("partition %d: offset %d, want %d", m.Partition, m.Offset, nextOffset[m.Partition])
		}
		nextOffset[m.Partition]++
		seq, err := strconv.Atoi(string(m.Value))
		if err != nil {
			t.Fatalf("value %q: %v", m.Value, err)
		}
		if h, _ := m.Header("seq"); string(h) != string(m.Value) {
			t.Fatalf("seq header %q on message %q", h, m.Value)
		}
		key := string(m.Key)
		if prev, ok := lastSeq[key]; ok && seq <= prev {
			t.Fatalf("key %s: message %d after %d", key, seq, prev)
		}
		lastSeq[key] = seq
		if p, ok := keyPartition[key]; ok && p != m.Partition {
			t.Fatalf("key %s in partitions %d and %d", key, p, m.Partition)
		}
		keyPartition[key] = m.Partition
		if want := bus.PartitionFor(m.Key, partitions); m.Partition != want {
			t.Fatalf("key %s in partition %d, want %d", key, m.Partition, want)
		}
		if seen[seq] {
			t.Fatalf("message %d delivered twice", seq)
		}
		seen[seq] = true
	}
	if len(nextOffset) < 2 {
		t.Errorf("all %d messages in %d partition(s); the test wants several", total, len(nextOffset))
	}
}

func testCommitSemantics(e *env) {
	t := e.t
	topic := e.topic(1)
	pub := e.publisher(bus.PartitionByKey)
	e.publish(pub, keyed(topic, 10, 0)...)
	group := e.name("group")
	// A second group, subscribed before the first commits: offsets belong to the group.
	other := e.subscriber(e.name("group"), topic)

	a := e.subscriber(group, topic)
	got := e.fetchN(a, 10, 10)
	e.commit(a, got[4]) // commits offsets 0..4
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	b := e.subscriber(group, topic)
	again := e.fetchN(b, 5, 10)
	for i, m := range again {
		if want := got[5+i]; m.Offset != want.Offset || !bytes.Equal(m.Value, want.Value) {
			t.Fatalf("after commit of offset %d: got offset %d %q, want %d %q", got[4].Offset, m.Offset, m.Value, want.Offset, want.Value)
		}
	}
	e.commit(b, again[4])
	e.commit(b, got[2]) // an older offset must not move the group back
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	e.publish(pub, keyed(topic, 1, 10)...)
	c := e.subscriber(group, topic)
	if m := e.fetchN(c, 1, 10)[0]; m.Offset != got[9].Offset+1 || string(m.Value) != "10" {
		t.Errorf("after committing everything: got offset %d %q, want %d \"10\"", m.Offset, m.Value, got[9].Offset+1)
	}

	// The other group still starts from the beginning.
	if m := e.fetchN(other, 1, 1)[0]; m.Offset != got[0].Offset {
		t.Errorf("new group starts at offset %d, want %d", m.Offset, got[0].Offset)
	}
}

func testRedelivery(e *env) {
	t := e.t
	const partitions = 2
	topic := e.topic(partitions)
	group := e.name("group")
	a := e.subscriber(group, topic)
	b := e.subscriber(group, topic)
	assigned := e.waitAssignment("two members to split two partitions", splits(topic, partitions), a, b)

	pub := e.publisher(bus.PartitionByKey)
	msgs := keyed(topic, 40, 0)
	e.publish(pub, msgs...)

	// a fetches its share and dies without committing; b processes and commits its share.
	lost := e.fetchN(a, countIn(msgs, partitions, assigned[0]), 100)
	done := e.fetchN(b, countIn(msgs, partitions, assigned[1]), 100)
	e.commit(b, done...)
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	e.waitAssignment("the survivor to own both partitions", splits(topic, partitions), b)
	again := e.fetchN(b, len(lost), 100)
	if got, want := positions(again), positions(lost); !slices.Equal(got, want) {
		t.Fatalf("redelivered %v, want the uncommitted %v", got, want)
	}
	if got, want := values(again), values(lost); !slices.Equal(got, want) {
		t.Fatalf("redelivered values %v, want %v", got, want)
	}
	e.commit(b, again...)
}

func testRebalance(e *env) {
	t := e.t
	const partitions = 4
	topic := e.topic(partitions)
	group := e.name("group")
	pub := e.publisher(bus.PartitionByKey)

	// consume has each member fetch exactly the messages that hash into its partitions.
	next := 0
	consume := func(what string, subs []bus.Subscriber, assigned [][]bus.TopicPartition) {
		t.Helper()
		msgs := keyed(topic, 40, next)
		next += len(msgs)
		e.publish(pub, msgs...)
		var all []bus.Message
		for i, s := range subs {
			got := e.fetchN(s, countIn(msgs, partitions, assigned[i]), 100)
			for _, m := range got {
				tp := bus.TopicPartition{Topic: m.Topic, Partition: m.Partition}
				if !slices.Contains(assigned[i], tp) {
					t.Fatalf("%s: member %d got a message from %v, assigned %v", what, i, tp, assigned[i])
				}
			}
			e.commit(s, got...)
			all = append(all, got...)
		}
		if got, want := values(all), values(msgs); !slices.Equal(got, want) {
			t.Fatalf("%s: consumed %v, want %v", what, got, want)
		}
	}

	a := e.subscriber(group, topic)
	b := e.subscriber(group, topic)
	assigned := e.waitAssignment("a and b to split the partitions", splits(topic, partitions), a, b)
	consume("a+b", []bus.Subscriber{a, b}, assigned)

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if tps, _ := b.Assignment(); len(tps) != 0 {
		t.Errorf("closed member still reports %v", tps)
	}
	assigned = e.waitAssignment("a to own every partition after b left", splits(topic, partitions), a)
	consume("a alone", []bus.Subscriber{a}, assigned)

	c := e.subscriber(group, topic)
	assigned = e.waitAssignment("a and c to split the partitions", splits(topic, partitions), a, c)
	consume("a+c", []bus.Subscriber{a, c}, assigned)
}

func testBackpressure(e *env) {
	t := e.t
	capacity := e.b.PartitionCapacity
	if capacity == 0 {
		t.Skip(e.b.SkipBackpressure)
	}
	topic := e.topic(1)
	sub := e.subscriber(e.name("group"), topic)
	pub := e.publisher(bus.PartitionByKey)
	e.publish(pub, keyed(topic, capacity, 0)...)

	blocked := make(chan error, 1)
	go func() { blocked <- pub.Publish(e.ctx, keyed(topic, 1, capacity)...) }()
	select {
	case err := <-blocked:
		t.Fatalf("Publish to a full partition returned %v before anything was consumed", err)
	default:
	}
	// Fetching alone frees nothing: only a commit does.
	first := e.fetchN(sub, 1, 1)
	e.commit(sub, first...)
	select {
	case err := <-blocked:
		if err != nil {
			t.Fatalf("blocked Publish: %v", err)
		}
	case <-e.ctx.Done():
		t.Fatalf("Publish still blocked after a commit freed space: %v", e.ctx.Err())
	}

	// Full again: a cancelled context releases the publisher.
	ctx, cancel := context.WithCancel(e.ctx)
	go func() { blocked <- pub.Publish(ctx, keyed(topic, 1, capacity+1)...) }()
	cancel()
	select {
	case err := <-blocked:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Publish to a full partition with a cancelled context: %v, want context.Canceled", err)
		}
	case <-e.ctx.Done():
		t.Fatalf("Publish ignored its cancelled context: %v", e.ctx.Err())
	}
}

func testEnsureTopics(e *env) {
	t := e.t
	spec := bus.TopicSpec{Name: e.name("topic"), Partitions: 3, ReplicationFactor: 1}
	for i := range 2 {
		if err := e.b.Admin.EnsureTopics(e.ctx, spec); err != nil {
			t.Fatalf("EnsureTopics call %d: %v", i+1, err)
		}
	}
	// An existing topic is left alone, whatever the spec now says.
	grown := spec
	grown.Partitions = 5
	if err := e.b.Admin.EnsureTopics(e.ctx, grown); err != nil {
		t.Fatalf("EnsureTopics on an existing topic: %v", err)
	}
	pub := e.publisher(bus.PartitionExplicit)
	e.publish(pub, bus.Message{Topic: spec.Name, Partition: 2, Value: []byte("last")})
	if err := pub.Publish(e.ctx, bus.Message{Topic: spec.Name, Partition: 4, Value: []byte("x")}); err == nil {
		t.Errorf("partition 4 exists: EnsureTopics changed an existing topic")
	}
	if err := e.b.Admin.EnsureTopics(e.ctx, bus.TopicSpec{Name: e.name("topic"), Partitions: 0}); err == nil {
		t.Errorf("EnsureTopics accepted 0 partitions")
	}
	err := pub.Publish(e.ctx, bus.Message{Topic: e.name("missing"), Value: []byte("x")})
	if !errors.Is(err, bus.ErrUnknownTopic) {
		t.Errorf("Publish to a missing topic: %v, want ErrUnknownTopic", err)
	}
}

func testClose(e *env) {
	t := e.t
	topic := e.topic(1)
	sub := e.subscriber(e.name("group"), topic)
	fetched := make(chan error, 1)
	go func() {
		_, err := sub.Fetch(e.ctx, 1)
		fetched <- err
	}()
	if err := sub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-fetched:
		if !errors.Is(err, bus.ErrClosed) {
			t.Errorf("Fetch blocked across Close returned %v, want ErrClosed", err)
		}
	case <-e.ctx.Done():
		t.Fatalf("Fetch still blocked after Close: %v", e.ctx.Err())
	}
	if err := sub.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := sub.Fetch(e.ctx, 1); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Fetch after Close: %v, want ErrClosed", err)
	}

	pub := e.publisher(bus.PartitionByKey)
	if err := pub.Close(); err != nil {
		t.Fatalf("Publisher.Close: %v", err)
	}
	if err := pub.Close(); err != nil {
		t.Errorf("second Publisher.Close: %v", err)
	}
	if err := pub.Publish(e.ctx, keyed(topic, 1, 0)...); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v, want ErrClosed", err)
	}
}

// lagOf reads group's lag on topic and checks its shape: one entry per partition, in
// order, with Start <= Position <= End.
func (e *env) lagOf(group, topic string, partitions int) []bus.PartitionLag {
	e.t.Helper()
	lags, err := e.b.Admin.Lag(e.ctx, group, topic)
	if err != nil {
		e.t.Fatalf("Lag(%s, %s): %v", group, topic, err)
	}
	if len(lags) != partitions {
		e.t.Fatalf("Lag(%s, %s) = %d partitions, want %d: %+v", group, topic, len(lags), partitions, lags)
	}
	for i, l := range lags {
		if l.Topic != topic || l.Partition != i {
			e.t.Fatalf("Lag entry %d is %s, want %s[%d]", i, l.TopicPartition, topic, i)
		}
		if l.Start < 0 || l.Start > l.Position() || l.Position() > l.End {
			e.t.Fatalf("Lag %s: start %d, committed %d, end %d out of order", l.TopicPartition, l.Start, l.Committed, l.End)
		}
	}
	return lags
}

// checkLag compares committed offsets, high-water marks and lag per partition.
func checkLag(t *testing.T, when string, got []bus.PartitionLag, committed, end []int64) {
	t.Helper()
	for i, l := range got {
		want := end[i] - max(committed[i], 0)
		if l.Committed != committed[i] || l.End != end[i] || l.Messages() != want {
			t.Errorf("%s: %s committed %d, end %d, lag %d; want %d, %d, %d",
				when, l.TopicPartition, l.Committed, l.End, l.Messages(), committed[i], end[i], want)
		}
	}
}

// testLag: high-water marks follow publishing, committed offsets follow commits, lag is
// their difference, and a group that never committed lags by everything held.
func testLag(e *env) {
	t := e.t
	topic := e.topic(2)
	group := e.name("group")
	checkLag(t, "empty topic", e.lagOf(group, topic, 2), []int64{-1, -1}, []int64{0, 0})

	pub := e.publisher(bus.PartitionExplicit)
	var msgs []bus.Message
	for i := range 8 {
		p := 0
		if i >= 5 {
			p = 1
		}
		msgs = append(msgs, bus.Message{Topic: topic, Partition: p, Value: []byte(strconv.Itoa(i))})
	}
	e.publish(pub, msgs...)
	checkLag(t, "published 5+3", e.lagOf(group, topic, 2), []int64{-1, -1}, []int64{5, 3})

	sub := e.subscriber(group, topic)
	got := e.fetchN(sub, 8, 8)
	byPart := map[int][]bus.Message{}
	for _, m := range got {
		byPart[m.Partition] = append(byPart[m.Partition], m)
	}
	e.commit(sub, byPart[0][1]) // offsets 0 and 1 of partition 0
	checkLag(t, "committed 2 of partition 0", e.lagOf(group, topic, 2), []int64{2, -1}, []int64{5, 3})
	e.commit(sub, byPart[1]...)
	checkLag(t, "committed all of partition 1", e.lagOf(group, topic, 2), []int64{2, 3}, []int64{5, 3})
	if n := bus.TotalLag(e.lagOf(group, topic, 2)); n != 3 {
		t.Errorf("TotalLag = %d, want 3", n)
	}
	e.commit(sub, byPart[0]...)
	checkLag(t, "committed everything", e.lagOf(group, topic, 2), []int64{5, 3}, []int64{5, 3})

	// Another group has its own offsets; it has committed nothing.
	other := e.lagOf(e.name("group"), topic, 2)
	for _, l := range other {
		if l.Committed != -1 || l.Messages() != l.End-l.Start {
			t.Errorf("group without commits: %s committed %d, lag %d; want -1, %d", l.TopicPartition, l.Committed, l.Messages(), l.End-l.Start)
		}
	}
	if _, err := e.b.Admin.Lag(e.ctx, group, e.name("missing")); !errors.Is(err, bus.ErrUnknownTopic) {
		t.Errorf("Lag on a missing topic = %v, want ErrUnknownTopic", err)
	}
}

// testLocal checks Message.Local: an in-process publisher (bus.InProcess) delivers it as
// is, with or without a Value; any other refuses a message with Local but no Value and
// delivers Value without Local.
func testLocal(e *env) {
	t := e.t
	topic := e.topic(1)
	pub := e.publisher(bus.PartitionExplicit)
	type batch struct{ n int }
	local := &batch{n: 7}
	if bus.InProcess(pub) {
		e.publish(pub, bus.Message{Topic: topic, Key: []byte("k"), Local: local},
			bus.Message{Topic: topic, Key: []byte("k"), Value: []byte("v")})
		sub := e.subscriber(e.name("group"), topic)
		got := e.fetchN(sub, 2, 10)
		if b, ok := got[0].Local.(*batch); !ok || b != local || got[0].Value != nil {
			t.Errorf("in process: got Local %v and Value %q, want the published batch and no value", got[0].Local, got[0].Value)
		}
		if got[1].Local != nil || string(got[1].Value) != "v" {
			t.Errorf("in process: got Local %v and Value %q, want no Local and \"v\"", got[1].Local, got[1].Value)
		}
		return
	}
	if err := pub.Publish(e.ctx, bus.Message{Topic: topic, Key: []byte("k"), Local: local}); err == nil {
		t.Errorf("a message with Local and no Value was published by a publisher that is not in process")
	}
	e.publish(pub, bus.Message{Topic: topic, Key: []byte("k"), Value: []byte("v"), Local: local})
	sub := e.subscriber(e.name("group"), topic)
	got := e.fetchN(sub, 1, 10)
	if got[0].Local != nil || string(got[0].Value) != "v" {
		t.Errorf("got Local %v and Value %q, want no Local and \"v\"", got[0].Local, got[0].Value)
	}
}
