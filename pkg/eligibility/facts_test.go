package eligibility

import (
	"reflect"
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

func TestAnalyze(t *testing.T) {
	s := subject(t, "19700514",
		row{cnt: "101001001000", date: "19900101", step: "ARREST/DETAINED/CITED", offense: "11357 HS-POSSESS", ofn: "A1"},
		conv("101002001000", "19900301", "11357 HS-POSSESS"),
		conv("102002001000", "19950301", "220 PC- COMMIT MAYHEM"),
		conv("102002002000", "19950301", "314(1) PC-INDECENT EXPOSURE"),
		conv("101002001000", "19900301", "11357 HS-POSSESS"), // duplicate CNT_ORDER: not a conviction
		conv("103002001000", "", "11359(C) HS-SALE"),         // undated
		conv("104002001000", "20001231", "11358 HS-CULTIVATE"),
		conv("105002001000", "20001231", "220 PC-MAYHEM"), // listed again, not de-duplicated
		row{cnt: "106001001000", date: "20050101", step: record.StepRegistration, offense: "290 PC-REGISTRATION"},
		row{cnt: "107001001000", date: "20100101", step: record.StepDeceased, offense: "555 PC-X", convicted: true}, // a DECEASED step can be a conviction
		misd("108002001000", "20080101", "66411357(A) HS"),
		misd("109002001000", "20090101", "664-11360(A) HS-ATTEMPT"),
		misd("110002001000", "20090102", "11357.5 HS-SYNTHETIC"),
	)
	// A later row's DOB is ignored.
	s.Events[3].DOB = record.MakeDate(1999, 1, 1)

	facts, rows := Analyze(s)
	wantRows := []bool{false, true, true, true, false, true, true, true, false, true, true, true, true}
	if !reflect.DeepEqual(rows, wantRows) {
		t.Errorf("rows = %v, want %v", rows, wantRows)
	}
	want := Facts{
		DOB:                  record.MakeDate(1970, 5, 14),
		Convictions:          10,
		Prop64Convictions:    5,
		Prop64BySection:      [NumSections]int{2, 1, 1, 1},
		MostRecentConviction: record.MakeDate(2010, 1, 1),
		Superstrikes:         []string{"220 PC", "220 PC"},
		PC290:                []string{"314(1) PC"},
		PC290Registration:    true,
		Deceased:             true,
	}
	if !reflect.DeepEqual(facts, want) {
		t.Errorf("facts =\n%+v\nwant\n%+v", facts, want)
	}
}

func TestAnalyzeEmptyAndUndated(t *testing.T) {
	facts, rows := Analyze(&record.Subject{})
	if facts.Convictions != 0 || len(rows) != 0 || facts.MostRecentConviction != record.NoDate {
		t.Errorf("empty subject: facts %+v rows %v", facts, rows)
	}
	facts, _ = Analyze(subject(t, "bad", conv("101002001000", "", "11357 HS")))
	if facts.DOB.Valid() || facts.MostRecentConviction.Valid() {
		t.Errorf("missing dates must stay NoDate: %+v", facts)
	}
}

func TestSentenceEnd(t *testing.T) {
	tests := []struct {
		name string
		rows []row
		want string // "" = NoDate
	}{
		{"days", []row{withSentence(conv("101002001000", "20150101", "11359 HS"), "90D")}, "2015-04-01"},
		{"calendar months", []row{withSentence(conv("101002001000", "20150131", "11359 HS"), "1M")}, "2015-03-03"},
		{"calendar years from Feb 29", []row{withSentence(conv("101002001000", "20160229", "11359 HS"), "1Y")}, "2017-03-01"},
		{"parts add up in row order", []row{
			withSentence(conv("101002001000", "20150101", "11359 HS"), "6M"),
			withSentence(conv("101002001000", "20150101", "11359 HS"), "10D"),
		}, "2015-07-11"},
		{
			// gogen added the 2Y to the most recently appended conviction (§8.8).
			"non-contiguous duplicate extends its own CNT_ORDER",
			[]row{
				withSentence(conv("101002001000", "20150101", "11359 HS"), "1Y"),
				conv("102002001000", "20160101", "459 PC"),
				withSentence(conv("101002001000", "20150101", "11359 HS"), "2Y"),
			},
			"2018-01-01",
		},
		{"no sentence information", []row{conv("101002001000", "20150101", "11359 HS")}, ""},
		{"unknown unit", []row{withSentence(conv("101002001000", "20150101", "11359 HS"), "5X")}, ""},
		{"missing conviction date", []row{withSentence(conv("101002001000", "", "11359 HS"), "5D")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := engine(t, gogenPolicy(nil, []int{HS11359}, Relief{}), "2020-07-01").Evaluate(subject(t, "19700101", tt.rows...))
			if len(res.Evaluated) != 1 {
				t.Fatalf("evaluated %d convictions, want 1", len(res.Evaluated))
			}
			if got := res.Evaluated[0].SentenceEnd.String(); got != tt.want {
				t.Errorf("SentenceEnd = %q, want %q", got, tt.want)
			}
		})
	}
}

func withSentence(r row, s string) row { r.sentence = s; return r }

func TestCaseNumbers(t *testing.T) {
	s := subject(t, "19600314",
		row{cnt: "101001001000", date: "19790525", step: "ARREST/DETAINED/CITED", offense: "503 VC-TAKE CAR", ofn: "140189"},
		row{cnt: "101001002000", date: "19790601", offense: "503 VC-TAKE CAR", ofn: "NULL  ", convicted: true, felony: true},
		row{cnt: "101001004000", date: "19810410", step: record.StepDeceased, offense: "11358 HS-CULTIVATE", ofn: "140191"},
		row{cnt: "101001005000", date: "19810411", offense: "632 PC-SPYING", ofn: "140192"},
		conv("101001006000", "19810411", "11358 HS-CULTIVATE"),
		row{cnt: "101001007000", date: "19810411", offense: "632 PC-SPYING", ofn: "140192"}, // repeated OFN
		row{cnt: "101001008000", date: "19810411", offense: "632 PC-SPYING", ofn: "140193"},
		row{cnt: "101002001000", date: "19810411", offense: "632 PC-SPYING", ofn: "999999"}, // other step
		row{cnt: "101", date: "19810411", offense: "632 PC-SPYING", ofn: "SHORT"},           // short CNT_ORDER: no crash
	)
	s.Events[4].OFN = "" // the conviction row itself may carry no OFN
	res := engine(t, gogenPolicy([]int{HS11358}, nil, Relief{}), "2019-11-11").Evaluate(s)
	if len(res.Evaluated) != 1 {
		t.Fatalf("evaluated %+v", res.Evaluated)
	}
	if got, want := res.Evaluated[0].CaseNumbers, "NULL  ; 140192; 140193"; got != want {
		t.Errorf("CaseNumbers = %q, want %q", got, want)
	}
}
