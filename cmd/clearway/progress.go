package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/clearway/clearway/pkg/pipeline"
)

// progress shows a run's progress: a bar with rows/s and ETA on a terminal, a log line
// every few seconds otherwise. It never shows row content.
type progress struct {
	mode  string // "bar", "log" or "none"
	w     io.Writer
	start time.Time

	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	last   time.Time
	phase  string
	latest pipeline.Progress
}

const logEvery = 5 * time.Second

func newProgress(mode string, w io.Writer) *progress {
	if mode == "auto" {
		mode = "log"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			mode = "bar"
		}
	}
	return &progress{mode: mode, w: w, start: time.Now(), last: time.Now()}
}

func (p *progress) update(u pipeline.Progress) {
	if p.mode == "none" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.latest = u
	switch p.mode {
	case "bar":
		if p.bar == nil || p.phase != u.Phase {
			p.newBar(u)
		}
		if u.Phase == "regroup" {
			p.bar.Set64(u.RegroupDone)
		} else {
			p.bar.Set64(u.Bytes)
		}
		p.bar.Describe(p.describe(u))
	case "log":
		if time.Since(p.last) < logEvery && u.Phase == p.phase {
			return
		}
		p.phase, p.last = u.Phase, time.Now()
		fmt.Fprintf(p.w, "clearway run: %s\n", p.line(u))
	}
}

func (p *progress) newBar(u pipeline.Progress) {
	if p.bar != nil {
		p.bar.Finish()
		fmt.Fprintln(p.w)
	}
	p.phase = u.Phase
	total := u.TotalBytes
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w), progressbar.OptionSetWidth(30),
		progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100 * time.Millisecond), progressbar.OptionClearOnFinish(),
	}
	if u.Phase == "regroup" {
		total = u.RegroupTotal
	} else {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	p.bar = progressbar.NewOptions64(total, opts...)
}

func (p *progress) rate(u pipeline.Progress) float64 {
	return float64(u.Rows) / max(time.Since(p.start).Seconds(), 1e-9)
}

func (p *progress) describe(u pipeline.Progress) string {
	switch u.Phase {
	case "regroup":
		return fmt.Sprintf("regrouping unsorted input: %s of %s rows", thousands(u.RegroupDone), thousands(u.RegroupTotal))
	case "write":
		return "writing outputs"
	}
	return fmt.Sprintf("%s rows, %s rows/s", thousands(u.Rows), thousands(int64(p.rate(u))))
}

func (p *progress) line(u pipeline.Progress) string {
	switch u.Phase {
	case "regroup":
		return fmt.Sprintf("regrouping unsorted input: %s of %s rows", thousands(u.RegroupDone), thousands(u.RegroupTotal))
	case "write":
		return "writing outputs"
	}
	pct, eta := 0.0, "?"
	if u.TotalBytes > 0 {
		pct = 100 * float64(u.Bytes) / float64(u.TotalBytes)
		if u.Bytes > 0 {
			el := time.Since(p.start)
			eta = (time.Duration(float64(el) * float64(u.TotalBytes-u.Bytes) / float64(u.Bytes))).Round(time.Second).String()
		}
	}
	return fmt.Sprintf("read %s rows (%.0f%% of input), %s rows/s, ETA %s", thousands(u.Rows), pct, thousands(int64(p.rate(u))), eta)
}

func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
}
