package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/clearway/clearway/pkg/synth"
)

func genCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	var (
		c        synth.Config
		out      string
		noHeader bool
	)
	fs.Int64Var(&c.Seed, "seed", 1, "random seed: the same seed and flags give a byte-identical file")
	fs.IntVar(&c.Rows, "rows", 10000, "number of data rows to write (finishes the last person, so a few more)")
	fs.StringVar(&c.County, "county", "", "one county (upper case, e.g. \"LOS ANGELES\"); default: all 58, sized by population")
	fs.BoolVar(&c.Shuffle, "shuffle", false, "write rows in random order instead of grouped by subject")
	fs.StringVar(&c.TempDir, "tmp", "", "folder for shuffle buckets (default: the system temp folder)")
	fs.BoolVar(&noHeader, "no-header", false, "omit the header row")
	fs.StringVar(&out, "o", "", "output file (.gz compresses); - for standard output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway gen --seed N --rows N [--county NAME] [--shuffle] -o FILE\n\nWrites a synthetic DOJ research file (95 columns). Every value is invented.\n\nflags:")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (the output file goes after -o)", rest[0])
	}
	if out == "" {
		return usagef("-o FILE is required (- for standard output)")
	}
	c.Header = !noHeader
	if err := c.Validate(); err != nil {
		return usageError{err.Error()}
	}
	start := time.Now()
	var st synth.Stats
	if out == "-" {
		bw := bufio.NewWriterSize(stdout, 1<<20)
		if st, err = synth.Generate(ctx, bw, c); err != nil {
			return err
		}
		return bw.Flush()
	}
	if st, err = writeAtomically(out, func(w io.Writer) (synth.Stats, error) { return synth.Generate(ctx, w, c) }); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "clearway gen: wrote %s: %s rows, %s people, %s Prop 64 convictions in %.1fs\n",
		out, thousands(st.Rows), thousands(st.Subjects), thousands(st.Prop64Convictions), time.Since(start).Seconds())
	return nil
}

// writeAtomically writes path through a temporary file in the same folder, gzip-compressed
// when path ends in .gz, and renames it into place only when everything succeeded.
func writeAtomically(path string, write func(io.Writer) (synth.Stats, error)) (synth.Stats, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return synth.Stats{}, err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	var w io.Writer = bw
	var zw *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		zw, _ = gzip.NewWriterLevel(bw, gzip.DefaultCompression)
		w = zw
	}
	st, err := write(w)
	if err == nil && zw != nil {
		err = zw.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644) // CreateTemp makes 0600; a data file is as readable as any other
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return st, fmt.Errorf("write %s: %w", path, err)
	}
	return st, os.Rename(tmp.Name(), path)
}
