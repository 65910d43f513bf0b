// Package synth generates synthetic California DOJ criminal-history research files: the
// 95-column rows that Clearway reads, for any number of rows, one county or the whole
// state, deterministically from a seed.
//
// Unlike gogen's shape generator, the people it invents look like a county extract:
// most have no Prop 64 conviction at all, convictions happen between ages 16 and 70 and
// between 1961 and 2020, felony shares follow the law of the day, and the rare paths
// (deceased subjects, PC 290 registrations, super strikes, charges carried in the
// comment, 11357.5 look-alikes) all occur. Every value is invented; no row describes a
// real person.
//
// Output is streamed: memory stays at a few MiB for any row count. With Shuffle the
// rows are scattered over temporary bucket files and each bucket is shuffled in
// memory, so memory stays bounded for tens of millions of rows too.
package synth

import (
	"github.com/clearway/clearway/pkg/record"

	"bufio"
	"context"
	"fmt"
	"io"
)

// Config says what to generate. The same Config always yields byte-identical output.
type Config struct {
	// Seed selects the synthetic population.
	Seed int64
	// Rows is the target number of data rows; generation stops after the person whose
	// rows reach it, so the output holds at least Rows rows and overshoots by less than
	// one person's history.
	Rows int
	// County is "" for all 58 counties, people drawn in proportion to population, or
	// one county name in upper case as the DOJ writes it (see Counties); then every
	// person's home county is that county (about 10% of their cycles still happen
	// elsewhere, as in a real county extract).
	County string
	// Shuffle writes the rows in random order instead of grouped by subject.
	Shuffle bool
	// TempDir holds the shuffle's bucket files ("" = os.TempDir()). They need about
	// as much space as the output and are removed before Generate returns.
	TempDir string
	// Header writes the 95-column header row first.
	Header bool
}

// Validate reports the first problem with c, in words an operator can act on.
func (c Config) Validate() error {
	if c.Rows <= 0 {
		return fmt.Errorf("synth: rows must be greater than 0, got %d", c.Rows)
	}
	if c.County != "" {
		if _, ok := record.CountyIndex(c.County); !ok {
			return unknownCountyError(c.County)
		}
	}
	return nil
}

// Stats describes what Generate wrote.
type Stats struct {
	// Rows is the number of data rows (the header is not counted).
	Rows int64
	// Subjects is the number of people (distinct SUBJECT_IDs).
	Subjects int64
	// Prop64Convictions counts convicted H&S 11357-11360 counts (one per CNT_ORDER,
	// including those carried in COMMENT_TEXT; 11357.5 is not Prop 64).
	Prop64Convictions int64
	// Prop64Felonies is how many of those were felony convictions.
	Prop64Felonies int64
	// Prop64Subjects is the number of people with at least one Prop 64 conviction.
	Prop64Subjects int64
	// Deceased and Registered count people with a DECEASED step and with a PC 290
	// REGISTRATION step.
	Deceased, Registered int64
	// Bytes is the number of bytes written, header included.
	Bytes int64
	// Counties breaks the totals down by county, in record.Counties() order.
	Counties []CountyStats
}

// CountyStats is one county's share of a generated file.
type CountyStats struct {
	Name string
	// Subjects is the number of people whose home county this is.
	Subjects int64
	// Rows is the number of rows whose STP_ORI_CNTY_NAME is this county.
	Rows int64
	// Prop64Convictions counts Prop 64 convictions by a court of this county.
	Prop64Convictions int64
}

// writeBufferSize is large so that the writer issues few system calls.
const writeBufferSize = 1 << 20

// Generate writes a synthetic DOJ extract described by c to w and reports what it
// wrote. It stops early with ctx's error when ctx is cancelled.
func Generate(ctx context.Context, w io.Writer, c Config) (Stats, error) {
	return generate(ctx, w, c, defaultShuffleLimits())
}

// generate is Generate with the shuffle's limits as a parameter, so that tests can
// force buckets to be split.
func generate(ctx context.Context, w io.Writer, c Config, limits shuffleLimits) (Stats, error) {
	if err := c.Validate(); err != nil {
		return Stats{}, err
	}
	g := newGenerator(c)
	g.limits = limits
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, writeBufferSize)
	if c.Header {
		if _, err := bw.Write(headerLine()); err != nil {
			return g.stats, fmt.Errorf("synth: write header: %w", err)
		}
	}
	var err error
	if c.Shuffle {
		err = g.runShuffled(ctx, bw)
	} else {
		err = g.runGrouped(ctx, bw)
	}
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("synth: write: %w", ferr)
	}
	g.stats.Bytes = cw.n
	return g.stats, err
}

// runGrouped writes each person's rows as they are generated: grouped by subject, in
// increasing SUBJECT_ID.
func (g *generator) runGrouped(ctx context.Context, bw *bufio.Writer) error {
	for g.stats.Rows < int64(g.cfg.Rows) {
		if err := g.checkContext(ctx); err != nil {
			return err
		}
		g.nextPerson()
		if _, err := bw.Write(g.buf); err != nil {
			return fmt.Errorf("synth: write: %w", err)
		}
	}
	return nil
}

// checkContext polls ctx every 256 people: often enough to stop promptly, rarely
// enough to cost nothing.
func (g *generator) checkContext(ctx context.Context) error {
	if g.stats.Subjects&255 != 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("synth: generation stopped after %d rows: %w", g.stats.Rows, err)
	}
	return nil
}

// countingWriter counts the bytes that reach the destination.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	return n, err
}
