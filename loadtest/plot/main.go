// Command plot draws the load test's PNG plots from the samples loadtest/scaling
// records: rows per stage and consumer lag over time for each evaluator count, and
// throughput against the number of evaluators.
//
//	go run ./loadtest/plot -samples samples.csv -summary summary.csv -out DIR
package main

import (
	"encoding/csv"
	"flag"
	"fmt"
	"image/color"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

func main() {
	samples := flag.String("samples", "", "CSV: evaluators,seconds,ingested_rows,decided_rows,stored_subjects,total_subjects[,evaluator_lag,sink_lag]")
	summary := flag.String("summary", "", "CSV: evaluators,seconds,rows")
	out := flag.String("out", ".", "folder for the PNG files")
	flag.Parse()
	if err := run(*samples, *summary, *out); err != nil {
		log.Fatal(err)
	}
}

func readCSV(path string) ([][]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rows [][]float64
	for i, r := range recs {
		if i == 0 {
			continue // header
		}
		row := make([]float64, len(r))
		for j, v := range r {
			if row[j], err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

var palette = []color.Color{
	color.RGBA{0, 114, 178, 255}, color.RGBA{230, 159, 0, 255}, color.RGBA{0, 158, 115, 255}, color.RGBA{204, 121, 167, 255},
}

func run(samplesPath, summaryPath, out string) error {
	samples, err := readCSV(samplesPath)
	if err != nil {
		return err
	}
	byN := map[int][][]float64{}
	for _, s := range samples {
		byN[int(s[0])] = append(byN[int(s[0])], s)
	}
	var ns []int
	for n := range byN {
		ns = append(ns, n)
	}
	sort.Ints(ns)
	for _, n := range ns {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Progress per stage, %d evaluator(s)", n)
		p.X.Label.Text = "seconds since ingest started"
		p.Y.Label.Text = "share of the run done"
		p.Legend.Top, p.Legend.Left = true, true
		for k, stage := range []struct {
			name string
			col  int
		}{{"ingested (rows)", 2}, {"decided (rows)", 3}, {"stored (subjects)", 4}} {
			pts := make(plotter.XYs, 0, len(byN[n]))
			for _, s := range byN[n] {
				// Shares of the run's final totals: rows for ingest and evaluation,
				// subjects for storage.
				last := byN[n][len(byN[n])-1]
				total := last[2]
				if stage.col == 4 {
					total = last[5]
				}
				if total > 0 {
					pts = append(pts, plotter.XY{X: s[1], Y: s[stage.col] / total})
				}
			}
			l, err := plotter.NewLine(pts)
			if err != nil {
				return err
			}
			l.Color = palette[k]
			l.Width = vg.Points(2)
			p.Add(l)
			p.Legend.Add(stage.name, l)
		}
		if err := p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(out, fmt.Sprintf("progress-%d-evaluators.png", n))); err != nil {
			return err
		}
		if err := lagPlot(byN[n], n, out); err != nil {
			return err
		}
	}
	summary, err := readCSV(summaryPath)
	if err != nil {
		return err
	}
	p := plot.New()
	p.Title.Text = "End-to-end throughput by number of evaluators (2-core machine)"
	p.Y.Label.Text = "rows/s"
	vals := make(plotter.Values, len(summary))
	names := make([]string, len(summary))
	for i, s := range summary {
		vals[i] = s[2] / s[1]
		names[i] = fmt.Sprintf("%d", int(s[0]))
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(40))
	if err != nil {
		return err
	}
	bars.Color = palette[0]
	p.Add(bars)
	p.NominalX(names...)
	p.X.Label.Text = "evaluator processes"
	return p.Save(6*vg.Inch, 4*vg.Inch, filepath.Join(out, "throughput-by-evaluators.png"))
}

// lagPlot draws both consumer groups' lag over time for one evaluator count, when the
// samples have lag columns (older samples.csv files do not); unreadable lag (-1) is
// left out.
func lagPlot(samples [][]float64, n int, out string) error {
	if len(samples) == 0 || len(samples[0]) < 8 {
		return nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Consumer lag, %d evaluator(s)", n)
	p.X.Label.Text = "seconds since ingest started"
	p.Y.Label.Text = "messages not yet committed"
	p.Legend.Top, p.Legend.Left = true, true
	for k, group := range []struct {
		name string
		col  int
	}{{"evaluators (subjects topic)", 6}, {"sink (decisions topic)", 7}} {
		pts := make(plotter.XYs, 0, len(samples))
		for _, s := range samples {
			if s[group.col] >= 0 {
				pts = append(pts, plotter.XY{X: s[1], Y: s[group.col]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = palette[k]
		l.Width = vg.Points(2)
		p.Add(l)
		p.Legend.Add(group.name, l)
	}
	return p.Save(7*vg.Inch, 4*vg.Inch, filepath.Join(out, fmt.Sprintf("lag-%d-evaluators.png", n)))
}
