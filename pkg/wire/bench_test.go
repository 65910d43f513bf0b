package wire

import (
	"testing"

	"github.com/clearway/clearway/pkg/eligibility"
)

// benchLimit is a realistic broker limit (Kafka's default message.max.bytes is ~1 MiB).
const benchLimit = 1000 << 10

var codecs = []Compression{LZ4, Zstd, NoCompression}

// report sets per-row metrics: ns/row, message bytes per row and the CSV's bytes per row.
func report(b *testing.B, rows int, msgBytes int, csvBytes int64) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
	b.ReportMetric(float64(msgBytes)/float64(rows), "B/row")
	b.ReportMetric(float64(csvBytes)/float64(rows), "csvB/row")
	b.ReportMetric(0, "ns/op")
}

func total(msgs [][]byte) int {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	return n
}

// BenchmarkSubjects measures encoding and decoding subject batches of a synthetic
// statewide extract in ~1 MB messages, per row.
func BenchmarkSubjects(b *testing.B) {
	c := loadCorpus(b, 20000)
	for _, codec := range codecs {
		e := Encoder{Compression: codec}
		msgs, err := e.EncodeSubjects(c.subjects, benchLimit)
		if err != nil {
			b.Fatal(err)
		}
		size := total(msgs)
		b.Run(codec.String()+"/encode", func(b *testing.B) {
			for b.Loop() {
				if _, err := e.EncodeSubjects(c.subjects, benchLimit); err != nil {
					b.Fatal(err)
				}
			}
			report(b, c.rows, size, c.csvBytes)
		})
		b.Run(codec.String()+"/encode-fresh", func(b *testing.B) {
			for b.Loop() {
				fresh := Encoder{Compression: codec}
				if _, err := fresh.EncodeSubjects(c.subjects, benchLimit); err != nil {
					b.Fatal(err)
				}
			}
			report(b, c.rows, size, c.csvBytes)
		})
		b.Run(codec.String()+"/decode", func(b *testing.B) {
			var d Decoder
			for b.Loop() {
				for _, m := range msgs {
					if _, err := d.DecodeSubjects(m); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b, c.rows, size, c.csvBytes)
		})
		b.Run(codec.String()+"/roundtrip", func(b *testing.B) {
			var d Decoder
			for b.Loop() {
				msgs, err := e.EncodeSubjects(c.subjects, benchLimit)
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range msgs {
					if _, err := d.DecodeSubjects(m); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b, c.rows, size, c.csvBytes)
		})
	}
}

// BenchmarkResults measures encoding and decoding the decisions of the same extract.
func BenchmarkResults(b *testing.B) {
	c := loadCorpus(b, 20000)
	results := evaluate(b, c.subjects)
	rows := 0
	for i := range results {
		if isStub(&results[i]) {
			rows++
		} else {
			rows += len(results[i].Subject.Events)
		}
	}
	b.Logf("%d results, %d decision rows", len(results), rows)
	for _, codec := range codecs {
		e := Encoder{Compression: codec}
		msgs, err := e.EncodeResults(results, benchLimit)
		if err != nil {
			b.Fatal(err)
		}
		size := total(msgs)
		b.Run(codec.String()+"/encode", func(b *testing.B) {
			for b.Loop() {
				if _, err := e.EncodeResults(results, benchLimit); err != nil {
					b.Fatal(err)
				}
			}
			report(b, rows, size, c.csvBytes*int64(rows)/int64(c.rows))
		})
		b.Run(codec.String()+"/decode", func(b *testing.B) {
			var d Decoder
			var out []eligibility.Result
			for b.Loop() {
				for _, m := range msgs {
					res, err := d.DecodeResults(m)
					if err != nil {
						b.Fatal(err)
					}
					out = res
				}
			}
			_ = out
			report(b, rows, size, c.csvBytes*int64(rows)/int64(c.rows))
		})
		b.Run(codec.String()+"/roundtrip", func(b *testing.B) {
			var d Decoder
			for b.Loop() {
				msgs, err := e.EncodeResults(results, benchLimit)
				if err != nil {
					b.Fatal(err)
				}
				for _, m := range msgs {
					if _, err := d.DecodeResults(m); err != nil {
						b.Fatal(err)
					}
				}
			}
			report(b, rows, size, c.csvBytes*int64(rows)/int64(c.rows))
		})
	}
}
