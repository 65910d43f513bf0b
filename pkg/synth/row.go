package synth

import (
	"strconv"

	"github.com/clearway/clearway/pkg/record"
)

// Rows are formatted by appending straight into the person's buffer: no per-field
// allocation, no generic CSV writer. Every column is written followed by a comma,
// END_OF_REC by the newline. Vocabulary strings are known to need no quoting (see
// TestVocabularyIsCSVSafe); names always hold a comma and are always quoted; free
// text goes through appendField, which quotes when needed. No field ever holds a line
// break, which is what lets the shuffle treat lines as rows.

// buildPrefix invents the person's identity and descriptors and formats columns
// SUBJECT_STATUS..CYC_SEG_SEP (1..35), which are the same on every row of the person.
func (g *generator) buildPrefix(id int64, rc *race, male bool, dob record.Date) {
	r := g.rng
	b := g.prefix[:0]
	b = append(b, ',', ',')            // end of RECORD_ID; SUBJECT_STATUS (empty)
	b = appendPadded(b, uint64(id), 9) // SUBJECT_ID
	b = append(b, ",#,,,,,,,#,"...)    // REQ_SEG_SEP, REQ_* (empty in research files), PII_SEG_SEP

	// CII_NUMBER: 9 or 10 digits.
	if g.chance(0.5) {
		b = appendPadded(b, uint64(r.IntN(900_000_000)+100_000_000), 9)
	} else {
		b = appendPadded(b, uint64(r.Int64N(9_000_000_000)+1_000_000_000), 10)
	}
	b = append(b, ',', '"')
	group := rc.group
	if g.chance(0.1) {
		group = groupGeneral // mixed families
	}
	sur := surnamesOf(group)
	b = append(b, sur[r.IntN(len(sur))]...)
	b = append(b, ',')
	given := femaleGivenNames
	if male {
		given = maleGivenNames
	}
	b = append(b, given[r.IntN(len(given))]...)
	if g.chance(0.75) {
		b = append(b, ' ', byte('A'+r.IntN(26)))
	}
	b = append(b, '"', ',')
	if male {
		b = append(b, 'M', ',')
	} else {
		b = append(b, 'F', ',')
	}
	b = appendDate(b, dob)
	b = append(b, ',')
	b = appendPadded(b, uint64(r.IntN(1_000_000_000)), 9) // PRI_SSN
	b = append(b, ',')
	if g.chance(0.85) { // PRI_CDL: a letter and 7 digits
		b = append(b, byte('A'+r.IntN(26)))
		b = appendPadded(b, uint64(r.IntN(10_000_000)), 7)
	}
	b = append(b, ",,,"...) // PRI_IDN, PRI_INN
	if g.chance(0.7) {
		b = appendPadded(b, uint64(r.IntN(1_000_000_000)), 9) // FBI_NUMBER
	}
	b = append(b, ",#,"...) // PDR_SEG_SEP
	b = append(b, rc.code...)
	b = append(b, ',')
	b = append(b, rc.descr...)
	b = append(b, ',')
	eye := &eyeColors[g.eyeW.pick(r)]
	b = append(b, eye.code...)
	b = append(b, ',')
	b = append(b, eye.descr...)
	b = append(b, ',')
	hair := &hairColors[g.hairW.pick(r)]
	b = append(b, hair.code...)
	b = append(b, ',')
	b = append(b, hair.descr...)
	b = append(b, ',')
	// HEIGHT as feet and two-digit inches (510 = 5'10"), WEIGHT in pounds.
	inches, pounds := 69+r.NormFloat64()*3, 185+r.NormFloat64()*30
	if !male {
		inches, pounds = 64+r.NormFloat64()*2.8, 150+r.NormFloat64()*28
	}
	in := min(max(int(inches), 56), 82)
	b = strconv.AppendInt(b, int64(in/12*100+in%12), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(min(max(int(pounds), 95), 350)), 10)
	b = append(b, ",,,"...) // SINGLE_SOURCE, MULTI_SOURCE
	pob := &placesOfBirth[rc.group][g.pobW[rc.group].pick(r)]
	b = append(b, pob.code...)
	b = append(b, ',')
	b = append(b, pob.name...)
	b = append(b, ',')
	b = append(b, pob.kind...)
	b = append(b, ',')
	if pob.kind == "C" && g.chance(0.4) {
		b = append(b, "US"...) // naturalised
	} else {
		b = append(b, pob.citizenship...)
	}
	b = append(b, ",#,"...) // CYC_SEG_SEP
	g.prefix = b
}

// rowWriter appends the rows of one cycle.
type rowWriter struct {
	g *generator
	// The cycle number and its dates are formatted once per cycle, not per row.
	cyc                 [3]byte
	arrest, court, disp ymd
	age                 int
	county              *countyInfo
	countyIdx           int
}

// begin writes RECORD_ID, the person's columns and the cycle, step and count keys:
// columns 0..50, up to CNT_ORDER.
func (w *rowWriter) begin(step, cnt int, event *ymd, typeCode, typeDescr, oriType, oriTypeDescr, ori, oriDescr string) {
	g := w.g
	b := g.buf
	b = strconv.AppendInt(b, g.stats.Rows+1, 10) // RECORD_ID: the row's position in the unshuffled file
	b = append(b, g.prefix...)
	b = append(b, w.cyc[:]...)
	b = append(b, ',')
	b = append(b, w.arrest[:]...) // CYC_DATE
	b = append(b, ",#,00"...)
	b = append(b, byte('0'+step))
	b = append(b, ',')
	b = append(b, event[:]...)
	b = append(b, ',')
	b = append(b, typeCode...)
	b = append(b, ',')
	b = append(b, typeDescr...)
	b = append(b, ',')
	b = append(b, oriType...)
	b = append(b, ',')
	b = append(b, oriTypeDescr...)
	b = append(b, ',')
	b = append(b, ori...)
	b = append(b, ',')
	b = append(b, oriDescr...)
	b = append(b, ',')
	b = append(b, w.county.code...)
	b = append(b, ',')
	b = append(b, w.county.name...)
	b = append(b, ",#,"...)
	// CNT_ORDER: cycle, step and count, three digits each, then "000".
	b = append(b, w.cyc[:]...)
	b = append(b, '0', '0', byte('0'+step), '0', '0', byte('0'+cnt))
	b = append(b, "000,"...)
	g.buf = b
}

// end writes END_OF_REC and the line end, and counts the row.
func (w *rowWriter) end() {
	g := w.g
	g.buf = append(g.buf, '\n')
	g.stats.Rows++
	g.stats.Counties[w.countyIdx].Rows++
}

// offenceCols writes OFFENSE_CODE, OFFENSE_DESCR, OFFENSE_TOC and OFFENSE_QUAL_LST
// (or the CONV_OFFENSE_ columns of the same shape).
func offenceCols(b []byte, cnt *count, d record.Date, toc string) []byte {
	if cnt.viaComment {
		b = append(b, ',')
		b = append(b, seeComment...)
	} else {
		b = append(b, cnt.off.code...)
		b = append(b, ',')
		b = append(b, cnt.off.description(d)...)
	}
	b = append(b, ',')
	b = append(b, toc...)
	return append(b, ",,"...)
}

// commentCol writes COMMENT_TEXT: the charge when it is carried there, else, on court
// rows, the rare free-text comment about the disposition.
func commentCol(b []byte, cnt *count, d record.Date, court bool) []byte {
	switch {
	case cnt.viaComment:
		b = append(b, cnt.off.description(d)...)
	case court && cnt.comment >= 0:
		b = appendField(b, comments[cnt.comment])
	}
	return append(b, ',')
}

// arrestCount writes columns 51..93 of an arrest row.
func (w *rowWriter) arrestCount(c *cycle, cnt *count) {
	b := w.g.buf
	out := &arrestOnlyOutcomes[c.arrestOK]
	if !c.hasCourt && out.descr != "" {
		b = append(b, w.arrest[:]...) // DISP_DATE
	}
	b = append(b, ",,"...) // OFN (none on arrests)
	b = offenceCols(b, cnt, c.arrest, cnt.chargeToc)
	b = append(b, ",,,,,,,,,"...)             // DISP_OFFENSE_* (4), CONV_OFFENSE_* (5)
	b = append(b, "01,,,,,,"...)              // FE_NUM_ORDER, ARR_AGY, BNCH_WARR, CITE, DOCKET, INCIDENT
	b = appendPadded(b, uint64(c.booking), 9) // FE_NUM_BOOKING
	b = append(b, ",,,,,,"...)                // NUMBER, REMAND, OOS_INN, CRT_CASE, WARRANT
	if !c.hasCourt && out.descr != "" {
		b = append(b, "01,"...)
		b = append(b, out.code...)
		b = append(b, ',')
		b = append(b, out.descr...)
		b = append(b, ",,,"...)
	} else {
		b = append(b, ",,,,,"...) // DISP_ORDER, DISP_CODE, DISP_DESCR, CONV_STAT_*
	}
	b = append(b, "#,,,,,,,"...) // SENT_SEG_SEP, SENT_* (6)
	b = strconv.AppendInt(b, int64(w.age), 10)
	b = append(b, ",,,"...) // CII_TYPE, CII_TYPE_ALPHA
	w.g.buf = commentCol(b, cnt, c.arrest, false)
}

// courtCount writes columns 51..93 of a court row; part selects the sentence part.
func (w *rowWriter) courtCount(c *cycle, cnt *count, part int) {
	b := w.g.buf
	b = append(b, w.disp[:]...)
	b = append(b, ',')
	ofnStart := len(b)
	b = appendOFN(b, c)
	ofn := b[ofnStart:]
	b = append(b, ',')
	toc := cnt.chargeToc
	if cnt.convicted {
		toc = cnt.courtToc
	}
	b = offenceCols(b, cnt, c.court, toc)
	b = append(b, ",,,,"...) // DISP_OFFENSE_*
	if cnt.convicted {
		b = append(b, "01,"...) // CONV_OFFENSE_ORDER
		b = offenceCols(b, cnt, c.court, toc)
	} else {
		b = append(b, ",,,,,"...)
	}
	b = append(b, "01,,,,,,,,,,"...) // FE_NUM_ORDER .. FE_NUM_OOS_INN
	b = append(b, ofn...)            // FE_NUM_CRT_CASE
	b = append(b, ",,01,"...)        // FE_NUM_WARRANT, DISP_ORDER
	if cnt.convicted {
		s := &cnt.sents[part]
		k := &sentenceKinds[cnt.sents[0].kind]
		st := &statuses[cnt.status]
		b = append(b, "CNV,"...)
		b = append(b, k.disp...)
		b = append(b, ',')
		b = append(b, st.code...)
		b = append(b, ',')
		b = append(b, st.descr...)
		b = append(b, ",#,"...)
		b = appendPadded(b, uint64(part+1), 2)
		b = append(b, ',')
		sk := &sentenceKinds[s.kind]
		b = append(b, sk.locCode...)
		b = append(b, ',')
		b = append(b, sk.loc...)
		b = append(b, ',')
		if s.length > 0 {
			b = strconv.AppendInt(b, int64(s.length), 10)
			b = append(b, ',', s.unit, ',')
			b = append(b, unitDescr(s.unit)...)
		} else {
			b = append(b, ',', ',')
		}
		b = append(b, ',')
	} else {
		o := &nonConvictions[cnt.outcome]
		b = append(b, o.code...)
		b = append(b, ',')
		b = append(b, o.descr...)
		b = append(b, ",,,#,,,,,,,"...) // CONV_STAT_*, SENT_SEG_SEP, SENT_* (6)
	}
	b = strconv.AppendInt(b, int64(w.age), 10)
	b = append(b, ",,,"...)
	w.g.buf = commentCol(b, cnt, c.court, true)
}

// registration writes columns 51..93 of a PC 290 REGISTRATION row.
func (w *rowWriter) registration() {
	b := w.g.buf
	b = append(b, ",,"...) // DISP_DATE, OFN
	b = append(b, registration.code...)
	b = append(b, ',')
	b = append(b, registration.descr...)
	b = append(b, ",,,"...)                        // OFFENSE_TOC, OFFENSE_QUAL_LST
	b = append(b, ",,,,,,,,,,,,,,,,,,,,,,,,,,"...) // DISP_OFFENSE_* .. CONV_STAT_DESCR (26)
	b = append(b, "#,,,,,,,"...)
	b = strconv.AppendInt(b, int64(w.age), 10)
	w.g.buf = append(b, ",,,,"...)
}

// emptyCount writes columns 51..93 of a step without a charge (DECEASED).
func (w *rowWriter) emptyCount() {
	b := w.g.buf
	b = append(b, ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,"...) // DISP_DATE .. CONV_STAT_DESCR (32)
	b = append(b, "#,,,,,,,"...)
	b = strconv.AppendInt(b, int64(w.age), 10)
	w.g.buf = append(b, ",,,,"...)
}

// appendOFN writes the court case number: F or M, the two-digit year, six digits.
func appendOFN(b []byte, c *cycle) []byte {
	if c.ofnNum == 0 {
		return b
	}
	b = append(b, c.ofnType)
	b = appendPadded(b, uint64(c.court.Year()%100), 2)
	return appendPadded(b, uint64(c.ofnNum), 6)
}

func unitDescr(u byte) string {
	switch u {
	case 'D':
		return "DAYS"
	case 'M':
		return "MONTHS"
	case 'Y':
		return "YEARS"
	}
	return ""
}

// appendPadded appends v in decimal, zero-padded to width digits.
func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	i := len(tmp)
	for v > 0 || len(tmp)-i < width {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, tmp[i:]...)
}

// appendDate appends d as YYYYMMDD.
func appendDate(b []byte, d record.Date) []byte {
	s := yyyymmdd(d)
	return append(b, s[:]...)
}

// ymd is a date formatted as YYYYMMDD.
type ymd [8]byte

func yyyymmdd(d record.Date) ymd {
	y, m, dd := d.Civil()
	yy, mm, ds := uint(y), uint(m), uint(dd)
	return ymd{
		byte('0' + yy/1000), byte('0' + yy/100%10), byte('0' + yy/10%10), byte('0' + yy%10),
		byte('0' + mm/10), byte('0' + mm%10), byte('0' + ds/10), byte('0' + ds%10),
	}
}

// appendField appends s as one CSV field, quoted when it holds a comma, a quote or a
// line break.
func appendField(b []byte, s string) []byte {
	needs := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ',' || c == '"' || c == '\n' || c == '\r' {
			needs = true
			break
		}
	}
	if !needs {
		return append(b, s...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, '"')
		}
		b = append(b, s[i])
	}
	return append(b, '"')
}
