package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/warehouse"
)

func reportCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var (
		ch    clickhouseFlags
		runID string
		out   string
	)
	ch.register(fs, "ClickHouse native address, host:port (required), e.g. 127.0.0.1:9000")
	fs.StringVar(&runID, "run", "", "run id to report on (required)")
	fs.StringVar(&out, "out", "clearway-report", "output folder for summary.json and report.html (created if missing)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway report --clickhouse ADDR --run ID [--out DIR]\n\nWrites a stored run's summary.json and report.html, rebuilt from the deduplicated rows in\nClickHouse: the same files `clearway run` wrote for that run (timing aside).\n\nflags:")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef("unexpected argument %q", rest[0])
	case ch.Addr == "":
		return usagef("--clickhouse ADDR is required")
	case runID == "":
		return usagef("--run ID is required")
	case out == "":
		return usagef("--out must name a folder")
	}
	dbs, err := ch.databases()
	if err != nil {
		return err
	}
	conn, err := ch.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	s, err := warehouse.LoadSummary(ctx, conn, dbs, runID)
	if err != nil {
		return err
	}
	js, err := s.JSON()
	if err != nil {
		return err
	}
	var page bytes.Buffer
	if err := report.WriteHTML(&page, s); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("create output folder %s: %w", out, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"summary.json", js}, {"report.html", page.Bytes()}} {
		if err := writeAtomic(filepath.Join(out, f.name), f.data); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "run %s: %s people, %s convictions decided; wrote %s and %s\n", runID,
		thousands(s.Totals.Subjects), thousands(s.Totals.ConvictionsEvaluated),
		filepath.Join(out, "summary.json"), filepath.Join(out, "report.html"))
	return nil
}

// writeAtomic writes a file through a temporary name in the same folder, so that a
// failed write never leaves a file that looks complete.
func writeAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(0o644)
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(f.Name(), path)
	}
	if werr != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
