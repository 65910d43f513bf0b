package control

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/clearway/clearway/pkg/policy"
)

func TestSeqsRoundTrip(t *testing.T) {
	for _, seqs := range [][]int64{nil, {0}, {5, 9, 1000, 1001, 1 << 40}, {3, 2, 1}} {
		got, err := DecodeSeqs(AppendSeqs(nil, seqs))
		if err != nil {
			t.Fatalf("%v: %v", seqs, err)
		}
		if !reflect.DeepEqual(got, seqs) {
			t.Errorf("round trip of %v gave %v", seqs, got)
		}
	}
	if _, err := DecodeSeqs([]byte{0x80}); err == nil {
		t.Error("truncated varint decoded without error")
	}
}

func TestValidRunID(t *testing.T) {
	for id, want := range map[string]bool{
		"run-1": true, "A.b_c-9": true, "": false, ".hidden": false, "-x": false,
		"a/b": false, "..": false, "a b": false, string(make([]byte, 129)): false,
	} {
		if got := ValidRunID(id); got != want {
			t.Errorf("ValidRunID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestEncodeFit(t *testing.T) {
	// Item i encodes to 10 bytes; a message of n items to 10n.
	enc := func(lo, hi int) ([]byte, error) { return make([]byte, 10*(hi-lo)), nil }
	tests := []struct {
		n, max int
		want   [][2]int
		err    bool
	}{
		{0, 100, nil, false},
		{5, 0, [][2]int{{0, 5}}, false},
		{5, 50, [][2]int{{0, 5}}, false},
		{8, 40, [][2]int{{0, 4}, {4, 8}}, false},
		{5, 20, [][2]int{{0, 2}, {2, 3}, {3, 5}}, false},
		{2, 5, nil, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d/%d", tt.n, tt.max), func(t *testing.T) {
			parts, err := EncodeFit(tt.n, tt.max, enc)
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			var got [][2]int
			for _, p := range parts {
				got = append(got, [2]int{p.Lo, p.Hi})
				if len(p.Data) != 10*(p.Hi-p.Lo) {
					t.Errorf("part %v has %d bytes", p, len(p.Data))
				}
			}
			if !tt.err && !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parts %v, want %v", got, tt.want)
			}
		})
	}
	boom := errors.New("boom")
	if _, err := EncodeFit(3, 0, func(int, int) ([]byte, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Errorf("encoder error not returned: %v", err)
	}
}

// TestPolicyDocsRebuildTheEngine checks that the documents sent with a run rebuild the
// same policies, and that a tampered document is refused.
func TestPolicyDocsRebuildTheEngine(t *testing.T) {
	pols, docs, err := LoadPolicyDocs("", "")
	if err != nil {
		t.Fatal(err)
	}
	start := &RunStart{ComputeAt: "2024-07-01", Policies: docs}
	eng, err := start.Engine()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(eng.Policies, pols) {
		t.Errorf("rebuilt policies differ from the loaded ones")
	}
	if want := policy.DefaultPolicies(); !reflect.DeepEqual(eng.Policies, want) {
		t.Errorf("rebuilt policies differ from the defaults")
	}
	bad := append([]PolicyDoc(nil), docs...)
	bad[0].Document = append(append([]byte(nil), bad[0].Document...), '\n')
	if _, err := (&RunStart{ComputeAt: "2024-07-01", Policies: bad}).Engine(); err == nil {
		t.Error("a document that does not match its hash was accepted")
	}
}

func TestRegistryAppliesRecords(t *testing.T) {
	r := NewRegistry()
	changed := r.Changed()
	r.Apply(Record{Kind: KindRunStart, RunID: "r", Start: &RunStart{ComputeAt: "2024-07-01"}})
	select {
	case <-changed:
	default:
		t.Fatal("Changed not closed by Apply")
	}
	r.Apply(Record{Kind: KindProgress, RunID: "r", Progress: &Progress{Service: "evaluator", Instance: "a", Subjects: 3}})
	r.Apply(Record{Kind: KindProgress, RunID: "r", Progress: &Progress{Service: "evaluator", Instance: "a", Subjects: 7}})
	r.Apply(Record{Kind: KindProgress, RunID: "r", Progress: &Progress{Service: "evaluator", Instance: "b", Subjects: 2}})
	r.Apply(Record{Kind: KindRunEnd, RunID: "r", End: &RunEnd{Attempt: 1, Subjects: 10, Rows: 40}})
	st, ok := r.Run("r")
	if !ok {
		t.Fatal("run unknown")
	}
	s := StatusOf(st, st.Start.Started)
	if s.State != "deciding" || s.SubjectsDecided != 9 || s.Evaluators != 2 || s.RowsIngested != 40 {
		t.Errorf("status %+v", s)
	}
	r.Apply(Record{Kind: KindRunComplete, RunID: "r", Complete: &RunComplete{Subjects: 10}})
	st, _ = r.Run("r")
	if s := StatusOf(st, st.Start.Started); s.State != "complete" || s.SubjectsStored != 10 {
		t.Errorf("status %+v", s)
	}
}
