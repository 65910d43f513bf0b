package report

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
)

// This file builds a small synthetic run by hand: rows of a DOJ file, the subjects
// they form and the engine results for them. Every name and number is invented.

// row is one synthetic DOJ data row.
type row struct {
	line                              int64
	subject, name, dob, race, gender  string
	date, step, county, cnt, ofn      string
	offense, disp, conv, toc, comment string
	sentLen, sentCode                 string
	rejected                          bool // quarantined by the reader: not an accepted row
}

func (r row) cells() []string {
	c := make([]string, doj.NumColumns)
	for i := doj.ColReqCIINumber; i <= doj.ColReqSSN; i++ {
		c[i] = "  -  " // the DOJ's space-padded filler: gogen's writer quotes it
	}
	for _, i := range []int{doj.ColReqSegSep, doj.ColPiiSegSep, doj.ColPdrSegSep, doj.ColCycSegSep,
		doj.ColStpSegSep, doj.ColCntSegSep, doj.ColSentSegSep, doj.ColEndOfRec} {
		c[i] = "#"
	}
	c[doj.ColRecordID] = fmt.Sprint(r.line)
	c[doj.ColSubjectID] = r.subject
	c[doj.ColCIINumber] = "CII" + r.subject
	c[doj.ColPriName] = r.name
	c[doj.ColGender] = r.gender
	c[doj.ColPriDOB] = r.dob
	c[doj.ColRaceDescr] = r.race
	c[doj.ColCycDate] = "x       "
	c[doj.ColStpEventDate] = r.date
	c[doj.ColStpTypeDescr] = r.step
	c[doj.ColStpOriDescr] = "CASC" + strings.ReplaceAll(r.county, " ", "")
	c[doj.ColStpOriCntyName] = r.county
	c[doj.ColCntOrder] = r.cnt
	c[doj.ColDispDate] = r.date
	c[doj.ColOFN] = r.ofn
	c[doj.ColOffenseDescr] = r.offense
	c[doj.ColOffenseToc] = r.toc
	c[doj.ColDispDescr] = r.disp
	c[doj.ColConvStatDescr] = r.conv
	c[doj.ColSentLength] = r.sentLen
	c[doj.ColSentTimeCode] = r.sentCode
	c[doj.ColCommentText] = r.comment
	return c
}

func (r row) event(file int32) record.Event {
	date, _ := record.ParseYYYYMMDD(r.date)
	dob, _ := record.ParseYYYYMMDD(r.dob)
	charge := r.offense
	if t := strings.TrimSpace(charge); t == "" || t == "SEE COMMENT FOR CHARGE" {
		charge = r.comment
	}
	section, _, _ := strings.Cut(charge, "-")
	return record.Event{
		Src:       record.Source{File: file, Line: r.line},
		Cells:     record.CellsOf(r.cells()),
		SubjectID: r.subject,
		CntOrder:  r.cnt,
		Date:      date,
		DOB:       dob,
		StepType:  r.step,
		County:    r.county,
		Section:   section,
		Offense:   r.offense,
		Comment:   r.comment,
		OFN:       r.ofn,
		Convicted: strings.HasPrefix(r.disp, "CONVICTED"),
		Felony:    r.conv == "FELONY" || (r.conv == "" && r.toc == "F"),
	}
}

const (
	testCounty = "SACRAMENTO"
	testRunID  = "run-0001"
)

var (
	testComputeAt = record.MakeDate(2019, 11, 11)
	testPolicy    = &eligibility.Policy{
		Name:    "sacramento.json",
		Hash:    "9f2c4e1d0b7a5c3e8f6d4b2a0c9e7f5d3b1a9c8e7f6d5c4b3a2f1e0d9c8b7a6f",
		Dismiss: []int{eligibility.HS11357, eligibility.HS11358},
		Reduce:  []int{eligibility.HS11359, eligibility.HS11360},
	}
	testStarted = time.Date(2019, 11, 11, 9, 0, 0, 0, time.UTC)
)

// testRows is one input file: a header on line 1, then data rows. Subjects are
// interleaved, as in real extracts, so file order differs from subject order.
var testRows = []row{
	{line: 2, subject: "S1", name: "DOE,JANE", dob: "19600314", race: "WHITE", gender: "F", date: "19810410", step: "ARREST/DETAINED/CITED", county: testCounty, cnt: "001001001000", ofn: "140191", offense: "11358 HS-CULTIVATE CANNABIS", conv: "FELONY"},
	{line: 3, subject: "S2", name: "ROE,RICHARD", dob: "19620822", race: "BLACK", gender: "M", date: "19790601", step: "COURT ACTION", county: testCounty, cnt: "001002001000", ofn: "398765", offense: "11357(C)HS-POSSESS MARIJUANA", disp: "CONVICTED-JAIL", conv: "FELONY", sentLen: "90", sentCode: "D"},
	{line: 4, subject: "S1", name: "DOE,JANE", dob: "19600314", date: "19810411", step: "COURT ACTION", county: testCounty, cnt: "002001001000", ofn: "140192", offense: "632 PC-SPYING ON CATS", disp: "DISMISSED/CHARGE DROPPED", conv: "FELONY"},
	{line: 5, subject: "S1", name: "DOE,JANE", dob: "19600314", date: "19810411", step: "COURT ACTION", county: testCounty, cnt: "002001002000", ofn: "140193", offense: "11358 HS-CULTIVATE CANNABIS", disp: "CONVICTED-PROBATION", conv: "FELONY", sentLen: "6", sentCode: "M"},
	{line: 6, subject: "S2", name: "ROE,RICHARD", dob: "19620822", date: "19851101", step: "COURT ACTION", county: testCounty, cnt: "002001001000", ofn: "678544", offense: "503 VC-TAKE CAR", disp: "CONVICTED-JAIL", conv: "FELONY"},
	{line: 7, subject: "S2", name: "ROE,RICHARD", dob: "19620822", date: "19851101", step: "COURT ACTION", county: testCounty, cnt: "002001002000", ofn: "398765", offense: "11359(C) HS-CULTIVATE CANNABIS", disp: "CONVICTED-JAIL", conv: "FELONY", sentLen: "90", sentCode: "D"},
	{line: 8, subject: "S2", name: "ROE,RICHARD", dob: "19620822", date: "19851101", step: "COURT ACTION", county: testCounty, cnt: "002001002000", ofn: "398765", offense: "11359(C) HS-CULTIVATE CANNABIS", disp: "CONVICTED-FINE", conv: "FELONY", sentLen: "1", sentCode: "Y", comment: "11357(A) HS-SAME COUNT"},
	{line: 9, subject: "S1", name: "DOE,JANE", dob: "19600314", date: "19830411", step: "COURT ACTION", county: "YOLO", cnt: "003001001000", ofn: "55501", offense: "11358 HS-CULTIVATE CANNABIS", disp: "CONVICTED-PROBATION", conv: "FELONY", comment: "11359 HS-OTHER CANNABIS"},
	{line: 10, subject: "S1", name: "DOE,JANE", dob: "19600314", date: "19900101", step: "DECEASED", county: testCounty, cnt: "004001001000"},
	{line: 11, subject: "S3", rejected: true},
	{line: 12, subject: "S3", name: "POE,EDGAR", dob: "19970619", gender: "M", date: "20170214", step: "COURT ACTION", county: testCounty, cnt: "001001001000", offense: "11359 HS-SELL, \"POSSESS\" FOR SALE", disp: "CONVICTED-JAIL", conv: "FELONY"},
	{line: 13, subject: "S3", name: "POE,EDGAR", dob: "19970619", gender: "M", date: "2015XXXX", step: "COURT ACTION", county: testCounty, cnt: "002001001000", offense: "11360 HS-TRANSPORT", disp: "CONVICTED-JAIL", conv: "MISDEMEANOR"},
	{line: 14, subject: "S4", name: "LOE,CHLOE", dob: "20000101", race: "HISPANIC", gender: "F", date: "20140512", step: "COURT ACTION", county: testCounty, cnt: "001001001000", offense: "11357 HS-POSSESS", disp: "CONVICTED-FINE", conv: "MISDEMEANOR"},
	{line: 15, subject: "S5", name: "BLOE,BERT", dob: "19700101", race: "WHITE", gender: "M", date: "19900101", step: "COURT ACTION", county: testCounty, cnt: "001001001000", offense: "187 PC-MURDER", disp: "CONVICTED-PRISON", conv: "FELONY"},
}

func rowAt(rows []row, line int64) row {
	for _, r := range rows {
		if r.line == line {
			return r
		}
	}
	panic(fmt.Sprintf("no row on line %d", line))
}

// subjectOf builds a subject from the given lines of file.
func subjectOf(rows []row, file int32, id string, lines ...int64) *record.Subject {
	s := &record.Subject{ID: id}
	for _, l := range lines {
		s.Events = append(s.Events, rowAt(rows, l).event(file))
	}
	return s
}

func conviction(s *record.Subject, index, section int, det eligibility.Determination, reason, rule, cases string) eligibility.Conviction {
	ev := s.Events[index]
	return eligibility.Conviction{
		Index: index, Section: section, Felony: ev.Felony, Date: ev.Date, CaseNumbers: cases,
		County: ev.County, Policy: testPolicy.Name, PolicyHash: testPolicy.Hash,
		Decision:    eligibility.Decision{Determination: det, Reason: reason, RuleID: rule},
		SentenceEnd: record.NoDate,
	}
}

// testResults are the engine's results for testRows' subjects, in subject order.
func testResults(rows []row, file int32) []*eligibility.Result {
	d := func(s string) record.Date { x, _ := record.ParseYYYYMMDD(s); return x }

	jane := subjectOf(rows, file, "S1", 2, 4, 5, 9, 10)
	roe := subjectOf(rows, file, "S2", 3, 6, 7, 8)
	poe := subjectOf(rows, file, "S3", 12, 13)
	poe.Quarantined = 1
	loe := subjectOf(rows, file, "S4", 14)
	bloe := subjectOf(rows, file, "S5", 15)
	return []*eligibility.Result{
		{
			Subject: jane,
			Facts: eligibility.Facts{DOB: d("19600314"), Convictions: 2, Prop64Convictions: 2,
				Prop64BySection: [4]int{0, 2, 0, 0}, MostRecentConviction: d("19830411"), Deceased: true},
			ConvictionRows: []bool{false, false, true, true, false},
			Evaluated: []eligibility.Conviction{
				conviction(jane, 2, eligibility.HS11358, eligibility.Dismiss, "Dismiss all HS 11358 convictions", "baseline.dismiss", "NULL  ; 140192; 140193"),
			},
		},
		{
			Subject: roe,
			Facts: eligibility.Facts{DOB: d("19620822"), Convictions: 3, Prop64Convictions: 2,
				Prop64BySection: [4]int{1, 0, 1, 0}, MostRecentConviction: d("19851101"),
				Superstrikes: []string{"220 PC"}, PC290: []string{"266 PC", "314(1) PC"}, PC290Registration: true},
			ConvictionRows: []bool{true, true, true, false},
			Evaluated: []eligibility.Conviction{
				conviction(roe, 0, eligibility.HS11357, eligibility.Dismiss, "Dismiss all HS 11357 convictions", "baseline.dismiss", "398765; 678544"),
				conviction(roe, 2, eligibility.HS11359, eligibility.Dismiss, "57 years or older", "relief.age_threshold", "398765; 678544"),
			},
		},
		{
			Subject: poe,
			Facts: eligibility.Facts{DOB: d("19970619"), Convictions: 2, Prop64Convictions: 2,
				Prop64BySection: [4]int{0, 0, 1, 1}, MostRecentConviction: d("20170214")},
			ConvictionRows: []bool{true, true},
			Evaluated: []eligibility.Conviction{
				conviction(poe, 0, eligibility.HS11359, eligibility.Reduce, "Reduce all HS 11359 convictions", "baseline.reduce", ""),
				conviction(poe, 1, eligibility.HS11360, eligibility.HandReview, "Record has quarantined rows", "data.quarantined", ""),
			},
		},
		{
			Subject: loe,
			Facts: eligibility.Facts{DOB: d("20000101"), Convictions: 1, Prop64Convictions: 1,
				Prop64BySection: [4]int{1, 0, 0, 0}, MostRecentConviction: d("20140512")},
			ConvictionRows: []bool{true},
			Evaluated: []eligibility.Conviction{
				conviction(loe, 0, eligibility.HS11357, eligibility.Dismiss, "Misdemeanor or Infraction", "baseline.misdemeanor", ""),
			},
		},
		{
			Subject: bloe,
			Facts: eligibility.Facts{DOB: d("19700101"), Convictions: 1, MostRecentConviction: d("19900101"),
				Superstrikes: []string{"187 PC"}},
			ConvictionRows: []bool{true},
		},
	}
}

func testInfo(files ...string) RunInfo {
	info := RunInfo{
		RunID: testRunID, ComputeAt: testComputeAt, County: testCounty,
		Policies:      &eligibility.Policies{ByCounty: map[string]*eligibility.Policy{testCounty: testPolicy}},
		EngineVersion: "clearway-engine/test", Started: testStarted,
	}
	for i, f := range files {
		info.Files = append(info.Files, InputFile{Path: f, Index: int32(i), Size: 4096})
	}
	return info
}

func testReject(file string, index int32, r row) doj.Reject {
	return doj.Reject{File: file, FileIndex: index, Line: r.line, Field: "CNT_ORDER",
		Reason: "wrong number of fields", SubjectID: r.subject, Raw: "1,A,S3,\"DOE, J\""}
}

// testStats: every file holds the 14 data rows of testRows, one of them quarantined.
func testStats(files int) RunStats {
	st := RunStats{Finished: testStarted.Add(2 * time.Second)}
	for range files {
		st.Files = append(st.Files, FileStats{Rows: int64(len(testRows)), Rejects: 1, HasHeader: true})
	}
	return st
}

// rowSource serves the accepted rows of testRows for every file.
func rowSource(rows []row) RowSource {
	return func(ctx context.Context, file int32, fn func(record.Source, record.Cells) error) error {
		for _, r := range rows {
			if r.rejected {
				continue
			}
			if err := fn(record.Source{File: file, Line: r.line}, record.CellsOf(r.cells())); err != nil {
				return err
			}
		}
		return nil
	}
}

// runOutput feeds every file's subjects and rejects to out and closes it.
func runOutput(out Output, files []string) error {
	for i, f := range files {
		rej := testReject(f, int32(i), rowAt(testRows, 11))
		if err := out.Reject(rej); err != nil {
			return err
		}
		for _, r := range testResults(testRows, int32(i)) {
			if err := out.Subject(r); err != nil {
				return err
			}
		}
	}
	return out.Close(context.Background(), testStats(len(files)))
}
