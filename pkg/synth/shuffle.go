package synth

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// The shuffle is an external-memory shuffle: every row goes to a bucket file chosen
// at random, then each bucket is read back, permuted in memory and written out. A
// uniformly random bucket followed by a uniform permutation of each bucket gives a
// uniformly random order overall. A bucket larger than the memory limit (only
// possible when rows are much longer than estimated) is split again the same way, so
// memory stays bounded whatever the row count.

// shuffleLimits bounds the shuffle's memory and open files; tests shrink them.
type shuffleLimits struct {
	// targetBytes is the bucket size aimed for when choosing a bucket count.
	targetBytes int64
	// maxBytes is the largest bucket shuffled in memory.
	maxBytes int64
	// maxBuckets bounds the files open at once (each has a write buffer).
	maxBuckets int
	// rowBytes is the row size assumed before anything is generated; an overestimate
	// only costs a few more, smaller buckets.
	rowBytes int64
}

// defaultShuffleLimits keeps a bucket near 16 MiB and never above 32 MiB in memory.
func defaultShuffleLimits() shuffleLimits {
	return shuffleLimits{targetBytes: 16 << 20, maxBytes: 32 << 20, maxBuckets: 256, rowBytes: 512}
}

// bucketWriteBuffer is each bucket file's write buffer: 256 buckets cost 8 MiB.
const bucketWriteBuffer = 32 << 10

// maxSplitDepth stops a runaway recursion; each level divides bucket sizes by at
// least two on average, so real inputs never come close.
const maxSplitDepth = 12

// errTooDeep reports a bucket that refused to shrink: impossible with random bucket
// choices, but a bug must fail rather than loop forever.
var errTooDeep = errors.New("synth: shuffle bucket did not shrink after repeated splits")

// runShuffled generates the rows into random buckets under a private temporary
// directory, then writes every bucket permuted to out. The directory is removed on
// return, on success or failure.
func (g *generator) runShuffled(ctx context.Context, out *bufio.Writer) (err error) {
	dir, err := os.MkdirTemp(g.cfg.TempDir, "clearway-synth-")
	if err != nil {
		return fmt.Errorf("synth: shuffle: create temporary directory: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("synth: shuffle: remove temporary files: %w", rerr)
		}
	}()

	sh := &shuffler{
		rng:    rand.New(rand.NewPCG(uint64(g.cfg.Seed), shuffleStream)),
		dir:    dir,
		out:    out,
		limits: g.limits,
	}
	n := sh.bucketsFor(int64(g.cfg.Rows) * g.limits.rowBytes)
	sc, err := sh.newScatter("b", n)
	if err != nil {
		return err
	}
	for g.stats.Rows < int64(g.cfg.Rows) {
		if err := g.checkContext(ctx); err != nil {
			sc.abort()
			return err
		}
		g.nextPerson()
		if err := sh.scatterLines(sc, g.buf); err != nil {
			sc.abort()
			return err
		}
	}
	buckets, err := sc.finish()
	if err != nil {
		return err
	}
	return sh.drain(ctx, buckets, 0)
}

// shuffler holds the state of one shuffle.
type shuffler struct {
	rng    *rand.Rand
	dir    string
	out    *bufio.Writer
	limits shuffleLimits
	seq    int      // names bucket files uniquely
	data   []byte   // one bucket's bytes, reused
	starts []uint32 // line starts within data, reused
}

// bucketsFor chooses how many buckets size bytes need.
func (sh *shuffler) bucketsFor(size int64) int {
	n := int((size + sh.limits.targetBytes - 1) / sh.limits.targetBytes)
	return min(max(n, 1), sh.limits.maxBuckets)
}

// bucket is one finished bucket file.
type bucket struct {
	path string
	size int64
}

// scatter writes lines to a set of bucket files.
type scatter struct {
	files []*os.File
	ws    []*bufio.Writer
	sizes []int64
}

func (sh *shuffler) newScatter(prefix string, n int) (*scatter, error) {
	sc := &scatter{files: make([]*os.File, 0, n), ws: make([]*bufio.Writer, 0, n), sizes: make([]int64, n)}
	for range n {
		sh.seq++
		f, err := os.Create(filepath.Join(sh.dir, prefix+strconv.Itoa(sh.seq)))
		if err != nil {
			sc.abort()
			return nil, fmt.Errorf("synth: shuffle: create bucket: %w", err)
		}
		sc.files = append(sc.files, f)
		sc.ws = append(sc.ws, bufio.NewWriterSize(f, bucketWriteBuffer))
	}
	return sc, nil
}

// scatterLines sends each line of buf to a random bucket.
func (sh *shuffler) scatterLines(sc *scatter, buf []byte) error {
	n := len(sc.ws)
	for len(buf) > 0 {
		end := bytes.IndexByte(buf, '\n') + 1
		if end == 0 {
			end = len(buf)
		}
		i := 0
		if n > 1 {
			i = sh.rng.IntN(n)
		}
		if _, err := sc.ws[i].Write(buf[:end]); err != nil {
			return fmt.Errorf("synth: shuffle: write bucket: %w", err)
		}
		sc.sizes[i] += int64(end)
		buf = buf[end:]
	}
	return nil
}

// finish flushes and closes every bucket.
func (sc *scatter) finish() ([]bucket, error) {
	out := make([]bucket, len(sc.files))
	var errs []error
	for i, f := range sc.files {
		if err := sc.ws[i].Flush(); err != nil {
			errs = append(errs, err)
		}
		if err := f.Close(); err != nil {
			errs = append(errs, err)
		}
		out[i] = bucket{path: f.Name(), size: sc.sizes[i]}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("synth: shuffle: finish buckets: %w", err)
	}
	return out, nil
}

// abort closes every bucket without flushing; the files go with the directory.
func (sc *scatter) abort() {
	for _, f := range sc.files {
		_ = f.Close() // the data is being thrown away
	}
}

// drain writes each bucket to the output in random order, splitting any bucket too
// large to hold in memory. Buckets are removed as soon as they are consumed so that
// the disk holds at most about one copy of the output.
func (sh *shuffler) drain(ctx context.Context, buckets []bucket, depth int) error {
	for _, b := range buckets {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("synth: shuffle stopped: %w", err)
		}
		var err error
		if b.size <= sh.limits.maxBytes {
			err = sh.permute(b)
		} else {
			err = sh.split(ctx, b, depth)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// permute reads one bucket, permutes its lines and writes them out.
func (sh *shuffler) permute(b bucket) error {
	f, err := os.Open(b.path)
	if err != nil {
		return fmt.Errorf("synth: shuffle: open bucket: %w", err)
	}
	if int64(cap(sh.data)) < b.size {
		// Headroom: bucket sizes vary a little, and every regrowth leaves garbage.
		sh.data = make([]byte, b.size, min(b.size+b.size/8, max(sh.limits.maxBytes, b.size)))
	}
	data := sh.data[:b.size]
	_, err = io.ReadFull(f, data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("synth: shuffle: read bucket: %w", err)
	}
	if err := os.Remove(b.path); err != nil {
		return fmt.Errorf("synth: shuffle: remove bucket: %w", err)
	}

	starts := sh.starts[:0]
	for off := 0; off < len(data); {
		starts = append(starts, uint32(off))
		end := bytes.IndexByte(data[off:], '\n')
		if end < 0 {
			break
		}
		off += end + 1
	}
	sh.starts = starts
	sh.rng.Shuffle(len(starts), func(i, j int) { starts[i], starts[j] = starts[j], starts[i] })
	for _, s := range starts {
		line := data[s:]
		if end := bytes.IndexByte(line, '\n'); end >= 0 {
			line = line[:end+1]
		}
		if _, err := sh.out.Write(line); err != nil {
			return fmt.Errorf("synth: write: %w", err)
		}
	}
	return nil
}

// split scatters an oversized bucket into smaller ones and drains those.
func (sh *shuffler) split(ctx context.Context, b bucket, depth int) error {
	if depth >= maxSplitDepth {
		return errTooDeep
	}
	sc, err := sh.newScatter("s", max(sh.bucketsFor(b.size), 2))
	if err != nil {
		return err
	}
	if err := sh.rescatter(sc, b.path); err != nil {
		sc.abort()
		return err
	}
	parts, err := sc.finish()
	if err != nil {
		return err
	}
	if err := os.Remove(b.path); err != nil {
		return fmt.Errorf("synth: shuffle: remove bucket: %w", err)
	}
	return sh.drain(ctx, parts, depth+1)
}

// rescatter sends every line of the file at path to a random bucket of sc. Rows are
// far shorter than the read buffer, so ReadSlice always returns whole lines.
func (sh *shuffler) rescatter(sc *scatter, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("synth: shuffle: open bucket: %w", err)
	}
	defer f.Close() // read-only: a close error cannot lose data
	br := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 && err == nil || err == io.EOF {
			if serr := sh.scatterLines(sc, line); serr != nil {
				return serr
			}
		}
		switch {
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("synth: shuffle: read bucket: %w", err)
		}
	}
}
