package control

import (
	"bytes"
	"fmt"
)

// EncodeFit encodes items [0,n) into messages of at most maxBytes each, splitting in
// halves until every part fits, and returns each message with the range of items it
// holds. The range matters to callers that attach per-item data (HeaderSeq) to each
// message, which an encoder that cuts batches itself would not tell them. encode must
// return a single message for its range (no limit); its bytes are copied, so encoders
// may reuse their buffers.
func EncodeFit(n, maxBytes int, encode func(lo, hi int) ([]byte, error)) ([]Part, error) {
	var out []Part
	var rec func(lo, hi int) error
	rec = func(lo, hi int) error {
		msg, err := encode(lo, hi)
		if err != nil {
			return err
		}
		if maxBytes <= 0 || len(msg) <= maxBytes {
			out = append(out, Part{Lo: lo, Hi: hi, Data: bytes.Clone(msg)})
			return nil
		}
		if hi-lo == 1 {
			return fmt.Errorf("item %d alone encodes to %d bytes, over the %d-byte message limit", lo, len(msg), maxBytes)
		}
		mid := lo + (hi-lo)/2
		if err := rec(lo, mid); err != nil {
			return err
		}
		return rec(mid, hi)
	}
	if n == 0 {
		return nil, nil
	}
	return out, rec(0, n)
}

// Part is one encoded message holding items [Lo,Hi).
type Part struct {
	Lo, Hi int
	Data   []byte
}
