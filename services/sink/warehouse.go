package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// The sink's ClickHouse side (`clearway sink --clickhouse`):
//
//   - Every fetched batch's results and rejects are decoded and fed to a
//     warehouse.Writer per (run, attempt), created from the run's run-start record;
//     the writers are flushed (ClickHouse acknowledged every row) before the batch is
//     spooled and its offsets committed. While ClickHouse fails, the whole batch is
//     retried with fresh writers and growing waits, the sink reports itself unready,
//     and nothing is spooled or committed.
//   - Rows carry their attempt number as version, the same in every sink process:
//     redelivered rows, and the rows a killed sink inserted before its restart, collapse
//     with ReplacingMergeTree on (run, subject, conviction), people on (run, person),
//     rejects on (run, file, line); a later attempt's rows win over an abandoned one's.
//   - When the run is complete (the sink's usual end-marker and sequence-number
//     accounting), rows of abandoned attempts are deleted and the final attempt's
//     writer is closed: aggregates rebuilt, counts read back from the deduplicated rows,
//     the run recorded complete. A restarted sink whose spool says the run is complete
//     does this again before writing the completion marker, so it happens at least
//     once and repeating it changes nothing.

// Warehouse connects the sink to ClickHouse.
type Warehouse struct {
	Conn         driver.Conn
	Databases    warehouse.Databases
	PseudonymKey []byte
	// BatchRows bounds the rows of one insert (0: warehouse.DefaultBatchRows); every
	// fetched batch is flushed anyway.
	BatchRows int
	// Retry is each insert's own retry of transient errors (zero: the writer's default).
	Retry warehouse.Retry
	// MinBackoff and MaxBackoff bound the waits between the sink's retries of a whole
	// batch or of a run's completion while ClickHouse fails (defaults 1 s and 30 s). The
	// sink retries until ClickHouse answers or it is stopped.
	MinBackoff, MaxBackoff time.Duration
	// StartWait bounds the wait for a run's run-start record when results arrive first
	// (default 2 min; then the batch is retried).
	StartWait time.Duration
}

func (w *Warehouse) validate() error {
	if w == nil {
		return nil
	}
	if w.Conn == nil {
		return errors.New("warehouse: no ClickHouse connection")
	}
	if err := w.Databases.Validate(); err != nil {
		return err
	}
	if len(w.PseudonymKey) < warehouse.MinPseudonymKeyLen {
		return fmt.Errorf("warehouse: pseudonym key is %d bytes; want at least %d", len(w.PseudonymKey), warehouse.MinPseudonymKeyLen)
	}
	return nil
}

// errStopping is returned when the sink is asked to stop while it waits for ClickHouse:
// the batch in hand is neither spooled nor committed (it is redelivered), and a run
// being completed is finished by the next sink.
var errStopping = errors.New("sink stopped while waiting for ClickHouse")

// chSink is the ClickHouse state of a sink: the open writers.
type chSink struct {
	cfg     Warehouse
	writers map[string]map[int]*warehouse.Writer // run → attempt → writer
	dec     wire.Decoder
}

func newCHSink(cfg Warehouse) *chSink {
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = max(30*time.Second, cfg.MinBackoff)
	}
	if cfg.StartWait <= 0 {
		cfg.StartWait = 2 * time.Minute
	}
	return &chSink{cfg: cfg, writers: map[string]map[int]*warehouse.Writer{}}
}

// chBatch is a fetched batch's rows for ClickHouse, decoded.
type chBatch struct{ items []chItem }

type chItem struct {
	run     string
	attempt int
	results []eligibility.Result
	rejects []doj.Reject
}

// stage decodes the rows of a results or rejects message into b. It returns why m
// cannot be stored (code and reason, as apply does), or "", "". Every attempt's rows
// are staged, even once a later attempt is known: skipping would save inserts only
// when the sink lags behind ingest, and completion deletes abandoned attempts' rows
// anyway. Without a Warehouse it does nothing.
func (c *chSink) stage(b *chBatch, run string, m bus.Message) (code, reason string) {
	if c == nil {
		return "", ""
	}
	typ := control.HeaderString(m, control.HeaderType)
	if typ != control.TypeResults && typ != control.TypeRejects {
		return "", ""
	}
	attempt, err := strconv.Atoi(control.HeaderString(m, control.HeaderAttempt))
	if err != nil || attempt < 1 {
		return "bad_header", "missing or invalid " + control.HeaderAttempt + " header"
	}
	it := chItem{run: run, attempt: attempt}
	switch typ {
	case control.TypeResults:
		v, _ := m.Header(control.HeaderSeq)
		seqs, err := control.DecodeSeqs(v)
		if err != nil || len(seqs) == 0 {
			return "decode_error", "results message without a valid sequence list"
		}
		res, err := resultsOf(&c.dec, m)
		if err != nil {
			return "decode_error", "results: " + err.Error()
		}
		if len(res) != len(seqs) {
			return "decode_error", fmt.Sprintf("%d results for %d sequence numbers", len(res), len(seqs))
		}
		it.results = res
	case control.TypeRejects:
		sc := bufio.NewScanner(bytes.NewReader(m.Value))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l control.RejectLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				return "decode_error", "rejects: " + err.Error()
			}
			it.rejects = append(it.rejects, l.Reject)
		}
		if err := sc.Err(); err != nil {
			return "decode_error", "rejects: " + err.Error()
		}
	}
	b.items = append(b.items, it)
	return "", ""
}

// spooled is m as the spool keeps it: without a Warehouse, whole (the native outputs
// are written from the spool); with one and no --out, results and rejects without
// their bodies, which only the inserts needed — completion needs the headers alone.
func (s *Service) spooled(m bus.Message) bus.Message {
	if s.wh == nil || s.cfg.Out != "" {
		return m
	}
	switch control.HeaderString(m, control.HeaderType) {
	case control.TypeResults, control.TypeRejects:
		m.Value = nil
	}
	return m
}

// insertWarehouse inserts b and waits until ClickHouse acknowledged it.
func (s *Service) insertWarehouse(ctx context.Context, b *chBatch) error {
	if s.wh == nil || len(b.items) == 0 {
		return nil
	}
	return s.retryWarehouse(ctx, "insert decisions", func() error { return s.wh.insert(ctx, s, b) })
}

// insert feeds b to the writers of its runs and flushes them. On any error the
// writers involved are dropped (one may have lost a batch in its failed insert) and
// the caller retries the whole of b with new ones.
func (c *chSink) insert(ctx context.Context, s *Service, b *chBatch) (err error) {
	var used []*warehouse.Writer
	runs := map[string]bool{}
	defer func() {
		if err != nil {
			for id := range runs {
				delete(c.writers, id)
			}
		}
	}()
	for i := range b.items {
		it := &b.items[i]
		runs[it.run] = true
		w, err := c.writer(ctx, s, it.run, it.attempt)
		if err != nil {
			return err
		}
		used = append(used, w)
		for j := range it.results {
			if err := w.Subject(&it.results[j]); err != nil {
				return err
			}
		}
		for _, rj := range it.rejects {
			if err := w.Reject(rj); err != nil {
				return err
			}
		}
	}
	var errs []error
	seen := map[*warehouse.Writer]bool{}
	for _, w := range used {
		if !seen[w] {
			seen[w] = true
			errs = append(errs, w.Flush())
		}
	}
	return errors.Join(errs...)
}

// writer returns the open writer of (run, attempt) or starts one from the run's
// run-start record, waiting for the record if the results came first.
func (c *chSink) writer(ctx context.Context, s *Service, id string, attempt int) (*warehouse.Writer, error) {
	if w := c.writers[id][attempt]; w != nil {
		return w, nil
	}
	wctx, cancel := context.WithTimeout(s.stop, c.cfg.StartWait)
	start, err := s.reg.WaitStart(wctx, id)
	cancel()
	if err != nil {
		if s.stop.Err() != nil {
			return nil, errStopping
		}
		return nil, err
	}
	eng, err := start.Engine()
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	info, err := start.Info(id, eng.Policies)
	if err != nil {
		return nil, err
	}
	in := s.tel.Instruments
	w, err := warehouse.NewWriter(ctx, c.cfg.Conn, warehouse.WriterConfig{
		Databases: c.cfg.Databases, PseudonymKey: c.cfg.PseudonymKey, Info: info,
		BatchRows: c.cfg.BatchRows, Retry: c.cfg.Retry,
		Version: uint64(attempt), CountStored: true, CompletedByCaller: true,
		Observe: func(i warehouse.Insert) {
			in.ClickHouseInsert(context.Background(), i.Table, int64(i.Rows), i.Duration.Seconds(), i.Err == nil)
		},
	})
	if err != nil {
		return nil, err
	}
	if c.writers[id] == nil {
		c.writers[id] = map[int]*warehouse.Writer{}
	}
	c.writers[id][attempt] = w
	return w, nil
}

// completeWarehouse completes a run in ClickHouse: rows of abandoned attempts deleted,
// then the final attempt's writer closed (aggregates rebuilt from the deduplicated
// rows, counts read back, run recorded complete). It returns the stored convictions.
func (s *Service) completeWarehouse(ctx context.Context, id string, st control.RunState) (int64, error) {
	c := s.wh
	var convictions int64
	err := s.retryWarehouse(ctx, "complete run "+id, func() error {
		final := st.End.Attempt
		if final > 1 {
			if err := warehouse.DeleteOlderVersions(ctx, c.cfg.Conn, c.cfg.Databases, id, uint64(final)); err != nil {
				return err
			}
		}
		w, err := c.writer(ctx, s, id, final)
		delete(c.writers, id) // a writer closes once, whether or not Close succeeds
		if err != nil {
			return err
		}
		if err := w.Close(ctx, report.RunStats{Files: st.End.Files, Finished: time.Now().UTC()}); err != nil {
			return err
		}
		rec, err := warehouse.LoadRun(ctx, c.cfg.Conn, c.cfg.Databases, id)
		if err != nil {
			return err
		}
		convictions = int64(rec.Convictions)
		return nil
	})
	return convictions, err
}

// retryWarehouse runs fn until it succeeds, waiting longer after each failure (up to
// MaxBackoff), with the sink unready from the first failure until success. It returns
// errStopping when the sink is asked to stop first.
func (s *Service) retryWarehouse(ctx context.Context, what string, fn func() error) error {
	wait := s.wh.cfg.MinBackoff
	for failures := 0; ; failures++ {
		err := fn()
		if err == nil {
			if failures > 0 {
				s.log.InfoContext(ctx, "ClickHouse answers again", "op", what, "failures", failures)
				s.health.SetReady(true)
			}
			return nil
		}
		if errors.Is(err, errStopping) || s.stop.Err() != nil {
			return errStopping
		}
		s.health.SetReady(false)
		s.log.WarnContext(ctx, "ClickHouse failed; retrying, nothing committed meanwhile", "op", what, "err", err, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-s.stop.Done():
			t.Stop()
			return errStopping
		case <-t.C:
		}
		wait = min(2*wait, s.wh.cfg.MaxBackoff)
	}
}
