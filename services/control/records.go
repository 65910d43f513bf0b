package control

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/schemas/policies"
)

// RecordVersion is the version of the control records' JSON (HeaderSchema).
const RecordVersion = 1

// Kinds of control records.
const (
	KindRunStart    = "run-start"
	KindProgress    = "progress"
	KindRunEnd      = "run-end"
	KindRunComplete = "run-complete"
	KindRunFailed   = "run-failed"
)

// Record is one control record. Exactly one of the pointers matches Kind.
type Record struct {
	Kind     string       `json:"kind"`
	RunID    string       `json:"run_id"`
	Time     time.Time    `json:"time"`
	Start    *RunStart    `json:"start,omitempty"`
	Progress *Progress    `json:"progress,omitempty"`
	End      *RunEnd      `json:"end,omitempty"`
	Complete *RunComplete `json:"complete,omitempty"`
	Failed   *RunFailed   `json:"failed,omitempty"`
}

// Validate checks that the record is complete for its kind.
func (r *Record) Validate() error {
	if r.RunID == "" {
		return errors.New("control record without a run id")
	}
	ok := false
	switch r.Kind {
	case KindRunStart:
		ok = r.Start != nil
	case KindProgress:
		ok = r.Progress != nil
	case KindRunEnd:
		ok = r.End != nil
	case KindRunComplete:
		ok = r.Complete != nil
	case KindRunFailed:
		ok = r.Failed != nil
	default:
		return fmt.Errorf("unknown control record kind %q", r.Kind)
	}
	if !ok {
		return fmt.Errorf("%s record without its body", r.Kind)
	}
	return nil
}

// DecodeRecord decodes and validates a control record.
func DecodeRecord(data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("decode control record: %w", err)
	}
	return r, r.Validate()
}

// RunStart announces a run: everything an evaluator needs to decide it and a sink needs
// to describe it.
type RunStart struct {
	ComputeAt     string      `json:"compute_at"` // YYYY-MM-DD
	County        string      `json:"county,omitempty"`
	EngineVersion string      `json:"engine_version"`
	Files         []InputFile `json:"files"`
	Policies      []PolicyDoc `json:"policies"`
	Partitions    int         `json:"partitions"` // of the subjects topic
	Started       time.Time   `json:"started"`
}

// InputFile is one readable input of the run.
type InputFile struct {
	Path  string `json:"path"`
	Index int32  `json:"index"`
	Size  int64  `json:"size"`
}

// PolicyDoc is one policy as its document: County is a county name or policy.DefaultCounty,
// Name the name it was parsed under (it supplies the policy's default name and format),
// Hash the hex SHA-256 of Document.
type PolicyDoc struct {
	County   string `json:"county"`
	Name     string `json:"name"`
	Hash     string `json:"hash"`
	Document []byte `json:"document"`
}

// Progress reports one service instance's cumulative counts for a run.
type Progress struct {
	Service  string `json:"service"` // "ingest", "evaluator" or "sink"
	Instance string `json:"instance"`
	Rows     int64  `json:"rows"`     // ingest: rows read; evaluator: rows decided
	Subjects int64  `json:"subjects"` // ingest: published; evaluator: decided; sink: stored
	Rejects  int64  `json:"rejects,omitempty"`
	// DeadLetters are messages of this run this instance sent to the dead-letter topic.
	DeadLetters int64 `json:"dead_letters,omitempty"`
}

// RunEnd closes the ingest of a run.
type RunEnd struct {
	Attempt           int                `json:"attempt"`
	Mode              string             `json:"mode"`
	Rows              int64              `json:"rows"`
	Rejects           int64              `json:"rejects"`
	Subjects          int64              `json:"subjects"`
	Duplicates        int64              `json:"duplicates"`
	Files             []report.FileStats `json:"files"`
	PartitionSubjects []int64            `json:"partition_subjects"`
	DurationMS        int64              `json:"duration_ms"`
}

// RunComplete is written by the sink once the run's outputs are published.
type RunComplete struct {
	Dir       string `json:"dir"`
	Subjects  int64  `json:"subjects"`
	Evaluated int64  `json:"evaluated"`
	Rejects   int64  `json:"rejects"`
}

// RunFailed says why a run could not be completed.
type RunFailed struct {
	Service string `json:"service"`
	Reason  string `json:"reason"`
}

// EndMarker is the body of an `end` message: the subjects ingest published to one
// partition in the given attempt.
type EndMarker struct {
	Partition int   `json:"partition"`
	Attempt   int   `json:"attempt"`
	Subjects  int64 `json:"subjects"`
}

// RejectLine is one quarantined row in a `rejects` message (JSON lines). Seq is its
// position among the run's rejects, the order `clearway run` writes them in.
type RejectLine struct {
	Seq int64 `json:"seq"`
	doj.Reject
}

// Info rebuilds the report.RunInfo of the run.
func (s *RunStart) Info(runID string, pols *eligibility.Policies) (report.RunInfo, error) {
	at, err := record.ParseISO(s.ComputeAt)
	if err != nil {
		return report.RunInfo{}, fmt.Errorf("run %s: compute-at: %w", runID, err)
	}
	info := report.RunInfo{RunID: runID, ComputeAt: at, County: s.County, Policies: pols,
		EngineVersion: s.EngineVersion, Started: s.Started}
	for _, f := range s.Files {
		info.Files = append(info.Files, report.InputFile{Path: f.Path, Index: f.Index, Size: f.Size})
	}
	return info, nil
}

// Engine rebuilds the run's policies from their documents, checking every hash, and
// returns the engine that decides the run.
func (s *RunStart) Engine() (*eligibility.Engine, error) {
	at, err := record.ParseISO(s.ComputeAt)
	if err != nil {
		return nil, fmt.Errorf("compute-at: %w", err)
	}
	pols := &eligibility.Policies{ByCounty: map[string]*eligibility.Policy{}}
	for _, d := range s.Policies {
		sum := sha256.Sum256(d.Document)
		if hex.EncodeToString(sum[:]) != d.Hash {
			return nil, fmt.Errorf("policy %s for %s: document does not match its hash", d.Name, d.County)
		}
		p, _, err := policy.Parse(d.Name, d.Document)
		if err != nil {
			return nil, fmt.Errorf("policy for %s: %w", d.County, err)
		}
		if d.County == policy.DefaultCounty {
			pols.Default = p
		} else {
			pols.ByCounty[d.County] = p
		}
	}
	eng := &eligibility.Engine{Policies: pols, ComputeAt: at, County: s.County}
	if err := eng.Validate(); err != nil {
		return nil, err
	}
	return eng, nil
}

// LoadPolicyDocs loads policies the way `clearway run` does — one file for every county
// (file), a folder of county policies (dir), or the built-in defaults — and returns them
// with the documents they were parsed from, so they can travel with a run.
func LoadPolicyDocs(file, dir string) (*eligibility.Policies, []PolicyDoc, error) {
	var pols *eligibility.Policies
	switch {
	case file != "":
		p, err := policy.LoadFile(file)
		if err != nil {
			return nil, nil, err
		}
		pols = &eligibility.Policies{Default: p}
	case dir != "":
		var err error
		if pols, err = policy.LoadDir(dir); err != nil {
			return nil, nil, err
		}
	default:
		pols = policy.DefaultPolicies()
	}
	// policy.LoadDir owns the county mapping; the documents are found again by hash
	// among the files that could have produced the policies.
	docs, err := candidateDocs(file, dir)
	if err != nil {
		return nil, nil, err
	}
	var out []PolicyDoc
	add := func(county string, p *eligibility.Policy) error {
		d, ok := docs[p.Hash]
		if !ok {
			return fmt.Errorf("policy %s: its document was not found again", p.Name)
		}
		d.County = county
		out = append(out, d)
		return nil
	}
	counties := make([]string, 0, len(pols.ByCounty))
	for c := range pols.ByCounty {
		counties = append(counties, c)
	}
	slices.Sort(counties)
	for _, c := range counties {
		if err := add(c, pols.ByCounty[c]); err != nil {
			return nil, nil, err
		}
	}
	if pols.Default != nil {
		if err := add(policy.DefaultCounty, pols.Default); err != nil {
			return nil, nil, err
		}
	}
	return pols, out, nil
}

// candidateDocs reads the documents a policy may have come from, by hash: the file, the
// folder's policy files, and the built-ins (policy.LoadDir falls back to one).
func candidateDocs(file, dir string) (map[string]PolicyDoc, error) {
	docs := map[string]PolicyDoc{}
	add := func(name string, data []byte) {
		sum := sha256.Sum256(data)
		h := hex.EncodeToString(sum[:])
		if _, ok := docs[h]; !ok {
			docs[h] = PolicyDoc{Name: name, Hash: h, Document: data}
		}
	}
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("read policy: %w", err)
		}
		add(file, data)
	}
	if dir != "" {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("read policy directory: %w", err)
		}
		for _, e := range ents {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if e.IsDir() || (ext != ".yaml" && ext != ".yml" && ext != ".json") {
				continue
			}
			path := filepath.Join(dir, e.Name())
			data, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("read policy: %w", err)
			}
			add(path, data)
		}
	}
	ents, err := policies.FS.ReadDir(".")
	if err != nil {
		return nil, fmt.Errorf("built-in policies: %w", err)
	}
	for _, e := range ents {
		data, err := policies.FS.ReadFile(e.Name())
		if err != nil {
			return nil, fmt.Errorf("built-in policy %s: %w", e.Name(), err)
		}
		add("builtin:"+e.Name(), data)
	}
	return docs, nil
}

// AppendSeqs appends the SeqList encoding of seqs (zig-zag varint deltas from 0; sequences
// increase within a message) to dst.
func AppendSeqs(dst []byte, seqs []int64) []byte {
	prev := int64(0)
	for _, s := range seqs {
		dst = binary.AppendVarint(dst, s-prev)
		prev = s
	}
	return dst
}

// DecodeSeqs decodes a SeqList.
func DecodeSeqs(b []byte) ([]int64, error) {
	var out []int64
	prev := int64(0)
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 {
			return nil, errors.New("malformed sequence list")
		}
		prev += d
		out = append(out, prev)
		b = b[n:]
	}
	return out, nil
}
