package record

// Source says where a row came from: the index of its input file in the run's file
// list, and its 1-based physical line number in that file (a header counts as line 1).
type Source struct {
	File int32
	Line int64
}

// Less orders sources by file, then line: the canonical order of a subject's rows.
func (s Source) Less(o Source) bool {
	if s.File != o.File {
		return s.File < o.File
	}
	return s.Line < o.Line
}

// Cells holds the verbatim (unquoted) cells of one input row without one allocation
// per cell: Cell(i) is data[ends[i-1]:ends[i]]. A parser usually carves data and ends
// for many rows out of one shared buffer.
type Cells struct {
	data string
	ends []uint32
}

// NewCells builds Cells from the concatenated cell text and each cell's end offset.
func NewCells(data string, ends []uint32) Cells { return Cells{data: data, ends: ends} }

// CellsOf builds Cells from separate strings (tests, generators).
func CellsOf(cells []string) Cells {
	n := 0
	for _, c := range cells {
		n += len(c)
	}
	b := make([]byte, 0, n)
	ends := make([]uint32, len(cells))
	for i, c := range cells {
		b = append(b, c...)
		ends[i] = uint32(len(b))
	}
	return Cells{data: string(b), ends: ends}
}

// Text returns every cell's text concatenated, and Ends each cell's end offset in it
// (read-only views, for encoders that copy rows without visiting each cell).
func (c Cells) Text() string { return c.data }

// Ends returns the cells' end offsets into Text. Callers must not modify it.
func (c Cells) Ends() []uint32 { return c.ends }

// Equal reports whether c and o hold the same cells.
func (c Cells) Equal(o Cells) bool {
	if c.data != o.data || len(c.ends) != len(o.ends) {
		return false
	}
	for i := range c.ends {
		if c.ends[i] != o.ends[i] {
			return false
		}
	}
	return true
}

// Len is the number of cells.
func (c Cells) Len() int { return len(c.ends) }

// Cell returns cell i verbatim.
func (c Cells) Cell(i int) string {
	start := uint32(0)
	if i > 0 {
		start = c.ends[i-1]
	}
	return c.data[start:c.ends[i]]
}

// Strings returns a copy of all cells.
func (c Cells) Strings() []string {
	out := make([]string, len(c.ends))
	for i := range out {
		out[i] = c.Cell(i)
	}
	return out
}

// Event is the typed view of one DOJ row (one count at one step of one cycle) that the
// rules need, plus the row's verbatim cells for outputs.
type Event struct {
	Src   Source
	Cells Cells

	SubjectID string
	// CntOrder is the composite order key; its first 3 characters are the cycle and its
	// first 6 the cycle plus step.
	CntOrder string
	// Date is STP_EVENT_DATE, the date gogen (and we) use as the conviction date.
	Date Date
	// DOB is PRI_DOB of this row; a subject's DOB is the first row's.
	DOB      Date
	StepType string // STP_TYPE_DESCR
	County   string // STP_ORI_CNTY_NAME, verbatim
	// Section is the charged code section: OFFENSE_DESCR (or COMMENT_TEXT when the
	// description is blank or "SEE COMMENT FOR CHARGE") up to the first '-'.
	Section   string
	Offense   string // OFFENSE_DESCR verbatim
	Comment   string // COMMENT_TEXT verbatim
	OFN       string // court case number on COURT ACTION rows
	Convicted bool   // DISP_DESCR starts with "CONVICTED"
	Felony    bool   // CONV_STAT_DESCR == "FELONY", or empty with OFFENSE_TOC "F"
	// SentenceLength and SentenceUnit ('D', 'M', 'Y' or 0) describe the sentence part
	// carried on this row.
	SentenceLength int
	SentenceUnit   byte
}

// Step types the rules look at.
const (
	StepCourtAction  = "COURT ACTION"
	StepDeceased     = "DECEASED"
	StepRegistration = "REGISTRATION"
)

// Subject is one person: every accepted row with the same SUBJECT_ID across all input
// files of a run, in canonical order (file, then line).
type Subject struct {
	ID     string
	Events []Event
	// Quarantined counts this subject's rows that were rejected by the reader; the
	// engine sends such a subject's convictions to hand review rather than trust an
	// incomplete record.
	Quarantined int
}

// Cycle returns the first 3 characters of a CNT_ORDER (the whole string if shorter).
func Cycle(cntOrder string) string { return prefix(cntOrder, 3) }

// CycleStep returns the first 6 characters of a CNT_ORDER (the whole string if shorter).
func CycleStep(cntOrder string) string { return prefix(cntOrder, 6) }

func prefix(s string, n int) string {
	if len(s) < n {
		return s
	}
	return s[:n]
}
