package wire

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/synth"
)

// corpus is a realistic set of subjects: a synthetic statewide extract read with the
// production reader, rows grouped by subject as the grouper does.
type corpus struct {
	subjects []*record.Subject
	rows     int
	csvBytes int64 // size of the extract's data, for bytes-per-row comparisons
}

func loadCorpus(tb testing.TB, rows int) corpus {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "extract.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := synth.Generate(ctx, f, synth.Config{Seed: 1, Rows: rows, Header: true})
	if err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	df, err := doj.Open(path, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer df.Close()
	sc := df.Scan(ctx, doj.ScanOptions{})
	defer sc.Close()
	c := corpus{csvBytes: st.Bytes}
	for {
		b, err := sc.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		if len(b.Rejects) > 0 {
			tb.Fatalf("synthetic extract has %d rejected rows", len(b.Rejects))
		}
		for _, ev := range b.Events {
			n := len(c.subjects)
			if n == 0 || c.subjects[n-1].ID != ev.SubjectID {
				c.subjects = append(c.subjects, &record.Subject{ID: ev.SubjectID})
				n++
			}
			c.subjects[n-1].Events = append(c.subjects[n-1].Events, ev)
			c.rows++
		}
	}
	// Some subjects had rows quarantined by the reader: the count travels with them.
	for i := 3; i < len(c.subjects); i += 97 {
		c.subjects[i].Quarantined = i % 5
	}
	return c
}

// computeAt is the decisions' compute-at date in the fixtures.
func computeAt(tb testing.TB) record.Date {
	d, err := record.ParseISO("2024-06-30")
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// evaluate runs the engine on every subject, as an evaluator does.
func evaluate(tb testing.TB, subjects []*record.Subject) []eligibility.Result {
	tb.Helper()
	e := eligibility.Engine{Policies: policy.DefaultPolicies(), ComputeAt: computeAt(tb)}
	if err := e.Validate(); err != nil {
		tb.Fatal(err)
	}
	out := make([]eligibility.Result, len(subjects))
	for i, s := range subjects {
		out[i] = e.Evaluate(s)
	}
	return out
}

// person builds a synthetic row set by hand: rows of cells with the given overrides.
func person(id string, rows ...map[int]string) *record.Subject {
	s := &record.Subject{ID: id}
	for i, over := range rows {
		cells := make([]string, doj.NumColumns)
		cells[doj.ColSubjectID] = id
		cells[doj.ColPriName] = "DOE,JANE"
		cells[doj.ColPriDOB] = "19800101"
		cells[doj.ColCntOrder] = "101001001"
		for k, v := range over {
			cells[k] = v
		}
		ev, rej := doj.EventFromCells(record.Source{File: 0, Line: int64(i + 2)}, record.CellsOf(cells))
		if rej != nil {
			panic(rej.Error())
		}
		s.Events = append(s.Events, ev)
	}
	return s
}
