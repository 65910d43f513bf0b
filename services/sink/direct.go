package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// Direct configures the sink's direct mode, used by `clearway run`: instead of spooling
// every message durably and writing a run out once it is complete, the sink writes each
// result as soon as every result before it (in ingest's sequence order) has been
// written, keeping the ones that arrive early in a reorder buffer. It is valid only when
// the sink is the one member of its consumer group (it must see every partition) on an
// in-process bus: nothing survives the process, so a crash loses the run.
//
// The reorder buffer stays small because ingest cuts each partition's batches from one
// stream of subjects: a result can only be ahead of the next one to write by the
// batches the other partitions have in flight, which the bus's partition capacity
// bounds.
type Direct struct {
	// Dir returns the folder a run is published in; nil means Out/<run-id>.
	Dir func(runID string) string
	// Output returns the output one attempt of a run is written to, in the (empty)
	// staging folder stage; nil means the native format. An output with an Abort()
	// error method is aborted when its attempt is abandoned or the run fails.
	Output func(runID, stage string, start *control.RunStart) (report.Output, error)
	// Done, when set, is called once per run: with nil once its outputs are published,
	// or with the reason it failed.
	Done func(runID string, err error)
	// StartWait bounds the wait for a run's run-start record (default 2 minutes).
	StartWait time.Duration
}

// directRun is the state of one run in direct mode.
type directRun struct {
	id      string
	dir     string
	attempt int // the attempt being written; earlier attempts are ignored
	out     report.Output
	// next is the sequence number of the next subject to write; early holds results
	// that arrived before it.
	next  int64
	early map[int64]*eligibility.Result
	// Likewise for rejects.
	nextReject  int64
	earlyReject map[int64]doj.Reject
	ends        map[int]control.EndMarker // of attempt, by partition
	finished    bool                      // published or failed
}

func (s *Service) directDir(id string) string {
	if s.cfg.Direct.Dir != nil {
		return s.cfg.Direct.Dir(id)
	}
	return filepath.Join(s.cfg.Out, id)
}

// storeDirect writes a fetched batch through the runs' reorder buffers. It returns the
// runs it touched. A run that cannot be written fails; the sink goes on.
func (s *Service) storeDirect(ctx context.Context, msgs []bus.Message) map[string]bool {
	start := time.Now()
	in := s.tel.Instruments
	touched := map[string]bool{}
	var read int64
	for _, m := range msgs {
		read += decisions(m)
	}
	in.RecordsIn(ctx, read, 0)
	for _, m := range msgs {
		id := control.HeaderString(m, control.HeaderRun)
		r := s.direct[id]
		if r == nil {
			r = &directRun{id: id, dir: s.directDir(id)}
			s.direct[id] = r
		}
		if r.finished {
			continue
		}
		touched[id] = true
		if err := s.applyDirect(ctx, r, m); err != nil {
			s.failDirect(ctx, r, err)
		}
	}
	in.RecordsOut(ctx, read, 0)
	in.BatchTook(ctx, time.Since(start).Seconds())
	return touched
}

// applyDirect writes what m brings to the run's output.
func (s *Service) applyDirect(ctx context.Context, r *directRun, m bus.Message) error {
	attempt, err := strconv.Atoi(control.HeaderString(m, control.HeaderAttempt))
	if err != nil || attempt < 1 {
		return fmt.Errorf("message at %s[%d]@%d: missing or invalid %s header", m.Topic, m.Partition, m.Offset, control.HeaderAttempt)
	}
	if attempt < r.attempt {
		return nil // an abandoned attempt's leftovers
	}
	if attempt > r.attempt {
		if err := s.startAttempt(ctx, r, attempt); err != nil {
			return err
		}
	}
	switch typ := control.HeaderString(m, control.HeaderType); typ {
	case control.TypeResults:
		v, _ := m.Header(control.HeaderSeq)
		seqs, err := control.DecodeSeqs(v)
		if err != nil {
			return fmt.Errorf("results message: %w", err)
		}
		results, err := resultsOf(&s.dec, m)
		if err != nil {
			return err
		}
		if len(results) != len(seqs) {
			return fmt.Errorf("results message holds %d results for %d sequence numbers", len(results), len(seqs))
		}
		for i, q := range seqs {
			if q >= r.next {
				r.early[q] = &results[i] // a redelivered duplicate replaces an identical result
			}
		}
		for {
			res, ok := r.early[r.next]
			if !ok {
				return nil
			}
			delete(r.early, r.next)
			r.next++
			if err := r.out.Subject(res); err != nil {
				return err
			}
		}
	case control.TypeRejects:
		sc := bufio.NewScanner(bytes.NewReader(m.Value))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l control.RejectLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return fmt.Errorf("rejects message: %w", err)
			}
			if l.Seq >= r.nextReject {
				r.earlyReject[l.Seq] = l.Reject
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("rejects message: %w", err)
		}
		for {
			rej, ok := r.earlyReject[r.nextReject]
			if !ok {
				return nil
			}
			delete(r.earlyReject, r.nextReject)
			r.nextReject++
			if err := r.out.Reject(rej); err != nil {
				return err
			}
		}
	case control.TypeEnd:
		var e control.EndMarker
		if err := json.Unmarshal(m.Value, &e); err != nil {
			return fmt.Errorf("end marker: %w", err)
		}
		r.ends[m.Partition] = e
		return nil
	default:
		return fmt.Errorf("unknown message type %q", typ)
	}
}

// resultsOf returns a results message's decisions: as published in process
// (Message.Local), or decoded with dec.
func resultsOf(dec *wire.Decoder, m bus.Message) ([]eligibility.Result, error) {
	if m.Local != nil {
		res, ok := m.Local.([]eligibility.Result)
		if !ok {
			return nil, fmt.Errorf("results message carries %T", m.Local)
		}
		return res, nil
	}
	return dec.DecodeResults(m.Value)
}

// startAttempt abandons what the run wrote so far (a new attempt of ingest supersedes
// it) and opens the new attempt's output in a fresh staging folder.
func (s *Service) startAttempt(ctx context.Context, r *directRun, attempt int) error {
	abort(r.out)
	*r = directRun{id: r.id, dir: r.dir, attempt: attempt, early: map[int64]*eligibility.Result{},
		earlyReject: map[int64]doj.Reject{}, ends: map[int]control.EndMarker{}}
	wait := s.cfg.Direct.StartWait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	start, err := s.reg.WaitStart(wctx, r.id)
	cancel()
	if err != nil {
		return err
	}
	stage := filepath.Join(r.dir, report.StagingDir)
	if err := os.RemoveAll(stage); err != nil {
		return fmt.Errorf("clear staging folder: %w", err)
	}
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if s.cfg.Direct.Output != nil {
		r.out, err = s.cfg.Direct.Output(r.id, stage, start)
		return err
	}
	eng, err := start.Engine()
	if err != nil {
		return err
	}
	info, err := start.Info(r.id, eng.Policies)
	if err != nil {
		return err
	}
	r.out, err = report.NewNative(stage, info)
	return err
}

func abort(out report.Output) {
	if a, ok := out.(interface{ Abort() error }); ok {
		_ = a.Abort()
	}
}

// checkDirect publishes the run once its final attempt is written: its run-end record
// is known, every partition's end marker arrived and every subject and reject of the
// attempt has been written.
func (s *Service) checkDirect(ctx context.Context, id string) {
	r := s.direct[id]
	if r == nil || r.finished || r.out == nil {
		return
	}
	st, ok := s.reg.Run(id)
	if !ok || st.End == nil || st.End.Attempt != r.attempt {
		return
	}
	for p := range st.End.PartitionSubjects {
		if _, ok := r.ends[p]; !ok {
			return
		}
	}
	if r.next != st.End.Subjects || r.nextReject != st.End.Rejects {
		return
	}
	r.finished = true
	out := r.out
	r.out = nil
	if err := out.Close(ctx, report.RunStats{Files: st.End.Files, Finished: time.Now()}); err != nil {
		abort(out)
		s.failDirect(ctx, r, err)
		return
	}
	if err := report.Publish(r.dir); err != nil {
		s.failDirect(ctx, r, err)
		return
	}
	s.log.InfoContext(ctx, "run complete", "run", id, "subjects", r.next)
	rec := control.Record{Kind: control.KindRunComplete, RunID: id, Complete: &control.RunComplete{
		Dir: r.dir, Subjects: r.next, Rejects: r.nextReject}}
	if err := control.Publish(ctx, s.b.Publisher, s.cfg.Topics.ControlTopic(), rec); err != nil {
		s.log.Error("run-complete record not published", "run", id, "err", err)
	}
	if s.cfg.Direct.Done != nil {
		s.cfg.Direct.Done(id, nil)
	}
}

// failDirect gives up a run: its staged outputs are removed and the failure reported.
func (s *Service) failDirect(ctx context.Context, r *directRun, err error) {
	r.finished = true
	abort(r.out)
	r.out, r.early, r.earlyReject = nil, nil, nil
	if rerr := os.RemoveAll(filepath.Join(r.dir, report.StagingDir)); rerr != nil {
		err = errors.Join(err, rerr)
	}
	s.log.ErrorContext(ctx, "run failed", "run", r.id, "err", err)
	rec := control.Record{Kind: control.KindRunFailed, RunID: r.id, Failed: &control.RunFailed{Service: "sink", Reason: err.Error()}}
	if perr := control.Publish(ctx, s.b.Publisher, s.cfg.Topics.ControlTopic(), rec); perr != nil {
		s.log.Error("run-failed record not published", "run", r.id, "err", perr)
	}
	if s.cfg.Direct.Done != nil {
		s.cfg.Direct.Done(r.id, err)
	}
}

// abortDirect abandons the runs not finished when the sink stops.
func (s *Service) abortDirect() {
	for _, r := range s.direct {
		if !r.finished {
			abort(r.out)
			os.RemoveAll(filepath.Join(r.dir, report.StagingDir))
		}
	}
}
