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
	"slices"
	"strconv"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// finalise stores a complete run: its native outputs when the sink writes files
// (writeNative), its completion in ClickHouse when it has a Warehouse (the aggregates
// rebuilt and the run marked complete there); then it marks the run complete in its
// state folder, removes the spool and publishes a run-complete record. A sink stopped
// or killed before the marker finalises the run again when restarted; both steps may
// be repeated.
func (s *Service) finalise(ctx context.Context, r *run, st control.RunState) error {
	start := time.Now()
	done := control.RunComplete{Subjects: st.End.Subjects, Rejects: st.End.Rejects}
	if s.cfg.Out != "" {
		n, err := s.writeNative(ctx, r, st)
		if err != nil {
			return err
		}
		done = n
	}
	if s.wh != nil {
		evaluated, err := s.completeWarehouse(ctx, r.id, st)
		if err != nil {
			return err
		}
		if s.cfg.Out == "" {
			done.Evaluated = evaluated
		}
	}
	if err := writeMarker(filepath.Join(r.dir, completeMarker)); err != nil {
		return err
	}
	r.closeFiles()
	if err := os.RemoveAll(filepath.Join(r.dir, spoolDir)); err != nil {
		s.log.Warn("spool not removed", "run", r.id, "err", err)
	}
	delete(s.runs, r.id)
	s.completed[r.id] = true
	s.tel.Instruments.RunComplete.Record(ctx, 1, metric.WithAttributes(telemetry.AttrRunID.String(r.id)))
	s.log.InfoContext(ctx, "run complete", "run", r.id, "subjects", done.Subjects, "convictions", done.Evaluated, "write", time.Since(start))
	rec := control.Record{Kind: control.KindRunComplete, RunID: r.id, Complete: &done}
	if err := control.Publish(ctx, s.b.Publisher, s.cfg.Topics.ControlTopic(), rec); err != nil {
		// The outputs are written; status will not see the completion, but nothing is lost.
		s.log.Error("run-complete record not published", "run", r.id, "err", err)
	}
	return nil
}

// writeNative writes a complete run's native outputs into OUT/<run-id>/: every stored
// result of the final attempt, deduplicated by sequence number (redeliveries are
// identical, by determinism) and in sequence order, which is the order `clearway run`
// writes subjects in; then the rejects likewise. The outputs are staged and moved into
// the run's folder together.
func (s *Service) writeNative(ctx context.Context, r *run, st control.RunState) (control.RunComplete, error) {
	attempt := st.End.Attempt
	results := map[int64]eligibility.Result{}
	rejects := map[int64]doj.Reject{}
	var dec wire.Decoder
	for p := range st.End.PartitionSubjects {
		path := spoolPath(r.dir, p)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue // a partition that got no subjects may have no spool yet
		}
		_, err := readSpool(path, p, func(m bus.Message) error {
			if a, _ := strconv.Atoi(control.HeaderString(m, control.HeaderAttempt)); a != attempt {
				return nil
			}
			switch control.HeaderString(m, control.HeaderType) {
			case control.TypeResults:
				return addResults(&dec, m, results)
			case control.TypeRejects:
				return addRejects(m, rejects)
			}
			return nil
		})
		if err != nil {
			return control.RunComplete{}, err
		}
	}
	if int64(len(results)) != st.End.Subjects {
		return control.RunComplete{}, fmt.Errorf("stored %d subjects, the run announced %d", len(results), st.End.Subjects)
	}
	eng, err := st.Start.Engine()
	if err != nil {
		return control.RunComplete{}, err
	}
	info, err := st.Start.Info(r.id, eng.Policies)
	if err != nil {
		return control.RunComplete{}, err
	}
	dir := filepath.Join(s.cfg.Out, r.id)
	stage := filepath.Join(dir, report.StagingDir)
	if err := os.RemoveAll(stage); err != nil {
		return control.RunComplete{}, fmt.Errorf("clear staging folder: %w", err)
	}
	out, err := report.NewNative(stage, info)
	if err != nil {
		return control.RunComplete{}, err
	}
	var evaluated int64
	for _, q := range sortedKeys(results) {
		res := results[q]
		evaluated += int64(len(res.Evaluated))
		if err := out.Subject(&res); err != nil {
			return control.RunComplete{}, err
		}
	}
	for _, q := range sortedKeys(rejects) {
		if err := out.Reject(rejects[q]); err != nil {
			return control.RunComplete{}, err
		}
	}
	if err := out.Close(ctx, report.RunStats{Files: st.End.Files, Finished: time.Now().UTC()}); err != nil {
		return control.RunComplete{}, err
	}
	if err := report.Publish(dir); err != nil {
		return control.RunComplete{}, err
	}
	return control.RunComplete{Dir: dir, Subjects: int64(len(results)), Evaluated: evaluated, Rejects: int64(len(rejects))}, nil
}

func addResults(dec *wire.Decoder, m bus.Message, into map[int64]eligibility.Result) error {
	v, _ := m.Header(control.HeaderSeq)
	seqs, err := control.DecodeSeqs(v)
	if err != nil {
		return fmt.Errorf("spooled results at offset %d: %w", m.Offset, err)
	}
	res, err := dec.DecodeResults(m.Value)
	if err != nil {
		return fmt.Errorf("spooled results at offset %d: %w", m.Offset, err)
	}
	if len(res) != len(seqs) {
		return fmt.Errorf("spooled results at offset %d: %d results for %d sequence numbers", m.Offset, len(res), len(seqs))
	}
	for i, q := range seqs {
		if _, ok := into[q]; !ok {
			into[q] = res[i]
		}
	}
	return nil
}

func addRejects(m bus.Message, into map[int64]doj.Reject) error {
	sc := bufio.NewScanner(bytes.NewReader(m.Value))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l control.RejectLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("spooled rejects at offset %d: %w", m.Offset, err)
		}
		if _, ok := into[l.Seq]; !ok {
			into[l.Seq] = l.Reject
		}
	}
	return sc.Err()
}

func sortedKeys[V any](m map[int64]V) []int64 {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func writeMarker(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return f.Close()
}
