// Package monitoring holds the metrics contract (docs/metrics.md) in a form code can
// check: the Grafana dashboard and the Prometheus alert rules under deploy/ may refer
// only to metrics and labels the contract lists, and the services must export exactly
// those (a scrape-based test compares Contract with a live /metrics page).
package monitoring

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// Metric is one row of the contract table.
type Metric struct {
	Name       string   // Prometheus name, e.g. clearway_batch_duration_seconds
	Type       string   // counter, gauge or histogram
	Unit       string   // UCUM unit of the OpenTelemetry instrument, e.g. s, By, {record}
	Labels     []string // labels the service sets (target labels come on top)
	Instrument string   // OpenTelemetry instrument name, e.g. clearway.batch.duration
}

// TargetLabels are the labels Prometheus and the OpenTelemetry exporter add to every
// series, so any query may filter or group by them.
var TargetLabels = []string{"job", "instance", "namespace", "pod", "container", "service", "otel_scope_name", "otel_scope_version"}

// Contract is the set of metrics, by Prometheus name.
type Contract map[string]Metric

// LoadContract reads the contract from a markdown file (docs/metrics.md).
func LoadContract(path string) (Contract, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("metrics contract: %w", err)
	}
	c, err := ParseContract(data)
	if err != nil {
		return nil, fmt.Errorf("metrics contract %s: %w", path, err)
	}
	return c, nil
}

// ParseContract reads the metrics table of docs/metrics.md: the rows whose first cell
// is a back-quoted metric name, with columns name | type | unit | labels | instrument |
// meaning. Labels are back-quoted and comma-separated, or "none".
func ParseContract(markdown []byte) (Contract, error) {
	c := Contract{}
	sc := bufio.NewScanner(bytes.NewReader(markdown))
	for line := 1; sc.Scan(); line++ {
		cells := strings.Split(strings.Trim(strings.TrimSpace(sc.Text()), "|"), "|")
		if len(cells) < 6 {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		name, ok := quoted(cells[0])
		if !ok || name == "Prometheus name" {
			continue
		}
		m := Metric{Name: name, Type: cells[1]}
		m.Unit, _ = quoted(cells[2])
		m.Instrument, _ = quoted(cells[4])
		if cells[3] != "none" {
			for _, l := range strings.Split(cells[3], ",") {
				l, ok := quoted(strings.TrimSpace(l))
				if !ok {
					return nil, fmt.Errorf("line %d: labels %q: want `label`, `label` or none", line, cells[3])
				}
				m.Labels = append(m.Labels, l)
			}
		}
		if err := m.valid(); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if _, dup := c[name]; dup {
			return nil, fmt.Errorf("line %d: %s listed twice", line, name)
		}
		c[name] = m
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c) == 0 {
		return nil, fmt.Errorf("no metrics table")
	}
	return c, nil
}

func quoted(s string) (string, bool) {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return s[1 : len(s)-1], true
	}
	return "", false
}

// valid checks the naming rules the OpenTelemetry Prometheus exporter implies, so the
// table cannot promise a name the exporter would never produce.
func (m Metric) valid() error {
	if m.Instrument == "" || m.Unit == "" {
		return fmt.Errorf("%s: needs a unit and an instrument name", m.Name)
	}
	want := strings.ReplaceAll(m.Instrument, ".", "_")
	switch m.Unit {
	case "s":
		want += "_seconds"
	case "By":
		want += "_bytes"
	}
	switch m.Type {
	case "counter":
		want += "_total"
	case "gauge", "histogram":
	default:
		return fmt.Errorf("%s: type %q, want counter, gauge or histogram", m.Name, m.Type)
	}
	if m.Name != want {
		return fmt.Errorf("%s: the exporter names instrument %s (unit %s, %s) %s", m.Name, m.Instrument, m.Unit, m.Type, want)
	}
	return nil
}

// Series lists the series names a metric exposes: a histogram's _bucket, _sum and
// _count, otherwise the name itself.
func (m Metric) Series() []string {
	if m.Type == "histogram" {
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

// Resolve finds the metric a series name belongs to, and the labels a query may use on
// that series (the metric's, the target labels, and le on a histogram's buckets).
func (c Contract) Resolve(series string) (Metric, []string, bool) {
	for _, m := range c {
		if !slices.Contains(m.Series(), series) {
			continue
		}
		ls := append(slices.Clone(m.Labels), TargetLabels...)
		if strings.HasSuffix(series, "_bucket") {
			ls = append(ls, "le")
		}
		return m, ls, true
	}
	return Metric{}, nil, false
}

// Builtin series are Prometheus' own, always present for every target.
var Builtin = map[string][]string{"up": TargetLabels}

// CheckExpr parses a PromQL expression and reports every selector of a series the
// contract does not define, every label matcher on a label the series does not carry,
// and every by/on label no series under it carries (grouping by a missing label silently
// merges everything into one series). It returns the series names used.
func (c Contract) CheckExpr(expr string) ([]string, []error) {
	p := parser.NewParser(parser.Options{})
	e, err := p.ParseExpr(expr)
	if err != nil {
		return nil, []error{fmt.Errorf("parse: %w", err)}
	}
	var used []string
	var errs []error
	labelsOf := func(name string) ([]string, bool) {
		if ls, ok := Builtin[name]; ok {
			return ls, true
		}
		_, ls, ok := c.Resolve(name)
		return ls, ok
	}
	// selectorLabels is the union of labels the series under n may carry.
	selectorLabels := func(n parser.Node) map[string]bool {
		set := map[string]bool{}
		parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				ls, _ := labelsOf(vs.Name)
				for _, l := range ls {
					set[l] = true
				}
			}
			return nil
		})
		return set
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.VectorSelector:
			if n.Name == "" {
				errs = append(errs, fmt.Errorf("selector %s has no metric name", n))
				return nil
			}
			used = append(used, n.Name)
			ls, ok := labelsOf(n.Name)
			if !ok {
				errs = append(errs, fmt.Errorf("metric %s is not in the contract (docs/metrics.md)", n.Name))
				return nil
			}
			for _, m := range n.LabelMatchers {
				if m.Name != "__name__" && !slices.Contains(ls, m.Name) {
					errs = append(errs, fmt.Errorf("%s has no label %s", n.Name, m.Name))
				}
			}
		case *parser.AggregateExpr:
			if n.Without {
				return nil
			}
			have := selectorLabels(n.Expr)
			for _, l := range n.Grouping {
				if !have[l] {
					errs = append(errs, fmt.Errorf("%s by (%s): no series under it has label %s", n.Op, strings.Join(n.Grouping, ", "), l))
				}
			}
		case *parser.BinaryExpr:
			if n.VectorMatching == nil || !n.VectorMatching.On {
				return nil
			}
			for _, side := range []parser.Node{n.LHS, n.RHS} {
				have := selectorLabels(side)
				for _, l := range n.VectorMatching.MatchingLabels {
					if !have[l] {
						errs = append(errs, fmt.Errorf("on (%s): %s has no label %s", strings.Join(n.VectorMatching.MatchingLabels, ", "), side, l))
					}
				}
			}
		}
		return nil
	})
	return used, errs
}
