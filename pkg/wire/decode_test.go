package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
)

// smallSubjects are two hand-built people, one with a Prop 64 conviction.
func smallSubjects() []*record.Subject {
	conv := map[int]string{
		doj.ColStpTypeDescr:   record.StepCourtAction,
		doj.ColStpOriCntyName: "LOS ANGELES",
		doj.ColOffenseDescr:   "11357 HS-POSSESS MARIJUANA",
		doj.ColDispDescr:      "CONVICTED",
		doj.ColStpEventDate:   "20090102",
		doj.ColOFN:            "LA-7",
		doj.ColCntOrder:       "101001001",
	}
	return []*record.Subject{
		person("F0000001", map[int]string{doj.ColStpTypeDescr: "ARREST/DETAINED/CITED"}, conv),
		person("F0000002", map[int]string{doj.ColStpTypeDescr: "ARREST/DETAINED/CITED"}),
	}
}

func smallResults(t testing.TB) []eligibility.Result {
	e := eligibility.Engine{Policies: policy.DefaultPolicies(), ComputeAt: computeAt(t)}
	var out []eligibility.Result
	for _, s := range smallSubjects() {
		out = append(out, e.Evaluate(s))
	}
	if len(out[0].Evaluated) != 1 || !isStub(&out[1]) {
		t.Fatalf("small fixture: want one evaluated subject and one stub")
	}
	return out
}

// oneMessage returns a function that takes an encoder's results and returns its only
// message: oneMessage(t)(EncodeSubjects(…)).
func oneMessage(t testing.TB) func([][]byte, error) []byte {
	return func(msgs [][]byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("%d messages, want 1", len(msgs))
		}
		return msgs[0]
	}
}

// emptyBatch writes a zero-row message with schema s (its metadata and columns as given).
func emptyBatch(t *testing.T, s *arrow.Schema) []byte {
	t.Helper()
	mem := memory.NewGoAllocator()
	cols := make([]arrow.Array, s.NumFields())
	for i, f := range s.Fields() {
		cols[i] = array.MakeArrayOfNull(mem, f.Type, 0)
	}
	var buf bytes.Buffer
	msg, err := writeMessage(&buf, s, cols, 0, NoCompression)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// withMeta returns s's columns under metadata kv (nil: none).
func withMeta(s *arrow.Schema, kv map[string]string) *arrow.Schema {
	if kv == nil {
		return arrow.NewSchema(s.Fields(), nil)
	}
	md := arrow.MetadataFrom(kv)
	return arrow.NewSchema(s.Fields(), &md)
}

// lz4Frame is the magic number that starts every LZ4 frame; in an Arrow IPC body each
// compressed buffer is its int64 uncompressed length followed by one frame.
var lz4Frame = []byte{0x04, 0x22, 0x4d, 0x18}

func TestDecodeRejects(t *testing.T) {
	subjMsg := oneMessage(t)(EncodeSubjects(smallSubjects(), 0))
	resMsg := oneMessage(t)(EncodeResults(smallResults(t), 0))

	// A subject whose SUBJECT_ID cell is blank: the encoder carries cells as they are,
	// the decoder re-validates them.
	blank := make([]string, doj.NumColumns)
	blank[doj.ColPriName] = "DOE,JANE"
	blank[doj.ColCntOrder] = "101001001"
	badRow := oneMessage(t)(EncodeSubjects([]*record.Subject{{ID: "G0000001", Events: []record.Event{{Cells: record.CellsOf(blank)}}}}, 0))

	// A buffer that claims to decompress to 1 TiB.
	bomb := bytes.Clone(subjMsg)
	i := bytes.Index(bomb, lz4Frame)
	if i < 8 {
		t.Fatal("no LZ4 frame in the subjects message")
	}
	binary.LittleEndian.PutUint64(bomb[i-8:], 1<<40)

	wrongType := arrow.NewSchema(append([]arrow.Field{
		{Name: "subject_id", Type: arrow.BinaryTypes.String},
		{Name: "file", Type: arrow.PrimitiveTypes.Int64},
	}, subjectsSchema().Fields()[2:]...), func() *arrow.Metadata { m := subjectsSchema().Metadata(); return &m }())

	for _, tc := range []struct {
		name    string
		msg     []byte
		results bool // decode with DecodeResults
		want    error
		text    string
	}{
		{"empty", nil, false, ErrMalformed, "not an Arrow IPC stream"},
		{"garbage", []byte("SUBJECT_ID,PRI_NAME\n"), false, ErrMalformed, "not an Arrow IPC stream"},
		{"truncated", subjMsg[:len(subjMsg)/2], false, ErrMalformed, "subjects batch"},
		{"subjects on the decisions topic", subjMsg, true, ErrMalformed, "message is a \"subjects\" batch, want a decisions batch"},
		{"decisions on the subjects topic", resMsg, false, ErrMalformed, "message is a \"decisions\" batch, want a subjects batch"},
		{"newer subjects version", emptyBatch(t, withMeta(subjectsSchema(), map[string]string{metaSchema: kindSubjects, metaVersion: "3"})), false, ErrUnknownVersion, "version \"3\"; this build reads version 2"},
		{"older subjects version", emptyBatch(t, withMeta(subjectsSchema(), map[string]string{metaSchema: kindSubjects, metaVersion: "1"})), false, ErrUnknownVersion, "version \"1\"; this build reads version 2"},
		{"older decisions version", emptyBatch(t, withMeta(decisionsSchema(), map[string]string{metaSchema: kindDecisions, metaVersion: "1"})), true, ErrUnknownVersion, "version \"1\"; this build reads version 2"},
		{"newer decisions version", emptyBatch(t, withMeta(decisionsSchema(), map[string]string{metaSchema: kindDecisions, metaVersion: "7"})), true, ErrUnknownVersion, "version \"7\""},
		{"no version", emptyBatch(t, withMeta(subjectsSchema(), map[string]string{metaSchema: kindSubjects})), false, ErrMalformed, "no clearway.version"},
		{"foreign Arrow stream", emptyBatch(t, withMeta(subjectsSchema(), nil)), false, ErrMalformed, "not a Clearway message"},
		{"wrong column type", emptyBatch(t, wrongType), false, ErrMalformed, "column 1 is \"file\" int64, want file int32"},
		{"row fails validation", badRow, false, ErrMalformed, "row 0 fails validation: SUBJECT_ID: empty"},
		{"decompression bomb", bomb, false, ErrMalformed, "decompresses to more than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.results {
				_, err = DecodeResults(tc.msg)
			} else {
				_, err = DecodeSubjects(tc.msg)
			}
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want %v containing %q", err, tc.want, tc.text)
			}
			if strings.Contains(err.Error(), "DOE") || strings.Contains(err.Error(), "0000001") {
				t.Errorf("error %q contains personal data", err)
			}
		})
	}
}

// TestDecodeCorruptOffsets feeds batches whose cell offsets or cell lengths are
// corrupt, which Arrow's reader accepts: the decoder must reject them rather than slice
// garbage.
func TestDecodeCorruptOffsets(t *testing.T) {
	// One row whose PRI_NAME is 201 bytes long, so that its text and lengths are easy to
	// find in an uncompressed message.
	s := person("H0000001", map[int]string{doj.ColPriName: strings.Repeat("X", 201)})
	cells := s.Events[0].Cells
	rowLen := uint32(len(cells.Text()))
	encoded := func() []byte {
		e := Encoder{Compression: NoCompression}
		return oneMessage(t)(e.EncodeSubjects([]*record.Subject{s}, 0))
	}
	// priName returns the position of PRI_NAME's length in msg.
	priName := func(msg []byte) int {
		b := make([]byte, 0, lengthsBytes)
		for i := range cells.Len() {
			b = binary.LittleEndian.AppendUint16(b, uint16(len(cells.Cell(i))))
		}
		i := bytes.LastIndex(msg, b)
		if i < 0 {
			t.Fatal("cell lengths not found")
		}
		return i + 2*doj.ColPriName
	}
	for _, tc := range []struct {
		name    string
		corrupt func(msg []byte)
		text    string
	}{
		{"text offsets decrease", func(msg []byte) {
			// The body follows the metadata, which holds the buffer's length too.
			offs := binary.LittleEndian.AppendUint32([]byte{0, 0, 0, 0}, rowLen)
			i := bytes.LastIndex(msg, offs)
			if i < 0 {
				t.Fatal("cells offsets not found")
			}
			msg[i] = byte(rowLen + 1)
		}, "offsets decrease"},
		{"cell lengths short of the text", func(msg []byte) {
			binary.LittleEndian.PutUint16(msg[priName(msg):], 200)
		}, fmt.Sprintf("row 0: cell lengths add up to %d, its text is %d bytes", rowLen-1, rowLen)},
		{"cell lengths past the text", func(msg []byte) {
			binary.LittleEndian.PutUint16(msg[priName(msg):], 0xffff)
		}, fmt.Sprintf("row 0: cell lengths add up to %d, its text is %d bytes", rowLen-201+0xffff, rowLen)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := encoded()
			if _, err := DecodeSubjects(msg); err != nil {
				t.Fatalf("intact message: %v", err)
			}
			tc.corrupt(msg)
			_, err := DecodeSubjects(msg)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want ErrMalformed containing %q", err, tc.text)
			}
		})
	}
}

// TestGatherRejectsBadLengths checks the cell_lengths values the decoder accepts: 95
// uint16s or 95 uint32s, summing to the row's text.
func TestGatherRejectsBadLengths(t *testing.T) {
	src := func(int) record.Source { return record.Source{} }
	row := func(lens []byte) *rowView {
		text := make([]byte, 10)
		return &rowView{
			text: strView{data: text, offs: []int32{0, 10}},
			lens: strView{data: lens, offs: []int32{0, int32(len(lens))}},
		}
	}
	for _, tc := range []struct {
		name string
		lens []byte
		text string
	}{
		{"none", nil, "row 0 has 0 bytes of cell lengths, want 190 or 380"},
		{"one short", make([]byte, lengthsBytes-2), "row 0 has 188 bytes of cell lengths"},
		{"uint16 sum", make([]byte, lengthsBytes), "cell lengths add up to 0, its text is 10 bytes"},
		{"uint32 sum", binary.LittleEndian.AppendUint32(make([]byte, longLengthsBytes-4), 0xffffffff), "cell lengths add up to 4294967295, its text is 10 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gatherEvents(row(tc.lens), 1, nil, src)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v, want ErrMalformed containing %q", err, tc.text)
			}
		})
	}
}

// TestLongRowRoundTrip: a row longer than 65,535 bytes travels with uint32 cell lengths
// and comes back unchanged, next to ordinary rows.
func TestLongRowRoundTrip(t *testing.T) {
	long := person("L0000001", map[int]string{doj.ColPriName: "DOE,JANE", doj.ColOffenseDescr: strings.Repeat("Z", 70_000)},
		map[int]string{doj.ColPriName: "DOE,JANE"})
	subjects := append(smallSubjects(), long)
	for _, codec := range codecs {
		e := Encoder{Compression: codec}
		msg := oneMessage(t)(e.EncodeSubjects(subjects, 0))
		got, err := DecodeSubjects(msg)
		if err != nil {
			t.Fatalf("%v: %v", codec, err)
		}
		if !reflect.DeepEqual(got, subjects) {
			t.Fatalf("%v: subjects with a 70 kB row changed in transit", codec)
		}
	}
}

// TestDecodedValuesOwnTheirMemory overwrites each message after decoding it, as a Kafka
// client reusing its buffers would: the decoded subjects and results must not change.
func TestDecodedValuesOwnTheirMemory(t *testing.T) {
	for _, codec := range codecs {
		t.Run(codec.String(), func(t *testing.T) {
			e := Encoder{Compression: codec}
			msg := oneMessage(t)(e.EncodeSubjects(smallSubjects(), 0))
			subjects, err := DecodeSubjects(msg)
			if err != nil {
				t.Fatal(err)
			}
			clear(msg)
			if !reflect.DeepEqual(subjects, smallSubjects()) {
				t.Error("decoded subjects changed when the message was overwritten")
			}

			want := smallResults(t)
			msg = oneMessage(t)(e.EncodeResults(want, 0))
			got, err := DecodeResults(msg)
			if err != nil {
				t.Fatal(err)
			}
			clear(msg)
			for i := range want {
				if !reflect.DeepEqual(got[i], normalise(want[i])) {
					t.Errorf("decoded result %d changed when the message was overwritten", i)
				}
			}
		})
	}
}
