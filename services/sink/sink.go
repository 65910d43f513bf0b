// Package sink is the pipeline's storage service: a member of the clearway-sink consumer
// group on the decisions topic that spools every message durably before committing it,
// tracks each run's end markers and distinct subjects per partition, and, once a run is
// complete, writes its outputs under DIR/<run-id>/ in the same native format, and with
// the same bytes, as `clearway run`. With a Warehouse it also inserts every batch into
// ClickHouse, acknowledged before the batch is spooled and committed, and completes the
// run there (warehouse.go).
package sink

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/health"
)

// Config is the sink's settings.
type Config struct {
	Out              string // runs are written to Out/<run-id>/; "" writes no files (ClickHouse only)
	State            string // spools and completion markers, State/<run-id>/ ("": Out, else DefaultState)
	Group            string
	HTTP             string
	FetchMax         int
	ProgressInterval time.Duration
	Instance         string
	Topics           control.Topics
	// Telemetry records the sink's metrics and spans; nil makes Run create (and shut
	// down) its own. Tests pass one to scrape it after the run.
	Telemetry *telemetry.Telemetry
	// Warehouse, when set, stores every run in ClickHouse too (set by the command from
	// its --clickhouse flags, not a flag itself).
	Warehouse *Warehouse
	// Direct, in process only (clearway run; no flag), selects direct mode: results are
	// written as they arrive instead of spooled (see Direct).
	Direct *Direct
}

// DefaultState is the state folder of a sink that writes no files (no --out) and was
// given no --state.
const DefaultState = "clearway-sink-state"

// stateDir is the folder of the sink's per-run spools and completion markers.
func (c *Config) stateDir() string {
	switch {
	case c.State != "":
		return c.State
	case c.Out != "":
		return c.Out
	}
	return DefaultState
}

// RegisterFlags registers the sink's flags with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Out, "out", "", "output folder; each run is written to OUT/<run-id>/ (optional with --clickhouse)")
	fs.StringVar(&c.State, "state", "", "folder of the sink's spools and completion markers, STATE/<run-id>/; keep it across restarts (default: --out, or "+DefaultState+" without --out)")
	fs.StringVar(&c.Group, "group", "clearway-sink", "consumer group on the decisions topic")
	fs.StringVar(&c.HTTP, "http", ":8081", "address of the /healthz, /readyz and /metrics endpoint (\"\" disables it)")
	fs.IntVar(&c.FetchMax, "fetch-max", 32, "messages per fetch")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", 2*time.Second, "how often progress records are published")
	h, _ := os.Hostname()
	fs.StringVar(&c.Instance, "instance", fmt.Sprintf("%s-%d", h, os.Getpid()), "instance name in progress records")
	c.Topics.RegisterFlags(fs)
}

// DefaultConfig returns the defaults RegisterFlags registers.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("sink", flag.ContinueOnError))
	return c
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("--group must name a consumer group"))
	}
	if c.FetchMax < 1 || c.ProgressInterval <= 0 {
		errs = append(errs, errors.New("--fetch-max and --progress-interval must be positive"))
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Marker files in a run's folder.
const (
	spoolDir       = ".spool"
	completeMarker = ".complete"
)

// Service is one sink process. Runs are tracked by one goroutine (Run's), so its state
// needs no locks.
type Service struct {
	cfg    Config
	b      control.Bus
	log    *slog.Logger
	health *health.Server
	reg    *control.Registry
	tel    *telemetry.Telemetry // set by Run

	runs      map[string]*run
	completed map[string]bool

	wh     *chSink               // nil without a Warehouse
	stop   context.Context       // Run's: done when the sink is asked to stop
	direct map[string]*directRun // direct mode's runs
	dec    wire.Decoder          // direct mode's, for results that crossed a broker
}

// run is the sink's state of one run not yet written out.
type run struct {
	id    string
	dir   string
	files map[int]*os.File
	// seen[attempt][partition] is the set of subject sequence numbers stored; a
	// sequence number identifies a subject within an attempt.
	seen map[int]map[int]map[int64]struct{}
	ends map[int]map[int]control.EndMarker
	// evaluated[attempt][partition] counts the decisions that reached the sink,
	// redeliveries included (clearway.run.subjects, state "evaluated").
	evaluated map[int]map[int]int64
	// failed is set once finalisation failed; the run is not retried until restart.
	failed   bool
	reported int64 // subjects in the last progress record
}

// New returns a sink; Run starts it.
func New(cfg Config, b control.Bus, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Out == "" && cfg.Warehouse == nil {
		return nil, errors.New("nowhere to store runs: give --out, --clickhouse or both")
	}
	if err := cfg.Warehouse.validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, b: b, log: log, runs: map[string]*run{}, completed: map[string]bool{},
		direct: map[string]*directRun{}}
	if cfg.Warehouse != nil {
		s.wh = newCHSink(*cfg.Warehouse)
	}
	return s, nil
}

// Health returns the health server once Run has started it (nil before).
func (s *Service) Health() *health.Server { return s.health }

// Run consumes until ctx ends; the batch in hand is spooled and committed first.
func (s *Service) Run(ctx context.Context) error {
	s.stop = ctx
	for _, dir := range []string{s.cfg.Out, s.cfg.stateDir()} {
		if dir == "" {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("output folder: %w", err)
		}
	}
	tel, hs, stopEndpoints, err := control.StartEndpoints(ctx, s.cfg.Telemetry, "sink", s.cfg.HTTP)
	if err != nil {
		return err
	}
	defer stopEndpoints()
	s.tel, s.health = tel, hs
	if s.cfg.Direct == nil {
		if err := s.recover(); err != nil {
			return err
		}
	}
	defer s.closeFiles()
	defer s.abortDirect()
	if err := s.b.Admin.EnsureTopics(ctx, s.cfg.Topics.Specs()...); err != nil {
		if ctx.Err() != nil {
			return nil // stopped (SIGTERM) while starting: nothing is in flight
		}
		return fmt.Errorf("create topics: %w", err)
	}
	follower, err := control.Follow(ctx, s.b, s.cfg.Topics.ControlTopic(), "sink", s.log)
	if err != nil {
		return err
	}
	defer follower.Close()
	s.reg = follower.Registry
	sub, err := s.b.Subscribe(bus.SubscriberOptions{Group: s.cfg.Group, Topics: []string{s.cfg.Topics.DecisionsTopic()}})
	if err != nil {
		return fmt.Errorf("join %s: %w", s.cfg.Group, err)
	}
	defer sub.Close()
	work := context.WithoutCancel(ctx) // a batch in hand is finished after SIGTERM

	watchCtx, stopWatch := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		control.WatchAssignment(watchCtx, tel, sub, s.cfg.Group, func([]bus.TopicPartition) {})
	}()
	defer func() { stopWatch(); <-watching }()
	defer control.ReportLag(watchCtx, tel, s.b.Admin, sub, s.cfg.Group, control.LagInterval)() // clearway.consumer.lag

	fetched := make(chan []bus.Message)
	fetchErr := make(chan error, 1)
	go func() {
		for {
			msgs, err := control.TimedFetch(ctx, tel, sub, s.cfg.Topics.DecisionsTopic(), s.cfg.FetchMax)
			if err != nil {
				fetchErr <- err
				return
			}
			select {
			case fetched <- msgs:
			case <-ctx.Done():
				return
			}
		}
	}()
	tick := time.NewTicker(s.cfg.ProgressInterval)
	defer tick.Stop()
	hs.SetReady(true)
	defer hs.SetReady(false)
	s.checkAll(work)
	for {
		changed := s.reg.Changed()
		select {
		case <-ctx.Done():
			s.publishProgress(work)
			s.log.Info("sink stopped", "instance", s.cfg.Instance)
			return nil
		case err := <-fetchErr:
			if ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("fetch: %w", err)
		case msgs := <-fetched:
			if err := s.storeAndCommit(work, sub, msgs); errors.Is(err, errStopping) {
				// Stopped while ClickHouse failed: the batch is neither spooled nor
				// committed, but its runs' in-memory state counts it, so stop now.
				s.log.Info("sink stopped while waiting for ClickHouse", "instance", s.cfg.Instance)
				return nil
			} else if err != nil {
				return err
			}
		case <-changed:
			s.checkAll(work)
		case <-tick.C:
			s.publishProgress(work)
		}
	}
}

// storeAndCommit stores a fetched batch, commits it and finalises the runs it completed,
// in a "sink store" span that continues (or links to) the evaluators' batch spans.
func (s *Service) storeAndCommit(ctx context.Context, sub bus.Subscriber, msgs []bus.Message) (err error) {
	ctx, span := control.ConsumerSpan(ctx, s.tel, "sink store", s.cfg.Group, msgs)
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "store failed")
		}
		span.End()
	}()
	var touched map[string]bool
	if s.cfg.Direct != nil {
		touched = s.storeDirect(ctx, msgs)
	} else if touched, err = s.store(ctx, msgs); err != nil {
		return err // errStopping: asked to stop while ClickHouse failed; nothing spooled or committed
	}
	if err := control.TimedCommit(ctx, s.tel, sub, msgs...); err != nil && !errors.Is(err, bus.ErrRevoked) {
		return fmt.Errorf("commit: %w", err)
	}
	for id := range touched {
		if s.cfg.Direct != nil {
			s.checkDirect(ctx, id)
		} else {
			s.check(ctx, id)
		}
	}
	return nil
}

// decisions returns the number of decisions (one per subject) a results message holds,
// from its sequence list; 0 for other messages.
func decisions(m bus.Message) int64 {
	if control.HeaderString(m, control.HeaderType) != control.TypeResults {
		return 0
	}
	v, _ := m.Header(control.HeaderSeq)
	seqs, err := control.DecodeSeqs(v)
	if err != nil {
		return 0
	}
	return int64(len(seqs))
}

// store spools a fetched batch (one partition) and fsyncs it; messages that cannot be
// stored go to the dead-letter topic. It returns the runs it touched.
func (s *Service) store(ctx context.Context, msgs []bus.Message) (map[string]bool, error) {
	start := time.Now()
	in := s.tel.Instruments
	touched := map[string]bool{}
	var dead []bus.Message
	bufs := map[*os.File][]byte{}
	var (
		order          []*os.File
		stored         []bus.Message // written to the spool
		read, inBytes  int64
		written, bytes int64
		toWarehouse    chBatch
	)
	for _, m := range msgs {
		n := decisions(m)
		read += n
		inBytes += int64(len(m.Value))
		if n > 0 {
			in.Batch(ctx, "in", n, int64(len(m.Value)))
		}
	}
	in.RecordsIn(ctx, read, inBytes)
	for _, m := range msgs {
		id := control.HeaderString(m, control.HeaderRun)
		if !control.ValidRunID(id) {
			dead = append(dead, control.DeadLetter(s.cfg.Topics.DeadLetterTopic(), m, "missing or invalid run id"))
			in.DeadLetter(ctx, "invalid_run_id")
			continue
		}
		if s.isCompleted(id) {
			continue // a redelivery after the run was written out
		}
		r, err := s.run(id)
		if err != nil {
			return nil, err
		}
		code, reason := s.wh.stage(&toWarehouse, id, m)
		if code == "" {
			code, reason = r.apply(m)
		}
		if code != "" {
			s.log.WarnContext(ctx, "message to dead-letter topic", "partition", m.Partition, "offset", m.Offset, "reason", reason)
			dead = append(dead, control.DeadLetter(s.cfg.Topics.DeadLetterTopic(), m, reason))
			in.DeadLetter(ctx, code)
			continue
		}
		if m.Value == nil && m.Local != nil && (s.wh == nil || s.cfg.Out != "") {
			// Published in process without a value: the spool keeps the encoded form.
			res, ok := m.Local.([]eligibility.Result)
			if !ok {
				return nil, fmt.Errorf("results message carries %T", m.Local)
			}
			enc, err := (&wire.Encoder{}).EncodeResults(res, 0)
			if err != nil {
				return nil, fmt.Errorf("encode results for the spool: %w", err)
			}
			m.Value = enc[0]
		}
		f, err := r.file(m.Partition)
		if err != nil {
			return nil, err
		}
		if _, ok := bufs[f]; !ok {
			order = append(order, f)
		}
		bufs[f] = appendFrame(bufs[f], s.spooled(m))
		touched[id] = true
		stored = append(stored, m)
	}
	// ClickHouse first: once a message is in the spool it counts towards its run's
	// completion, so its rows must be stored by then.
	if err := s.insertWarehouse(ctx, &toWarehouse); err != nil {
		return nil, err
	}
	for _, f := range order {
		if _, err := f.Write(bufs[f]); err != nil {
			return nil, fmt.Errorf("append to spool: %w", err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("sync spool: %w", err)
		}
		bytes += int64(len(bufs[f]))
	}
	// The write is acknowledged (synced): the decisions are stored.
	now := time.Now()
	for _, m := range stored {
		written += decisions(m)
		if at, ok := control.PublishedAt(m); ok {
			in.PipelineLatency.Record(ctx, now.Sub(at).Seconds())
		}
	}
	in.RecordsOut(ctx, written, bytes)
	in.BatchTook(ctx, time.Since(start).Seconds())
	if len(dead) > 0 {
		if err := control.TimedPublish(ctx, s.tel, s.b.Publisher, dead...); err != nil {
			return nil, fmt.Errorf("publish dead letters: %w", err)
		}
	}
	return touched, nil
}

// apply records what m says about the run; it returns why m cannot be stored (a
// snake_case code for metrics and words for the dead-letter header), or "", "".
// A message is applied before it is written, but an error stops the sink before the
// batch is committed, and the state is rebuilt from the spool at restart.
func (r *run) apply(m bus.Message) (code, reason string) {
	attempt, err := strconv.Atoi(control.HeaderString(m, control.HeaderAttempt))
	if err != nil || attempt < 1 {
		return "bad_header", "missing or invalid " + control.HeaderAttempt + " header"
	}
	switch typ := control.HeaderString(m, control.HeaderType); typ {
	case control.TypeResults:
		v, _ := m.Header(control.HeaderSeq)
		seqs, err := control.DecodeSeqs(v)
		if err != nil || len(seqs) == 0 {
			return "decode_error", "results message without a valid sequence list"
		}
		set := r.seenSet(attempt, m.Partition)
		for _, q := range seqs {
			set[q] = struct{}{}
		}
		if r.evaluated[attempt] == nil {
			r.evaluated[attempt] = map[int]int64{}
		}
		r.evaluated[attempt][m.Partition] += int64(len(seqs))
	case control.TypeEnd:
		var e control.EndMarker
		if err := json.Unmarshal(m.Value, &e); err != nil {
			return "decode_error", "end marker: " + err.Error()
		}
		if r.ends[attempt] == nil {
			r.ends[attempt] = map[int]control.EndMarker{}
		}
		r.ends[attempt][m.Partition] = e
	case control.TypeRejects:
	default:
		return "unknown_type", fmt.Sprintf("unknown message type %q", typ)
	}
	return "", ""
}

func (r *run) seenSet(attempt, partition int) map[int64]struct{} {
	if r.seen[attempt] == nil {
		r.seen[attempt] = map[int]map[int64]struct{}{}
	}
	set := r.seen[attempt][partition]
	if set == nil {
		set = map[int64]struct{}{}
		r.seen[attempt][partition] = set
	}
	return set
}

// stored counts the distinct subjects stored for an attempt.
func (r *run) stored(attempt int) int64 {
	var n int64
	for _, set := range r.seen[attempt] {
		n += int64(len(set))
	}
	return n
}

func (s *Service) isCompleted(id string) bool {
	if s.completed[id] {
		return true
	}
	if _, ok := s.runs[id]; ok {
		return false
	}
	if _, err := os.Stat(filepath.Join(s.cfg.stateDir(), id, completeMarker)); err == nil {
		s.completed[id] = true
		return true
	}
	return false
}

func (s *Service) run(id string) (*run, error) {
	if r, ok := s.runs[id]; ok {
		return r, nil
	}
	dir := filepath.Join(s.cfg.stateDir(), id)
	if err := os.MkdirAll(filepath.Join(dir, spoolDir), 0o755); err != nil {
		return nil, fmt.Errorf("run folder: %w", err)
	}
	r := &run{id: id, dir: dir, files: map[int]*os.File{}, seen: map[int]map[int]map[int64]struct{}{},
		ends: map[int]map[int]control.EndMarker{}, evaluated: map[int]map[int]int64{}}
	s.runs[id] = r
	return r, nil
}

func spoolPath(dir string, partition int) string {
	return filepath.Join(dir, spoolDir, fmt.Sprintf("p%d.log", partition))
}

func (r *run) file(partition int) (*os.File, error) {
	if f, ok := r.files[partition]; ok {
		return f, nil
	}
	f, err := os.OpenFile(spoolPath(r.dir, partition), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	r.files[partition] = f
	return f, nil
}

func (r *run) closeFiles() {
	for p, f := range r.files {
		f.Close()
		delete(r.files, p)
	}
}

func (s *Service) closeFiles() {
	for _, r := range s.runs {
		r.closeFiles()
	}
}

// recover rebuilds the state of unfinished runs from their spool files, cutting off torn
// frames at the ends.
func (s *Service) recover() error {
	ents, err := os.ReadDir(s.cfg.stateDir())
	if err != nil {
		return fmt.Errorf("read state folder: %w", err)
	}
	for _, e := range ents {
		id := e.Name()
		if !e.IsDir() || !control.ValidRunID(id) {
			continue
		}
		dir := filepath.Join(s.cfg.stateDir(), id)
		if _, err := os.Stat(filepath.Join(dir, completeMarker)); err == nil {
			s.completed[id] = true
			continue
		}
		logs, err := os.ReadDir(filepath.Join(dir, spoolDir))
		if err != nil {
			continue // not a run folder of ours
		}
		r, err := s.run(id)
		if err != nil {
			return err
		}
		for _, l := range logs {
			name := l.Name()
			p, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(name, "p"), ".log"))
			if err != nil || !strings.HasPrefix(name, "p") || !strings.HasSuffix(name, ".log") {
				continue
			}
			path := filepath.Join(dir, spoolDir, name)
			good, err := readSpool(path, p, func(m bus.Message) error {
				r.apply(m) // what is in the spool was accepted once
				return nil
			})
			if err != nil {
				return err
			}
			if err := os.Truncate(path, good); err != nil {
				return fmt.Errorf("cut torn spool tail: %w", err)
			}
		}
		s.log.Info("resumed run from spool", "run", id)
	}
	return nil
}

// checkAll checks every pending run.
func (s *Service) checkAll(ctx context.Context) {
	if s.cfg.Direct != nil {
		for id := range s.direct {
			s.checkDirect(ctx, id)
		}
		return
	}
	ids := make([]string, 0, len(s.runs))
	for id := range s.runs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s.check(ctx, id)
	}
}

// check finalises the run if it is complete: its run-end is known, every partition's
// end marker of the final attempt arrived and every announced subject is stored.
func (s *Service) check(ctx context.Context, id string) {
	r, ok := s.runs[id]
	if !ok || r.failed {
		return
	}
	st, ok := s.reg.Run(id)
	s.recordRun(ctx, r, st, ok)
	if !ok || st.End == nil || st.Start == nil {
		return
	}
	a := st.End.Attempt
	for p, want := range st.End.PartitionSubjects {
		e, ok := r.ends[a][p]
		if !ok {
			return
		}
		got := int64(len(r.seen[a][p]))
		if got < want || e.Subjects != want {
			return
		}
	}
	if err := s.finalise(ctx, r, st); err != nil {
		if errors.Is(err, errStopping) {
			return // asked to stop while ClickHouse failed: the restarted sink finishes it
		}
		r.failed = true
		s.log.ErrorContext(ctx, "run failed", "run", id, "err", err)
		rec := control.Record{Kind: control.KindRunFailed, RunID: id, Failed: &control.RunFailed{Service: "sink", Reason: err.Error()}}
		if perr := control.Publish(ctx, s.b.Publisher, s.cfg.Topics.ControlTopic(), rec); perr != nil {
			s.log.Error("run-failed record not published", "run", id, "err", perr)
		}
	}
}

// recordRun sets the run's gauges: subjects per partition published (once the run-end
// record says), evaluated (decisions that reached the sink) and stored (distinct
// subjects spooled), for the attempt that counts, and run-complete 0 (finalise sets 1).
func (s *Service) recordRun(ctx context.Context, r *run, st control.RunState, known bool) {
	in := s.tel.Instruments
	runAttr := telemetry.AttrRunID.String(r.id)
	attempt := 0
	if known && st.End != nil {
		attempt = st.End.Attempt
		for p, n := range st.End.PartitionSubjects {
			in.RunSubjects.Record(ctx, n, runSubjectAttrs(runAttr, "published", p))
		}
	} else {
		for a := range r.seen {
			attempt = max(attempt, a)
		}
	}
	for p, set := range r.seen[attempt] {
		in.RunSubjects.Record(ctx, int64(len(set)), runSubjectAttrs(runAttr, "stored", p))
	}
	for p, n := range r.evaluated[attempt] {
		in.RunSubjects.Record(ctx, n, runSubjectAttrs(runAttr, "evaluated", p))
	}
	in.RunComplete.Record(ctx, 0, metric.WithAttributes(runAttr))
}

func runSubjectAttrs(run attribute.KeyValue, state string, partition int) metric.MeasurementOption {
	return metric.WithAttributes(run, telemetry.AttrState.String(state),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(partition)))
}

func (s *Service) publishProgress(ctx context.Context) {
	for id, r := range s.runs {
		st, ok := s.reg.Run(id)
		attempt := 1
		if ok && st.End != nil {
			attempt = st.End.Attempt
		}
		n := r.stored(attempt)
		if n == r.reported {
			continue
		}
		r.reported = n
		rec := control.Record{Kind: control.KindProgress, RunID: id, Progress: &control.Progress{
			Service: "sink", Instance: s.cfg.Instance, Subjects: n}}
		if err := control.Publish(ctx, s.b.Publisher, s.cfg.Topics.ControlTopic(), rec); err != nil {
			s.log.Warn("progress record not published", "run", id, "err", err)
		}
	}
}
