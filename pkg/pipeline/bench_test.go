package pipeline

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/synth"
)

// benchInput writes a generated extract once per benchmark.
func benchInput(b testing.TB, rows int, shuffle bool) string {
	b.Helper()
	p := filepath.Join(b.TempDir(), "doj.csv")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := synth.Generate(context.Background(), w, synth.Config{Seed: 1, Rows: rows, Header: true, Shuffle: shuffle, TempDir: b.TempDir()}); err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return p
}

// BenchmarkRun measures the embedded run end to end (read, group, evaluate, write) and
// reports rows/s. The 400k rows/s target and the memory bound are measured on 1M and 10M
// rows by loadtest/embedded, which also reports peak RSS.
func BenchmarkRun(b *testing.B) {
	at, _ := record.ParseISO("2020-07-01")
	opts, err := policy.LoadFile("../../testdata/acceptance/options.json")
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name    string
		shuffle bool
		format  string
		county  string
		pols    *eligibility.Policies
	}{
		{"sorted/native", false, FormatNative, "", policy.DefaultPolicies()},
		{"unsorted/native", true, FormatNative, "", policy.DefaultPolicies()},
		{"sorted/gogen", false, FormatGogen, "LOS ANGELES", &eligibility.Policies{Default: opts}},
	}
	const rows = 200_000
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			in := benchInput(b, rows, c.shuffle)
			out := b.TempDir()
			var n int64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := Run(context.Background(), Config{
					Files:  []string{in},
					Engine: &eligibility.Engine{Policies: c.pols, ComputeAt: at, County: c.county},
					Info:   report.RunInfo{RunID: "bench", ComputeAt: at, County: c.county, Policies: c.pols},
					Format: c.format,
					OutDir: out,
				})
				if err != nil {
					b.Fatal(err)
				}
				for _, r := range st.Group.Rows {
					n += r
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
