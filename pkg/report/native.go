package report

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// Native output file names.
const (
	DecisionsParquet = "decisions.parquet"
	DecisionsCSV     = "decisions.csv"
	RejectsCSV       = "rejects.csv"
	SummaryJSON      = "summary.json"
	ReportHTML       = "report.html"
)

// DecisionColumns are the columns of decisions.parquet and decisions.csv, in order:
// one row per evaluated conviction.
var DecisionColumns = [...]string{
	"run_id", "input_file", "input_line", "subject_id", "cii_number", "name", "dob",
	"gender", "race", "county", "cnt_order", "case_numbers", "offense", "prop64_section",
	"felony", "conviction_date", "determination", "reason", "rule_id", "policy",
	"policy_hash", "engine_version", "compute_at",
}

// RejectColumns are the columns of rejects.csv.
var RejectColumns = [...]string{"file", "line", "field", "reason", "subject_id", "raw"}

// Column positions of DecisionColumns.
const (
	dRunID = iota
	dInputFile
	dInputLine
	dSubjectID
	dCII
	dName
	dDOB
	dGender
	dRace
	dCounty
	dCntOrder
	dCaseNumbers
	dOffense
	dSection
	dFelony
	dConvictionDate
	dDetermination
	dReason
	dRuleID
	dPolicy
	dPolicyHash
	dEngineVersion
	dComputeAt
	numDecisionColumns
)

// rowGroupRows bounds the rows buffered before they become one Parquet row group.
const rowGroupRows = 64 * 1024

// DecisionSchema is the Arrow schema of decisions.parquet. Dates are date32 (null when
// missing or invalid); everything the CSV writes as text and Arrow can type, it types.
func DecisionSchema() *arrow.Schema {
	fields := make([]arrow.Field, numDecisionColumns)
	for i, name := range DecisionColumns {
		fields[i] = arrow.Field{Name: name, Type: arrow.BinaryTypes.String}
	}
	fields[dInputLine].Type = arrow.PrimitiveTypes.Int64
	fields[dFelony].Type = arrow.FixedWidthTypes.Boolean
	fields[dDOB] = arrow.Field{Name: DecisionColumns[dDOB], Type: arrow.FixedWidthTypes.Date32, Nullable: true}
	fields[dConvictionDate] = arrow.Field{Name: DecisionColumns[dConvictionDate], Type: arrow.FixedWidthTypes.Date32, Nullable: true}
	fields[dComputeAt].Type = arrow.FixedWidthTypes.Date32
	return arrow.NewSchema(fields, nil)
}

// Native writes Clearway's own outputs into a folder: decisions.parquet and
// decisions.csv (the same rows and columns), rejects.csv, summary.json and report.html.
// Decisions stream out as subjects arrive; at most one row group is held in memory.
type Native struct {
	dir   string
	info  RunInfo
	sum   *Summary
	paths map[int32]string

	pqFile  *pendingFile
	pqBuf   *bufio.Writer
	pq      *pqarrow.FileWriter
	rb      *array.RecordBuilder
	builder decisionBuilders
	decCSV  *csvFile
	rejCSV  *csvFile
	row     [numDecisionColumns]string
	rejRow  [len(RejectColumns)]string
	// computeAt is the compute-at date as text, formatted once.
	computeAt string
	closed    bool
}

var _ Output = (*Native)(nil)

// decisionBuilders are the typed column builders of rb, by column position.
type decisionBuilders struct {
	str   [numDecisionColumns]*array.StringBuilder
	line  *array.Int64Builder
	fel   *array.BooleanBuilder
	dates [numDecisionColumns]*array.Date32Builder
}

// NewNative prepares native output into dir (created if missing).
func NewNative(dir string, info RunInfo) (_ *Native, err error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	if info.EngineVersion == "" {
		info.EngineVersion = eligibility.Version
	}
	n := &Native{dir: dir, info: info, sum: NewSummary(info), paths: make(map[int32]string, len(info.Files)),
		computeAt: isoDate(info.ComputeAt)}
	for _, f := range info.Files {
		n.paths[f.Index] = f.Path
	}
	defer func() {
		if err != nil {
			n.discard()
		}
	}()

	if n.pqFile, err = createPending(dir, DecisionsParquet); err != nil {
		return nil, err
	}
	n.pqBuf = bufio.NewWriterSize(n.pqFile.f, 1<<20)
	schema := DecisionSchema()
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(rowGroupRows),
		parquet.WithDictionaryDefault(true),
	)
	// The bufio.Writer is not an io.Closer, so closing the Parquet writer leaves the
	// file to commit/discard.
	if n.pq, err = pqarrow.NewFileWriter(schema, n.pqBuf, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())); err != nil {
		return nil, fmt.Errorf("create %s: %w", DecisionsParquet, err)
	}
	n.rb = array.NewRecordBuilder(memory.NewGoAllocator(), schema)
	for i := range numDecisionColumns {
		switch b := n.rb.Field(i).(type) {
		case *array.StringBuilder:
			n.builder.str[i] = b
		case *array.Int64Builder:
			n.builder.line = b
		case *array.BooleanBuilder:
			n.builder.fel = b
		case *array.Date32Builder:
			n.builder.dates[i] = b
		}
	}

	if n.decCSV, err = newCSVFile(dir, DecisionsCSV); err != nil {
		return nil, err
	}
	if err = n.decCSV.write(DecisionColumns[:]); err != nil {
		return nil, err
	}
	if n.rejCSV, err = newCSVFile(dir, RejectsCSV); err != nil {
		return nil, err
	}
	if err = n.rejCSV.write(RejectColumns[:]); err != nil {
		return nil, err
	}
	return n, nil
}

// Summary returns the run's summary (complete after Close).
func (n *Native) Summary() *Summary { return n.sum }

// Subject writes one decision row per evaluated conviction of r.
func (n *Native) Subject(r *eligibility.Result) error {
	if n.closed {
		return errClosed
	}
	n.sum.Add(r)
	if len(r.Evaluated) == 0 {
		return nil
	}
	var first record.Cells
	if len(r.Subject.Events) > 0 {
		first = r.Subject.Events[0].Cells
	}
	// Identity columns come from the subject's first row, where its DOB comes from, so
	// a person reads the same on every decision and matches the summary's breakdowns.
	// DOJ cells are space-padded; decisions are for people to read, so they are trimmed.
	cii := strings.TrimSpace(cell(first, doj.ColCIINumber))
	name := strings.TrimSpace(cell(first, doj.ColPriName))
	gender := strings.TrimSpace(cell(first, doj.ColGender))
	race := strings.TrimSpace(cell(first, doj.ColRaceDescr))
	dob := r.Facts.DOB
	dobText := isoDate(dob)

	for i := range r.Evaluated {
		c := &r.Evaluated[i]
		if c.Index < 0 || c.Index >= len(r.Subject.Events) {
			return fmt.Errorf("report: conviction index %d outside subject's %d rows", c.Index, len(r.Subject.Events))
		}
		ev := &r.Subject.Events[c.Index]
		row := &n.row
		row[dRunID] = n.info.RunID
		row[dInputFile] = n.paths[ev.Src.File]
		row[dInputLine] = strconv.FormatInt(ev.Src.Line, 10)
		row[dSubjectID] = r.Subject.ID
		row[dCII] = cii
		row[dName] = name
		row[dDOB] = dobText
		row[dGender] = gender
		row[dRace] = race
		row[dCounty] = c.County
		row[dCntOrder] = ev.CntOrder
		row[dCaseNumbers] = c.CaseNumbers
		row[dOffense] = ev.Section
		row[dSection] = sectionName(c.Section)
		row[dFelony] = strconv.FormatBool(c.Felony)
		row[dConvictionDate] = isoDate(c.Date)
		row[dDetermination] = c.Determination.String()
		row[dReason] = c.Reason
		row[dRuleID] = c.RuleID
		row[dPolicy] = c.Policy
		row[dPolicyHash] = c.PolicyHash
		row[dEngineVersion] = n.info.EngineVersion
		row[dComputeAt] = n.computeAt
		if err := n.decCSV.write(row[:]); err != nil {
			return err
		}

		b := &n.builder
		for col, sb := range b.str {
			if sb != nil {
				sb.Append(row[col])
			}
		}
		b.line.Append(ev.Src.Line)
		b.fel.Append(c.Felony)
		appendDate(b.dates[dDOB], dob)
		appendDate(b.dates[dConvictionDate], c.Date)
		appendDate(b.dates[dComputeAt], n.info.ComputeAt)
		if b.line.Len() >= rowGroupRows {
			if err := n.flushRowGroup(); err != nil {
				return err
			}
		}
	}
	return nil
}

// isoDate formats d as YYYY-MM-DD ("" for NoDate) like record.Date.String, without
// fmt: it runs twice per decision.
func isoDate(d record.Date) string {
	if !d.Valid() {
		return ""
	}
	y, m, dd := d.Civil()
	if y < 0 || y > 9999 {
		return d.String()
	}
	b := [10]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
		byte('0' + m/10), byte('0' + m%10), '-', byte('0' + dd/10), byte('0' + dd%10)}
	return string(b[:])
}

func appendDate(b *array.Date32Builder, d record.Date) {
	if d.Valid() {
		b.Append(arrow.Date32(d))
	} else {
		b.AppendNull()
	}
}

// flushRowGroup writes the buffered decisions as one Parquet row group.
func (n *Native) flushRowGroup() error {
	if n.builder.line.Len() == 0 {
		return nil
	}
	rec := n.rb.NewRecordBatch()
	defer rec.Release()
	if err := n.pq.Write(rec); err != nil {
		return fmt.Errorf("write %s: %w", DecisionsParquet, err)
	}
	return nil
}

// Reject writes one quarantined row to rejects.csv.
func (n *Native) Reject(r doj.Reject) error {
	if n.closed {
		return errClosed
	}
	n.sum.AddReject(r)
	n.rejRow = [len(RejectColumns)]string{r.File, strconv.FormatInt(r.Line, 10), r.Field, r.Reason, r.SubjectID, r.Raw}
	return n.rejCSV.write(n.rejRow[:])
}

// Close finishes every file: the decisions, rejects, summary.json and report.html, all
// written under temporary names first and renamed together at the end.
func (n *Native) Close(ctx context.Context, st RunStats) (err error) {
	if n.closed {
		return errClosed
	}
	n.closed = true
	defer func() {
		if err != nil {
			n.discard()
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.flushRowGroup(); err != nil {
		return err
	}
	n.rb.Release()
	n.rb = nil
	if err := n.pq.Close(); err != nil {
		return fmt.Errorf("finish %s: %w", DecisionsParquet, err)
	}
	if err := n.pqBuf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", DecisionsParquet, err)
	}

	n.sum.Finish(st)
	doc, err := n.sum.JSON()
	if err != nil {
		return err
	}
	summary, err := createPending(n.dir, SummaryJSON)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			summary.discard()
		}
	}()
	if _, err := summary.f.Write(doc); err != nil {
		return fmt.Errorf("write %s: %w", SummaryJSON, err)
	}
	var html bytes.Buffer
	if err := WriteHTML(&html, n.sum); err != nil {
		return err
	}
	page, err := createPending(n.dir, ReportHTML)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			page.discard()
		}
	}()
	if _, err := page.f.Write(html.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", ReportHTML, err)
	}

	// Everything is written; now make it visible. Decisions first, the report last, so
	// a report on disk always has its decisions next to it.
	if err := n.decCSV.commit(); err != nil {
		return err
	}
	n.decCSV = nil
	if err := n.pqFile.commit(); err != nil {
		return err
	}
	n.pqFile = nil
	if err := n.rejCSV.commit(); err != nil {
		return err
	}
	n.rejCSV = nil
	if err := summary.commit(); err != nil {
		return err
	}
	return page.commit()
}

// discard removes every unfinished file.
func (n *Native) discard() {
	if n.rb != nil {
		n.rb.Release()
		n.rb = nil
	}
	if n.pqFile != nil {
		n.pqFile.discard()
		n.pqFile = nil
	}
	for _, c := range []**csvFile{&n.decCSV, &n.rejCSV} {
		if *c != nil {
			(*c).p.discard()
			*c = nil
		}
	}
}
