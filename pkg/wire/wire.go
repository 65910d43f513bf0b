// Package wire is Clearway's message format between the pipeline's services: versioned
// Arrow IPC stream encodings of (a) batches of complete subjects, every input cell kept so
// court-ready outputs can be rebuilt downstream, and (b) decision batches, from which the
// sink rebuilds the exact eligibility.Result the embedded run would have produced.
//
// Every message is one self-contained Arrow IPC stream (schema, one record batch,
// end-of-stream marker) with compressed bodies, and no message is larger than the limit
// the caller gives (the broker's maximum message size). The schema's metadata names the
// batch kind (clearway.schema) and its version (clearway.version); decoding checks both
// and reports a message it cannot read with an error wrapping ErrUnknownVersion or
// ErrMalformed, so a consumer can send it to the dead-letter topic and go on. Decoding
// never panics, whatever the bytes.
//
// Schemas (version 2; see schemas.go for the exact column list):
//
//	subjects:  one row per event; subject_id, file, line, quarantined, then the row's 95
//	           DOJ cells in two binary columns: cells (their text concatenated, as
//	           record.Cells holds it) and cell_lengths (each cell's length; see
//	           cells.go). Consecutive rows with the same subject_id form a subject.
//	decisions: one row per event of each subject the engine analysed, plus one stub row
//	           (subject id and quarantined count only) per subject it did not; the
//	           decision columns are set on the rows that are evaluated convictions.
//
// Version 1 carried the cells as 95 utf8 columns named by doj.Header; version 2 is
// 3–4 times cheaper to encode and decode and compresses to a third of the bytes. A
// version 1 message is rejected with ErrUnknownVersion.
//
// Errors never contain cell values or identifiers (DOJ data names people): they name
// positions and sizes only.
package wire

import (
	"errors"
	"fmt"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// Schema versions this build writes and reads. Bump one when its columns change
// incompatibly; decoders reject other versions with ErrUnknownVersion.
const (
	SubjectsSchemaVersion  = 2
	DecisionsSchemaVersion = 2
)

// Decode errors wrap one of these, so a consumer can tell a message from a newer (or
// older) producer from a corrupt one. Both mean "this message cannot be processed": the
// pipeline sends it to the dead-letter topic.
var (
	ErrUnknownVersion = errors.New("wire: unknown schema version")
	ErrMalformed      = errors.New("wire: malformed message")
)

// Compression selects the codec for the Arrow IPC message bodies.
type Compression uint8

// Codecs. LZ4 (the zero value) is the default: speed matters more than size here.
// Measured on a synthetic statewide extract (BenchmarkSubjects, ~1 MB messages, 2-core
// machine busy with other work; the CSV is 422 bytes a row):
//
//	codec  bytes/row  encode µs/row  decode µs/row
//	none   553        0.4–0.5        0.7–0.8
//	lz4    98         1.1            0.9
//	zstd   55         2.1            1.2
//
// Through the real broker LZ4 is also the cheapest in total: without compression the
// ingest saves its LZ4 time but spends it again writing 5.6 times the bytes, and the
// broker's CPU per million rows more than doubles (docs/performance.md).
// NoCompression suits an in-process bus, where size does not matter.
const (
	LZ4 Compression = iota
	Zstd
	// NoCompression writes plain buffers; decoders read all three.
	NoCompression
)

// String names the codec.
func (c Compression) String() string {
	switch c {
	case LZ4:
		return "lz4"
	case Zstd:
		return "zstd"
	case NoCompression:
		return "none"
	}
	return fmt.Sprintf("Compression(%d)", uint8(c))
}

// ParseCompression returns the codec String names: "lz4", "zstd" or "none".
func ParseCompression(name string) (Compression, error) {
	for _, c := range []Compression{LZ4, Zstd, NoCompression} {
		if name == c.String() {
			return c, nil
		}
	}
	return 0, fmt.Errorf("wire: unknown compression %q (lz4, zstd or none)", name)
}

// Set parses name into c, so that a *Compression is a flag.Value.
func (c *Compression) Set(name string) error {
	v, err := ParseCompression(name)
	if err == nil {
		*c = v
	}
	return err
}

// EncodeSubjects encodes subjects into one or more messages of the subjects schema, in
// order, each at most maxBytes long (maxBytes <= 0: no limit, one message). A subject is
// never split across messages; one that alone encodes to more than maxBytes is an error
// naming its position and size. No subjects give no messages. maxBytes should leave
// room for what the broker adds to a message (key, headers, record overhead).
//
// It uses a fresh Encoder; an Encoder kept between calls reuses its buffers and sizes
// messages from the compression it has seen.
func EncodeSubjects(subjects []*record.Subject, maxBytes int) ([][]byte, error) {
	var e Encoder
	return e.EncodeSubjects(subjects, maxBytes)
}

// DecodeSubjects decodes one message written by EncodeSubjects. Events are rebuilt with
// doj.EventFromCells, so they are exactly what the reader produced; their strings share
// one buffer per message rather than one allocation per cell. Nothing decoded shares
// msg's memory: the caller may reuse msg.
func DecodeSubjects(msg []byte) ([]*record.Subject, error) {
	var d Decoder
	return d.DecodeSubjects(msg)
}

// EncodeResults encodes evaluation results into one or more messages of the decisions
// schema, each at most maxBytes long (maxBytes <= 0: no limit). A result whose subject the
// engine analysed (Evaluated non-empty, or ConvictionRows set) carries all of the
// subject's rows and its decisions; any other result is carried as a stub: the subject's
// ID and quarantined count, which is all the outputs use of it.
func EncodeResults(results []eligibility.Result, maxBytes int) ([][]byte, error) {
	var e Encoder
	return e.EncodeResults(results, maxBytes)
}

// DecodeResults decodes one message written by EncodeResults. For subjects carried with
// their rows, Facts and ConvictionRows are rebuilt with eligibility.Analyze, which is
// what Engine.Evaluate put there; stubs decode to Result{Subject: &Subject{ID,
// Quarantined}}, as Evaluate returns for a subject with nothing in scope (minus rows).
func DecodeResults(msg []byte) ([]eligibility.Result, error) {
	var d Decoder
	return d.DecodeResults(msg)
}
