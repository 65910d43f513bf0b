package control

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/clearway/clearway/pkg/bus"
)

// LagTarget names a consumer group and the topic whose backlog status reports.
type LagTarget struct {
	Role  string // who the group is, for people: "evaluators", "sink"
	Group string
	Topic string
}

// GroupLag is one consumer group's backlog on one topic at one reading. The topics are
// shared by every run, so the backlog counts messages of all runs on them.
type GroupLag struct {
	LagTarget
	Partitions []bus.PartitionLag // nil when Err is set
	Err        error
	// Rate is the messages per second the group committed over the recent readings
	// (LagHistory); -1 when unknown (a first reading, or the previous one failed).
	Rate float64
}

// Messages is the group's total lag.
func (g GroupLag) Messages() int64 { return bus.TotalLag(g.Partitions) }

// Drain estimates how long the group needs to consume its backlog at its recent rate.
// ok is false when that cannot be told: no reading, no rate, or a backlog that is not
// going down.
func (g GroupLag) Drain() (d time.Duration, ok bool) {
	switch n := g.Messages(); {
	case g.Err != nil:
		return 0, false
	case n == 0:
		return 0, true
	case g.Rate <= 0:
		return 0, false
	default:
		return time.Duration(float64(n) / g.Rate * float64(time.Second)), true
	}
}

// ReadLag reads each target's lag through admin, each bounded by timeout. A failed
// reading is kept with its error: status shows it rather than giving up.
func ReadLag(ctx context.Context, admin bus.Admin, timeout time.Duration, targets ...LagTarget) []GroupLag {
	out := make([]GroupLag, len(targets))
	for i, t := range targets {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		parts, err := admin.Lag(rctx, t.Group, t.Topic)
		cancel()
		out[i] = GroupLag{LagTarget: t, Partitions: parts, Err: err, Rate: -1}
		if err != nil {
			out[i].Partitions = nil
		}
	}
	return out
}

// LagHistory keeps recent lag readings and derives each group's recent consumption rate
// from them. It is not safe for concurrent use.
type LagHistory struct {
	// Window is how far back the rate looks: it is measured from the oldest successful
	// reading of the group within Window (or, when there is none, the latest older one).
	Window   time.Duration
	readings []lagReading
}

type lagReading struct {
	at     time.Time
	groups []GroupLag
}

// Add records groups, read at time at, and returns them with Rate set from the history.
func (h *LagHistory) Add(at time.Time, groups []GroupLag) []GroupLag {
	out := make([]GroupLag, len(groups))
	for i, g := range groups {
		g.Rate = -1
		if g.Err == nil {
			if prev, when, ok := h.baseline(at, g.LagTarget); ok && at.After(when) {
				g.Rate = float64(consumed(prev, g.Partitions)) / at.Sub(when).Seconds()
			}
		}
		out[i] = g
	}
	h.readings = append(h.readings, lagReading{at: at, groups: out})
	// Keep the readings inside the window and the newest one before it.
	cut := 0
	for cut+1 < len(h.readings) && at.Sub(h.readings[cut+1].at) > h.Window {
		cut++
	}
	h.readings = h.readings[cut:]
	return out
}

// baseline returns the successful reading of target the rate is measured from: the
// oldest inside the window, or else the newest before it.
func (h *LagHistory) baseline(at time.Time, target LagTarget) (parts []bus.PartitionLag, when time.Time, ok bool) {
	for _, r := range h.readings { // oldest first
		for _, g := range r.groups {
			if g.LagTarget != target || g.Err != nil {
				continue
			}
			if at.Sub(r.at) <= h.Window {
				return g.Partitions, r.at, true
			}
			parts, when, ok = g.Partitions, r.at, true
		}
	}
	return parts, when, ok
}

// consumed is the messages committed between two readings of one topic's partitions.
func consumed(before, now []bus.PartitionLag) int64 {
	pos := make(map[int]int64, len(before))
	for _, p := range before {
		pos[p.Partition] = p.Position()
	}
	var n int64
	for _, p := range now {
		if was, ok := pos[p.Partition]; ok && p.Position() > was {
			n += p.Position() - was
		}
	}
	return n
}

// formatLag renders the lag block of a status report: a total line, then one line per
// group with its lag per partition, recent rate and time to drain.
func formatLag(b *strings.Builder, groups []GroupLag) {
	if len(groups) == 0 {
		fmt.Fprintf(b, "  lag:           n/a\n")
		return
	}
	var total int64
	known := true
	for _, g := range groups {
		total += g.Messages()
		known = known && g.Err == nil
	}
	if known {
		fmt.Fprintf(b, "  lag:           %d messages (all runs on the topics)\n", total)
	} else {
		fmt.Fprintf(b, "  lag:           at least %d messages (all runs on the topics)\n", total)
	}
	for _, g := range groups {
		fmt.Fprintf(b, "    %-10s   %s on %s: ", g.Role, g.Group, g.Topic)
		if g.Err != nil {
			fmt.Fprintf(b, "n/a (%v)\n", g.Err)
			continue
		}
		fmt.Fprintf(b, "%d [", g.Messages())
		for i, p := range g.Partitions {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(b, "p%d=%d", p.Partition, p.Messages())
		}
		b.WriteString("]")
		if g.Rate >= 0 {
			fmt.Fprintf(b, ", %.1f msg/s", g.Rate)
		}
		if d, ok := g.Drain(); ok && g.Messages() > 0 {
			fmt.Fprintf(b, ", drained in ~%s", d.Round(time.Second))
		}
		b.WriteString("\n")
	}
}
