// Package evaluator is the pipeline's decision service: a member of the
// clearway-evaluator consumer group on the subjects topic that decides every subject
// with the policies its run announced, publishes the decisions to the same partition of
// the decisions topic, and only then commits.
package evaluator

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/health"
)

// Config is the evaluator's settings.
type Config struct {
	Group            string
	HTTP             string // health endpoint address; "" disables it
	FetchMax         int
	MaxMessageBytes  int
	Compression      wire.Compression // codec of the decision batches' Arrow bodies
	RunWait          time.Duration    // how long a message waits for its run's run-start
	DrainTimeout     time.Duration    // how long shutdown waits for in-flight batches
	ProgressInterval time.Duration
	Instance         string
	Topics           control.Topics
	// Telemetry records the evaluator's metrics and spans; nil makes Run create (and
	// shut down) its own. Tests pass one to scrape it after the run.
	Telemetry *telemetry.Telemetry
	// Engine, in process only (clearway run; no flag), decides every run with this
	// engine instead of rebuilding one from the run-start record's policy documents
	// (ingest.Config.Engine announces runs without them).
	Engine *eligibility.Engine
}

// RegisterFlags registers the evaluator's flags with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "group", "clearway-evaluator", "consumer group on the subjects topic")
	fs.StringVar(&c.HTTP, "http", ":8080", "address of the /healthz, /readyz and /metrics endpoint (\"\" disables it)")
	fs.IntVar(&c.FetchMax, "fetch-max", 8, "messages per fetch (each a batch of subjects)")
	fs.IntVar(&c.MaxMessageBytes, "max-message-bytes", 900_000, "largest decisions message published; at most the broker's message.max.bytes")
	c.Compression = wire.LZ4
	fs.Var(&c.Compression, "wire-compression", "codec of the decision batches: lz4, zstd or none")
	fs.DurationVar(&c.RunWait, "run-wait", 2*time.Minute, "how long a batch waits for its run's run-start record before going to the dead-letter topic")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long to wait for in-flight batches to be published and committed")
	fs.DurationVar(&c.ProgressInterval, "progress-interval", 2*time.Second, "how often progress records are published")
	fs.StringVar(&c.Instance, "instance", defaultInstance(), "instance name in progress records")
	c.Topics.RegisterFlags(fs)
}

// DefaultConfig returns the defaults RegisterFlags registers.
func DefaultConfig() Config {
	var c Config
	c.RegisterFlags(flag.NewFlagSet("evaluate", flag.ContinueOnError))
	return c
}

func defaultInstance() string {
	h, _ := os.Hostname()
	return fmt.Sprintf("%s-%d", h, os.Getpid())
}

// Validate reports settings that cannot work.
func (c *Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("--group must name a consumer group"))
	}
	if c.FetchMax < 1 || c.MaxMessageBytes < 64<<10 {
		errs = append(errs, errors.New("--fetch-max must be positive and --max-message-bytes at least 65536"))
	}
	if c.RunWait <= 0 || c.DrainTimeout <= 0 || c.ProgressInterval <= 0 {
		errs = append(errs, errors.New("--run-wait, --drain-timeout and --progress-interval must be positive"))
	}
	if err := c.Topics.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Service is one evaluator process.
type Service struct {
	cfg    Config
	b      control.Bus
	log    *slog.Logger
	health *health.Server
	tel    *telemetry.Telemetry // set by Run

	engines engines
	stats   counters
}

// New returns an evaluator; Run starts it.
func New(cfg Config, b control.Bus, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	return &Service{cfg: cfg, b: b, log: log, engines: engines{m: map[string]engineEntry{}},
		stats: counters{runs: map[string]*control.Progress{}}}, nil
}

// Health returns the health server once Run has started it (nil before).
func (s *Service) Health() *health.Server { return s.health }

// Run consumes until ctx ends, then finishes the batches in flight (up to DrainTimeout),
// commits them and leaves the group. It returns nil after a clean shutdown.
func (s *Service) Run(ctx context.Context) error {
	tel, hs, stopEndpoints, err := control.StartEndpoints(ctx, s.cfg.Telemetry, "evaluate", s.cfg.HTTP)
	if err != nil {
		return err
	}
	defer stopEndpoints()
	s.tel, s.health = tel, hs
	if err := s.b.Admin.EnsureTopics(ctx, s.cfg.Topics.Specs()...); err != nil {
		if ctx.Err() != nil {
			return nil // stopped (SIGTERM) while starting: nothing is in flight
		}
		return fmt.Errorf("create topics: %w", err)
	}
	follower, err := control.Follow(ctx, s.b, s.cfg.Topics.ControlTopic(), "evaluator", s.log)
	if err != nil {
		return err
	}
	defer follower.Close()
	s.engines.reg = follower.Registry
	sub, err := s.b.Subscribe(bus.SubscriberOptions{Group: s.cfg.Group, Topics: []string{s.cfg.Topics.SubjectsTopic()}})
	if err != nil {
		return fmt.Errorf("join %s: %w", s.cfg.Group, err)
	}
	// Work continues past ctx for in-flight batches, bounded by the drain timeout.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	go func() {
		<-ctx.Done()
		select {
		case <-time.After(s.cfg.DrainTimeout):
			cancelWork()
		case <-work.Done():
		}
	}()
	watchCtx, stopWatch := context.WithCancel(ctx)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		// Ready while partitions are assigned; every assignment is a generation joined.
		control.WatchAssignment(watchCtx, tel, sub, s.cfg.Group, func(tps []bus.TopicPartition) { hs.SetReady(len(tps) > 0) })
		hs.SetReady(false)
	}()
	defer func() { stopWatch(); <-watching }()
	defer control.ReportLag(watchCtx, tel, s.b.Admin, sub, s.cfg.Group, control.LagInterval)() // clearway.consumer.lag
	stopProgress := s.startProgress(ctx)

	err = s.consume(ctx, work, sub)
	stopProgress()
	s.publishProgress(work)
	if cerr := sub.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	s.log.Info("evaluator stopped", "instance", s.cfg.Instance)
	return err
}

// consume fetches batches and hands each to its partition's worker, so batches of one
// partition are processed and committed in order while partitions run in parallel. The
// first failure stops everything: a later commit on that partition would otherwise
// acknowledge the failed batch too.
func (s *Service) consume(ctx, work context.Context, sub bus.Subscriber) error {
	fetchCtx, stopFetch := context.WithCancel(ctx)
	defer stopFetch()
	var (
		wg       sync.WaitGroup
		failOnce sync.Once
		failure  error
		failed   = make(chan struct{})
	)
	fail := func(err error) {
		failOnce.Do(func() { failure = err; close(failed); stopFetch() })
	}
	workers := map[bus.TopicPartition]chan []bus.Message{}
	defer func() {
		for _, ch := range workers {
			close(ch)
		}
		wg.Wait()
	}()
	for {
		msgs, err := control.TimedFetch(fetchCtx, s.tel, sub, s.cfg.Topics.SubjectsTopic(), s.cfg.FetchMax)
		if err != nil {
			select {
			case <-failed:
				return failure
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("fetch: %w", err)
		}
		tp := bus.TopicPartition{Topic: msgs[0].Topic, Partition: msgs[0].Partition}
		ch, ok := workers[tp]
		if !ok {
			ch = make(chan []bus.Message, 1)
			workers[tp] = ch
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := range ch {
					select {
					case <-failed:
						continue // drain: nothing more is processed or committed
					default:
					}
					if err := s.process(work, sub, batch); err != nil {
						fail(err)
					}
				}
			}()
		}
		select {
		case ch <- msgs:
		case <-failed:
			return failure
		case <-ctx.Done():
			return nil // not processed: redelivered to the group
		}
	}
}

// process decides one fetched batch, publishes its output and commits it, in an
// "evaluate batch" span that continues (or links to) the ingest's publish spans and whose
// context the published decisions carry on to the sink.
func (s *Service) process(ctx context.Context, sub bus.Subscriber, msgs []bus.Message) (err error) {
	start := time.Now()
	ctx, span := control.ConsumerSpan(ctx, s.tel, "evaluate batch", s.cfg.Group, msgs)
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "batch failed")
		}
		span.End()
	}()
	in := s.tel.Instruments
	var (
		out, dead []bus.Message
		outCounts []int64 // decisions per message of out
		inBytes   int64
	)
	for _, m := range msgs {
		inBytes += int64(len(m.Value))
		h := s.handle(ctx, m)
		if h.subjects > 0 {
			in.Batch(ctx, "in", h.subjects, int64(len(m.Value)))
		}
		in.RecordsIn(ctx, h.subjects, 0)
		if h.code != "" {
			if ctx.Err() != nil {
				return ctx.Err() // shutting down: leave the batch uncommitted
			}
			s.log.WarnContext(ctx, "message to dead-letter topic", "partition", m.Partition, "offset", m.Offset, "reason", h.reason)
			dead = append(dead, control.DeadLetter(s.cfg.Topics.DeadLetterTopic(), m, h.reason))
			in.DeadLetter(ctx, h.code)
			s.stats.deadLetter(control.HeaderString(m, control.HeaderRun))
			continue
		}
		out = append(out, h.out...)
		outCounts = append(outCounts, h.decisions...)
	}
	in.RecordsIn(ctx, 0, inBytes)
	for i := range out {
		s.tel.Inject(ctx, &out[i].Headers)
	}
	in.BatchTook(ctx, time.Since(start).Seconds())
	if len(out) > 0 {
		if err := control.TimedPublish(ctx, s.tel, s.b.Publisher, out...); err != nil {
			return fmt.Errorf("publish decisions: %w", err)
		}
		var decisions, size int64
		for i, m := range out {
			size += int64(len(m.Value))
			decisions += outCounts[i]
			if outCounts[i] > 0 {
				in.Batch(ctx, "out", outCounts[i], int64(len(m.Value)))
			}
		}
		in.RecordsOut(ctx, decisions, size)
	}
	if len(dead) > 0 {
		if err := control.TimedPublish(ctx, s.tel, s.b.Publisher, dead...); err != nil {
			return fmt.Errorf("publish dead letters: %w", err)
		}
	}
	if err := control.TimedCommit(ctx, s.tel, sub, msgs...); err != nil {
		if errors.Is(err, bus.ErrRevoked) {
			// Another member owns the partition now and will redo the batch; the sink
			// deduplicates.
			s.log.InfoContext(ctx, "commit after rebalance skipped", "err", err)
			return nil
		}
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// handled is what became of one consumed message.
type handled struct {
	out       []bus.Message // to the decisions topic
	decisions []int64       // decisions (one per subject) in each of out
	subjects  int64         // subjects consumed
	// code is the dead-letter reason code for metrics (docs/metrics.md), "" when the
	// message was processed; reason says why in words, for the dead-letter header.
	code, reason string
}

func deadLetter(subjects int64, code, reason string) handled {
	return handled{subjects: subjects, code: code, reason: reason}
}

// handle turns one subjects-topic message into decisions-topic messages, or says why it
// cannot be processed.
func (s *Service) handle(ctx context.Context, m bus.Message) handled {
	runID := control.HeaderString(m, control.HeaderRun)
	typ := control.HeaderString(m, control.HeaderType)
	if runID == "" {
		return deadLetter(0, "missing_run_id", "no "+control.HeaderRun+" header")
	}
	switch typ {
	case control.TypeRejects, control.TypeEnd:
		// Forwarded unchanged, in partition order: an end marker follows every
		// decision of its partition.
		fwd := m
		fwd.Topic, fwd.Offset = s.cfg.Topics.DecisionsTopic(), 0
		fwd.Headers = slices.Clone(m.Headers) // the evaluator's trace context is set on them
		return handled{out: []bus.Message{fwd}, decisions: []int64{0}}
	case control.TypeSubjects:
	default:
		return deadLetter(0, "unknown_type", fmt.Sprintf("unknown message type %q", typ))
	}
	eng, code, reason := s.cfg.Engine, "", ""
	if eng == nil {
		eng, code, reason = s.engines.get(ctx, runID, s.cfg.RunWait)
	}
	if code != "" {
		return deadLetter(0, code, reason)
	}
	seqs, err := control.DecodeSeqs(mustHeader(m, control.HeaderSeq))
	if err != nil {
		return deadLetter(0, "decode_error", "subjects message: "+err.Error())
	}
	var subjects []*record.Subject
	if m.Local != nil {
		// Published in process: the batch as ingest grouped it.
		local, ok := m.Local.([]*record.Subject)
		if !ok {
			return deadLetter(0, "decode_error", fmt.Sprintf("subjects message carries %T", m.Local))
		}
		subjects = local
	} else if subjects, err = wire.DecodeSubjects(m.Value); err != nil {
		return deadLetter(0, "decode_error", err.Error())
	}
	n := int64(len(subjects))
	if len(seqs) != len(subjects) {
		return deadLetter(n, "decode_error", fmt.Sprintf("subjects message holds %d subjects but %d sequence numbers", len(subjects), len(seqs)))
	}
	results := make([]eligibility.Result, len(subjects))
	rows := 0
	for i, subj := range subjects {
		results[i] = eng.Evaluate(subj)
		rows += len(subj.Events)
	}
	if bus.InProcess(s.b.Publisher) {
		// The sink is in this process: the decisions travel as they are (Message.Local).
		hs := control.WithHeader(m.Headers, control.HeaderType, []byte(control.TypeResults))
		hs = control.WithHeader(hs, control.HeaderSchema, []byte(strconv.Itoa(wire.DecisionsSchemaVersion)))
		out := bus.Message{Topic: s.cfg.Topics.DecisionsTopic(), Partition: m.Partition, Key: m.Key, Headers: hs, Local: results}
		s.stats.decided(runID, int64(rows), int64(len(subjects)))
		return handled{out: []bus.Message{out}, decisions: []int64{n}, subjects: n}
	}
	enc := wire.Encoder{Compression: s.cfg.Compression}
	parts, err := control.EncodeFit(len(results), s.cfg.MaxMessageBytes, func(lo, hi int) ([]byte, error) {
		msgs, err := enc.EncodeResults(results[lo:hi], 0)
		if err != nil {
			return nil, err
		}
		return msgs[0], nil
	})
	if err != nil {
		return deadLetter(n, "encode_error", "encode decisions: "+err.Error())
	}
	h := handled{out: make([]bus.Message, len(parts)), decisions: make([]int64, len(parts)), subjects: n}
	for i, pt := range parts {
		hs := control.WithHeader(m.Headers, control.HeaderType, []byte(control.TypeResults))
		hs = control.WithHeader(hs, control.HeaderSchema, []byte(strconv.Itoa(wire.DecisionsSchemaVersion)))
		hs = control.WithHeader(hs, control.HeaderSeq, control.AppendSeqs(nil, seqs[pt.Lo:pt.Hi]))
		// hs keeps the ingest's headers, clearway-published-at among them, so the sink
		// measures the latency from the ingest's publish.
		h.out[i] = bus.Message{Topic: s.cfg.Topics.DecisionsTopic(), Partition: m.Partition, Key: m.Key, Value: pt.Data, Headers: hs}
		h.decisions[i] = int64(pt.Hi - pt.Lo)
	}
	s.stats.decided(runID, int64(rows), int64(len(subjects)))
	return h
}

func mustHeader(m bus.Message, key string) []byte {
	v, _ := m.Header(key)
	return v
}

// engines builds one Engine per run from its run-start record, once.
type engines struct {
	reg *control.Registry
	mu  sync.Mutex
	m   map[string]engineEntry
}

type engineEntry struct {
	eng          *eligibility.Engine
	code, reason string // why the run cannot be decided
}

// get returns the run's engine, waiting up to wait for its run-start record; code and
// reason are set when there is none.
func (e *engines) get(ctx context.Context, runID string, wait time.Duration) (*eligibility.Engine, string, string) {
	e.mu.Lock()
	ent, ok := e.m[runID]
	e.mu.Unlock()
	if ok {
		return ent.eng, ent.code, ent.reason
	}
	wctx, cancel := context.WithTimeout(ctx, wait)
	start, err := e.reg.WaitStart(wctx, runID)
	cancel()
	if err != nil {
		// Not cached: the run may still be announced for later messages.
		return nil, "run_wait_expired", fmt.Sprintf("run %s: no run-start record within %v", runID, wait)
	}
	eng, err := start.Engine()
	ent = engineEntry{eng: eng}
	if err != nil {
		ent.code, ent.reason = "policy_error", fmt.Sprintf("run %s: %v", runID, err)
	}
	e.mu.Lock()
	e.m[runID] = ent
	e.mu.Unlock()
	return ent.eng, ent.code, ent.reason
}

// counters are this instance's per-run progress.
type counters struct {
	mu    sync.Mutex
	runs  map[string]*control.Progress
	dirty map[string]bool
}

func (c *counters) run(id string) *control.Progress {
	p, ok := c.runs[id]
	if !ok {
		p = &control.Progress{Service: "evaluator"}
		c.runs[id] = p
	}
	if c.dirty == nil {
		c.dirty = map[string]bool{}
	}
	c.dirty[id] = true
	return p
}

func (c *counters) decided(id string, rows, subjects int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.run(id)
	p.Rows += rows
	p.Subjects += subjects
}

func (c *counters) deadLetter(id string) {
	if id == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run(id).DeadLetters++
}

// changed returns the progress of the runs that changed since the last call.
func (c *counters) changed() map[string]control.Progress {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]control.Progress{}
	for id := range c.dirty {
		out[id] = *c.runs[id]
	}
	c.dirty = nil
	return out
}

func (s *Service) startProgress(ctx context.Context) func() {
	done := make(chan struct{})
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer close(done)
		tick := time.NewTicker(s.cfg.ProgressInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.publishProgress(ctx)
			}
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Service) publishProgress(ctx context.Context) {
	for id, p := range s.stats.changed() {
		p.Instance = s.cfg.Instance
		rec := control.Record{Kind: control.KindProgress, RunID: id, Progress: &p}
		if err := control.Publish(ctx, s.b.Publisher, s.cfg.Topics.ControlTopic(), rec); err != nil && ctx.Err() == nil {
			s.log.Warn("progress record not published", "run", id, "err", err)
		}
	}
}
