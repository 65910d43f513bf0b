// Package report writes the results of one Clearway run: gogen-compatible CSVs and
// gogen.json (Gogen), or Clearway's native outputs — per-conviction decisions in Parquet
// and CSV, rejects.csv, summary.json and a self-contained HTML report (Native).
//
// Both outputs stream: decisions are written (or, for gogen's row-for-row CSVs, kept as
// compact cells keyed by input row) as subjects arrive, and nothing holds the input.
// Every file is written under a temporary name in the output folder and renamed only
// when it is complete, so a crashed run never leaves a file that looks finished.
package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// InputFile is one input file of a run. Index is its position in the run's file list,
// the value record.Source.File carries.
type InputFile struct {
	Path  string
	Index int32
	Size  int64
}

// RunInfo describes a run; it is fixed before the first subject is written.
type RunInfo struct {
	RunID     string
	ComputeAt record.Date
	// County is the county a run is scoped to; "" means statewide.
	County        string
	Files         []InputFile
	Policies      *eligibility.Policies
	EngineVersion string
	Started       time.Time
}

// FileStats counts one input file's rows. Rows is every data row read (accepted and
// quarantined, header excluded); Rejects is the quarantined part of it.
type FileStats struct {
	Rows, Rejects int64
	HasHeader     bool
}

// RunStats is what the pipeline knows only at the end of a run. Files is indexed like
// RunInfo.Files.
type RunStats struct {
	Files    []FileStats
	Finished time.Time
}

// Output receives one run's results. Subject and Reject are called from ONE goroutine,
// in a deterministic order chosen by the pipeline; Close finishes every file.
type Output interface {
	Subject(r *eligibility.Result) error
	Reject(r doj.Reject) error
	Close(ctx context.Context, st RunStats) error
}

// errClosed is returned by an output used after Close.
var errClosed = errors.New("report: output already closed")

// pendingFile is an output file being written under a temporary name in its final
// folder (so the rename is atomic on one file system).
type pendingFile struct {
	f     *os.File
	final string
}

// createPending creates a hidden temporary file next to dir/name.
func createPending(dir, name string) (*pendingFile, error) {
	f, err := os.CreateTemp(dir, "."+name+".*.partial")
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Join(dir, name), err)
	}
	return &pendingFile{f: f, final: filepath.Join(dir, name)}, nil
}

// commit closes the file and moves it to its final name. os.CreateTemp made it 0600;
// a finished output gets the mode os.Create gives under the usual umask.
func (p *pendingFile) commit() error {
	if err := p.f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %s: %w", p.final, err)
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p.final, err)
	}
	if err := os.Rename(p.f.Name(), p.final); err != nil {
		return fmt.Errorf("rename %s: %w", p.final, err)
	}
	return nil
}

// discard closes and removes an unfinished file; errors are irrelevant by then.
func (p *pendingFile) discard() {
	_ = p.f.Close()
	_ = os.Remove(p.f.Name())
}

// writeFileAtomic writes data to dir/name through a temporary file.
func writeFileAtomic(dir, name string, data []byte) error {
	p, err := createPending(dir, name)
	if err != nil {
		return err
	}
	if _, err := p.f.Write(data); err != nil {
		p.discard()
		return fmt.Errorf("write %s: %w", p.final, err)
	}
	if err := p.commit(); err != nil {
		p.discard()
		return err
	}
	return nil
}

// ensureDir creates the output folder.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create output folder %s: %w", dir, err)
	}
	return nil
}

// cell returns cell i of a row, or "" when the row is shorter (hand-built rows in
// tests, or a reader that kept a short row).
func cell(c record.Cells, i int) string {
	if i < c.Len() {
		return c.Cell(i)
	}
	return ""
}
