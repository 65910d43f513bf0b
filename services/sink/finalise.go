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
//
// Memory stays bounded whatever the run's size: a first pass over the spools indexes,
// for every sequence number, the spooled message that first holds it (16 bytes a
// subject); the second walks the sequence numbers in order and decodes each message
// when its first subject is due, keeping it only until its last one is written. In
// order, that is about one message per partition at a time; messages spooled out of
// order (a stale evaluator's, after a rebalance) are held longer, never lost.
func (s *Service) writeNative(ctx context.Context, r *run, st control.RunState) (control.RunComplete, error) {
	attempt := st.End.Attempt
	ix, err := indexSpools(r.dir, st.End.PartitionSubjects, attempt, st.End.Subjects)
	if err != nil {
		return control.RunComplete{}, err
	}
	defer ix.close()
	if ix.stored != st.End.Subjects {
		return control.RunComplete{}, fmt.Errorf("stored %d subjects, the run announced %d", ix.stored, st.End.Subjects)
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
	for q := range st.End.Subjects {
		res, err := ix.result(q)
		if err != nil {
			return control.RunComplete{}, err
		}
		evaluated += int64(len(res.Evaluated))
		if err := out.Subject(res); err != nil {
			return control.RunComplete{}, err
		}
	}
	for _, q := range sortedKeys(ix.rejects) {
		if err := out.Reject(ix.rejects[q]); err != nil {
			return control.RunComplete{}, err
		}
	}
	if err := out.Close(ctx, report.RunStats{Files: st.End.Files, Finished: time.Now().UTC()}); err != nil {
		return control.RunComplete{}, err
	}
	if err := report.Publish(dir); err != nil {
		return control.RunComplete{}, err
	}
	return control.RunComplete{Dir: dir, Subjects: ix.stored, Evaluated: evaluated, Rejects: int64(len(ix.rejects))}, nil
}

// frameRef locates a spooled message: its partition's spool file and the frame's
// position in it.
type frameRef struct {
	partition int32
	pos       int64
}

// spoolIndex is the first pass of writeNative over a run's spools.
type spoolIndex struct {
	files   map[int32]*os.File
	first   []frameRef // by sequence number; partition -1 where none is stored
	owned   map[frameRef]int
	stored  int64
	rejects map[int64]doj.Reject // quarantined rows are few: kept whole

	dec     wire.Decoder
	decoded map[frameRef]*decodedFrame
}

// decodedFrame is a spooled results message decoded for the second pass.
type decodedFrame struct {
	results []eligibility.Result
	at      map[int64]int // sequence number → index in results
	left    int           // subjects this frame still has to give
}

// indexSpools reads the spools of the partitions in parts and indexes the results of
// attempt, for sequence numbers 0 … subjects-1; rejects are collected.
func indexSpools(dir string, parts []int64, attempt int, subjects int64) (*spoolIndex, error) {
	ix := &spoolIndex{
		files:   map[int32]*os.File{},
		first:   make([]frameRef, subjects),
		owned:   map[frameRef]int{},
		rejects: map[int64]doj.Reject{},
		decoded: map[frameRef]*decodedFrame{},
	}
	for i := range ix.first {
		ix.first[i].partition = -1
	}
	for p := range parts {
		path := spoolPath(dir, p)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			continue // a partition that got no subjects may have no spool yet
		}
		_, err := scanSpool(path, p, func(pos int64, m bus.Message) error {
			if a, _ := strconv.Atoi(control.HeaderString(m, control.HeaderAttempt)); a != attempt {
				return nil
			}
			switch control.HeaderString(m, control.HeaderType) {
			case control.TypeResults:
				v, _ := m.Header(control.HeaderSeq)
				seqs, err := control.DecodeSeqs(v)
				if err != nil {
					return fmt.Errorf("spooled results at offset %d: %w", m.Offset, err)
				}
				ref := frameRef{partition: int32(p), pos: pos}
				for _, q := range seqs {
					if q < 0 || q >= subjects {
						return fmt.Errorf("spooled results at offset %d: sequence number %d outside the run's %d subjects", m.Offset, q, subjects)
					}
					if ix.first[q].partition < 0 {
						ix.first[q] = ref
						ix.owned[ref]++
						ix.stored++
					}
				}
			case control.TypeRejects:
				return addRejects(m, ix.rejects)
			}
			return nil
		})
		if err != nil {
			ix.close()
			return nil, err
		}
		f, err := os.Open(path)
		if err != nil {
			ix.close()
			return nil, fmt.Errorf("open spool: %w", err)
		}
		ix.files[int32(p)] = f
	}
	return ix, nil
}

// result returns the stored result of sequence number q, decoding its message when
// needed and dropping the message once it has given all its subjects.
func (ix *spoolIndex) result(q int64) (*eligibility.Result, error) {
	ref := ix.first[q]
	if ref.partition < 0 {
		return nil, fmt.Errorf("no stored result for subject %d", q)
	}
	d, ok := ix.decoded[ref]
	if !ok {
		m, err := readFrameAt(ix.files[ref.partition], ref.pos, int(ref.partition))
		if err != nil {
			return nil, err
		}
		v, _ := m.Header(control.HeaderSeq)
		seqs, err := control.DecodeSeqs(v)
		if err != nil {
			return nil, fmt.Errorf("spooled results at offset %d: %w", m.Offset, err)
		}
		res, err := ix.dec.DecodeResults(m.Value)
		if err != nil {
			return nil, fmt.Errorf("spooled results at offset %d: %w", m.Offset, err)
		}
		if len(res) != len(seqs) {
			return nil, fmt.Errorf("spooled results at offset %d: %d results for %d sequence numbers", m.Offset, len(res), len(seqs))
		}
		d = &decodedFrame{results: res, at: make(map[int64]int, len(seqs)), left: ix.owned[ref]}
		for i, s := range seqs {
			d.at[s] = i
		}
		ix.decoded[ref] = d
	}
	res := &d.results[d.at[q]]
	if d.left--; d.left == 0 {
		delete(ix.decoded, ref)
	}
	return res, nil
}

func (ix *spoolIndex) close() {
	for _, f := range ix.files {
		f.Close()
	}
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
