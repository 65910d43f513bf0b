package wire

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
)

// Encoder encodes subject and decision batches, reusing its column buffers from message
// to message and remembering how well batches compress, so that it picks message sizes
// that fit the limit on the first try. The zero value is ready to use (LZ4). An Encoder
// is not safe for concurrent use; give each goroutine its own.
type Encoder struct {
	// Compression is the codec for message bodies.
	Compression Compression

	subj     *subjectCols
	dec      *decisionCols
	subjFit  fit
	decFit   fit
	subjects *arrow.Schema
	results  *arrow.Schema
	buf      bytes.Buffer
}

// fit is what the encoder learned about one schema's messages: the size of an empty
// message (schema, framing) and the last ratio of message body to raw (uncompressed)
// column bytes.
type fit struct {
	overhead int
	ratio    float64
}

// Message sizing. A batch is first sized from the raw bytes of its units (subjects) and
// the last compression ratio seen, aiming at fillTarget of the limit so that ordinary
// variation in compressibility does not overshoot; a message that still comes out too
// large is re-cut in proportion and encoded again.
const (
	fillTarget = 0.9
	// maxRawBytes bounds the raw bytes of one message even without a size limit: Arrow
	// utf8 offsets are int32.
	maxRawBytes = 1 << 30
)

// pack cuts units [0,n) into consecutive messages of at most maxBytes (no limit when
// maxBytes <= 0). raw(i) is unit i's raw size estimate; encode(lo, hi) encodes units
// [lo,hi) as one message. noun names a unit in errors.
func (e *Encoder) pack(f *fit, n int, raw func(int) int, encode func(lo, hi int) ([]byte, error), maxBytes int, noun string) ([][]byte, error) {
	if n == 0 {
		return nil, nil
	}
	if f.ratio == 0 {
		empty, err := encode(0, 0)
		if err != nil {
			return nil, err
		}
		f.overhead, f.ratio = len(empty), e.Compression.expectedRatio()
	}
	limit := maxBytes
	if limit <= 0 {
		limit = int(^uint(0) >> 1)
	} else if f.overhead >= limit {
		return nil, fmt.Errorf("wire: message limit of %d bytes is below the %d bytes of an empty batch", maxBytes, f.overhead)
	}
	var out [][]byte
	for lo := 0; lo < n; {
		budget := float64(maxRawBytes)
		if maxBytes > 0 {
			budget = min(budget, fillTarget*float64(limit-f.overhead)/f.ratio)
		}
		hi, sum := cut(lo, n, raw, budget)
		for {
			msg, err := encode(lo, hi)
			if err != nil {
				return nil, err
			}
			if sum > 0 && len(msg) > f.overhead {
				f.ratio = float64(len(msg)-f.overhead) / float64(sum)
			}
			if len(msg) <= limit {
				out = append(out, msg)
				break
			}
			if hi-lo == 1 {
				return nil, fmt.Errorf("wire: %s %d alone encodes to %d bytes, over the %d-byte message limit", noun, lo, len(msg), maxBytes)
			}
			// Re-cut in proportion to the overshoot, strictly shorter than before.
			budget = fillTarget * float64(sum) * float64(limit-f.overhead) / float64(len(msg)-f.overhead)
			hi, sum = cut(lo, hi-1, raw, budget)
		}
		lo = hi
	}
	return out, nil
}

// expectedRatio is a first guess at message bytes per raw byte, before an Encoder has
// seen any (measured on synthetic DOJ data: LZ4 0.39, Zstd 0.32 for subject batches).
func (c Compression) expectedRatio() float64 {
	switch c {
	case LZ4:
		return 0.45
	case Zstd:
		return 0.4
	}
	return 1
}

// cut returns the end of the longest run of units from lo (at least one, at most up to
// end) whose raw sizes total at most budget, and that total.
func cut(lo, end int, raw func(int) int, budget float64) (hi, sum int) {
	hi = lo
	for hi < end {
		r := raw(hi)
		if hi > lo && float64(sum+r) > budget {
			break
		}
		sum += r
		hi++
	}
	return hi, sum
}

// Decoder decodes subject and decision batches. It keeps the expected schemas between
// calls; decoded values share nothing with the Decoder, so they stay valid after later
// calls. The zero value is ready to use; a Decoder is not safe for concurrent use.
type Decoder struct {
	subjects *expected
	results  *expected
}
