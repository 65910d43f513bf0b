package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Arrow's IPC reader trusts the lengths in a message's flatbuffer metadata: a corrupt
// schema can make it allocate terabytes, which kills the process (out of memory is not
// a recoverable panic). So the decoder never lets Arrow parse a message's own schema.
// It splits the stream into frames itself, reads the schema with the bounds-checked
// flatbuffer reader below, compares it with the expected schema, and hands Arrow its own
// copy of that schema followed by the message's remaining frames, whose one unbounded
// allocation (custom metadata) it checks first. The rest of Arrow's reading of those
// frames is bounded by the message size and the budget allocator.
//
// Handing Arrow the frames in place (frameReader) also spares it copying every message
// body: uncompressed buffers are read where they are.

// frameReader is an ipc.MessageReader over frames already split and checked.
type frameReader struct{ msgs []*ipc.Message }

func (r *frameReader) Message() (*ipc.Message, error) {
	if len(r.msgs) == 0 {
		return nil, io.EOF
	}
	m := r.msgs[0]
	r.msgs = r.msgs[1:]
	return m, nil
}

// Retain and Release do nothing: the frames' memory belongs to the caller's message and
// the garbage collector.
func (r *frameReader) Retain()  {}
func (r *frameReader) Release() {}

func newMessage(f frame) *ipc.Message {
	return ipc.NewMessage(memory.NewBufferBytes(f.meta), memory.NewBufferBytes(f.body))
}

// frame is one encapsulated IPC message: flatbuffer metadata and body.
type frame struct {
	meta []byte
	body []byte
	end  int // offset just past the frame's body in the stream
}

// continuation marks the start of every IPC frame (Arrow ≥ 0.15).
const continuation = 0xFFFFFFFF

var errEOS = errors.New("end of stream")

// nextFrame reads the frame at msg[at:]. It returns errEOS at the end-of-stream marker or
// the end of msg.
func nextFrame(msg []byte, at int) (frame, error) {
	if at == len(msg) {
		return frame{}, errEOS
	}
	if len(msg)-at < 8 || binary.LittleEndian.Uint32(msg[at:]) != continuation {
		return frame{}, errors.New("bad IPC frame header")
	}
	n := int(binary.LittleEndian.Uint32(msg[at+4:]))
	if n == 0 {
		return frame{}, errEOS
	}
	at += 8
	if n > len(msg)-at {
		return frame{}, fmt.Errorf("IPC frame metadata of %d bytes past the end of the message", n)
	}
	f := frame{meta: msg[at : at+n]}
	m, err := root(f.meta)
	if err != nil {
		return frame{}, err
	}
	body, err := m.int64Field(3)
	if err != nil {
		return frame{}, err
	}
	if body < 0 || body > int64(len(msg)-at-n) {
		return frame{}, fmt.Errorf("IPC frame body of %d bytes past the end of the message", body)
	}
	f.body = msg[at+n : at+n+int(body)]
	f.end = at + n + int(body)
	return f, nil
}

// Flatbuffer field ids and enums of Arrow's Message.fbs and Schema.fbs.
const (
	msgHeaderType     = 1
	msgHeader         = 2
	msgCustomMetadata = 4

	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3

	schemaFields         = 1
	schemaCustomMetadata = 2

	fieldName       = 0
	fieldNullable   = 1
	fieldTypeType   = 2
	fieldType       = 3
	fieldDictionary = 4
	fieldChildren   = 5

	dictIndexType = 1

	typeInt    = 2
	typeBinary = 4
	typeUtf8   = 5
	typeBool   = 6
	typeDate   = 8

	dateDay         = 0
	dateMillisecond = 1
)

// table is a flatbuffer table whose every read is bounds-checked.
type table struct {
	buf []byte
	pos int
}

var errFlatbuffer = errors.New("corrupt flatbuffer metadata")

func u32(buf []byte, at int) (int, error) {
	if at < 0 || at > len(buf)-4 {
		return 0, errFlatbuffer
	}
	return int(binary.LittleEndian.Uint32(buf[at:])), nil
}

func root(buf []byte) (table, error) {
	off, err := u32(buf, 0)
	if err != nil {
		return table{}, err
	}
	return tableAt(buf, off)
}

func tableAt(buf []byte, pos int) (table, error) {
	soff, err := u32(buf, pos)
	if err != nil {
		return table{}, err
	}
	vt := pos - int(int32(soff))
	if vt < 0 || vt > len(buf)-4 {
		return table{}, errFlatbuffer
	}
	return table{buf: buf, pos: pos}, nil
}

// field returns the position of field id's value, or -1 when the field is absent.
func (t table) field(id int) (int, error) {
	soff, _ := u32(t.buf, t.pos)
	vt := t.pos - int(int32(soff))
	vtSize := int(binary.LittleEndian.Uint16(t.buf[vt:]))
	slot := 4 + 2*id
	if slot+2 > vtSize {
		return -1, nil
	}
	if vt+slot+2 > len(t.buf) {
		return 0, errFlatbuffer
	}
	off := int(binary.LittleEndian.Uint16(t.buf[vt+slot:]))
	if off == 0 {
		return -1, nil
	}
	if t.pos+off >= len(t.buf) {
		return 0, errFlatbuffer
	}
	return t.pos + off, nil
}

func (t table) scalar(id, size int) (uint64, error) {
	at, err := t.field(id)
	if err != nil || at < 0 {
		return 0, err
	}
	if at > len(t.buf)-size {
		return 0, errFlatbuffer
	}
	switch size {
	case 1:
		return uint64(t.buf[at]), nil
	case 2:
		return uint64(binary.LittleEndian.Uint16(t.buf[at:])), nil
	case 4:
		return uint64(binary.LittleEndian.Uint32(t.buf[at:])), nil
	}
	return binary.LittleEndian.Uint64(t.buf[at:]), nil
}

func (t table) int64Field(id int) (int64, error) {
	v, err := t.scalar(id, 8)
	return int64(v), err
}

// ref follows the offset stored in field id; ok is false when the field is absent.
func (t table) ref(id int) (pos int, ok bool, err error) {
	at, err := t.field(id)
	if err != nil || at < 0 {
		return 0, false, err
	}
	off, err := u32(t.buf, at)
	if err != nil {
		return 0, false, err
	}
	return at + off, true, nil
}

func (t table) child(id int) (table, bool, error) {
	pos, ok, err := t.ref(id)
	if err != nil || !ok {
		return table{}, ok, err
	}
	c, err := tableAt(t.buf, pos)
	return c, err == nil, err
}

// vector returns the element count and first element position of the vector in field
// id, checking that n elements of elemSize bytes fit in the buffer.
func (t table) vector(id, elemSize int) (n, first int, err error) {
	pos, ok, err := t.ref(id)
	if err != nil || !ok {
		return 0, 0, err
	}
	n, err = u32(t.buf, pos)
	if err != nil {
		return 0, 0, err
	}
	if n > (len(t.buf)-pos-4)/elemSize {
		return 0, 0, fmt.Errorf("%w: vector of %d elements in %d bytes", errFlatbuffer, n, len(t.buf))
	}
	return n, pos + 4, nil
}

func (t table) str(id int) (string, error) {
	n, first, err := t.vector(id, 1)
	if err != nil {
		return "", err
	}
	return string(t.buf[first : first+n]), nil
}

// tables returns the tables of the vector of tables in field id.
func (t table) tables(id int) ([]table, error) {
	n, first, err := t.vector(id, 4)
	if err != nil {
		return nil, err
	}
	out := make([]table, n)
	for i := range out {
		at := first + 4*i
		off, _ := u32(t.buf, at)
		if out[i], err = tableAt(t.buf, at+off); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyValues reads a custom_metadata vector.
func (t table) keyValues(id int) (map[string]string, error) {
	kvs, err := t.tables(id)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, err := kv.str(0)
		if err != nil {
			return nil, err
		}
		v, err := kv.str(1)
		if err != nil {
			return nil, err
		}
		out[k] = v
	}
	return out, nil
}

// fieldInfo is what the decoder compares of a schema column: enough to tell every type
// of its schemas apart.
type fieldInfo struct {
	name     string
	nullable bool
	typ      uint8 // Type union tag
	bits     int32 // Int bitWidth, or Date unit
	signed   bool
	dict     bool // dictionary-encoded
	dictBits int32
}

// String describes the column's type for error messages.
func (fi fieldInfo) String() string {
	var t string
	switch fi.typ {
	case typeInt:
		t = fmt.Sprintf("int%d", fi.bits)
		if !fi.signed {
			t = "u" + t
		}
	case typeUtf8:
		t = "utf8"
	case typeBinary:
		t = "binary"
	case typeBool:
		t = "bool"
	case typeDate:
		t = "date32"
		if fi.bits != dateDay {
			t = "date64"
		}
	default:
		t = fmt.Sprintf("Arrow type %d", fi.typ)
	}
	if fi.dict {
		t = fmt.Sprintf("dictionary<%s, int%d>", t, fi.dictBits)
	}
	return t
}

// schemaInfo is the part of a schema message the decoder checks.
type schemaInfo struct {
	meta   map[string]string
	fields []fieldInfo
}

// readSchemaInfo reads a schema message's metadata.
func readSchemaInfo(meta []byte) (schemaInfo, error) {
	m, err := root(meta)
	if err != nil {
		return schemaInfo{}, err
	}
	kind, err := m.scalar(msgHeaderType, 1)
	if err != nil {
		return schemaInfo{}, err
	}
	if kind != headerSchema {
		return schemaInfo{}, fmt.Errorf("first IPC message is of type %d, not a schema", kind)
	}
	s, ok, err := m.child(msgHeader)
	if err != nil || !ok {
		return schemaInfo{}, errors.Join(errFlatbuffer, err)
	}
	var info schemaInfo
	if info.meta, err = s.keyValues(schemaCustomMetadata); err != nil {
		return schemaInfo{}, err
	}
	fields, err := s.tables(schemaFields)
	if err != nil {
		return schemaInfo{}, err
	}
	info.fields = make([]fieldInfo, len(fields))
	for i, f := range fields {
		if info.fields[i], err = readField(f); err != nil {
			return schemaInfo{}, fmt.Errorf("column %d: %w", i, err)
		}
	}
	return info, nil
}

func readField(f table) (fieldInfo, error) {
	var fi fieldInfo
	var err error
	if fi.name, err = f.str(fieldName); err != nil {
		return fi, err
	}
	nullable, err := f.scalar(fieldNullable, 1)
	if err != nil {
		return fi, err
	}
	typ, err := f.scalar(fieldTypeType, 1)
	if err != nil {
		return fi, err
	}
	fi.nullable, fi.typ = nullable != 0, uint8(typ)
	if t, ok, err := f.child(fieldType); err != nil {
		return fi, err
	} else if ok {
		switch fi.typ {
		case typeInt:
			bits, err := t.scalar(0, 4)
			if err != nil {
				return fi, err
			}
			signed, err := t.scalar(1, 1)
			if err != nil {
				return fi, err
			}
			fi.bits, fi.signed = int32(bits), signed != 0
		case typeDate:
			at, err := t.field(0)
			if err != nil {
				return fi, err
			}
			fi.bits = dateMillisecond // the schema's default unit
			if at >= 0 {
				unit, err := t.scalar(0, 2)
				if err != nil {
					return fi, err
				}
				fi.bits = int32(unit)
			}
		}
	}
	if d, ok, err := f.child(fieldDictionary); err != nil {
		return fi, err
	} else if ok {
		fi.dict = true
		if it, ok, err := d.child(dictIndexType); err != nil {
			return fi, err
		} else if ok {
			bits, err := it.scalar(0, 4)
			if err != nil {
				return fi, err
			}
			fi.dictBits = int32(bits)
		}
	}
	if n, _, err := f.vector(fieldChildren, 4); err != nil || n != 0 {
		return fi, errors.Join(errors.New("nested columns"), err)
	}
	return fi, nil
}

// checkCustomMetadata bounds the one vector of a record or dictionary batch message that
// Arrow sizes an allocation by.
func checkCustomMetadata(meta []byte) error {
	m, err := root(meta)
	if err != nil {
		return err
	}
	kind, err := m.scalar(msgHeaderType, 1)
	if err != nil {
		return err
	}
	if kind != headerRecordBatch && kind != headerDictionaryBatch {
		return fmt.Errorf("IPC message of type %d where a record batch belongs", kind)
	}
	_, err = m.keyValues(msgCustomMetadata)
	return err
}
