package report

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// RowSource re-reads input file i in file order (accepted rows only), for gogen's
// All_Results files.
type RowSource func(ctx context.Context, file int32, fn func(src record.Source, cells record.Cells) error) error

// EligibilityHeader names gogen's 18 eligibility columns (gogen-behaviour.md §4.1).
var EligibilityHeader = [numEligibility]string{
	"Case Number",
	"# of convictions on record",
	"Possible Other P64 Charges",
	"Occurred after 11/9/2016",
	"Superstrike Code Section(s)",
	"PC290 Code Section(s)",
	"PC290 Registration",
	"Date of Conviction",
	"Years Since This Conviction",
	"Years Since Any Conviction",
	"# of Prop 64 convictions",
	"# of HS 11357 convictions",
	"# of HS 11358 convictions",
	"# of HS 11359 convictions",
	"# of HS 11360 convictions",
	"Deceased",
	"Eligibility Determination",
	"Eligibility Reason",
}

const (
	numEligibility = 18
	// otherChargesCol is the one eligibility column every row gets.
	otherChargesCol = 2
)

// CondensedColumns are the input columns of All_Results_Condensed, in order.
var CondensedColumns = [...]int{
	doj.ColCIINumber, doj.ColPriName, doj.ColGender, doj.ColPriDOB, doj.ColRaceDescr,
	doj.ColCycDate, doj.ColStpEventDate, doj.ColStpOriDescr, doj.ColStpOriCntyName,
	doj.ColDispDate, doj.ColOFN, doj.ColOffenseDescr, doj.ColDispDescr,
	doj.ColConvStatDescr, doj.ColSentLocDescr, doj.ColSentLength, doj.ColSentTimeCode,
	doj.ColCycAge, doj.ColCommentText, doj.ColEndOfRec,
}

// Gogen writes gogen's output file set (gogen-behaviour.md §4): All_Results,
// All_Results_Condensed and Prop64_Results per input file, and gogen.json.
//
// gogen's CSVs hold every input row, so they cannot be written as subjects arrive
// (subjects come in subject order, the files in input order). Subject keeps only the
// eligibility cells of evaluated rows, keyed by row (memory grows with decisions, not
// rows); Close re-reads each input through the RowSource and streams the CSVs.
type Gogen struct {
	dir    string
	info   RunInfo
	rows   RowSource
	sum    *Summary
	cells  map[record.Source]*[numEligibility]string
	closed bool
}

var _ Output = (*Gogen)(nil)

// NewGogen prepares gogen-format output into dir (created if missing).
func NewGogen(dir string, info RunInfo, rows RowSource) (*Gogen, error) {
	if rows == nil {
		return nil, errors.New("report: gogen output needs a row source")
	}
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	return &Gogen{
		dir:   dir,
		info:  info,
		rows:  rows,
		sum:   NewSummary(info),
		cells: make(map[record.Source]*[numEligibility]string),
	}, nil
}

// Summary returns the run's summary (complete after Close).
func (g *Gogen) Summary() *Summary { return g.sum }

// Subject records the eligibility cells of r's evaluated convictions.
func (g *Gogen) Subject(r *eligibility.Result) error {
	if g.closed {
		return errClosed
	}
	g.sum.Add(r)
	if len(r.Evaluated) == 0 {
		return nil
	}
	subj := newSubjectCells(&r.Facts, g.info.ComputeAt)
	for i := range r.Evaluated {
		c := &r.Evaluated[i]
		if c.Index < 0 || c.Index >= len(r.Subject.Events) {
			return fmt.Errorf("report: conviction index %d outside subject's %d rows", c.Index, len(r.Subject.Events))
		}
		g.cells[r.Subject.Events[c.Index].Src] = subj.conviction(c, g.info.ComputeAt)
	}
	return nil
}

// Reject counts a quarantined row; gogen's format has no rejects file.
func (g *Gogen) Reject(r doj.Reject) error {
	if g.closed {
		return errClosed
	}
	g.sum.AddReject(r)
	return nil
}

// Close writes the three CSVs of every input file and then gogen.json.
func (g *Gogen) Close(ctx context.Context, st RunStats) error {
	if g.closed {
		return errClosed
	}
	g.closed = true
	g.sum.Finish(st)
	for pos, f := range g.info.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		suffix := ""
		if len(g.info.Files) > 1 {
			suffix = "_" + strconv.Itoa(pos+1)
		}
		if err := g.writeFile(ctx, f, suffix); err != nil {
			return err
		}
	}
	if n := len(g.cells); n > 0 {
		// Every evaluated conviction is an accepted input row; one not seen again
		// means the row source and the decisions disagree.
		return fmt.Errorf("report: %d evaluated rows were not found when re-reading the input", n)
	}
	doc, err := g.sum.GogenJSON()
	if err != nil {
		return err
	}
	return writeFileAtomic(g.dir, "gogen.json", doc)
}

// csvFile is one CSV being written.
type csvFile struct {
	p *pendingFile
	w *csvWriter
}

func newCSVFile(dir, name string) (*csvFile, error) {
	p, err := createPending(dir, name)
	if err != nil {
		return nil, err
	}
	return &csvFile{p: p, w: newCSVWriter(p.f)}, nil
}

func (c *csvFile) write(rec []string) error {
	if err := c.w.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", c.p.final, err)
	}
	return nil
}

func (c *csvFile) commit() error {
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", c.p.final, err)
	}
	return c.p.commit()
}

// writeFile streams one input file's three CSVs.
func (g *Gogen) writeFile(ctx context.Context, f InputFile, suffix string) (err error) {
	var files [3]*csvFile
	defer func() {
		if err != nil {
			for _, c := range files {
				if c != nil {
					c.p.discard()
				}
			}
		}
	}()
	for i, name := range [3]string{"All_Results", "All_Results_Condensed", "Prop64_Results"} {
		if files[i], err = newCSVFile(g.dir, name+suffix+".csv"); err != nil {
			return err
		}
	}
	all, condensed, prop64 := files[0], files[1], files[2]

	full := make([]string, 0, doj.NumColumns+numEligibility)
	full = append(full, doj.Header[:]...)
	full = append(full, EligibilityHeader[:]...)
	short := make([]string, 0, len(CondensedColumns)+numEligibility)
	for _, col := range CondensedColumns {
		short = append(short, doj.Header[col])
	}
	short = append(short, EligibilityHeader[:]...)
	for _, c := range files {
		rec := full
		if c == condensed {
			rec = short
		}
		if err := c.write(rec); err != nil {
			return err
		}
	}

	var empty [numEligibility]string
	err = g.rows(ctx, f.Index, func(src record.Source, cells record.Cells) error {
		if cells.Len() != doj.NumColumns {
			return fmt.Errorf("report: %s line %d has %d cells, want %d", f.Path, src.Line, cells.Len(), doj.NumColumns)
		}
		elig, evaluated := g.cells[src]
		if evaluated {
			delete(g.cells, src)
		} else {
			elig = &empty
		}
		elig[otherChargesCol] = eligibility.OtherProp64Charges(cells.Cell(doj.ColOffenseDescr), cells.Cell(doj.ColCommentText))

		full = full[:0]
		for i := range doj.NumColumns {
			full = append(full, cells.Cell(i))
		}
		full = append(full, elig[:]...)
		if err := all.write(full); err != nil {
			return err
		}
		if evaluated {
			if err := prop64.write(full); err != nil {
				return err
			}
		}
		short = short[:0]
		for _, col := range CondensedColumns {
			short = append(short, cells.Cell(col))
		}
		short = append(short, elig[:]...)
		return condensed.write(short)
	})
	if err != nil {
		return fmt.Errorf("gogen output for %s: %w", f.Path, err)
	}
	for _, c := range files {
		if err := c.commit(); err != nil {
			return err
		}
	}
	return nil
}

// subjectCells are the eligibility cells shared by all of a subject's convictions.
type subjectCells struct {
	convictions, superstrikes, pc290, registration string
	sinceAny, prop64, deceased                     string
	bySection                                      [eligibility.NumSections]string
}

func newSubjectCells(f *eligibility.Facts, computeAt record.Date) *subjectCells {
	s := &subjectCells{
		convictions:  strconv.Itoa(f.Convictions),
		superstrikes: joinOrDash(f.Superstrikes),
		pc290:        joinOrDash(f.PC290),
		registration: "-",
		sinceAny:     yearsSince(f.MostRecentConviction, computeAt),
		prop64:       strconv.Itoa(f.Prop64Convictions),
		deceased:     "-",
	}
	if f.PC290Registration {
		s.registration = "Yes"
	}
	if f.Deceased {
		s.deceased = "Deceased"
	}
	for i, n := range f.Prop64BySection {
		s.bySection[i] = strconv.Itoa(n)
	}
	return s
}

// conviction returns the 18 cells of one evaluated conviction; the "Possible Other
// P64 Charges" cell is filled from the row when it is written.
func (s *subjectCells) conviction(c *eligibility.Conviction, computeAt record.Date) *[numEligibility]string {
	after := "N"
	if c.Date.Valid() && c.Date > enactment {
		after = "Y"
	}
	return &[numEligibility]string{
		c.CaseNumbers,
		s.convictions,
		"",
		after,
		s.superstrikes,
		s.pc290,
		s.registration,
		gogenDate(c.Date),
		yearsSince(c.Date, computeAt),
		s.sinceAny,
		s.prop64,
		s.bySection[eligibility.HS11357],
		s.bySection[eligibility.HS11358],
		s.bySection[eligibility.HS11359],
		s.bySection[eligibility.HS11360],
		s.deceased,
		c.Determination.GogenString(),
		c.Reason,
	}
}

func joinOrDash(list []string) string {
	if len(list) == 0 {
		return "-"
	}
	return strings.Join(list, ";")
}

// gogenDate formats a conviction date as MM/DD/YYYY. gogen printed its year-1 stand-in
// for an unparseable date ("01/01/0001"); we leave the cell empty instead, because the
// stand-in looks like a real (ancient) conviction date to a reader of the CSV.
func gogenDate(d record.Date) string {
	if !d.Valid() {
		return ""
	}
	y, m, dd := d.Civil()
	var b [10]byte
	two := func(i, v int) { b[i], b[i+1] = byte('0'+v/10), byte('0'+v%10) }
	two(0, m)
	b[2] = '/'
	two(3, dd)
	b[5] = '/'
	two(6, y/100%100)
	two(8, y%100)
	return string(b[:])
}

// yearsSince is gogen's years-since column: hours between d and at divided by
// 24×365.25, one decimal. An unparseable date gives gogen's "-1.0".
func yearsSince(d, at record.Date) string {
	if !d.Valid() || !at.Valid() {
		return "-1.0"
	}
	hours := float64(int64(at-d) * 24)
	return strconv.FormatFloat(hours/(24*365.25), 'f', 1, 64)
}
