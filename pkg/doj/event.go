package doj

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/clearway/clearway/pkg/record"
)

// maxRaw caps Reject.Raw: enough to show an operator what was wrong with a row without
// letting one pathological row blow up the quarantine output.
const maxRaw = 4 << 10

// Reject is one quarantined input row: where it is, which field is wrong and why.
type Reject struct {
	File      string // path of the input file
	FileIndex int32  // index of the input file in the run's file list
	Line      int64  // 1-based physical line of the row's first line (a header is line 1)
	// Field is the DOJ column name of the offending field, or "" for a problem with the
	// row as a whole (field count, length).
	Field  string
	Reason string
	// SubjectID is the row's SUBJECT_ID when it could be read, so the grouper can send
	// that subject to hand review instead of trusting an incomplete record.
	SubjectID string
	// Raw is the row's original text (line terminator excluded), capped at 4 KiB. It holds
	// personal data: it belongs in the restricted quarantine output, never in a log.
	Raw string
}

// Error formats the reject as "path:line: FIELD: reason". It never includes Raw or any
// cell value, so it is safe to log.
func (r Reject) Error() string {
	if r.Field == "" {
		return fmt.Sprintf("%s:%d: %s", r.File, r.Line, r.Reason)
	}
	return fmt.Sprintf("%s:%d: %s: %s", r.File, r.Line, r.Field, r.Reason)
}

// Reject reasons for field validation. Quote and length reasons live with the splitter
// and cutter.
const (
	reasonEmpty      = "empty"
	reasonShortOrder = "shorter than 6 characters"
	reasonBadDate    = "not a valid YYYYMMDD date"
)

// seeComment is the OFFENSE_DESCR placeholder that means "the charge is in COMMENT_TEXT".
const seeComment = "SEE COMMENT FOR CHARGE"

// EventFromCells validates one row's cells and returns its typed view, or a Reject that
// says why the row must be quarantined. The Reject's File and Raw are left for the caller
// to fill. The Event's strings are substrings of c's text; nothing is copied.
//
// A row is rejected when it does not have 95 cells, when SUBJECT_ID is blank, when
// CNT_ORDER is shorter than 6 characters (gogen crashes on those), or when PRI_DOB or
// STP_EVENT_DATE is present but not a real YYYYMMDD date. Checks run in column order and
// the first failure is reported. A blank date is accepted as record.NoDate: the engine
// sends such convictions to hand review instead of guessing, as gogen did.
func EventFromCells(src record.Source, c record.Cells) (record.Event, *Reject) {
	if c.Len() != NumColumns {
		return record.Event{}, rowReject(src, "", fieldCountReason(c.Len()), c)
	}
	subject := c.Cell(ColSubjectID)
	if strings.TrimSpace(subject) == "" {
		return record.Event{}, rowReject(src, Header[ColSubjectID], reasonEmpty, c)
	}
	dob, ok := parseOptionalDate(c.Cell(ColPriDOB))
	if !ok {
		return record.Event{}, rowReject(src, Header[ColPriDOB], reasonBadDate, c)
	}
	date, ok := parseOptionalDate(c.Cell(ColStpEventDate))
	if !ok {
		return record.Event{}, rowReject(src, Header[ColStpEventDate], reasonBadDate, c)
	}
	order := c.Cell(ColCntOrder)
	if len(order) < 6 {
		return record.Event{}, rowReject(src, Header[ColCntOrder], reasonShortOrder, c)
	}

	offense := c.Cell(ColOffenseDescr)
	comment := c.Cell(ColCommentText)
	convStat := c.Cell(ColConvStatDescr)
	return record.Event{
		Src:            src,
		Cells:          c,
		SubjectID:      subject,
		CntOrder:       order,
		Date:           date,
		DOB:            dob,
		StepType:       c.Cell(ColStpTypeDescr),
		County:         c.Cell(ColStpOriCntyName),
		Section:        section(offense, comment),
		Offense:        offense,
		Comment:        comment,
		OFN:            c.Cell(ColOFN),
		Convicted:      strings.HasPrefix(c.Cell(ColDispDescr), "CONVICTED"),
		Felony:         convStat == "FELONY" || (convStat == "" && c.Cell(ColOffenseToc) == "F"),
		SentenceLength: parseInt(strings.TrimSpace(c.Cell(ColSentLength))),
		SentenceUnit:   sentenceUnit(strings.TrimSpace(c.Cell(ColSentTimeCode))),
	}, nil
}

func fieldCountReason(n int) string {
	return "has " + strconv.Itoa(n) + " fields, want " + strconv.Itoa(NumColumns)
}

// rowReject builds a Reject for a row whose cells were split; SubjectID is copied so the
// Reject does not pin the whole chunk's text.
func rowReject(src record.Source, field, reason string, c record.Cells) *Reject {
	r := &Reject{FileIndex: src.File, Line: src.Line, Field: field, Reason: reason}
	if c.Len() > ColSubjectID {
		r.SubjectID = strings.Clone(c.Cell(ColSubjectID))
	}
	return r
}

// parseOptionalDate parses a DOJ date after trimming spaces. Blank is valid and gives
// record.NoDate; anything else must be a real YYYYMMDD date.
func parseOptionalDate(s string) (record.Date, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return record.NoDate, true
	}
	return record.ParseYYYYMMDD(s)
}

// section returns the charged code section: OFFENSE_DESCR, or COMMENT_TEXT when the
// description is blank or only points at the comment, cut before the first '-' and left
// untrimmed (gogen-behaviour.md §1.3: "4149 BP - …" gives "4149 BP ").
func section(offense, comment string) string {
	s := offense
	if t := strings.TrimSpace(offense); t == "" || t == seeComment {
		s = comment
	}
	if i := strings.IndexByte(s, '-'); i >= 0 {
		return s[:i]
	}
	return s
}

// parseInt parses an optionally signed decimal integer and returns 0 for anything else.
// It exists because strconv.Atoi allocates an error for every non-number, and blank
// SENT_LENGTH cells are the norm.
func parseInt(s string) int {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" || len(s) > 18 { // 18 digits cannot overflow an int64
		return 0
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		return -n
	}
	return n
}

func sentenceUnit(s string) byte {
	if len(s) == 1 && (s[0] == 'D' || s[0] == 'M' || s[0] == 'Y') {
		return s[0]
	}
	return 0
}
