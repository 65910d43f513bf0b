package wire

import (
	"errors"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// FuzzDecode feeds arbitrary bytes to both decoders: they must never panic, and every
// failure must be ErrMalformed or ErrUnknownVersion so the pipeline can dead-letter the
// message. A message that decodes as subjects must survive a re-encode unchanged.
func FuzzDecode(f *testing.F) {
	for _, codec := range codecs {
		e := Encoder{Compression: codec}
		f.Add(oneMessage(f)(e.EncodeSubjects(smallSubjects(), 0)))
		f.Add(oneMessage(f)(e.EncodeResults(smallResults(f), 0)))
	}
	f.Add([]byte{})
	f.Add([]byte("\xff\xff\xff\xff\x10\x00\x00\x00garbage"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		subjects, err := DecodeSubjects(msg)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("DecodeSubjects: unclassified error %v", err)
		}
		if err == nil && len(subjects) > 0 {
			again, err := EncodeSubjects(subjects, 0)
			if err == nil {
				back, err := DecodeSubjects(again[0])
				if err != nil || !reflect.DeepEqual(back, subjects) {
					t.Fatalf("decoded subjects do not survive a re-encode: %v", err)
				}
			}
		}
		if _, err := DecodeResults(msg); err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnknownVersion) {
			t.Fatalf("DecodeResults: unclassified error %v", err)
		}
	})
}

// TestDecodeRecoversPanics checks the panic guard itself: a decoder callback that panics
// (as Arrow's reader can on corrupt input) yields ErrMalformed.
func TestDecodeRecoversPanics(t *testing.T) {
	msg := oneMessage(t)(EncodeSubjects(smallSubjects(), 0))
	exp, err := expect(subjectsSchema(), kindSubjects, SubjectsSchemaVersion)
	if err != nil {
		t.Fatal(err)
	}
	err = readMessage(msg, exp, func(rec arrow.RecordBatch) error {
		var s []int
		_ = s[rec.NumRows()] // out of range: panics
		return nil
	})
	if !errors.Is(err, ErrMalformed) {
		t.Fatalf("error %v, want ErrMalformed", err)
	}
}
