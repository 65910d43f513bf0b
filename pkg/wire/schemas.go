package wire

import (
	"bytes"
	"fmt"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// Schema metadata keys and the batch kinds they name.
const (
	metaSchema  = "clearway.schema"
	metaVersion = "clearway.version"

	kindSubjects  = "subjects"
	kindDecisions = "decisions"
)

// Column positions of the subjects schema.
const (
	subjID = iota
	subjFile
	subjLine
	subjQuarantined
	subjCells
	subjLengths
	subjNumCols
)

// Column positions of the decisions schema: the identity and row columns, the row's
// cells, then the per-conviction decision columns.
const (
	decID = iota
	decStub
	decFile
	decLine
	decQuarantined
	decCells
	decLengths
	decSection
	decFelony
	decConvictionDate
	decCaseNumbers
	decCounty
	decPolicy
	decPolicyHash
	decDetermination
	decReason
	decRuleID
	decSentenceEnd
	decNumCols
)

// dictUtf8 is the type of the decision columns with few distinct values (reasons, rule
// ids, policies, counties): each message carries every distinct string once.
var dictUtf8 arrow.DataType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// subjectsSchema returns the subjects schema (SubjectsSchemaVersion).
func subjectsSchema() *arrow.Schema {
	fields := make([]arrow.Field, 0, subjNumCols)
	fields = append(fields,
		arrow.Field{Name: "subject_id", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "file", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "line", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "quarantined", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "cells", Type: arrow.BinaryTypes.Binary},
		arrow.Field{Name: "cell_lengths", Type: arrow.BinaryTypes.Binary},
	)
	md := arrow.NewMetadata([]string{metaSchema, metaVersion}, []string{kindSubjects, strconv.Itoa(SubjectsSchemaVersion)})
	return arrow.NewSchema(fields, &md)
}

// decisionsSchema returns the decisions schema (DecisionsSchemaVersion). Row and cell columns are
// null on stub rows; decision columns are null except on evaluated convictions
// (conviction_date and sentence_end are also null for record.NoDate).
func decisionsSchema() *arrow.Schema {
	fields := make([]arrow.Field, 0, decNumCols)
	fields = append(fields,
		arrow.Field{Name: "subject_id", Type: arrow.BinaryTypes.String},
		arrow.Field{Name: "stub", Type: arrow.FixedWidthTypes.Boolean},
		arrow.Field{Name: "file", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		arrow.Field{Name: "line", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		arrow.Field{Name: "quarantined", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "cells", Type: arrow.BinaryTypes.Binary, Nullable: true},
		arrow.Field{Name: "cell_lengths", Type: arrow.BinaryTypes.Binary, Nullable: true},
		arrow.Field{Name: "section", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
		arrow.Field{Name: "felony", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		arrow.Field{Name: "conviction_date", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
		arrow.Field{Name: "case_numbers", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "county", Type: dictUtf8, Nullable: true},
		arrow.Field{Name: "policy", Type: dictUtf8, Nullable: true},
		arrow.Field{Name: "policy_hash", Type: dictUtf8, Nullable: true},
		arrow.Field{Name: "determination", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
		arrow.Field{Name: "reason", Type: dictUtf8, Nullable: true},
		arrow.Field{Name: "rule_id", Type: dictUtf8, Nullable: true},
		arrow.Field{Name: "sentence_end", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	)
	md := arrow.NewMetadata([]string{metaSchema, metaVersion}, []string{kindDecisions, strconv.Itoa(DecisionsSchemaVersion)})
	return arrow.NewSchema(fields, &md)
}

// expected is a schema as the decoder checks it and as it hands it to Arrow.
type expected struct {
	kind    string
	version int
	info    schemaInfo
	frame   frame // the schema's IPC frame, as this build writes it
}

// expect prepares the decoder's view of schema s.
func expect(s *arrow.Schema, kind string, version int) (*expected, error) {
	var buf bytes.Buffer
	w := ipc.NewWriter(&buf, ipc.WithSchema(s))
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("wire: write %s schema: %w", kind, err)
	}
	f, err := nextFrame(buf.Bytes(), 0)
	if err != nil {
		return nil, fmt.Errorf("wire: read back %s schema: %w", kind, err)
	}
	info, err := readSchemaInfo(f.meta)
	if err != nil {
		return nil, fmt.Errorf("wire: read back %s schema: %w", kind, err)
	}
	return &expected{kind: kind, version: version, info: info, frame: f}, nil
}

// check compares a message's schema with e: first the kind, then the version, then
// every column, so that a message from another producer version is reported as such
// rather than as a column mismatch.
func (e *expected) check(got schemaInfo) error {
	k, ok := got.meta[metaSchema]
	if !ok {
		return fmt.Errorf("%w: not a Clearway message (no %s in the Arrow schema metadata)", ErrMalformed, metaSchema)
	}
	if k != e.kind {
		return fmt.Errorf("%w: message is a %s batch, want a %s batch (wrong topic?)", ErrMalformed, clip(k), e.kind)
	}
	v, ok := got.meta[metaVersion]
	if !ok {
		return fmt.Errorf("%w: %s batch has no %s in its Arrow schema metadata", ErrMalformed, e.kind, metaVersion)
	}
	if v != strconv.Itoa(e.version) {
		return fmt.Errorf("%w: %s batch is version %s; this build reads version %d (upgrade the consumer, or replay the message from the dead-letter topic with a matching build)",
			ErrUnknownVersion, e.kind, clip(v), e.version)
	}
	want := e.info.fields
	if len(got.fields) != len(want) {
		return fmt.Errorf("%w: %s batch version %d has %d columns, want %d", ErrMalformed, e.kind, e.version, len(got.fields), len(want))
	}
	for i, w := range want {
		if g := got.fields[i]; g != w {
			return fmt.Errorf("%w: %s batch column %d is %s %s, want %s %s", ErrMalformed, e.kind, i, clip(g.name), g, w.name, w)
		}
	}
	return nil
}

// clip quotes a string read from an untrusted message for an error message, cut short so
// that a corrupt message cannot produce a huge error.
func clip(s string) string {
	const max = 40
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
