package wire

import (
	"bytes"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// decisionRowOverhead estimates the raw bytes of a decisions row besides its cell text,
// subject id and case numbers: the cell lengths, value offsets, file, line, quarantined, the
// decision columns and bitmaps.
const decisionRowOverhead = lengthsBytes + 4*4 + 4 + 8 + 4 + 1 + 4 + 4*5 + 1 + 4 + 2

// decisionCols are the reusable column buffers of the decisions schema.
type decisionCols struct {
	id          strCol
	stub        bitmap
	rowValid    bitmap // file, line and cells: null on stub rows
	file        []int32
	line        []int64
	quarantined []int32
	cells       rowCols

	evaluated   bitmap // the decision columns: set on evaluated convictions only
	section     []int8
	felony      bitmap
	convDate    []int32
	convDateOK  bitmap
	caseNumbers strCol
	county      dictCol
	policy      dictCol
	policyHash  dictCol
	det         []uint8
	reason      dictCol
	ruleID      dictCol
	sentEnd     []int32
	sentEndOK   bitmap
}

func (c *decisionCols) reset() {
	c.id.reset()
	c.stub.reset()
	c.rowValid.reset()
	c.file, c.line, c.quarantined = c.file[:0], c.line[:0], c.quarantined[:0]
	c.cells.reset()
	c.evaluated.reset()
	c.section = c.section[:0]
	c.felony.reset()
	c.convDate = c.convDate[:0]
	c.convDateOK.reset()
	c.caseNumbers.reset()
	c.county.reset()
	c.policy.reset()
	c.policyHash.reset()
	c.det = c.det[:0]
	c.reason.reset()
	c.ruleID.reset()
	c.sentEnd = c.sentEnd[:0]
	c.sentEndOK.reset()
}

// isStub reports whether r travels as a stub: the engine did not analyse its subject
// (Engine.Evaluate then leaves Facts zero and ConvictionRows nil), so no output needs
// its rows; or there are no rows to carry.
func isStub(r *eligibility.Result) bool {
	return len(r.Evaluated) == 0 && (r.ConvictionRows == nil || len(r.Subject.Events) == 0)
}

// checkResult reports why results[i] cannot be encoded, or returns its raw size.
func checkResult(results []eligibility.Result, i int) (int, error) {
	r := &results[i]
	s := r.Subject
	switch {
	case s == nil:
		return 0, fmt.Errorf("wire: result %d has no subject", i)
	case s.Quarantined < 0 || s.Quarantined > math.MaxInt32:
		return 0, fmt.Errorf("wire: result %d has a quarantined count of %d, outside int32", i, s.Quarantined)
	case i > 0 && results[i-1].Subject != nil && results[i-1].Subject.ID == s.ID && !isStub(r) && !isStub(&results[i-1]):
		// Rows of adjacent subjects with one ID would decode as one subject.
		return 0, fmt.Errorf("wire: results %d and %d have the same SUBJECT_ID; a batch holds each subject once", i-1, i)
	}
	if isStub(r) {
		return len(s.ID) + decisionRowOverhead, nil
	}
	if len(s.Events) == 0 {
		return 0, fmt.Errorf("wire: result %d has decisions but its subject has no rows", i)
	}
	prev := -1
	for k := range r.Evaluated {
		c := &r.Evaluated[k]
		switch {
		case c.Index <= prev || c.Index >= len(s.Events):
			return 0, fmt.Errorf("wire: result %d conviction %d: index %d is not after %d and within the subject's %d rows", i, k, c.Index, prev, len(s.Events))
		case c.Section < 0 || c.Section >= eligibility.NumSections:
			return 0, fmt.Errorf("wire: result %d conviction %d: section %d out of range", i, k, c.Section)
		case c.Determination > eligibility.NotEligible:
			return 0, fmt.Errorf("wire: result %d conviction %d: unknown determination %d", i, k, c.Determination)
		}
		prev = c.Index
	}
	size := 0
	for k := range s.Events {
		cells := s.Events[k].Cells
		if why := checkCells(cells); why != "" {
			return 0, fmt.Errorf("wire: result %d row %d %s", i, k, why)
		}
		size += len(cells.Text()) + len(s.ID) + decisionRowOverhead
	}
	for k := range r.Evaluated {
		size += len(r.Evaluated[k].CaseNumbers)
	}
	return size, nil
}

// EncodeResults is the package-level EncodeResults with e's codec and buffers.
func (e *Encoder) EncodeResults(results []eligibility.Result, maxBytes int) ([][]byte, error) {
	sizes := make([]int, len(results))
	for i := range results {
		n, err := checkResult(results, i)
		if err != nil {
			return nil, err
		}
		sizes[i] = n
	}
	if e.dec == nil {
		e.dec = new(decisionCols)
		e.results = decisionsSchema()
	}
	raw := func(i int) int { return sizes[i] }
	encode := func(lo, hi int) ([]byte, error) { return e.encodeResults(results[lo:hi]) }
	return e.pack(&e.decFit, len(results), raw, encode, maxBytes, "result")
}

func (e *Encoder) encodeResults(results []eligibility.Result) ([]byte, error) {
	c := e.dec
	c.reset()
	for i := range results {
		r := &results[i]
		s := r.Subject
		q := int32(s.Quarantined)
		if isStub(r) {
			c.id.add(s.ID)
			c.stub.add(true)
			c.quarantined = append(c.quarantined, q)
			c.rowValid.add(false)
			c.file = append(c.file, 0)
			c.line = append(c.line, 0)
			c.cells.add(record.Cells{})
			c.addDecision(nil)
			continue
		}
		k := 0
		for row := range s.Events {
			ev := &s.Events[row]
			c.id.add(s.ID)
			c.stub.add(false)
			c.quarantined = append(c.quarantined, q)
			c.rowValid.add(true)
			c.file = append(c.file, ev.Src.File)
			c.line = append(c.line, ev.Src.Line)
			c.cells.add(ev.Cells)
			if k < len(r.Evaluated) && r.Evaluated[k].Index == row {
				c.addDecision(&r.Evaluated[k])
				k++
			} else {
				c.addDecision(nil)
			}
		}
	}
	rows := len(c.file)
	cols := make([]arrow.Array, decNumCols)
	cols[decID] = c.id.array(nil)
	cols[decStub] = c.stub.boolArray(nil)
	cols[decFile] = fixedArray(arrow.PrimitiveTypes.Int32, c.file, &c.rowValid)
	cols[decLine] = fixedArray(arrow.PrimitiveTypes.Int64, c.line, &c.rowValid)
	cols[decQuarantined] = fixedArray(arrow.PrimitiveTypes.Int32, c.quarantined, nil)
	cols[decCells], cols[decLengths] = c.cells.arrays(&c.rowValid)
	ev := &c.evaluated
	cols[decSection] = fixedArray(arrow.PrimitiveTypes.Int8, c.section, ev)
	cols[decFelony] = c.felony.boolArray(ev)
	cols[decConvictionDate] = fixedArray(arrow.FixedWidthTypes.Date32, c.convDate, &c.convDateOK)
	cols[decCaseNumbers] = c.caseNumbers.array(ev)
	cols[decCounty] = c.county.array(ev)
	cols[decPolicy] = c.policy.array(ev)
	cols[decPolicyHash] = c.policyHash.array(ev)
	cols[decDetermination] = fixedArray(arrow.PrimitiveTypes.Uint8, c.det, ev)
	cols[decReason] = c.reason.array(ev)
	cols[decRuleID] = c.ruleID.array(ev)
	cols[decSentenceEnd] = fixedArray(arrow.FixedWidthTypes.Date32, c.sentEnd, &c.sentEndOK)
	return writeMessage(&e.buf, e.results, cols, rows, e.Compression)
}

// addDecision appends one row's decision columns: cv's fields, or nulls when the row is
// not an evaluated conviction (cv == nil).
func (c *decisionCols) addDecision(cv *eligibility.Conviction) {
	if cv == nil {
		c.evaluated.add(false)
		c.section = append(c.section, 0)
		c.felony.add(false)
		c.convDate = append(c.convDate, 0)
		c.convDateOK.add(false)
		c.caseNumbers.addNull()
		c.county.addNull()
		c.policy.addNull()
		c.policyHash.addNull()
		c.det = append(c.det, 0)
		c.reason.addNull()
		c.ruleID.addNull()
		c.sentEnd = append(c.sentEnd, 0)
		c.sentEndOK.add(false)
		return
	}
	c.evaluated.add(true)
	c.section = append(c.section, int8(cv.Section))
	c.felony.add(cv.Felony)
	c.convDate = append(c.convDate, dateValue(cv.Date))
	c.convDateOK.add(cv.Date.Valid())
	c.caseNumbers.add(cv.CaseNumbers)
	c.county.add(cv.County)
	c.policy.add(cv.Policy)
	c.policyHash.add(cv.PolicyHash)
	c.det = append(c.det, uint8(cv.Determination))
	c.reason.add(cv.Reason)
	c.ruleID.add(cv.RuleID)
	c.sentEnd = append(c.sentEnd, dateValue(cv.SentenceEnd))
	c.sentEndOK.add(cv.SentenceEnd.Valid())
}

// dateValue is d's Date32 value; NoDate is written as a null with value 0.
func dateValue(d record.Date) int32 {
	if !d.Valid() {
		return 0
	}
	return int32(d)
}

// DecodeResults is the package-level DecodeResults.
func (d *Decoder) DecodeResults(msg []byte) ([]eligibility.Result, error) {
	if d.results == nil {
		exp, err := expect(decisionsSchema(), kindDecisions, DecisionsSchemaVersion)
		if err != nil {
			return nil, err
		}
		d.results = exp
	}
	var out []eligibility.Result
	err := readMessage(msg, d.results, func(rec arrow.RecordBatch) error {
		res, err := decodeResultBatch(rec)
		out = append(out, res...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// decisionViews are the validated decision columns of one record batch.
type decisionViews struct {
	section                            *array.Int8
	felony                             *array.Boolean
	convDate, sentEnd                  *array.Date32
	caseNumbers                        strView
	caseText                           ownedStrings
	county, policy, policyHash, reason dictView
	ruleID                             dictView
	det                                *array.Uint8
	required                           []arrow.Array // must be valid on evaluated rows
}

func viewDecisions(rec arrow.RecordBatch) (*decisionViews, error) {
	v := &decisionViews{}
	var err error
	if v.section, err = column[*array.Int8](rec, decSection); err != nil {
		return nil, err
	}
	if v.felony, err = column[*array.Boolean](rec, decFelony); err != nil {
		return nil, err
	}
	if v.convDate, err = column[*array.Date32](rec, decConvictionDate); err != nil {
		return nil, err
	}
	if v.sentEnd, err = column[*array.Date32](rec, decSentenceEnd); err != nil {
		return nil, err
	}
	if v.det, err = column[*array.Uint8](rec, decDetermination); err != nil {
		return nil, err
	}
	if v.caseNumbers, err = viewStrings(rec, decCaseNumbers); err != nil {
		return nil, err
	}
	v.caseText = v.caseNumbers.owned()
	for _, d := range []struct {
		dst *dictView
		col int
	}{{&v.county, decCounty}, {&v.policy, decPolicy}, {&v.policyHash, decPolicyHash}, {&v.reason, decReason}, {&v.ruleID, decRuleID}} {
		if *d.dst, err = viewDict(rec, d.col); err != nil {
			return nil, err
		}
	}
	v.required = []arrow.Array{v.felony, v.det, v.caseNumbers.arr, v.county.arr, v.policy.arr, v.policyHash.arr, v.reason.arr, v.ruleID.arr}
	return v, nil
}

// conviction decodes the evaluated conviction on row r, Index-th row of its subject.
func (v *decisionViews) conviction(r, index int) (eligibility.Conviction, error) {
	for _, a := range v.required {
		if a.IsNull(r) {
			return eligibility.Conviction{}, fmt.Errorf("%w: decisions batch row %d: an evaluated conviction with missing decision columns", ErrMalformed, r)
		}
	}
	sec, det := int(v.section.Value(r)), eligibility.Determination(v.det.Value(r))
	if sec < 0 || sec >= eligibility.NumSections {
		return eligibility.Conviction{}, fmt.Errorf("%w: decisions batch row %d: section %d out of range", ErrMalformed, r, sec)
	}
	if det > eligibility.NotEligible {
		return eligibility.Conviction{}, fmt.Errorf("%w: decisions batch row %d: unknown determination %d", ErrMalformed, r, det)
	}
	return eligibility.Conviction{
		Index:       index,
		Section:     sec,
		Felony:      v.felony.Value(r),
		Date:        dateOf(v.convDate, r),
		CaseNumbers: v.caseText.value(r),
		County:      v.county.value(r),
		Policy:      v.policy.value(r),
		PolicyHash:  v.policyHash.value(r),
		Decision: eligibility.Decision{
			Determination: det,
			Reason:        v.reason.value(r),
			RuleID:        v.ruleID.value(r),
		},
		SentenceEnd: dateOf(v.sentEnd, r),
	}, nil
}

func dateOf(a *array.Date32, r int) record.Date {
	if a.IsNull(r) {
		return record.NoDate
	}
	return record.Date(a.Value(r))
}

func decodeResultBatch(rec arrow.RecordBatch) ([]eligibility.Result, error) {
	n := int(rec.NumRows())
	for _, col := range []int{decID, decStub, decQuarantined} {
		if rec.Column(col).NullN() != 0 {
			return nil, fmt.Errorf("%w: decisions batch column %d has nulls", ErrMalformed, col)
		}
	}
	ids, err := viewStrings(rec, decID)
	if err != nil {
		return nil, err
	}
	stub, err := column[*array.Boolean](rec, decStub)
	if err != nil {
		return nil, err
	}
	file, err := column[*array.Int32](rec, decFile)
	if err != nil {
		return nil, err
	}
	line, err := column[*array.Int64](rec, decLine)
	if err != nil {
		return nil, err
	}
	quar, err := column[*array.Int32](rec, decQuarantined)
	if err != nil {
		return nil, err
	}
	cells, err := viewRows(rec, decCells, decLengths)
	if err != nil {
		return nil, err
	}
	dv, err := viewDecisions(rec)
	if err != nil {
		return nil, err
	}
	files, lines, qs := file.Int32Values(), line.Int64Values(), quar.Int32Values()

	// A result starts at every stub row and wherever subject_id changes.
	var bounds []int
	for r := range n {
		isStub := stub.Value(r)
		switch {
		case r == 0 || isStub || stub.Value(r-1) || !bytes.Equal(ids.bytes(r), ids.bytes(r-1)):
			bounds = append(bounds, r)
		case qs[r] != qs[r-1]:
			return nil, fmt.Errorf("%w: decisions batch row %d: quarantined count differs from the subject's first row", ErrMalformed, r)
		}
		if isStub {
			if dv.section.IsValid(r) {
				return nil, fmt.Errorf("%w: decisions batch row %d: a stub row with a decision", ErrMalformed, r)
			}
			continue
		}
		if file.IsNull(r) || line.IsNull(r) {
			return nil, fmt.Errorf("%w: decisions batch row %d: a subject row without its source", ErrMalformed, r)
		}
	}
	bounds = append(bounds, n)

	keep := func(r int) bool { return !stub.Value(r) }
	events, err := gatherEvents(&cells, n, keep, func(r int) record.Source {
		return record.Source{File: files[r], Line: lines[r]}
	})
	if err != nil {
		return nil, err
	}
	idText := ids.owned()
	evaluated := dv.section.Len() - dv.section.NullN()
	convs := make([]eligibility.Conviction, 0, evaluated)
	results := make([]eligibility.Result, len(bounds)-1)
	subjects := make([]record.Subject, len(results))
	next := 0 // next unused event
	for k := range results {
		lo, hi := bounds[k], bounds[k+1]
		s := &subjects[k]
		*s = record.Subject{ID: idText.value(lo), Quarantined: int(qs[lo])}
		results[k].Subject = s
		if stub.Value(lo) {
			continue
		}
		s.Events = events[next : next+hi-lo : next+hi-lo]
		next += hi - lo
		first := len(convs)
		for r := lo; r < hi; r++ {
			if dv.section.IsNull(r) {
				continue
			}
			c, err := dv.conviction(r, r-lo)
			if err != nil {
				return nil, err
			}
			convs = append(convs, c)
		}
		res := &results[k]
		if len(convs) > first {
			res.Evaluated = convs[first:len(convs):len(convs)]
		}
		res.Facts, res.ConvictionRows = eligibility.Analyze(s)
	}
	return results, nil
}
