package wire

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
)

func decodeAllSubjects(t *testing.T, msgs [][]byte) []*record.Subject {
	t.Helper()
	var d Decoder
	var out []*record.Subject
	for i, m := range msgs {
		subs, err := d.DecodeSubjects(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		out = append(out, subs...)
	}
	return out
}

// checkSizes checks that every message fits maxBytes and that the splitting packs them
// well: once the encoder has seen a message (the first is sized by a guess at the
// compression ratio), every message but the last is at least half full.
func checkSizes(t *testing.T, msgs [][]byte, maxBytes int) {
	t.Helper()
	if maxBytes <= 0 {
		if len(msgs) != 1 {
			t.Errorf("%d messages without a limit, want 1", len(msgs))
		}
		return
	}
	for i, m := range msgs {
		if len(m) > maxBytes {
			t.Errorf("message %d is %d bytes, over the %d limit", i, len(m), maxBytes)
		}
		if i > 0 && i < len(msgs)-1 && len(m) < maxBytes/2 {
			t.Errorf("message %d is %d bytes, less than half the %d limit", i, len(m), maxBytes)
		}
	}
}

func TestSubjectsRoundTrip(t *testing.T) {
	c := loadCorpus(t, 20000)
	for _, tc := range []struct {
		codec    Compression
		maxBytes int
		minMsgs  int // the limit must force at least this many messages
	}{
		{LZ4, 0, 1},
		{LZ4, 1 << 20, 1},
		{LZ4, 64 << 10, 20},
		{Zstd, 64 << 10, 10},
		{NoCompression, 256 << 10, 20},
	} {
		t.Run(fmt.Sprintf("%v/%d", tc.codec, tc.maxBytes), func(t *testing.T) {
			e := Encoder{Compression: tc.codec}
			msgs, err := e.EncodeSubjects(c.subjects, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) < tc.minMsgs {
				t.Errorf("%d messages, want at least %d", len(msgs), tc.minMsgs)
			}
			checkSizes(t, msgs, tc.maxBytes)
			got := decodeAllSubjects(t, msgs)
			if len(got) != len(c.subjects) {
				t.Fatalf("decoded %d subjects, want %d", len(got), len(c.subjects))
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], c.subjects[i]) {
					t.Fatalf("subject %d differs after the round trip:\n got %+v\nwant %+v", i, got[i].Events[0], c.subjects[i].Events[0])
				}
			}
		})
	}
}

// TestSubjectsReuse encodes with one Encoder several times: reused buffers must not leak
// rows from one message into the next, and decoded values must not alias the encoder.
func TestSubjectsReuse(t *testing.T) {
	c := loadCorpus(t, 3000)
	var e Encoder
	half := len(c.subjects) / 2
	first, err := e.EncodeSubjects(c.subjects[:half], 0)
	if err != nil {
		t.Fatal(err)
	}
	firstDecoded := decodeAllSubjects(t, first)
	second, err := e.EncodeSubjects(c.subjects[half:], 0)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.EncodeSubjects(c.subjects[:half], 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Error("re-encoding the same subjects with a reused Encoder gives different bytes")
	}
	if got := decodeAllSubjects(t, second); !reflect.DeepEqual(got, c.subjects[half:]) {
		t.Error("second batch differs after the round trip")
	}
	if !reflect.DeepEqual(firstDecoded, c.subjects[:half]) {
		t.Error("first batch's decoded subjects changed after later encodes")
	}
}

// normalise returns what a decoded result must equal: r itself when its subject travels
// with its rows, and for a stub the subject's ID and quarantined count only.
func normalise(r eligibility.Result) eligibility.Result {
	if isStub(&r) {
		return eligibility.Result{Subject: &record.Subject{ID: r.Subject.ID, Quarantined: r.Subject.Quarantined}}
	}
	return r
}

func decodeAllResults(t *testing.T, msgs [][]byte) []eligibility.Result {
	t.Helper()
	var d Decoder
	var out []eligibility.Result
	for i, m := range msgs {
		res, err := d.DecodeResults(m)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		out = append(out, res...)
	}
	return out
}

// edgeResults are hand-built results the synthetic extract may not contain: a
// conviction without a date, and a subject the engine analysed without evaluating any
// conviction (ConvictionRows set, Evaluated empty).
func edgeResults(t *testing.T) []eligibility.Result {
	conv := map[int]string{
		doj.ColStpTypeDescr:   record.StepCourtAction,
		doj.ColStpOriCntyName: "SACRAMENTO",
		doj.ColOffenseDescr:   "11359 HS-POSSESS MARIJUANA FOR SALE",
		doj.ColDispDescr:      "CONVICTED",
		doj.ColConvStatDescr:  "FELONY",
		doj.ColOFN:            "CR-1",
		doj.ColSentLength:     "006",
		doj.ColSentTimeCode:   "M",
		doj.ColStpEventDate:   "",
		doj.ColCntOrder:       "101001001",
		doj.ColCommentText:    "SYNTHETIC",
		doj.ColPriName:        "ROE,RICHARD",
		doj.ColStpOriDescr:    "CASC SACRAMENTO",
		doj.ColOffenseToc:     "F",
	}
	dated := map[int]string{}
	for k, v := range conv {
		dated[k] = v
	}
	dated[doj.ColStpEventDate] = "20100315"
	dated[doj.ColCntOrder] = "102001001"
	arrest := map[int]string{doj.ColStpTypeDescr: "ARREST/DETAINED/CITED", doj.ColCntOrder: "101001001"}
	e := eligibility.Engine{Policies: policy.DefaultPolicies(), ComputeAt: computeAt(t)}
	undated := e.Evaluate(person("EDGE0001", arrest, conv, dated))
	if len(undated.Evaluated) != 2 || undated.Evaluated[0].Date.Valid() || undated.Evaluated[0].SentenceEnd.Valid() || !undated.Evaluated[1].SentenceEnd.Valid() {
		t.Fatalf("edge fixture: want an undated and a dated conviction, got %+v", undated.Evaluated)
	}
	analysedOnly := e.Evaluate(person("EDGE0002", dated))
	analysedOnly.Evaluated = nil
	stub := e.Evaluate(person("EDGE0003", arrest))
	stub.Subject.Quarantined = 2
	return []eligibility.Result{undated, analysedOnly, stub}
}

func TestResultsRoundTrip(t *testing.T) {
	c := loadCorpus(t, 20000)
	results := append(evaluate(t, c.subjects), edgeResults(t)...)

	// The corpus must exercise what the format carries, or the test proves little.
	var stubs, full, evaluated, undated, noSentence int
	dets := map[eligibility.Determination]bool{}
	for i := range results {
		r := &results[i]
		if isStub(r) {
			stubs++
			continue
		}
		full++
		for _, cv := range r.Evaluated {
			evaluated++
			dets[cv.Determination] = true
			if !cv.Date.Valid() {
				undated++
			}
			if !cv.SentenceEnd.Valid() {
				noSentence++
			}
		}
	}
	if stubs == 0 || full < 100 || evaluated < 100 || undated == 0 || noSentence == 0 || len(dets) < 3 {
		t.Fatalf("corpus too thin: %d stubs, %d full, %d convictions (%d undated, %d without sentence), determinations %v",
			stubs, full, evaluated, undated, noSentence, dets)
	}
	t.Logf("%d results: %d stubs, %d with rows, %d evaluated convictions", len(results), stubs, full, evaluated)

	for _, tc := range []struct {
		codec    Compression
		maxBytes int
		minMsgs  int
	}{
		{LZ4, 0, 1},
		{LZ4, 64 << 10, 5},
		{Zstd, 1 << 20, 1},
		{NoCompression, 128 << 10, 10},
	} {
		t.Run(fmt.Sprintf("%v/%d", tc.codec, tc.maxBytes), func(t *testing.T) {
			e := Encoder{Compression: tc.codec}
			msgs, err := e.EncodeResults(results, tc.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) < tc.minMsgs {
				t.Errorf("%d messages, want at least %d", len(msgs), tc.minMsgs)
			}
			checkSizes(t, msgs, tc.maxBytes)
			got := decodeAllResults(t, msgs)
			if len(got) != len(results) {
				t.Fatalf("decoded %d results, want %d", len(got), len(results))
			}
			for i := range got {
				want := normalise(results[i])
				if !reflect.DeepEqual(got[i], want) {
					t.Fatalf("result %d differs after the round trip:\n got %+v\nwant %+v", i, got[i].Evaluated, want.Evaluated)
				}
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	a := person("A0000001", nil)
	short := &record.Subject{ID: "B0000001", Events: []record.Event{{Cells: record.CellsOf([]string{"x"})}}}
	// A subject with 400 rows of incompressible comments cannot fit in 32 KiB.
	big := person("C0000001")
	x := uint32(1)
	for range 400 {
		comment := make([]byte, 100)
		for i := range comment {
			x = x*1664525 + 1013904223
			comment[i] = 'A' + byte(x>>24)%26
		}
		big.Events = append(big.Events, person("C0000001", map[int]string{doj.ColCommentText: string(comment)}).Events...)
	}
	for _, tc := range []struct {
		name     string
		subjects []*record.Subject
		maxBytes int
		want     string
	}{
		{"nil subject", []*record.Subject{a, nil}, 0, "subject 1 is nil"},
		{"no rows", []*record.Subject{{ID: "D0000001"}}, 0, "subject 0 has no rows"},
		{"short row", []*record.Subject{short}, 0, "subject 0 row 0 has 1 cells, want 95"},
		{"duplicate", []*record.Subject{a, a}, 0, "subjects 0 and 1 have the same SUBJECT_ID"},
		{"too big", []*record.Subject{a, big}, 32 << 10, "subject 1 alone encodes to"},
		{"limit below schema", []*record.Subject{a}, 100, "below the"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := EncodeSubjects(tc.subjects, tc.maxBytes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			// Privacy: errors name positions, never identifiers or names.
			if strings.Contains(err.Error(), "0000001") || strings.Contains(err.Error(), "DOE") {
				t.Errorf("error %q contains personal data", err)
			}
		})
	}

	res := []eligibility.Result{{Subject: a, ConvictionRows: []bool{false}, Evaluated: []eligibility.Conviction{{Index: 3}}}}
	if _, err := EncodeResults(res, 0); err == nil || !strings.Contains(err.Error(), "index 3") {
		t.Errorf("out-of-range conviction index: error %v", err)
	}
	if _, err := EncodeResults([]eligibility.Result{{}}, 0); err == nil || !strings.Contains(err.Error(), "no subject") {
		t.Errorf("result without subject: error %v", err)
	}
	if msgs, err := EncodeSubjects(nil, 1<<20); err != nil || msgs != nil {
		t.Errorf("no subjects: %d messages, error %v; want none", len(msgs), err)
	}
}
