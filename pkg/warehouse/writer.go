package warehouse

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
)

// Batch size bounds. Fewer rows per insert make too many small parts for ClickHouse
// to merge; more hold too much memory in the client for little gain.
const (
	MinBatchRows     = 10_000
	MaxBatchRows     = 100_000
	DefaultBatchRows = 50_000
	// DefaultFlushInterval bounds how long a decision waits in the client when results
	// arrive slowly (the sink between deliveries).
	DefaultFlushInterval = 5 * time.Second
)

// MinPseudonymKeyLen is the shortest deployment secret accepted: HMAC-SHA256 keys
// shorter than 128 bits make the pseudonyms guessable from the (small) space of
// SUBJECT_IDs.
const MinPseudonymKeyLen = 16

// WriterConfig configures a Writer.
type WriterConfig struct {
	Databases Databases
	// PseudonymKey is the deployment secret of the analytics pseudonyms; it never
	// leaves the client.
	PseudonymKey []byte
	// Info is the run being written (as given to the pipeline's outputs).
	Info report.RunInfo
	// BatchRows is the number of decision rows per insert, within [MinBatchRows,
	// MaxBatchRows] (0: DefaultBatchRows).
	BatchRows int
	// FlushInterval sends a smaller batch once its oldest row is this old (0: default).
	FlushInterval time.Duration
	Retry         Retry
	// Version is the version every data row of this writer carries (0: the writer's
	// start time in nanoseconds, so that a later writer of the run wins). The sink
	// passes the run's attempt number, the same in every sink process: a restarted
	// sink's rows and the earlier ones collapse, and a later attempt's rows win
	// (Abort deletes every row of the version, whoever wrote it).
	Version uint64
	// CountStored makes Close record the run's subject and conviction counts (and
	// earliest conviction) as read back from the stored, deduplicated rows instead of
	// what this writer was given: for writers that see rows twice or only some of the
	// run's rows (the sink, after redeliveries or a restart). A writer without it must
	// be given each of the run's subjects exactly once (as the embedded pipeline
	// does): its counts, and the aggregates it may write from its own tally, rely on it.
	CountStored bool
	// CompletedByCaller makes a failed Close leave the run recorded "running" instead of
	// "failed": for callers that complete the run again until it succeeds (the sink
	// retries a completion while ClickHouse fails), where "failed" would be untrue and
	// would race with the retry's rows of the same version.
	CompletedByCaller bool
	// Observe, when set, is called after every insert statement (each try), from the
	// goroutine that made it: metrics hooks (pkg/telemetry) go here.
	Observe func(Insert)
}

// Writer stores one run's results in ClickHouse. It implements report.Output: Subject
// and Reject are called from one goroutine; a full batch is sent by a background
// goroutine while the next one fills, so at most two batches are held at once.
//
// Every row carries the writer's version (WriterConfig.Version, by default its start
// time in nanoseconds): when rows of the same key meet, the higher version wins, and
// Abort can remove exactly the rows of this writer's version.
type Writer struct {
	ctx     context.Context
	conn    driver.Conn
	cfg     WriterConfig
	version uint64
	mac     hash.Hash
	idbuf   []byte                 // SUBJECT_ID bytes for the HMAC, reused
	dates   map[record.Date]string // formatted dates, so that rows share one string each

	computeAt record.Date
	files     []string // input paths by file index

	cur, spare *batch
	inflight   chan sent // result of the batch being sent; nil when none
	firstRow   time.Time // when cur received its first row

	// groups tallies the run's conviction_groups as rows are added (see tally).
	groups     map[groupKey]*groupCount
	subjectSeq uint64 // numbers the subjects tallied, from 1

	// summary carries the run's provenance and timing for the runs table; the counts
	// it needs are kept here rather than by Summary.Add, whose breakdowns the runs
	// table does not store (and which cost more than building the rows).
	summary            *report.Summary
	subjects, convicts int64
	earliest           record.Date // earliest valid evaluated conviction date
	closed             bool
}

// NewWriter starts writing a run: it records the run as "running" in the runs table.
// ctx bounds every insert the writer makes, including those of Close.
func NewWriter(ctx context.Context, conn driver.Conn, cfg WriterConfig) (*Writer, error) {
	if err := cfg.Databases.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.PseudonymKey) < MinPseudonymKeyLen {
		return nil, fmt.Errorf("warehouse: pseudonym key is %d bytes; want at least %d", len(cfg.PseudonymKey), MinPseudonymKeyLen)
	}
	if cfg.Info.RunID == "" {
		return nil, errors.New("warehouse: the run has no run id")
	}
	switch {
	case cfg.BatchRows == 0:
		cfg.BatchRows = DefaultBatchRows
	case cfg.BatchRows < MinBatchRows || cfg.BatchRows > MaxBatchRows:
		return nil, fmt.Errorf("warehouse: batch of %d rows: want %d to %d", cfg.BatchRows, MinBatchRows, MaxBatchRows)
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = DefaultFlushInterval
	}
	w := &Writer{
		ctx: ctx, conn: conn, cfg: cfg,
		version:   cfg.Version,
		mac:       hmac.New(sha256.New, cfg.PseudonymKey),
		dates:     map[record.Date]string{},
		groups:    map[groupKey]*groupCount{},
		earliest:  record.NoDate,
		computeAt: cfg.Info.ComputeAt,
		cur:       newBatch(cfg.BatchRows),
		spare:     newBatch(cfg.BatchRows),
		summary:   report.NewSummary(cfg.Info),
	}
	if w.version == 0 {
		w.version = uint64(time.Now().UnixNano())
	}
	w.files = make([]string, len(cfg.Info.Files))
	for _, f := range cfg.Info.Files {
		if int(f.Index) < len(w.files) && f.Index >= 0 {
			w.files[f.Index] = f.Path
		}
	}
	if err := w.writeRun(runRunning, report.RunStats{}); err != nil {
		return nil, err
	}
	return w, nil
}

// Pseudonym returns hex(HMAC-SHA256(key, subjectID)), the analytics pseudonym.
func Pseudonym(key []byte, subjectID string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(subjectID))
	return hex.EncodeToString(m.Sum(nil))
}

// pseudonym writes HMAC-SHA256(key, id) to dst: the bytes the analytics tables store
// (FixedString(32)), half the size of the hex and compared with one memcmp.
func (w *Writer) pseudonym(dst *[sha256.Size]byte, id string) {
	w.mac.Reset()
	w.idbuf = append(w.idbuf[:0], id...)
	w.mac.Write(w.idbuf)
	w.mac.Sum(dst[:0])
}

// maxCachedDates bounds the date cache; a century of distinct days is ~36,500.
const maxCachedDates = 1 << 16

// date formats d as YYYY-MM-DD ("" when invalid) once per distinct date, so that a
// batch's dates of birth and conviction allocate nothing per row.
func (w *Writer) date(d record.Date) string {
	if s, ok := w.dates[d]; ok {
		return s
	}
	if len(w.dates) >= maxCachedDates {
		clear(w.dates)
	}
	s := d.String()
	w.dates[d] = s
	return s
}

// Subject buffers one subject's decisions and outcome; a full batch is sent.
func (w *Writer) Subject(r *eligibility.Result) error {
	if w.closed {
		return errors.New("warehouse: writer used after Close")
	}
	w.subjects++
	w.convicts += int64(len(r.Evaluated))
	if w.cur.empty() {
		w.firstRow = time.Now()
	}
	w.cur.addSubject(w, r)
	return w.maybeFlush()
}

// Reject buffers one quarantined row for the restricted database.
func (w *Writer) Reject(r doj.Reject) error {
	if w.closed {
		return errors.New("warehouse: writer used after Close")
	}
	if w.cur.empty() {
		w.firstRow = time.Now()
	}
	w.cur.addReject(w, r)
	return w.maybeFlush()
}

func (w *Writer) maybeFlush() error {
	if w.cur.size() >= w.cfg.BatchRows || time.Since(w.firstRow) >= w.cfg.FlushInterval {
		return w.send()
	}
	return nil
}

// send hands the current batch to a background insert after the previous one
// finished, so that one batch fills while the other travels.
func (w *Writer) send() error {
	if err := w.wait(); err != nil {
		return err
	}
	if w.cur.empty() {
		return nil
	}
	b := w.cur
	w.cur, w.spare = w.spare, nil
	done := make(chan sent, 1)
	w.inflight = done
	go func() { done <- sent{b, w.insert(b)} }()
	return nil
}

// sent is a batch back from its insert, emptied, with the insert's error.
type sent struct {
	b   *batch
	err error
}

// wait waits for the batch in flight and makes it the spare: the two batches'
// buffers are reused for the whole run instead of reallocated per insert.
func (w *Writer) wait() error {
	if w.inflight == nil {
		return nil
	}
	s := <-w.inflight
	w.inflight = nil
	w.spare = s.b
	return s.err
}

// Flush sends everything buffered and waits until ClickHouse acknowledged it. The sink
// calls it before committing its input offsets.
func (w *Writer) Flush() error {
	if err := w.send(); err != nil {
		return err
	}
	return w.wait()
}

// Close flushes the last rows, writes the run's conviction_groups (from the writer's
// own tally when the stored decisions are exactly the rows it sent, else rebuilt from
// the stored decisions as RebuildAggregates does) and records the run as complete with
// its counts and timings. A failure records it as failed.
func (w *Writer) Close(_ context.Context, st report.RunStats) error {
	if w.closed {
		return errors.New("warehouse: writer closed twice")
	}
	w.closed = true
	err := w.Flush()
	if err == nil {
		err = w.cfg.Retry.do(w.ctx, "write the aggregates of run "+w.cfg.Info.RunID,
			w.observe(w.cfg.Databases.Analytics, "conviction_group_counts", 0, w.writeAggregates))
	}
	if err == nil && w.cfg.CountStored {
		err = w.countStored()
	}
	if err != nil {
		if !w.cfg.CompletedByCaller {
			_ = w.writeRun(runFailed, st)
		}
		return err
	}
	return w.writeRun(runComplete, st)
}

// Abort stops a writer whose run failed (for instance, the pipeline's first attempt
// on input that turned out not to be sorted): buffered rows are dropped, the rows it
// already sent are deleted (ALTER … DELETE of its version), and the run is marked
// failed. The aggregates are untouched: only Close rebuilds them, so they still
// describe the run's last complete write, if any.
func (w *Writer) Abort() error {
	if w.closed {
		return nil
	}
	w.closed = true
	werr := w.wait()
	w.cur.reset()
	var errs []error
	if werr != nil {
		errs = append(errs, werr)
	}
	for _, t := range []string{
		w.cfg.Databases.Restricted + ".decisions", w.cfg.Databases.Restricted + ".rejects",
		w.cfg.Databases.Analytics + ".decisions", w.cfg.Databases.Analytics + ".people",
	} {
		// Bound parameters are formatted into the query text by the client; the run id
		// and version identify no one.
		q := "ALTER TABLE " + t + " DELETE WHERE run_id = ? AND version = ?"
		if err := w.conn.Exec(w.ctx, q, w.cfg.Info.RunID, w.version); err != nil {
			errs = append(errs, fmt.Errorf("warehouse: delete the aborted rows of %s: %w", t, err))
		}
	}
	errs = append(errs, w.writeRun(runFailed, report.RunStats{Finished: time.Now()}))
	return errors.Join(errs...)
}

// Run states in the runs table.
const (
	runRunning  int8 = 1
	runComplete int8 = 2
	runFailed   int8 = 3
)

// writeRun inserts the run's current row. Each state change is a new row with a
// higher version; runs_latest shows the last.
func (w *Writer) writeRun(status int8, st report.RunStats) error {
	s := w.summary
	s.Totals.Subjects, s.Totals.ConvictionsEvaluated = w.subjects, w.convicts
	s.Gogen.EarliestConviction = ""
	if w.earliest.Valid() {
		s.Gogen.EarliestConviction = w.earliest.String()
	}
	if status != runRunning {
		if st.Finished.IsZero() {
			st.Finished = time.Now()
		}
		s.Finish(st)
	}
	prov, err := json.Marshal(s.Run)
	if err != nil {
		return fmt.Errorf("warehouse: encode run provenance: %w", err)
	}
	finished := s.Timing.Finished
	if finished.IsZero() {
		finished = s.Timing.Started
	}
	info := w.cfg.Info
	q := "INSERT INTO " + w.cfg.Databases.Analytics + ".runs (run_id, status, started, finished, compute_at, scope, county, engine_version, " +
		"rows, rejects, subjects, convictions, duration_seconds, earliest_conviction, provenance, version)"
	// A state change after the data must sort after it even on a coarse clock.
	version := uint64(time.Now().UnixNano())
	if version <= w.version {
		version = w.version + 1
	}
	return w.cfg.Retry.do(w.ctx, "record run", w.observe(w.cfg.Databases.Analytics, "runs", 1, func() error {
		b, err := w.conn.PrepareBatch(w.ctx, q)
		if err != nil {
			return err
		}
		if err := b.Append(info.RunID, status, s.Timing.Started.UTC(), finished.UTC(), dateTime(w.computeAt),
			s.Run.Scope, info.County, info.EngineVersion,
			uint64(s.Totals.Rows), uint64(s.Totals.Rejects), uint64(s.Totals.Subjects), uint64(s.Totals.ConvictionsEvaluated),
			s.Timing.DurationSeconds, s.Gogen.EarliestConviction, string(prov), version); err != nil {
			_ = b.Abort()
			return err
		}
		return b.Send()
	}))
}

// dateTime converts a date for a ClickHouse Date column; an invalid date is the
// column's zero, 1970-01-01.
func dateTime(d record.Date) time.Time {
	if !d.Valid() {
		return time.Unix(0, 0).UTC()
	}
	return d.Time()
}

// orUnknown mirrors the report's key for a missing attribute, so that analytics rows
// group exactly like summary.json's breakdowns.
func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return report.KeyUnknown
	}
	return s
}

// trimmedOrUnknown is orUnknown(strings.TrimSpace(s)), trimming once.
func trimmedOrUnknown(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return report.KeyUnknown
	}
	return s
}

func cellOf(c record.Cells, i int) string {
	if i < c.Len() {
		return c.Cell(i)
	}
	return ""
}

func sectionName(i int) string {
	if i >= 0 && i < eligibility.NumSections {
		return eligibility.SectionNames[i]
	}
	return report.KeyUnknown
}
