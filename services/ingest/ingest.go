// Package ingest publishes a run: it reads DOJ files, groups their rows into subjects
// with pkg/doj, and publishes the subjects, the quarantined rows and per-partition end
// markers on the subjects topic, framed by run-start and run-end control records.
package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/codes"
	"golang.org/x/sync/errgroup"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// Config is the ingest's settings.
type Config struct {
	RunID     string
	ComputeAt string // YYYY-MM-DD; "" = today (UTC)
	County    string
	Policy    string // one policy file for every county
	Policies  string // folder of county policies
	// MaxMessageBytes bounds one published message (the broker's message.max.bytes,
	// less room for headers).
	MaxMessageBytes int
	// BatchSubjects is how many subjects of one partition go into one message. 512
	// (~4,700 rows, ~460 kB with LZ4) costs the broker and the evaluators less per row
	// than 256; much more would not fit under MaxMessageBytes and be split anyway.
	BatchSubjects int
	// PublishWorkers encode and publish batches in parallel.
	PublishWorkers int
	// Compression is the codec of the subject batches' Arrow bodies.
	Compression      wire.Compression
	Memory           int64  // grouping memory budget (spill mode)
	TempDir          string // spill folder
	ProgressInterval time.Duration
	Topics           control.Topics
	// HTTP is the address of /healthz, /readyz and /metrics while the ingest runs; ""
	// (the default) serves nothing, as a short-lived job usually pushes no metrics.
	HTTP string
	// Telemetry records the ingest's metrics and spans; nil makes Run create (and shut
	// down) its own. Tests pass one to scrape it after the run.
	Telemetry *telemetry.Telemetry

	// In process only (clearway run; no flags):
	//
	// Engine, when set, is the run's engine, already loaded: it replaces Policy,
	// Policies, ComputeAt and County. The run-start record then names the policies
	// (county, name, hash) without their documents, so only evaluators given the same
	// engine (evaluator.Config.Engine) can decide the run.
	Engine *eligibility.Engine
	// GroupProgress, when set, also receives the grouper's progress reports.
	GroupProgress func(doj.GroupProgress)
	// Scan tunes reading (parse workers, chunk size); zero means pkg/doj's defaults.
	Scan doj.ScanOptions
}

// RegisterFlags registers the ingest's flags with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.RunID, "run-id", "", "run id (required): letters, digits, '.', '_' and '-'; names the sink's output folder")
	fs.StringVar(&c.ComputeAt, "compute-at", "", "date the law is applied at, YYYY-MM-DD (default: today, UTC)")
	fs.StringVar(&c.County, "county", "", "decide only convictions in this county (upper case, as the DOJ writes it)")
	fs.StringVar(&c.Policy, "policy", "", "one policy for every county: a gogen eligibility-options .json or a Clearway policy .yaml")
	fs.StringVar(&c.Policies, "policies", "", "folder of county policies (.yaml, each naming its county; default.yaml for the rest)")
	fs.IntVar(&c.MaxMessageBytes, "max-message-bytes", 900_000, "largest message published; at most the broker's message.max.bytes")
	fs.IntVar(&c.BatchSubjects, "batch-subjects", 512, "subjects of one partition per message (fewer when a message would be too large)")
	fs.IntVar(&c.PublishWorkers, "publish-workers", 8, "goroutines encoding and publishing batches")
	c.Compression = wire.LZ4
	fs.Var(&c.Compression, "wire-compression", "codec of the subject batches: lz4, zstd or none")
	c.Memory = 256 << 20
	fs.Int64Var(&c.Memory, "memory", c.Memory, "memory budget in bytes for regrouping input not sorted by subject")
	fs.StringVar(&c.TempDir, "tmp", "", "folder for spill files (default: the system temp folder)")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", 2*time.Second, "how often progress records are published")
	fs.StringVar(&c.HTTP, "http", "", "address of the /healthz, /readyz and /metrics endpoint while publishing (\"\" disables it)")
	c.Topics.RegisterFlags(fs)
}

// DefaultConfig returns the defaults RegisterFlags registers.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("ingest", flag.ContinueOnError))
	return c
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if !control.ValidRunID(c.RunID) {
		errs = append(errs, fmt.Errorf("--run-id %q: want 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", c.RunID))
	}
	if c.Policy != "" && c.Policies != "" {
		errs = append(errs, errors.New("--policy and --policies are exclusive"))
	}
	if c.County != strings.ToUpper(c.County) {
		errs = append(errs, fmt.Errorf("--county %q: county names are upper case as the DOJ writes them", c.County))
	}
	if c.ComputeAt != "" {
		if _, err := record.ParseISO(c.ComputeAt); err != nil {
			errs = append(errs, fmt.Errorf("--compute-at: %w", err))
		}
	}
	if c.MaxMessageBytes < 64<<10 {
		errs = append(errs, fmt.Errorf("--max-message-bytes %d: at least 65536", c.MaxMessageBytes))
	}
	if c.BatchSubjects < 1 || c.PublishWorkers < 1 {
		errs = append(errs, errors.New("--batch-subjects and --publish-workers must be positive"))
	}
	if c.ProgressInterval <= 0 {
		errs = append(errs, errors.New("--progress-interval must be positive"))
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Stats summarises a published run.
type Stats struct {
	Mode       string
	Attempt    int
	Rows       int64
	Rejects    int64
	Subjects   int64
	Messages   int64
	Partitions []int64 // subjects per partition
	Unreadable []error // inputs that could not be opened; the others were published
	// Group is the final attempt's grouping statistics (rows, rejects and headers per
	// file, duplicates, mode).
	Group    doj.GroupStats
	Duration time.Duration
}

// Run publishes the run of files and returns once every message is acknowledged.
func Run(ctx context.Context, b control.Bus, cfg Config, files []string, log *slog.Logger) (Stats, error) {
	start := time.Now()
	var st Stats
	if err := cfg.Validate(); err != nil {
		return st, err
	}
	if err := b.Validate(); err != nil {
		return st, err
	}
	tel, hs, stopEndpoints, err := control.StartEndpoints(ctx, cfg.Telemetry, "ingest", cfg.HTTP)
	if err != nil {
		return st, err
	}
	defer stopEndpoints()
	eng, docs, err := loadEngine(cfg)
	if err != nil {
		return st, err
	}
	computeAt := eng.ComputeAt
	opened, unreadable := doj.OpenAll(files)
	st.Unreadable = unreadable
	doj.CloseAll(opened)
	if len(opened) == 0 {
		return st, errors.Join(append([]error{errors.New("no readable input file")}, unreadable...)...)
	}

	if err := b.Admin.EnsureTopics(ctx, cfg.Topics.Specs()...); err != nil {
		return st, fmt.Errorf("create topics: %w", err)
	}
	hs.SetReady(true)
	defer hs.SetReady(false)
	parts, err := b.PartitionCount(ctx, cfg.Topics.SubjectsTopic(), cfg.Topics.Partitions)
	if err != nil {
		return st, err
	}
	if dp, err := b.PartitionCount(ctx, cfg.Topics.DecisionsTopic(), cfg.Topics.Partitions); err != nil {
		return st, err
	} else if dp != parts {
		return st, fmt.Errorf("topic %s has %d partitions and %s %d: evaluators keep partitions, so they must match",
			cfg.Topics.SubjectsTopic(), parts, cfg.Topics.DecisionsTopic(), dp)
	}

	rs := &control.RunStart{ComputeAt: computeAt.String(), County: eng.County, EngineVersion: eligibility.Version,
		Policies: docs, Partitions: parts, Started: start.UTC()}
	for _, f := range opened {
		rs.Files = append(rs.Files, control.InputFile{Path: f.Path, Index: f.Index, Size: f.Size()})
	}
	ctrl := cfg.Topics.ControlTopic()
	if err := control.Publish(ctx, b.Publisher, ctrl, control.Record{Kind: control.KindRunStart, RunID: cfg.RunID, Start: rs}); err != nil {
		return st, err
	}
	log.Info("run announced", "run", cfg.RunID, "files", len(opened), "partitions", parts)

	prog := &progress{}
	stopProgress := startProgress(ctx, b.Publisher, ctrl, cfg, prog, log)
	defer stopProgress()

	var inputBytes int64
	for _, f := range opened {
		inputBytes += f.Size()
	}
	var read *readCounter
	gopt := doj.GroupOptions{Scan: cfg.Scan, MemoryBudget: cfg.Memory, TempDir: cfg.TempDir,
		Progress: func(p doj.GroupProgress) {
			prog.rows.Store(p.Rows)
			read.advance(ctx, p.Rows, p.Bytes)
			if cfg.GroupProgress != nil {
				cfg.GroupProgress(p)
			}
		}}
	var (
		gs  doj.GroupStats
		pub *publisher
	)
	for attempt, group := range []func(context.Context, []*doj.File, doj.GroupOptions, doj.GroupSink) (doj.GroupStats, error){
		doj.GroupStreaming, doj.GroupSpill,
	} {
		pub = newPublisher(b.Publisher, cfg, parts, attempt+1, prog, tel)
		// Rows read again by the spill attempt are counted again: they were read twice,
		// and the subjects the first attempt published were evaluated downstream too.
		read = &readCounter{in: tel.Instruments}
		gs, err = publishAttempt(ctx, opened, gopt, group, pub)
		if err == nil {
			var rows int64
			for _, n := range gs.Rows {
				rows += n
			}
			read.advance(ctx, rows, inputBytes) // progress is reported now and then only
		}
		if !errors.Is(err, doj.ErrNotGrouped) {
			break
		}
		log.Info("input not grouped by subject; publishing again in spill mode", "run", cfg.RunID)
	}
	if err != nil {
		return st, err
	}

	// End markers only after every subject of the attempt is acknowledged, so each
	// follows its partition's subjects.
	ends := make([]bus.Message, parts)
	for p := range parts {
		body, _ := json.Marshal(control.EndMarker{Partition: p, Attempt: pub.attempt, Subjects: pub.perPart[p]})
		ends[p] = pub.message(p, control.TypeEnd, control.RecordVersion, body, nil)
	}
	if err := control.TimedPublish(ctx, tel, b.Publisher, ends...); err != nil {
		return st, fmt.Errorf("publish end markers: %w", err)
	}
	end := &control.RunEnd{Attempt: pub.attempt, Mode: gs.Mode, Duplicates: gs.Duplicates,
		Subjects: pub.subjects, PartitionSubjects: pub.perPart}
	for i := range gs.Rows {
		end.Rows += gs.Rows[i]
		end.Rejects += gs.Rejects[i]
		end.Files = append(end.Files, report.FileStats{Rows: gs.Rows[i], Rejects: gs.Rejects[i], HasHeader: gs.HasHeader[i]})
	}
	st = Stats{Mode: gs.Mode, Attempt: pub.attempt, Rows: end.Rows, Rejects: end.Rejects, Subjects: pub.subjects,
		Messages: pub.messages.Load() + int64(parts), Partitions: pub.perPart, Unreadable: unreadable, Group: gs}
	st.Duration = time.Since(start)
	end.DurationMS = st.Duration.Milliseconds()
	prog.subjects.Store(pub.subjects)
	prog.rows.Store(end.Rows)
	prog.rejects.Store(end.Rejects)
	stopProgress()
	if err := control.Publish(ctx, b.Publisher, ctrl, control.Record{Kind: control.KindRunEnd, RunID: cfg.RunID, End: end}); err != nil {
		return st, err
	}
	log.InfoContext(ctx, "run published", "run", cfg.RunID, "rows", end.Rows, "subjects", end.Subjects, "mode", gs.Mode, "duration", st.Duration)
	return st, nil
}

// loadEngine returns the run's engine and the policy documents the run-start record
// carries: cfg.Engine as given (documents named, not included), or the policies loaded
// the way `clearway run` loads them.
func loadEngine(cfg Config) (*eligibility.Engine, []control.PolicyDoc, error) {
	if eng := cfg.Engine; eng != nil {
		if err := eng.Validate(); err != nil {
			return nil, nil, err
		}
		var docs []control.PolicyDoc
		counties := make([]string, 0, len(eng.Policies.ByCounty))
		for c := range eng.Policies.ByCounty {
			counties = append(counties, c)
		}
		slices.Sort(counties)
		for _, c := range counties {
			p := eng.Policies.ByCounty[c]
			docs = append(docs, control.PolicyDoc{County: c, Name: p.Name, Hash: p.Hash})
		}
		if p := eng.Policies.Default; p != nil {
			docs = append(docs, control.PolicyDoc{County: policy.DefaultCounty, Name: p.Name, Hash: p.Hash})
		}
		return eng, docs, nil
	}
	computeAt := record.DateOf(time.Now())
	if cfg.ComputeAt != "" {
		computeAt, _ = record.ParseISO(cfg.ComputeAt) // validated
	}
	pols, docs, err := control.LoadPolicyDocs(cfg.Policy, cfg.Policies)
	if err != nil {
		return nil, nil, err
	}
	eng := &eligibility.Engine{Policies: pols, ComputeAt: computeAt, County: cfg.County}
	if err := eng.Validate(); err != nil {
		return nil, nil, err
	}
	return eng, docs, nil
}

// publishAttempt runs one grouping attempt on freshly opened files.
func publishAttempt(ctx context.Context, opened []*doj.File, gopt doj.GroupOptions,
	group func(context.Context, []*doj.File, doj.GroupOptions, doj.GroupSink) (doj.GroupStats, error), pub *publisher) (doj.GroupStats, error) {
	files, err := doj.Reopen(opened)
	if err != nil {
		return doj.GroupStats{}, err
	}
	defer doj.CloseAll(files)
	g, gctx := errgroup.WithContext(ctx)
	pub.start(gctx, g)
	var gs doj.GroupStats
	g.Go(func() error {
		defer pub.closeQueue()
		var err error
		if gs, err = group(gctx, files, gopt, pub); err != nil {
			return err
		}
		return pub.flush()
	})
	return gs, g.Wait()
}

// progress holds the ingest's counters for progress records.
type progress struct {
	rows, subjects, rejects atomic.Int64
}

// startProgress publishes a progress record every interval until the returned function
// is called (which is safe to call twice).
func startProgress(ctx context.Context, p bus.Publisher, topic string, cfg Config, prog *progress, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(cfg.ProgressInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rec := control.Record{Kind: control.KindProgress, RunID: cfg.RunID, Progress: &control.Progress{
				Service: "ingest", Instance: "ingest", Rows: prog.rows.Load(), Subjects: prog.subjects.Load(), Rejects: prog.rejects.Load()}}
			if err := control.Publish(ctx, p, topic, rec); err != nil && ctx.Err() == nil {
				log.Warn("progress record not published", "run", cfg.RunID, "err", err)
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// readCounter turns the grouper's running totals of one attempt into counter increments
// (clearway.records.processed and clearway.data.processed, direction in).
type readCounter struct {
	in          *telemetry.Instruments
	rows, bytes atomic.Int64
}

// advance counts what was read beyond the totals already counted. Totals never go down,
// so a report that arrives late is ignored rather than subtracted.
func (c *readCounter) advance(ctx context.Context, rows, bytes int64) {
	dr, db := raise(&c.rows, rows), raise(&c.bytes, bytes)
	if dr > 0 || db > 0 {
		c.in.RecordsIn(ctx, dr, db)
	}
}

// raise sets v to at least n and returns by how much it grew.
func raise(v *atomic.Int64, n int64) int64 {
	for {
		old := v.Load()
		if n <= old {
			return 0
		}
		if v.CompareAndSwap(old, n) {
			return n - old
		}
	}
}

// QuarantineCode is the snake_case reason code of a quarantined row, for the
// clearway.rows.quarantined metric: a closed set, never text from the row.
func QuarantineCode(r doj.Reject) string {
	reason := r.Reason
	switch {
	case strings.HasPrefix(reason, "has ") && strings.Contains(reason, " fields, want "):
		return "column_count"
	case strings.Contains(reason, `"`) || strings.Contains(reason, "quoted field"):
		return "quote_error"
	case reason == "not a valid YYYYMMDD date":
		return "bad_date"
	case reason == "empty" && r.Field == doj.Header[doj.ColSubjectID]:
		return "empty_subject_id"
	case reason == "empty":
		return "empty_field"
	case reason == "shorter than 6 characters":
		return "short_cnt_order"
	case strings.HasPrefix(reason, "row longer than"):
		return "row_too_long"
	}
	return "other"
}

// batch is one message's worth of subjects (or rejects) for one partition.
type batch struct {
	partition int
	subjects  []*record.Subject
	seqs      []int64
	rejects   []control.RejectLine
}

// publisher is the grouper's sink for one attempt: it numbers subjects and rejects in
// emission order, buckets subjects by partition and hands full buckets to workers that
// encode and publish them.
type publisher struct {
	pub     bus.Publisher
	tel     *telemetry.Telemetry
	cfg     Config
	attempt int
	prog    *progress
	queue   chan batch
	ctx     context.Context // the attempt's; set by start

	// Owned by the grouper's goroutine.
	seq       int64
	rejectSeq int64
	pending   []batch
	rejects   []control.RejectLine
	subjects  int64
	perPart   []int64

	messages atomic.Int64
}

func newPublisher(p bus.Publisher, cfg Config, parts, attempt int, prog *progress, tel *telemetry.Telemetry) *publisher {
	prog.subjects.Store(0)
	prog.rejects.Store(0)
	pub := &publisher{pub: p, tel: tel, cfg: cfg, attempt: attempt, prog: prog, queue: make(chan batch, cfg.PublishWorkers*2),
		pending: make([]batch, parts), perPart: make([]int64, parts)}
	for i := range pub.pending {
		pub.pending[i].partition = i
	}
	return pub
}

// start launches the workers on g.
func (p *publisher) start(ctx context.Context, g *errgroup.Group) {
	p.ctx = ctx
	for range p.cfg.PublishWorkers {
		g.Go(func() error {
			enc := wire.Encoder{Compression: p.cfg.Compression}
			for b := range p.queue {
				if err := p.send(ctx, &enc, b); err != nil {
					return err
				}
			}
			return nil
		})
	}
}

func (p *publisher) closeQueue() { close(p.queue) }

// Subjects implements doj.GroupSink.
func (p *publisher) Subjects(ss []*record.Subject) error {
	parts := len(p.pending)
	for _, s := range ss {
		i := bus.PartitionFor([]byte(s.ID), parts)
		b := &p.pending[i]
		b.subjects = append(b.subjects, s)
		b.seqs = append(b.seqs, p.seq)
		p.seq++
		p.subjects++
		p.perPart[i]++
		if len(b.subjects) >= p.cfg.BatchSubjects {
			if err := p.enqueue(i); err != nil {
				return err
			}
		}
	}
	p.prog.subjects.Store(p.subjects)
	return nil
}

// Rejects implements doj.GroupSink.
func (p *publisher) Rejects(rs []doj.Reject) error {
	codes := map[string]int64{}
	for _, r := range rs {
		codes[QuarantineCode(r)]++
	}
	for code, n := range codes {
		p.tel.Instruments.Quarantine(p.ctx, code, n)
	}
	for _, r := range rs {
		p.rejects = append(p.rejects, control.RejectLine{Seq: p.rejectSeq, Reject: r})
		p.rejectSeq++
	}
	p.prog.rejects.Store(p.rejectSeq)
	if len(p.rejects) >= 1000 {
		return p.enqueueRejects()
	}
	return nil
}

func (p *publisher) enqueue(part int) error {
	b := p.pending[part]
	p.pending[part] = batch{partition: part}
	return p.put(b)
}

func (p *publisher) enqueueRejects() error {
	b := batch{rejects: p.rejects}
	p.rejects = nil
	return p.put(b)
}

func (p *publisher) put(b batch) error {
	select {
	case p.queue <- b:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// flush hands over what is left after the last subject.
func (p *publisher) flush() error {
	for i := range p.pending {
		if len(p.pending[i].subjects) > 0 {
			if err := p.enqueue(i); err != nil {
				return err
			}
		}
	}
	if len(p.rejects) > 0 {
		return p.enqueueRejects()
	}
	return nil
}

// send encodes and publishes one batch, in a span of its own whose context travels in
// the messages' headers.
func (p *publisher) send(ctx context.Context, enc *wire.Encoder, b batch) (err error) {
	start := time.Now()
	ctx, span := control.ProducerSpan(ctx, p.tel, "ingest publish", p.cfg.Topics.SubjectsTopic(), b.partition, len(b.subjects))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "publish failed")
		}
		span.End()
	}()
	var (
		msgs   []bus.Message
		counts []int64 // records per message
	)
	if b.rejects != nil {
		// Rejects go to partition 0, JSON lines.
		var buf []byte
		for _, r := range b.rejects {
			line, err := json.Marshal(r)
			if err != nil {
				return fmt.Errorf("encode reject: %w", err)
			}
			buf = append(append(buf, line...), '\n')
		}
		msgs = append(msgs, p.message(0, control.TypeRejects, control.RecordVersion, buf, nil))
		counts = append(counts, int64(len(b.rejects))) // quarantined rows, for the batch size
	} else if bus.InProcess(p.pub) {
		// The consumers are in this process: the batch travels as it is (Message.Local).
		msgs = append(msgs, p.message(b.partition, control.TypeSubjects, wire.SubjectsSchemaVersion, nil,
			control.AppendSeqs(nil, b.seqs)))
		msgs[0].Local = b.subjects
		counts = append(counts, int64(len(b.subjects)))
	} else {
		parts, err := control.EncodeFit(len(b.subjects), p.cfg.MaxMessageBytes, func(lo, hi int) ([]byte, error) {
			out, err := enc.EncodeSubjects(b.subjects[lo:hi], 0)
			if err != nil {
				return nil, err
			}
			return out[0], nil
		})
		if err != nil {
			return fmt.Errorf("encode subjects for partition %d: %w", b.partition, err)
		}
		for _, pt := range parts {
			msgs = append(msgs, p.message(b.partition, control.TypeSubjects, wire.SubjectsSchemaVersion, pt.Data,
				control.AppendSeqs(nil, b.seqs[pt.Lo:pt.Hi])))
			counts = append(counts, int64(pt.Hi-pt.Lo))
		}
	}
	published := time.Now()
	for i := range msgs {
		p.tel.Inject(ctx, &msgs[i].Headers)
		if b.rejects == nil {
			msgs[i].Headers = control.StampPublished(msgs[i].Headers, published)
		}
	}
	in := p.tel.Instruments
	in.BatchTook(ctx, time.Since(start).Seconds())
	if err := control.TimedPublish(ctx, p.tel, p.pub, msgs...); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	p.messages.Add(int64(len(msgs)))
	var size int64
	for i, m := range msgs {
		size += int64(len(m.Value))
		in.Batch(ctx, "out", counts[i], int64(len(m.Value)))
	}
	in.RecordsOut(ctx, int64(len(b.subjects)), size)
	return nil
}

// message builds a subjects-topic message with the standard headers.
func (p *publisher) message(part int, typ string, schema int, value, seqs []byte) bus.Message {
	hs := control.Headers(p.cfg.RunID, typ, schema)
	hs = append(hs, bus.Header{Key: control.HeaderAttempt, Value: []byte(strconv.Itoa(p.attempt))})
	if seqs != nil {
		hs = append(hs, bus.Header{Key: control.HeaderSeq, Value: seqs})
	}
	return bus.Message{Topic: p.cfg.Topics.SubjectsTopic(), Partition: part, Key: []byte(p.cfg.RunID), Value: value, Headers: hs}
}
