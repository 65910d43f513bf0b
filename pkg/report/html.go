package report

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/clearway/clearway/pkg/eligibility"
)

// WriteHTML renders the run report from a Summary alone: one self-contained page
// (inline CSS, inline SVG charts, no scripts, no external URLs) that prints well.
func WriteHTML(w io.Writer, s *Summary) error {
	if err := reportTemplate.Execute(w, newPage(s)); err != nil {
		return fmt.Errorf("render report: %w", err)
	}
	return nil
}

// determinationStyle is the label and colour of one determination. Colours are the
// Okabe–Ito palette, distinguishable with the common colour-vision deficiencies.
type determinationStyle struct {
	det   eligibility.Determination
	label string
	color string
}

var determinationStyles = [...]determinationStyle{
	{eligibility.Dismiss, "Dismissal", "#009E73"},
	{eligibility.Reduce, "Reduction", "#0072B2"},
	{eligibility.HandReview, "Hand review", "#E69F00"},
	{eligibility.NotEligible, "Not eligible", "#D55E00"},
	{eligibility.None, "No determination", "#8C8C8C"},
}

func styleOf(key string) determinationStyle {
	for _, st := range determinationStyles {
		if determinationKey(st.det) == key {
			return st
		}
	}
	return determinationStyles[len(determinationStyles)-1]
}

// page is the template's view of a summary.
type page struct {
	S        *Summary
	Scope    string
	Cards    []card
	Lead     string
	Legend   []legendItem
	Charts   []chart
	Reasons  []reasonRow
	Rejects  []rejectRow
	Relief   []reliefRow
	Files    []fileRow
	Policies []policyRow
	Started  string
	Finished string
	Duration string
	RowsPS   string
	HasTime  bool
}

type card struct{ Label, Value, Note string }

type legendItem struct{ Label, Color string }

type reasonRow struct {
	Reason, Rule, Outcome, Convictions, People string
	Color                                      string
}

type rejectRow struct{ Reason, Field, Rows string }

type reliefRow struct{ Label, Current, DismissAll string }

type fileRow struct{ Path, Size, Rows, Rejects, Header string }

type policyRow struct{ County, Name, Hash, ShortHash, Dismiss, Reduce string }

// chart is one horizontal stacked-bar chart.
type chart struct {
	ID, Title, Caption string
	Width, Height      int
	LabelWidth         int
	Bars               []bar
}

type bar struct {
	Label, Total string
	Y, TextY     int
	TotalX       float64
	Segments     []segment
}

type segment struct {
	X, W         float64
	Color, Title string
}

const (
	chartWidth  = 760
	chartLabelW = 210
	chartValueW = 90
	barHeight   = 22
	barGap      = 8
	topCounties = 20
	topRejects  = 20
)

func newPage(s *Summary) *page {
	t := &s.Totals
	p := &page{S: s}
	for _, st := range determinationStyles {
		p.Legend = append(p.Legend, legendItem{Label: st.label, Color: st.color})
	}
	p.Scope = "Statewide"
	if s.Run.County != "" {
		p.Scope = titleCase(s.Run.County) + " County"
	}
	p.Cards = []card{
		{"People who get relief", fmtInt(t.PeopleWithRelief), "of " + fmtInt(t.SubjectsWithProp64) + " people with a Prop 64 conviction"},
		{"Convictions dismissed", fmtInt(t.ConvictionsDismissed), "of " + fmtInt(t.ConvictionsEvaluated) + " Prop 64 convictions"},
		{"Convictions reduced", fmtInt(t.ConvictionsReduced), "felony to misdemeanour"},
		{"Records fully cleared", fmtInt(t.RecordsFullyCleared), "every conviction on record dismissed"},
		{"Need hand review", fmtInt(t.ConvictionsHandReview), "convictions"},
		{"Not eligible", fmtInt(t.ConvictionsNotEligible), "convictions"},
	}
	p.Lead = fmt.Sprintf("Of %s people with a Prop 64 conviction in scope, %s (%s) get relief on at least one conviction, and %s would have no conviction left on their record.",
		fmtInt(t.SubjectsWithProp64), fmtInt(t.PeopleWithRelief), pct(t.PeopleWithRelief, t.SubjectsWithProp64), fmtInt(t.RecordsFullyCleared))

	b := &s.Breakdowns
	p.Charts = []chart{
		newChart("determination", "Convictions by determination", "Every evaluated Prop 64 conviction.", orderBy(b.Determination, determinationOrder)),
		newChart("county", "Convictions by county", "County of conviction; the 20 largest, then all others together.", topN(byCount(b.County), topCounties, "All other counties")),
		newChart("section", "Convictions by code section", "Health & Safety Code section of the conviction.", sortedKeys(b.Section)),
		newChart("felony", "Felony and misdemeanour convictions", "Level of the conviction as recorded.", orderBy(b.Felony, []string{KeyFelony, KeyNonFelony})),
		newChart("race", "Convictions by race", "Race as recorded by the DOJ (first row of each person).", byCount(b.Race)),
		newChart("gender", "Convictions by gender", "Gender as recorded by the DOJ.", byCount(b.Gender)),
		newChart("age", "Convictions by age band", "Age of the person on the compute-at date.", orderBy(b.AgeBand, AgeBands[:])),
	}

	for _, e := range byCount(b.Reason) {
		reason := e.Key
		if reason == "" {
			reason = "(no rule decided)"
		}
		var outcomes []string
		color := ""
		for _, st := range determinationStyles {
			if e.ByDetermination.Get(st.det) > 0 {
				outcomes = append(outcomes, st.label)
				if color == "" {
					color = st.color
				}
			}
		}
		p.Reasons = append(p.Reasons, reasonRow{
			Reason: reason, Rule: e.RuleID, Outcome: strings.Join(outcomes, ", "),
			Convictions: fmtInt(e.Convictions), People: fmtInt(e.People), Color: color,
		})
	}

	rejects := append([]RejectCount(nil), s.Rejects...)
	sort.SliceStable(rejects, func(i, j int) bool { return rejects[i].Rows > rejects[j].Rows })
	var other int64
	for i, r := range rejects {
		if i >= topRejects {
			other += r.Rows
			continue
		}
		p.Rejects = append(p.Rejects, rejectRow{Reason: r.Reason, Field: r.Field, Rows: fmtInt(r.Rows)})
	}
	if other > 0 {
		p.Rejects = append(p.Rejects, rejectRow{Reason: "All other reasons", Rows: fmtInt(other)})
	}

	g := &s.Gogen
	cur, all := g.ReliefWithCurrentEligibilityChoices, g.ReliefWithDismissAllProp64
	p.Relief = []reliefRow{
		{"People left with no conviction at all", fmtInt(cur.CountSubjectsNoConviction), fmtInt(all.CountSubjectsNoConviction)},
		{"People left with no felony", fmtInt(cur.CountSubjectsNoFelony), fmtInt(all.CountSubjectsNoFelony)},
		{"People left with no conviction in the last 7 years", fmtInt(cur.CountSubjectsNoConvictionLast7Years), fmtInt(all.CountSubjectsNoConvictionLast7Years)},
	}

	for _, f := range s.Run.Files {
		h := "no"
		if f.HasHeader {
			h = "yes"
		}
		p.Files = append(p.Files, fileRow{Path: f.Path, Size: fmtBytes(f.Size), Rows: fmtInt(f.Rows), Rejects: fmtInt(f.Rejects), Header: h})
	}
	for _, pol := range s.Run.Policies {
		county := titleCase(pol.County)
		if pol.Default {
			county = "All other counties"
		}
		short := pol.Hash
		if len(short) > 12 {
			short = short[:12] + "…"
		}
		p.Policies = append(p.Policies, policyRow{
			County: county, Name: pol.Name, Hash: pol.Hash, ShortHash: short,
			Dismiss: orDash(strings.Join(pol.Dismiss, ", ")), Reduce: orDash(strings.Join(pol.Reduce, ", ")),
		})
	}

	tm := &s.Timing
	if !tm.Started.IsZero() {
		p.HasTime = true
		p.Started = tm.Started.UTC().Format("2006-01-02 15:04:05 MST")
		if !tm.Finished.IsZero() {
			p.Finished = tm.Finished.UTC().Format("2006-01-02 15:04:05 MST")
		}
		p.Duration = strconv.FormatFloat(tm.DurationSeconds, 'f', 1, 64) + " s"
		p.RowsPS = fmtInt(int64(tm.RowsPerSecond + 0.5))
	}
	return p
}

var determinationOrder = func() []string {
	out := make([]string, len(determinationStyles))
	for i, st := range determinationStyles {
		out[i] = determinationKey(st.det)
	}
	return out
}()

// newChart lays out one chart: a label column, stacked bars scaled to the largest
// total, and the total to the right of each bar.
func newChart(id, title, caption string, entries []Entry) chart {
	c := chart{ID: id, Title: title, Caption: caption, Width: chartWidth, LabelWidth: chartLabelW}
	var max int64
	for _, e := range entries {
		if e.Convictions > max {
			max = e.Convictions
		}
	}
	area := float64(chartWidth - chartLabelW - chartValueW)
	for i, e := range entries {
		y := i * (barHeight + barGap)
		b := bar{Label: chartLabel(id, e.Key), Total: fmtInt(e.Convictions), Y: y, TextY: y + barHeight/2 + 5}
		x := float64(chartLabelW)
		for _, st := range determinationStyles {
			n := e.ByDetermination.Get(st.det)
			if n == 0 || max == 0 {
				continue
			}
			w := area * float64(n) / float64(max)
			b.Segments = append(b.Segments, segment{X: x, W: w, Color: st.color, Title: fmt.Sprintf("%s — %s: %s", b.Label, st.label, fmtInt(n))})
			x += w
		}
		b.TotalX = x + 6
		c.Bars = append(c.Bars, b)
	}
	c.Height = len(entries)*(barHeight+barGap) + 4
	return c
}

func chartLabel(chartID, key string) string {
	switch {
	case chartID == "determination":
		return styleOf(key).label
	case chartID == "section":
		return "HS " + key
	case chartID == "felony" && key == KeyFelony:
		return "Felony"
	case chartID == "felony" && key == KeyNonFelony:
		return "Misdemeanour or infraction"
	case key == KeyUnknown:
		return "Unknown"
	case chartID == "county" && key == strings.ToUpper(key):
		return titleCase(key) // DOJ county names are upper case; the "other" bar is not

	}
	return key
}

// byCount orders entries by conviction count, largest first, then by key.
func byCount(b Breakdown) []Entry {
	out := append([]Entry(nil), b...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Convictions > out[j].Convictions })
	return out
}

func sortedKeys(b Breakdown) []Entry { return append([]Entry(nil), b...) }

// orderBy puts entries in a fixed key order; keys not in order follow.
func orderBy(b Breakdown, order []string) []Entry {
	rank := func(k string) int {
		for i, o := range order {
			if o == k {
				return i
			}
		}
		return len(order)
	}
	out := append([]Entry(nil), b...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Key) < rank(out[j].Key) })
	return out
}

// topN keeps the first n entries and folds the rest into one.
func topN(entries []Entry, n int, otherLabel string) []Entry {
	if len(entries) <= n {
		return entries
	}
	other := Entry{Key: fmt.Sprintf("%s (%d)", otherLabel, len(entries)-n)}
	for _, e := range entries[n:] {
		other.Convictions += e.Convictions
		other.People += e.People
		d := &other.ByDetermination
		d.Dismiss += e.ByDetermination.Dismiss
		d.Reduce += e.ByDetermination.Reduce
		d.HandReview += e.ByDetermination.HandReview
		d.NotEligible += e.ByDetermination.NotEligible
		d.None += e.ByDetermination.None
	}
	return append(entries[:n:n], other)
}

// fmtInt formats n with thousands separators.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func pct(n, of int64) string {
	if of == 0 {
		return "0%"
	}
	return strconv.FormatFloat(100*float64(n)/float64(of), 'f', 1, 64) + "%"
}

func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	f, i := float64(n), 0
	for f >= unit && i < 4 {
		f /= unit
		i++
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + [...]string{"B", "KiB", "MiB", "GiB", "TiB"}[i]
}

// titleCase turns DOJ upper-case county names into "San Joaquin".
func titleCase(s string) string {
	words := strings.Fields(strings.ToLower(s))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1":     func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"fmtInt": fmtInt,
	// css marks a colour from determinationStyles (constants, never input) as safe.
	"css": func(s string) template.CSS { return template.CSS(s) },
}).Parse(reportHTML))

const reportHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prop 64 relief — {{.Scope}} — computed {{.S.Run.ComputeAt}}</title>
<style>
:root { --ink:#1b1f24; --muted:#57606a; --rule:#d0d7de; --panel:#f6f8fa; --accent:#1a3a5f; }
* { box-sizing: border-box; }
body { margin:0; font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color:var(--ink); background:#fff; line-height:1.5; font-size:16px; }
main { max-width: 1040px; margin: 0 auto; padding: 32px 28px 64px; }
header.top { border-bottom: 4px solid var(--accent); padding-bottom: 16px; margin-bottom: 24px; }
header.top .kicker { text-transform: uppercase; letter-spacing: .08em; font-size: 13px; color: var(--muted); margin: 0; }
h1 { font-size: 30px; line-height: 1.2; margin: 4px 0 8px; color: var(--accent); }
h2 { font-size: 21px; margin: 40px 0 8px; color: var(--accent); border-bottom: 1px solid var(--rule); padding-bottom: 4px; }
h3 { font-size: 17px; margin: 24px 0 4px; }
p.meta { margin: 0; color: var(--muted); font-size: 14px; }
p.lead { font-size: 18px; max-width: 60em; }
.cards { display: grid; grid-template-columns: repeat(3, 1fr); gap: 14px; margin: 20px 0 8px; }
.card { background: var(--panel); border: 1px solid var(--rule); border-left: 6px solid var(--accent); border-radius: 6px; padding: 14px 16px; }
.card .value { font-size: 32px; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.card .label { font-weight: 600; margin-top: 4px; }
.card .note { color: var(--muted); font-size: 13px; }
figure { margin: 16px 0 24px; page-break-inside: avoid; break-inside: avoid; }
figcaption { color: var(--muted); font-size: 14px; margin-bottom: 6px; }
svg text { font-family: inherit; font-size: 13px; fill: var(--ink); }
svg text.total { font-variant-numeric: tabular-nums; fill: var(--muted); }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; font-size: 14px; margin: 8px 0 0; padding: 0; list-style: none; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 14px; height: 14px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; font-size: 14px; margin: 8px 0 16px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--rule); vertical-align: top; }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 0 28px; }
footer { margin-top: 48px; color: var(--muted); font-size: 13px; border-top: 1px solid var(--rule); padding-top: 12px; }
@media (max-width: 800px) { .cards { grid-template-columns: 1fr 1fr; } .grid2 { grid-template-columns: 1fr; } }
@media print {
  body { font-size: 11pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .card, table, figure { break-inside: avoid; page-break-inside: avoid; }
  .card { border-left-width: 4px; }
  a { color: inherit; text-decoration: none; }
}
</style>
</head>
<body>
<main>
<header class="top">
<p class="kicker">Proposition 64 · Health &amp; Safety Code 11361.9 · Clearway</p>
<h1>Marijuana conviction relief — {{.Scope}}</h1>
<p class="meta">Eligibility computed as of <strong>{{.S.Run.ComputeAt}}</strong> · run <code>{{.S.Run.RunID}}</code> · engine <code>{{.S.Run.EngineVersion}}</code></p>
</header>

<section aria-labelledby="headline">
<h2 id="headline">At a glance</h2>
<p class="lead">{{.Lead}}</p>
<div class="cards">
{{range .Cards}}<div class="card"><div class="value">{{.Value}}</div><div class="label">{{.Label}}</div><div class="note">{{.Note}}</div></div>
{{end}}</div>
</section>

<section aria-labelledby="charts">
<h2 id="charts">Where relief goes</h2>
<ul class="legend" aria-label="Determination colours">
{{range .Legend}}<li><span class="swatch" style="background:{{css .Color}}"></span>{{.Label}}</li>
{{end}}</ul>
{{range .Charts}}{{template "chart" .}}{{end}}
</section>

<section aria-labelledby="reasons">
<h2 id="reasons">Why: reasons for each decision</h2>
<p class="meta">Each decision records the rule that fired; the same reason text can come from more than one rule.</p>
<table>
<thead><tr><th>Reason</th><th>Rule</th><th>Outcome</th><th class="num">Convictions</th><th class="num">People</th></tr></thead>
<tbody>
{{range .Reasons}}<tr><td>{{.Reason}}</td><td><code>{{.Rule}}</code></td><td><span class="swatch" style="background:{{css .Color}}"></span> {{.Outcome}}</td><td class="num">{{.Convictions}}</td><td class="num">{{.People}}</td></tr>
{{else}}<tr><td colspan="5">No Prop 64 convictions were evaluated.</td></tr>
{{end}}</tbody>
</table>

<h3>What a clean record would mean</h3>
<p class="meta">People whose record would be clear under this run's policies, and if every Prop 64 conviction in scope were dismissed.</p>
<table>
<thead><tr><th></th><th class="num">Policies as configured</th><th class="num">Dismiss all Prop 64</th></tr></thead>
<tbody>
{{range .Relief}}<tr><td>{{.Label}}</td><td class="num">{{.Current}}</td><td class="num">{{.DismissAll}}</td></tr>
{{end}}</tbody>
</table>
</section>

<section aria-labelledby="quality">
<h2 id="quality">Data quality</h2>
<p>{{fmtInt .S.Totals.Rows}} data rows were read; {{fmtInt .S.Totals.Rejects}} were set aside (quarantined) and listed in <code>rejects.csv</code>. People with a quarantined row are sent to hand review rather than decided on an incomplete record.</p>
{{if .Rejects}}<table>
<thead><tr><th>Reason a row was set aside</th><th>Field</th><th class="num">Rows</th></tr></thead>
<tbody>
{{range .Rejects}}<tr><td>{{.Reason}}</td><td>{{.Field}}</td><td class="num">{{.Rows}}</td></tr>
{{end}}</tbody>
</table>{{end}}
</section>

<section aria-labelledby="provenance">
<h2 id="provenance">How this report was made</h2>
<div class="grid2">
<table>
<tbody>
<tr><th>Run id</th><td><code>{{.S.Run.RunID}}</code></td></tr>
<tr><th>Scope</th><td>{{.Scope}}</td></tr>
<tr><th>Compute-at date</th><td>{{.S.Run.ComputeAt}}</td></tr>
<tr><th>Engine version</th><td><code>{{.S.Run.EngineVersion}}</code></td></tr>
</tbody>
</table>
<table>
<tbody>
{{if .HasTime}}<tr><th>Started</th><td>{{.Started}}</td></tr>
<tr><th>Finished</th><td>{{.Finished}}</td></tr>
<tr><th>Duration</th><td>{{.Duration}}</td></tr>
<tr><th>Throughput</th><td>{{.RowsPS}} rows/s</td></tr>{{end}}
<tr><th>People processed</th><td>{{fmtInt .S.Totals.Subjects}}</td></tr>
</tbody>
</table>
</div>
<h3>Input files</h3>
<table>
<thead><tr><th>File</th><th class="num">Size</th><th class="num">Rows</th><th class="num">Set aside</th><th>Header</th></tr></thead>
<tbody>
{{range .Files}}<tr><td><code>{{.Path}}</code></td><td class="num">{{.Size}}</td><td class="num">{{.Rows}}</td><td class="num">{{.Rejects}}</td><td>{{.Header}}</td></tr>
{{end}}</tbody>
</table>
<h3>Policies</h3>
<table>
<thead><tr><th>County</th><th>Policy</th><th>Dismiss</th><th>Reduce</th><th>Content hash (SHA-256)</th></tr></thead>
<tbody>
{{range .Policies}}<tr><td>{{.County}}</td><td>{{.Name}}</td><td>{{.Dismiss}}</td><td>{{.Reduce}}</td><td><code title="{{.Hash}}">{{.ShortHash}}</code></td></tr>
{{else}}<tr><td colspan="5">No policy recorded.</td></tr>
{{end}}</tbody>
</table>
</section>

<footer>Generated by Clearway. Per-conviction decisions with reasons, rule ids and policy hashes are in <code>decisions.csv</code> and <code>decisions.parquet</code>; this report's numbers are in <code>summary.json</code>.</footer>
</main>
</body>
</html>
{{define "chart"}}<figure id="chart-{{.ID}}">
<h3>{{.Title}}</h3>
<figcaption>{{.Caption}}</figcaption>
{{if .Bars}}<svg width="100%" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="{{.Title}}">
{{range .Bars}}<g>
<text x="{{$.LabelWidth}}" dx="-8" y="{{.TextY}}" text-anchor="end">{{.Label}}</text>
{{$y := .Y}}{{range .Segments}}<rect x="{{f1 .X}}" y="{{$y}}" width="{{f1 .W}}" height="22" fill="{{css .Color}}"><title>{{.Title}}</title></rect>
{{end}}<text class="total" x="{{f1 .TotalX}}" y="{{.TextY}}">{{.Total}}</text>
</g>
{{end}}</svg>{{else}}<p class="meta">No convictions.</p>{{end}}
</figure>
{{end}}`
