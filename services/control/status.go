package control

import (
	"fmt"
	"strings"
	"time"
)

// Status is the progress of one run as the control topic tells it.
type Status struct {
	RunID string
	State string // "unknown", "ingesting", "deciding", "complete" or "failed"
	// Rows and subjects ingested (published), rows and subjects decided by evaluators
	// (redeliveries count again), subjects stored by sinks (distinct).
	RowsIngested, SubjectsIngested int64
	RowsDecided, SubjectsDecided   int64
	SubjectsStored                 int64
	Rejects                        int64
	// DeadLetters counts dead-letter messages of the run, when the caller read the
	// dead-letter topic; -1 when unknown.
	DeadLetters int64
	Evaluators  int
	Started     time.Time
	ETA         time.Duration // 0 when unknown or done
	ETABasis    string        // how ETA was estimated
	Reason      string        // why the run failed
	// Lag is the consumer groups' backlog, when the caller read it (WithLag).
	Lag []GroupLag
}

// StatusOf summarises st at time now.
func StatusOf(st RunState, now time.Time) Status {
	s := Status{RunID: st.ID, State: "unknown", DeadLetters: -1}
	if st.Start != nil {
		s.State, s.Started = "ingesting", st.Start.Started
	}
	for _, p := range st.Progress {
		switch p.Service {
		case "ingest":
			s.RowsIngested, s.SubjectsIngested, s.Rejects = p.Rows, p.Subjects, p.Rejects
		case "evaluator":
			s.RowsDecided += p.Rows
			s.SubjectsDecided += p.Subjects
			s.Evaluators++
		case "sink":
			s.SubjectsStored = max(s.SubjectsStored, p.Subjects)
		}
	}
	if st.End != nil {
		s.State = "deciding"
		s.RowsIngested, s.SubjectsIngested, s.Rejects = st.End.Rows, st.End.Subjects, st.End.Rejects
	}
	switch {
	case st.Failed != nil:
		s.State, s.Reason = "failed", st.Failed.Reason
	case st.Complete != nil:
		s.State = "complete"
		s.SubjectsStored = st.Complete.Subjects
	}
	if s.State == "deciding" && s.SubjectsStored > 0 && !s.Started.IsZero() {
		elapsed := now.Sub(s.Started)
		rate := float64(s.SubjectsStored) / elapsed.Seconds()
		if left := s.SubjectsIngested - s.SubjectsStored; left > 0 && rate > 0 {
			s.ETA = time.Duration(float64(left) / rate * float64(time.Second))
			s.ETABasis = "stored subjects at the average rate since start"
		}
	}
	return s
}

// WithLag returns s with the consumer groups' lag. While the run is being decided, a
// backlog on the topics that every group is consuming at a known recent rate gives the
// ETA: the longest time a group needs to drain its backlog (the topics are consumed in
// order, so the run is done when the slowest group has caught up).
func (s Status) WithLag(groups []GroupLag) Status {
	s.Lag = groups
	if s.State != "deciding" {
		return s
	}
	var longest time.Duration
	for _, g := range groups {
		d, ok := g.Drain()
		if !ok {
			return s
		}
		longest = max(longest, d)
	}
	if longest > 0 {
		s.ETA, s.ETABasis = longest, "backlog at the recent consumption rate"
	}
	return s
}

// String renders the status for people, one fact per line.
func (s Status) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %s: %s\n", s.RunID, s.State)
	if !s.Started.IsZero() {
		fmt.Fprintf(&b, "  started:       %s\n", s.Started.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, "  ingested:      %d rows, %d subjects, %d rejects\n", s.RowsIngested, s.SubjectsIngested, s.Rejects)
	fmt.Fprintf(&b, "  decided:       %d rows, %d subjects (%d evaluator instances)\n", s.RowsDecided, s.SubjectsDecided, s.Evaluators)
	fmt.Fprintf(&b, "  stored:        %d subjects\n", s.SubjectsStored)
	if s.DeadLetters >= 0 {
		fmt.Fprintf(&b, "  dead letters:  %d\n", s.DeadLetters)
	} else {
		fmt.Fprintf(&b, "  dead letters:  n/a\n")
	}
	formatLag(&b, s.Lag)
	switch {
	case s.State == "complete" || s.State == "failed":
	case s.ETA > 0:
		fmt.Fprintf(&b, "  eta:           %s (%s)\n", s.ETA.Round(time.Second), s.ETABasis)
	default:
		fmt.Fprintf(&b, "  eta:           n/a\n")
	}
	if s.Reason != "" {
		fmt.Fprintf(&b, "  reason:        %s\n", s.Reason)
	}
	return b.String()
}
