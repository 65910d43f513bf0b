package ingest

import (
	"testing"

	"github.com/clearway/clearway/pkg/doj"
)

func TestQuarantineCode(t *testing.T) {
	for _, tc := range []struct {
		reject doj.Reject
		want   string
	}{
		{doj.Reject{Reason: "has 4 fields, want 95"}, "column_count"},
		{doj.Reject{Field: "OFFENSE_DESCR", Reason: `bare " in unquoted field`}, "quote_error"},
		{doj.Reject{Reason: "unterminated quoted field in column 7"}, "quote_error"},
		{doj.Reject{Field: "PRI_DOB", Reason: "not a valid YYYYMMDD date"}, "bad_date"},
		{doj.Reject{Field: "SUBJECT_ID", Reason: "empty"}, "empty_subject_id"},
		{doj.Reject{Field: "CNT_ORDER", Reason: "shorter than 6 characters"}, "short_cnt_order"},
		{doj.Reject{Reason: "row longer than 1 MiB"}, "row_too_long"},
		{doj.Reject{Reason: "DOE,JANE something new"}, "other"}, // never the row's text
	} {
		if got := QuarantineCode(tc.reject); got != tc.want {
			t.Errorf("QuarantineCode(%q) = %q, want %q", tc.reject.Reason, got, tc.want)
		}
	}
}
