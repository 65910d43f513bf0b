package sink

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/wire"
	"github.com/clearway/clearway/services/control"
)

// TestSpoolIndexOrder spools results the way a rebalance can leave them — duplicates,
// a stale evaluator's later subjects before a partition's earlier ones, an abandoned
// attempt's messages — and checks that the finalisation index gives every subject once,
// in sequence order, holding no decoded message once all are given.
func TestSpoolIndexOrder(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, spoolDir), 0o755); err != nil {
		t.Fatal(err)
	}
	var enc wire.Encoder
	frame := func(attempt int, seqs ...int64) []byte {
		t.Helper()
		results := make([]eligibility.Result, len(seqs))
		for i, q := range seqs {
			// Stub results (nothing evaluated) carry only the subject's id; the id
			// names the sequence number and attempt it was sent for.
			results[i] = eligibility.Result{Subject: &record.Subject{ID: fmt.Sprintf("a%d-s%d", attempt, q)}}
		}
		msgs, err := enc.EncodeResults(results, 1<<20)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("encode: %d messages, %v", len(msgs), err)
		}
		hs := control.Headers("run", control.TypeResults, wire.DecisionsSchemaVersion)
		hs = append(hs, bus.Header{Key: control.HeaderAttempt, Value: []byte(strconv.Itoa(attempt))},
			bus.Header{Key: control.HeaderSeq, Value: control.AppendSeqs(nil, seqs)})
		return appendFrame(nil, bus.Message{Value: msgs[0], Headers: hs})
	}
	write := func(p int, frames ...[]byte) {
		t.Helper()
		var buf []byte
		for _, f := range frames {
			buf = append(buf, f...)
		}
		if err := os.WriteFile(spoolPath(dir, p), buf, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Partition 0 holds even sequence numbers, partition 1 odd ones.
	write(0,
		frame(1, 0, 2, 4, 6, 8), // abandoned attempt: ignored
		frame(2, 6, 8),          // a stale evaluator ran ahead …
		frame(2, 0, 2, 4),       // … of the new owner, which then redoes it all
		frame(2, 0, 2, 4, 6, 8),
	)
	write(1, frame(2, 1, 3), frame(2, 1, 3), frame(2, 5, 7, 9))

	ix, err := indexSpools(dir, []int64{5, 5}, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.close()
	if ix.stored != 10 {
		t.Fatalf("indexed %d subjects, want 10", ix.stored)
	}
	for q := range int64(10) {
		res, err := ix.result(q)
		if err != nil {
			t.Fatalf("subject %d: %v", q, err)
		}
		if want := fmt.Sprintf("a2-s%d", q); res.Subject.ID != want {
			t.Errorf("subject %d: got %s, want %s", q, res.Subject.ID, want)
		}
	}
	if len(ix.decoded) != 0 {
		t.Errorf("%d decoded messages still held after every subject was given", len(ix.decoded))
	}

	// A sequence number nothing stored is an error, not a gap in the output.
	write(1, frame(2, 1, 3))
	ix2, err := indexSpools(dir, []int64{5, 5}, 2, 10)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.close()
	if ix2.stored != 7 {
		t.Fatalf("indexed %d subjects, want 7", ix2.stored)
	}
	for q := range int64(10) {
		_, err := ix2.result(q)
		if missing := q == 5 || q == 7 || q == 9; missing != (err != nil) {
			t.Errorf("subject %d: err %v", q, err)
		}
	}
}
