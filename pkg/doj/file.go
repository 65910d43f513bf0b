package doj

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"
)

// File is one DOJ research file opened for reading, plain or gzip-compressed.
type File struct {
	Path  string
	Index int32 // the file's position in the run's file list; becomes record.Source.File

	closer    io.Closer
	src       io.Reader // uncompressed bytes; for gzip, read on a goroutine of its own
	gz        *gzip.Reader
	size      int64
	consumed  *atomic.Int64 // bytes read from the file on disk, for progress
	hasHeader atomic.Bool
	scanned   atomic.Bool
}

// gzipMagic starts every gzip member (RFC 1952).
const gzipMagic = "\x1f\x8b"

// Open opens path for reading as input file number index. Compression is detected from
// the content (the gzip magic bytes), not the name, so a misnamed file still reads.
// Errors name the path: a missing or unreadable file, or a corrupt gzip header.
func Open(path string, index int32) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open DOJ file: %w", err) // *PathError names the path
	}
	var size int64
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	df, err := newFile(path, index, f, size)
	if err != nil {
		f.Close()
		return nil, err
	}
	df.closer = f
	return df, nil
}

// newFile wraps r (the file's bytes as on disk) and detects gzip. Tests call it with
// in-memory readers.
func newFile(path string, index int32, r io.Reader, size int64) (*File, error) {
	consumed := new(atomic.Int64)
	// A 64 KiB buffer lets us peek at the magic bytes on any reader (pipes included) and
	// feeds the decompressor efficiently; large reads of a plain file bypass it.
	br := bufio.NewReaderSize(&countingReader{r: r, n: consumed}, 64<<10)
	df := &File{Path: path, Index: index, size: size, consumed: consumed, src: br}
	magic, err := br.Peek(len(gzipMagic))
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if string(magic) == gzipMagic {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err) // "gzip: invalid header"
		}
		df.gz = zr
		df.src = zr
	}
	return df, nil
}

// Size returns the file's size on disk (compressed size for gzip), for progress
// reporting against Batch.Offset. It is 0 when unknown (not a regular file).
func (f *File) Size() int64 { return f.size }

// HasHeader reports whether the file started with a RECORD_ID header line. It is valid
// once the first batch (or io.EOF) has been returned by a Scanner of the file.
func (f *File) HasHeader() bool { return f.hasHeader.Load() }

// Close releases the file. Close its Scanner first.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	if err != nil {
		return fmt.Errorf("close %s: %w", f.Path, err)
	}
	return nil
}

// countingReader counts the bytes read through it; the count is read by another
// goroutine for progress, hence the atomic.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// asyncReader runs a decompressor on its own goroutine so that inflating (which cannot
// be parallelised and costs about as much as parsing) overlaps the cutter and workers.
// Blocks cycle between the producer and the consumer through two channels, so the
// steady state allocates nothing.
type asyncReader struct {
	ctx    context.Context
	filled chan []byte
	free   chan []byte
	cur    []byte // unread part of the block being consumed
	held   []byte // the whole block being consumed, to recycle
	err    error  // producer's final error; written before filled is closed
}

const (
	asyncBlockSize = 256 << 10
	asyncBlocks    = 4
)

// startAsync starts the producer goroutine, counted in wg. It stops at the end of r, on
// a read error, or when ctx is done.
func startAsync(ctx context.Context, r io.Reader, start func(func())) *asyncReader {
	a := &asyncReader{
		ctx:    ctx,
		filled: make(chan []byte, asyncBlocks),
		free:   make(chan []byte, asyncBlocks),
	}
	for range asyncBlocks {
		a.free <- make([]byte, asyncBlockSize)
	}
	start(func() { a.produce(r) })
	return a
}

func (a *asyncReader) produce(r io.Reader) {
	defer close(a.filled)
	for {
		var b []byte
		select {
		case b = <-a.free:
		case <-a.ctx.Done():
			a.err = a.ctx.Err()
			return
		}
		n, err := readBlock(r, b[:cap(b)])
		if n > 0 {
			select {
			case a.filled <- b[:n]:
			case <-a.ctx.Done():
				a.err = a.ctx.Err()
				return
			}
		}
		if err != nil {
			a.err = err // io.EOF at the end; a truncated stream is io.ErrUnexpectedEOF
			return
		}
	}
}

// readBlock fills b from r like io.ReadFull, but passes r's own errors through
// unchanged (io.ReadFull would turn a short final read into io.ErrUnexpectedEOF,
// hiding whether the stream itself was truncated).
func readBlock(r io.Reader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			return n, io.ErrNoProgress
		}
	}
	return n, nil
}

// Read implements io.Reader for the single consumer.
func (a *asyncReader) Read(p []byte) (int, error) {
	for len(a.cur) == 0 {
		if a.held != nil {
			a.free <- a.held[:cap(a.held)] // never blocks: free has room for every block
			a.held = nil
		}
		select {
		case b, ok := <-a.filled:
			if !ok {
				return 0, a.err
			}
			a.cur, a.held = b, b
		case <-a.ctx.Done():
			return 0, a.ctx.Err()
		}
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}
