package doj

import (
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

func TestEventFromCellsTypedFields(t *testing.T) {
	date := func(s string) record.Date {
		d, ok := record.ParseYYYYMMDD(s)
		if !ok {
			t.Fatalf("bad test date %q", s)
		}
		return d
	}
	tests := []struct {
		name  string
		set   map[int]string
		check func(record.Event) bool
	}{
		{"subject verbatim", map[int]string{ColSubjectID: " 1001 "}, func(e record.Event) bool { return e.SubjectID == " 1001 " }},
		{"dates", nil, func(e record.Event) bool { return e.Date == date("20100302") && e.DOB == date("19800115") }},
		{"dates trimmed", map[int]string{ColPriDOB: " 19800115 ", ColStpEventDate: "20100302  "}, func(e record.Event) bool {
			return e.Date == date("20100302") && e.DOB == date("19800115")
		}},
		{"blank dates are NoDate", map[int]string{ColPriDOB: "", ColStpEventDate: "        "}, func(e record.Event) bool {
			return e.Date == record.NoDate && e.DOB == record.NoDate
		}},
		{"county verbatim", map[int]string{ColStpOriCntyName: "LOS ANGELES "}, func(e record.Event) bool { return e.County == "LOS ANGELES " }},
		{"section", nil, func(e record.Event) bool { return e.Section == "11357(C)HS" }},
		{"section keeps trailing space", map[int]string{ColOffenseDescr: "4149 BP - UNLICENSED"}, func(e record.Event) bool { return e.Section == "4149 BP " }},
		{"section without dash", map[int]string{ColOffenseDescr: "11360 HS"}, func(e record.Event) bool { return e.Section == "11360 HS" }},
		{"section from comment when blank", map[int]string{ColOffenseDescr: "   ", ColCommentText: "11359 HS-POSSESS FOR SALE"}, func(e record.Event) bool {
			return e.Section == "11359 HS" && e.Offense == "   " && e.Comment == "11359 HS-POSSESS FOR SALE"
		}},
		{"section from comment when pointed at", map[int]string{ColOffenseDescr: " SEE COMMENT FOR CHARGE ", ColCommentText: "11358 HS-CULTIVATE"}, func(e record.Event) bool {
			return e.Section == "11358 HS"
		}},
		{"attempt with dash loses section", map[int]string{ColOffenseDescr: "664-11357(A) HS-ATTEMPT"}, func(e record.Event) bool { return e.Section == "664" }},
		{"convicted", nil, func(e record.Event) bool { return e.Convicted }},
		{"convicted is a case-sensitive prefix", map[int]string{ColDispDescr: "convicted-jail"}, func(e record.Event) bool { return !e.Convicted }},
		{"dismissed", map[int]string{ColDispDescr: "DISMISSED/CHARGE DROPPED"}, func(e record.Event) bool { return !e.Convicted }},
		{"felony by status", map[int]string{ColConvStatDescr: "FELONY", ColOffenseToc: "M"}, func(e record.Event) bool { return e.Felony }},
		{"felony by TOC when status empty", map[int]string{ColConvStatDescr: "", ColOffenseToc: "F"}, func(e record.Event) bool { return e.Felony }},
		{"misdemeanor with TOC F", map[int]string{ColConvStatDescr: "MISDEMEANOR", ColOffenseToc: "F"}, func(e record.Event) bool { return !e.Felony }},
		{"padded FELONY is not felony", map[int]string{ColConvStatDescr: " FELONY"}, func(e record.Event) bool { return !e.Felony }},
		{"sentence", map[int]string{ColSentLength: " 36 ", ColSentTimeCode: " M "}, func(e record.Event) bool {
			return e.SentenceLength == 36 && e.SentenceUnit == 'M'
		}},
		{"sentence not a number", map[int]string{ColSentLength: "3X", ColSentTimeCode: "W"}, func(e record.Event) bool {
			return e.SentenceLength == 0 && e.SentenceUnit == 0
		}},
		{"sentence blank", map[int]string{ColSentLength: "", ColSentTimeCode: ""}, func(e record.Event) bool {
			return e.SentenceLength == 0 && e.SentenceUnit == 0
		}},
		{"OFN, step, order", map[int]string{ColOFN: "NULL  ", ColStpTypeDescr: "DECEASED"}, func(e record.Event) bool {
			return e.OFN == "NULL  " && e.StepType == "DECEASED" && e.CntOrder == "001002003000"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := mustEvent(t, testRow("1001", tt.set))
			if !tt.check(e) {
				t.Errorf("unexpected event %+v", e)
			}
			if e.Src != (record.Source{File: 1, Line: 2}) || e.Cells.Len() != NumColumns {
				t.Errorf("src %+v, %d cells", e.Src, e.Cells.Len())
			}
		})
	}
}

func TestEventFromCellsRejects(t *testing.T) {
	tests := []struct {
		name   string
		cells  []string
		field  string
		reason string
	}{
		{"94 cells", testRow("1001", nil)[:94], "", "has 94 fields, want 95"},
		{"blank subject", testRow("   ", nil), "SUBJECT_ID", "empty"},
		{"short order", testRow("1001", map[int]string{ColCntOrder: "00100"}), "CNT_ORDER", "shorter than 6 characters"},
		{"impossible event date", testRow("1001", map[int]string{ColStpEventDate: "20150230"}), "STP_EVENT_DATE", "not a valid YYYYMMDD date"},
		{"zero month DOB", testRow("1001", map[int]string{ColPriDOB: "19700000"}), "PRI_DOB", "not a valid YYYYMMDD date"},
		{"ISO date", testRow("1001", map[int]string{ColStpEventDate: "2015-01-01"}), "STP_EVENT_DATE", "not a valid YYYYMMDD date"},
		{"first failure in column order", testRow("1001", map[int]string{ColCntOrder: "1", ColPriDOB: "X"}), "PRI_DOB", "not a valid YYYYMMDD date"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, rej := EventFromCells(record.Source{File: 3, Line: 9}, record.CellsOf(tt.cells))
			if rej == nil {
				t.Fatal("accepted")
			}
			if rej.Field != tt.field || rej.Reason != tt.reason || rej.Line != 9 || rej.FileIndex != 3 {
				t.Errorf("got %+v, want field %q reason %q at 3:9", *rej, tt.field, tt.reason)
			}
			if want := tt.cells[ColSubjectID]; rej.SubjectID != want {
				t.Errorf("SubjectID = %q, want %q", rej.SubjectID, want)
			}
		})
	}
}

func TestRejectErrorIsPrivate(t *testing.T) {
	r := Reject{File: "in/a.csv", Line: 12, Field: "PRI_DOB", Reason: "not a valid YYYYMMDD date", SubjectID: "1001", Raw: "DOE,JANE,19700000"}
	if got, want := r.Error(), "in/a.csv:12: PRI_DOB: not a valid YYYYMMDD date"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	r.Field, r.Reason = "", "has 94 fields, want 95"
	if got, want := r.Error(), "in/a.csv:12: has 94 fields, want 95"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
