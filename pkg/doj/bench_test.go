package doj

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
)

// benchRows writes n realistic ~450-byte DOJ rows (quoted names with commas, all-space
// quoted fields, mostly empty carried columns) to dir and returns the path and the
// average row length.
func benchFile(b *testing.B, dir string, n int, compress bool) (string, float64) {
	b.Helper()
	firsts := []string{"JANE Q", "JOHN", "ALEX M", "SAM", "PAT R"}
	lasts := []string{"DOE", "ROE", "SMITH", "JONES", "GARCIA", "NGUYEN"}
	offenses := []string{
		"11357(C)HS-POSSESS MARIJUANA", "503 VC-TAKE CAR W/OUT OWNERS CONSENT",
		"11360(A) HS-SELL/FURNISH/ETC MARIJUANA/HASH", "23152(A) VC-DUI ALCOHOL/DRUGS", "459 PC-BURGLARY",
	}
	var sb strings.Builder
	sb.WriteString(headerLine() + "\n")
	for i := range n {
		sid := itoa(10000000 + i/4)
		date := fmt.Sprintf("2010%02d%02d", 1+i%12, 1+i%28)
		set := map[int]string{
			ColSubjectStatus:   "A",
			ColReqCIINumber:    "A" + itoa(90000000+i/4),
			ColCIINumber:       "A" + itoa(90000000+i/4),
			ColPriName:         lasts[i%len(lasts)] + "," + firsts[i%len(firsts)],
			ColGender:          "M",
			ColPriCDL:          "D" + itoa(1000000+i/4),
			ColRaceDescr:       "OTHER",
			ColHeight:          "510",
			ColWeight:          "170",
			ColPobName:         "CALIFORNIA",
			ColCycOrder:        "001",
			ColCycDate:         date,
			ColStpOrder:        "002",
			ColStpEventDate:    date,
			ColStpTypeDescr:    "COURT ACTION",
			ColStpOriType:      "C",
			ColStpOriTypeDescr: "         x",
			ColStpOriCode:      "CASCSACRAMENTO",
			ColStpOriDescr:     "SACRAMENTO SUPERIOR COURT",
			ColStpOriCntyCode:  "34",
			ColDispDate:        date,
			ColOFN:             itoa(140000 + i),
			ColOffenseCode:     itoa(1000 + i%50),
			ColOffenseDescr:    offenses[i%len(offenses)],
			ColOffenseQualLst:  "              ",
			ColDispCode:        "C",
			ColDispOrder:       "001",
			ColConvStatCode:    "M",
			ColConvStatDescr:   "          ",
			ColSentLocDescr:    "JAIL",
			ColSentTimeDescr:   "DAYS      ",
			ColCycAge:          itoa(20 + i%40),
			ColCIIType:         "          ",
			ColCommentText:     "SENTENCE MODIFIED, SEE DOCKET",
		}
		sb.WriteString(encodeRow(testRow(sid, set)))
		sb.WriteByte('\n')
	}
	data := []byte(sb.String())
	path := filepath.Join(dir, "bench.csv")
	if compress {
		path += ".gz"
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		zw, _ := gzip.NewWriterLevel(f, gzip.DefaultCompression)
		zw.Write(data)
		zw.Close()
		f.Close()
	} else if err := os.WriteFile(path, data, 0o644); err != nil {
		b.Fatal(err)
	}
	return path, float64(len(data)) / float64(n+1)
}

// BenchmarkScan reads a 200k-row file from the page cache and reports rows/s.
func BenchmarkScan(b *testing.B) {
	const rows = 200_000
	for _, bc := range []struct {
		name    string
		workers int
		gz      bool
	}{
		{"plain/workers=1", 1, false},
		{"plain/workers=2", 2, false},
		{"gzip/workers=2", 2, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path, rowLen := benchFile(b, b.TempDir(), rows, bc.gz)
			b.ReportMetric(rowLen, "bytes/row")
			b.SetBytes(int64(rowLen * rows))
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				f, err := Open(path, 0)
				if err != nil {
					b.Fatal(err)
				}
				s := f.Scan(context.Background(), ScanOptions{Workers: bc.workers})
				n := 0
				for {
					batch, err := s.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n += len(batch.Events)
				}
				s.Close()
				f.Close()
				if n != rows {
					b.Fatalf("%d events, want %d", n, rows)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			// CPU per row is what shared, busy machines cannot distort much: on two idle
			// cores the wall-clock ceiling is about 2/(cpu-µs/row) million rows/s.
			b.ReportMetric((cpuTime()-cpu0).Seconds()*1e6/float64(rows*b.N), "cpu-µs/row")
		})
	}
}

// cpuTime returns the process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSplitRow measures the field splitter alone on the benchmark rows, one core.
func BenchmarkSplitRow(b *testing.B) {
	path, _ := benchFile(b, b.TempDir(), 2000, false)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	f := memFile(b, "bench.csv", data)
	c := &cutter{r: f.src, chunk: len(data) + 1, maxRow: defaultMaxRow, line: 1}
	var j job
	c.next(&j)
	out := make([]byte, len(j.data)+rowSlack)
	var ends fieldEnds
	b.SetBytes(int64(len(j.data)))
	b.ResetTimer()
	for range b.N {
		w := 0
		for _, r := range j.rows {
			w = splitRow(j.data[r.start:r.end], out, w, &ends, r.multi).w
		}
	}
	b.ReportMetric(float64(b.N*len(j.rows))/b.Elapsed().Seconds(), "rows/s")
}
