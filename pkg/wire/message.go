package wire

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// writeMessage writes one self-contained IPC stream: schema, one record batch of cols,
// end-of-stream. A fresh ipc.Writer per message is what makes messages independent (a
// long-lived writer would send the schema and dictionaries only once); its set-up costs
// a few microseconds, under 0.01 µs per row of a full-size message.
//
// buf is the encoder's scratch buffer: it grows to the largest message once, and each
// message is then copied out at its exact size.
func writeMessage(buf *bytes.Buffer, schema *arrow.Schema, cols []arrow.Array, rows int, c Compression) ([]byte, error) {
	rec := array.NewRecordBatch(schema, cols, int64(rows))
	defer rec.Release()
	for _, a := range cols {
		a.Release() // rec holds them now
	}
	opts := []ipc.Option{ipc.WithSchema(schema)}
	switch c {
	case LZ4:
		opts = append(opts, ipc.WithLZ4())
	case Zstd:
		opts = append(opts, ipc.WithZstd())
	case NoCompression:
	default:
		return nil, fmt.Errorf("wire: unknown compression %v", c)
	}
	buf.Reset()
	w := ipc.NewWriter(buf, opts...)
	if err := w.Write(rec); err != nil {
		w.Close()
		return nil, fmt.Errorf("wire: write Arrow record batch: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("wire: finish Arrow stream: %w", err)
	}
	return bytes.Clone(buf.Bytes()), nil
}

// Decoding bounds: a message's buffers may decompress to at most expansionLimit times
// its size plus expansionSlack. Real batches expand far less (LZ4's own ceiling is about
// 255×); the bound stops a corrupt or hostile message from claiming a huge
// decompressed size and exhausting memory.
const (
	expansionLimit = 256
	expansionSlack = 64 << 20
)

// readMessage reads msg as a stream of the expected schema and hands each record batch
// to fn. The batch's arrays may point into msg: fn must copy what it keeps. The message's own schema is checked with the bounds-checked reader and then
// replaced by the expected one (see frames.go); any panic inside Arrow or fn, which
// corrupt input can still cause, becomes ErrMalformed: a bad message must never take a
// consumer down.
func readMessage(msg []byte, exp *expected, fn func(arrow.RecordBatch) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %s batch: %s", ErrMalformed, exp.kind, clipPanic(p))
		}
	}()
	first, err := nextFrame(msg, 0)
	if err == nil {
		var info schemaInfo
		if info, err = readSchemaInfo(first.meta); err == nil {
			if err := exp.check(info); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: not an Arrow IPC stream of a %s batch: %v", ErrMalformed, exp.kind, err)
	}
	msgs := []*ipc.Message{newMessage(exp.frame)}
	for at := first.end; ; {
		f, err := nextFrame(msg, at)
		if errors.Is(err, errEOS) {
			break
		}
		if err == nil {
			err = checkCustomMetadata(f.meta)
		}
		if err != nil {
			return fmt.Errorf("%w: %s batch: %v", ErrMalformed, exp.kind, err)
		}
		msgs = append(msgs, newMessage(f))
		at = f.end
	}

	mem := &budgetAllocator{left: expansionLimit*len(msg) + expansionSlack}
	r, err := ipc.NewReaderFromMessageReader(&frameReader{msgs: msgs}, ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("%w: %s batch: %v", ErrMalformed, exp.kind, err)
	}
	defer r.Release()
	for r.Next() {
		if err := fn(r.RecordBatch()); err != nil {
			return err
		}
	}
	if err := r.Err(); err != nil {
		return fmt.Errorf("%w: %s batch: %v", ErrMalformed, exp.kind, err)
	}
	return nil
}

// clipPanic formats a recovered panic value, cut short.
func clipPanic(p any) string {
	s := fmt.Sprint(p)
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// budgetAllocator is the Go allocator with a ceiling on the bytes one decode may
// allocate; past it, Allocate panics and readMessage reports the message as malformed.
// Free does nothing (the Go allocator's Free is a no-op too): decoded strings point into
// the buffers, which the garbage collector frees once nothing does.
type budgetAllocator struct {
	left int
	mem  memory.GoAllocator
}

func (a *budgetAllocator) take(n int) {
	if n > a.left {
		panic(fmt.Sprintf("message decompresses to more than %d× its size", expansionLimit))
	}
	a.left -= n
}

func (a *budgetAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.mem.Allocate(size)
}

func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	if size > len(b) {
		a.take(size - len(b))
	}
	return a.mem.Reallocate(size, b)
}

func (a *budgetAllocator) Free(b []byte) {}
