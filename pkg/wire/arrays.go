package wire

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The encoders build Arrow buffers by hand instead of with array builders: appending a
// cell is then one copy and one offset, several times cheaper than a builder's per-value
// bookkeeping, and the buffers are reused from message to message. Arrow arrays wrap
// them without copying; they are only read until the IPC writer has copied them out.

// strCol accumulates one utf8 column.
type strCol struct {
	data []byte
	offs []int32
}

func (c *strCol) reset() {
	c.data = c.data[:0]
	c.offs = append(c.offs[:0], 0)
}

func (c *strCol) add(s string) {
	c.data = append(c.data, s...)
	c.offs = append(c.offs, int32(len(c.data)))
}

// addNull appends an empty value; the column's validity bitmap marks it null.
func (c *strCol) addNull() { c.offs = append(c.offs, int32(len(c.data))) }

// array wraps the column as an Arrow utf8 array whose validity is valid (nil: no nulls).
func (c *strCol) array(valid *bitmap) arrow.Array {
	return c.typed(arrow.BinaryTypes.String, valid)
}

// binArray wraps the column as an Arrow binary array.
func (c *strCol) binArray(valid *bitmap) arrow.Array {
	return c.typed(arrow.BinaryTypes.Binary, valid)
}

func (c *strCol) typed(typ arrow.DataType, valid *bitmap) arrow.Array {
	n := len(c.offs) - 1
	return makeArray(typ, n, valid, memory.NewBufferBytes(arrow.GetBytes(c.offs)), memory.NewBufferBytes(c.data))
}

// bitmap is an Arrow bitmap: a validity bitmap, or the values of a boolean column.
type bitmap struct {
	bits  []byte
	n     int
	unset int
}

func (b *bitmap) reset() {
	b.bits, b.n, b.unset = b.bits[:0], 0, 0
}

func (b *bitmap) add(v bool) {
	if b.n%8 == 0 {
		b.bits = append(b.bits, 0)
	}
	if v {
		b.bits[b.n/8] |= 1 << (b.n % 8)
	} else {
		b.unset++
	}
	b.n++
}

// validity returns the bitmap as a validity buffer and its null count; no buffer when
// nothing is null, which Arrow reads as "all valid".
func (b *bitmap) validity() (*memory.Buffer, int) {
	if b == nil || b.unset == 0 {
		return nil, 0
	}
	return memory.NewBufferBytes(b.bits), b.unset
}

// boolArray wraps b's bits as an Arrow boolean array.
func (b *bitmap) boolArray(valid *bitmap) arrow.Array {
	return makeArray(arrow.FixedWidthTypes.Boolean, b.n, valid, memory.NewBufferBytes(b.bits))
}

// fixedArray wraps vals as an Arrow array of the fixed-width type typ.
func fixedArray[T int8 | uint8 | int32 | int64](typ arrow.DataType, vals []T, valid *bitmap) arrow.Array {
	return makeArray(typ, len(vals), valid, memory.NewBufferBytes(arrow.GetBytes(vals)))
}

func makeArray(typ arrow.DataType, n int, valid *bitmap, bufs ...*memory.Buffer) arrow.Array {
	vb, nulls := valid.validity()
	data := array.NewData(typ, n, append([]*memory.Buffer{vb}, bufs...), nil, nulls, 0)
	defer data.Release()
	return array.MakeFromData(data)
}

// dictCol accumulates a dictionary-encoded utf8 column: each distinct value is stored
// once per message and rows hold int32 indexes.
type dictCol struct {
	index map[string]int32
	dict  strCol
	ids   []int32
}

func (c *dictCol) reset() {
	if c.index == nil {
		c.index = make(map[string]int32)
	}
	clear(c.index)
	c.dict.reset()
	c.ids = c.ids[:0]
}

func (c *dictCol) add(s string) {
	id, ok := c.index[s]
	if !ok {
		id = int32(len(c.dict.offs) - 1)
		c.index[s] = id
		c.dict.add(s)
	}
	c.ids = append(c.ids, id)
}

func (c *dictCol) addNull() { c.ids = append(c.ids, 0) }

func (c *dictCol) array(valid *bitmap) arrow.Array {
	if len(c.dict.offs) == 1 {
		// Null rows index entry 0, which must exist even when every row is null.
		c.dict.add("")
	}
	ids := fixedArray(arrow.PrimitiveTypes.Int32, c.ids, valid)
	defer ids.Release()
	dict := c.dict.array(nil)
	defer dict.Release()
	return array.NewDictionaryArray(dictUtf8, ids, dict)
}

// Decoding side: typed, validated views of a record batch's columns. Arrow's IPC reader
// checks buffer sizes but not the contents of offsets or dictionary indexes; a corrupt
// message must give ErrMalformed, not a wrong answer, so the views check them.

// strView is a validated utf8 or binary column.
type strView struct {
	arr  arrow.Array
	data []byte
	offs []int32
}

func viewStrings(rec arrow.RecordBatch, col int) (strView, error) {
	a, ok := rec.Column(col).(*array.String)
	if !ok {
		return strView{}, fmt.Errorf("%w: column %d is not utf8", ErrMalformed, col)
	}
	return newStrView(a, a.ValueOffsets(), col)
}

// viewBinary returns a validated view of the binary column col.
func viewBinary(rec arrow.RecordBatch, col int) (strView, error) {
	a, ok := rec.Column(col).(*array.Binary)
	if !ok {
		return strView{}, fmt.Errorf("%w: column %d is not binary", ErrMalformed, col)
	}
	return newStrView(a, a.ValueOffsets(), col)
}

// newStrView checks the offsets of a utf8 or binary column against its data buffer.
func newStrView(a arrow.Array, offs []int32, col int) (strView, error) {
	v := strView{arr: a, offs: offs}
	if b := a.Data().Buffers()[2]; b != nil {
		v.data = b.Bytes()
	}
	if err := checkOffsets(v.offs, len(v.data)); err != nil {
		return strView{}, fmt.Errorf("%w: column %d: %v", ErrMalformed, col, err)
	}
	return v, nil
}

// bytes returns row i's value (valid until the message's buffers are dropped).
func (v *strView) bytes(i int) []byte { return v.data[v.offs[i]:v.offs[i+1]] }

// owned copies the column's values out of the message's buffers, which decoded values
// must not share (the caller may reuse the message): one string for the whole column,
// of which value returns substrings.
func (v *strView) owned() ownedStrings {
	return ownedStrings{text: string(v.data), offs: v.offs}
}

type ownedStrings struct {
	text string
	offs []int32
}

func (o ownedStrings) value(i int) string { return o.text[o.offs[i]:o.offs[i+1]] }

// checkOffsets verifies that offsets are non-decreasing and inside a data buffer of n
// bytes.
func checkOffsets(offs []int32, n int) error {
	if len(offs) == 0 {
		return nil
	}
	prev := offs[0]
	if prev < 0 {
		return fmt.Errorf("negative offset %d", prev)
	}
	for _, o := range offs[1:] {
		if o < prev {
			return fmt.Errorf("offsets decrease (%d after %d)", o, prev)
		}
		prev = o
	}
	if int(prev) > n {
		return fmt.Errorf("offset %d past the %d-byte data buffer", prev, n)
	}
	return nil
}

// dictView is a validated dictionary-encoded utf8 column, its values decoded once.
type dictView struct {
	arr    *array.Dictionary
	ids    []int32
	values []string
}

func viewDict(rec arrow.RecordBatch, col int) (dictView, error) {
	a, ok := rec.Column(col).(*array.Dictionary)
	if !ok {
		return dictView{}, fmt.Errorf("%w: column %d is not dictionary-encoded", ErrMalformed, col)
	}
	ids, ok := a.Indices().(*array.Int32)
	if !ok {
		return dictView{}, fmt.Errorf("%w: column %d has non-int32 dictionary indexes", ErrMalformed, col)
	}
	dict, ok := a.Dictionary().(*array.String)
	if !ok {
		return dictView{}, fmt.Errorf("%w: column %d has a non-utf8 dictionary", ErrMalformed, col)
	}
	offs := dict.ValueOffsets()
	var data []byte
	if b := dict.Data().Buffers()[2]; b != nil {
		data = b.Bytes()
	}
	if err := checkOffsets(offs, len(data)); err != nil {
		return dictView{}, fmt.Errorf("%w: column %d dictionary: %v", ErrMalformed, col, err)
	}
	v := dictView{arr: a, ids: ids.Int32Values(), values: make([]string, dict.Len())}
	for i := range v.values {
		v.values[i] = strings.Clone(dict.Value(i)) // not shared with the message
	}
	for i, id := range v.ids {
		if a.IsValid(i) && (id < 0 || int(id) >= len(v.values)) {
			return dictView{}, fmt.Errorf("%w: column %d row %d: dictionary index %d out of range [0,%d)", ErrMalformed, col, i, id, len(v.values))
		}
	}
	return v, nil
}

func (v *dictView) value(i int) string { return v.values[v.ids[i]] }

// column returns column col of rec as the concrete array type A.
func column[A arrow.Array](rec arrow.RecordBatch, col int) (A, error) {
	a, ok := rec.Column(col).(A)
	if !ok {
		return a, fmt.Errorf("%w: column %d has an unexpected array type %T", ErrMalformed, col, rec.Column(col))
	}
	return a, nil
}
