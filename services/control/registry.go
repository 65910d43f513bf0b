package control

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"sync"

	"github.com/clearway/clearway/pkg/bus"
)

// RunState is what the control topic has said about one run so far.
type RunState struct {
	ID       string
	Start    *RunStart
	End      *RunEnd
	Complete *RunComplete
	Failed   *RunFailed
	// Progress is the latest progress record of each service instance, keyed
	// "service/instance".
	Progress map[string]Progress
}

// Registry follows the control topic and keeps every run's state. It is safe for
// concurrent use; waiters block on a channel that is closed at every change.
type Registry struct {
	mu      sync.Mutex
	runs    map[string]*RunState
	changed chan struct{}
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{runs: make(map[string]*RunState), changed: make(chan struct{})}
}

// Apply records one control record. A later run-start of a known run (an ingest that
// was restarted) replaces the earlier one.
func (r *Registry) Apply(rec Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.runs[rec.RunID]
	if !ok {
		st = &RunState{ID: rec.RunID, Progress: map[string]Progress{}}
		r.runs[rec.RunID] = st
	}
	switch rec.Kind {
	case KindRunStart:
		st.Start = rec.Start
	case KindRunEnd:
		st.End = rec.End
	case KindRunComplete:
		st.Complete = rec.Complete
	case KindRunFailed:
		st.Failed = rec.Failed
	case KindProgress:
		st.Progress[rec.Progress.Service+"/"+rec.Progress.Instance] = *rec.Progress
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// Run returns a copy of the run's state.
func (r *Registry) Run(id string) (RunState, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.runs[id]
	if !ok {
		return RunState{}, false
	}
	cp := *st
	cp.Progress = maps.Clone(st.Progress)
	return cp, true
}

// Runs lists the known run ids, sorted.
func (r *Registry) Runs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.runs))
	for id := range r.runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Changed returns a channel closed at the next change.
func (r *Registry) Changed() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.changed
}

// WaitStart waits until the run's run-start record is known or ctx ends.
func (r *Registry) WaitStart(ctx context.Context, id string) (*RunStart, error) {
	for {
		wait := r.Changed()
		if st, ok := r.Run(id); ok && st.Start != nil {
			return st.Start, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("run %s not announced: %w", id, ctx.Err())
		case <-wait:
		}
	}
}

// Follower feeds a Registry from the control topic in the background.
type Follower struct {
	Registry *Registry
	sub      bus.Subscriber
	cancel   context.CancelFunc
	done     chan struct{}
	err      error
}

// Follow starts reading the whole control topic into a new registry. Every follower is
// the only member of a fresh consumer group that never commits, so it reads the topic
// from its oldest record, like a group-less reader.
func Follow(ctx context.Context, b Bus, topic, service string, log *slog.Logger) (*Follower, error) {
	var tag [6]byte
	_, _ = rand.Read(tag[:]) // crypto/rand.Read never fails
	sub, err := b.Subscribe(bus.SubscriberOptions{
		Group:  "clearway-" + service + "-control-" + hex.EncodeToString(tag[:]),
		Topics: []string{topic},
	})
	if err != nil {
		return nil, fmt.Errorf("follow control topic: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	f := &Follower{Registry: NewRegistry(), sub: sub, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(f.done)
		f.err = f.follow(ctx, log)
	}()
	return f, nil
}

func (f *Follower) follow(ctx context.Context, log *slog.Logger) error {
	for {
		msgs, err := f.sub.Fetch(ctx, 256)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, bus.ErrClosed) {
				return nil
			}
			return fmt.Errorf("read control topic: %w", err)
		}
		for _, m := range msgs {
			rec, err := DecodeRecord(m.Value)
			if err != nil {
				// A record this build cannot read is skipped: the control topic is shared
				// with other versions, and one bad record must not stop every run.
				log.Warn("skipping control record", "partition", m.Partition, "offset", m.Offset, "err", err)
				continue
			}
			f.Registry.Apply(rec)
		}
	}
}

// Close stops following and leaves the consumer group.
func (f *Follower) Close() error {
	f.cancel()
	<-f.done
	return errors.Join(f.err, f.sub.Close())
}
