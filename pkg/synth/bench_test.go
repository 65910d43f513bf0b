package synth

import (
	"context"
	"io"
	"testing"
)

// BenchmarkGenerate measures grouped generation to io.Discard and reports rows/s and
// bytes per row.
func BenchmarkGenerate(b *testing.B) {
	for _, bc := range []struct {
		name    string
		shuffle bool
		rows    int
	}{
		{"grouped", false, 200_000},
		{"shuffled", true, 200_000},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var rows, bytes int64
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				st, err := Generate(context.Background(), io.Discard, Config{Seed: int64(i), Rows: bc.rows, Shuffle: bc.shuffle, TempDir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				rows += st.Rows
				bytes += st.Bytes
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(bytes)/float64(rows), "B/row")
			b.SetBytes(bytes / int64(b.N))
		})
	}
}
