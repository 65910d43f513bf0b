package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strings"
	"time"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/pipeline"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/warehouse"
)

// runConfig holds `clearway run`'s flags.
type runConfig struct {
	County     string
	ComputeAt  string
	Policy     string
	Policies   string
	Format     string
	Out        string
	RunID      string
	Strict     bool
	Memory     byteSize
	TempDir    string
	Workers    int
	Progress   string
	CPUProfile string
	// ClickHouse also loads the results into the warehouse when ClickHouse.Addr is set.
	ClickHouse clickhouseStoreFlags
	HTTP       string // /healthz, /readyz and /metrics while the run runs
}

func (c *runConfig) RegisterFlags(fs *flag.FlagSet) {
	c.Memory = 256 << 20
	fs.StringVar(&c.County, "county", "", "decide only convictions in this county (upper case, as the DOJ writes it, e.g. \"LOS ANGELES\"); default: every county, each with its own policy")
	fs.StringVar(&c.ComputeAt, "compute-at", "", "date the law is applied at, YYYY-MM-DD (default: today, UTC); recorded in every decision")
	fs.StringVar(&c.Policy, "policy", "", "one policy for every county: a gogen eligibility-options .json or a Clearway policy .yaml")
	fs.StringVar(&c.Policies, "policies", "", "folder of county policies (.yaml, each naming its county; default.yaml for the rest)")
	fs.StringVar(&c.Format, "format", pipeline.FormatNative, "output format: native (decisions Parquet+CSV, summary.json, report.html) or gogen (gogen's CSVs and gogen.json)")
	fs.StringVar(&c.Out, "out", "clearway-out", "output folder (created if missing)")
	fs.StringVar(&c.RunID, "run-id", "", "run id recorded with every decision (default: derived from the inputs, policies and compute-at date, so reruns agree)")
	fs.BoolVar(&c.Strict, "strict", false, "fail the run (exit 1) if any row is quarantined")
	fs.Var(&c.Memory, "memory", "memory budget for regrouping input that is not sorted by subject, e.g. 256MiB, 1GiB")
	fs.StringVar(&c.TempDir, "tmp", "", "folder for spill files (default: the system temp folder)")
	fs.IntVar(&c.Workers, "workers", 0, "evaluator goroutines (default: number of CPUs)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write a Go CPU profile of the run to this file (for performance work)")
	c.ClickHouse.register(fs, "also store the results in ClickHouse at this native address, host:port (run `clearway migrate` first)")
	fs.StringVar(&c.HTTP, "http", "", "address of a /healthz, /readyz and /metrics endpoint while the run runs, e.g. 127.0.0.1:8080 (\"\" disables it); the metrics are the ClickHouse inserts of --clickhouse")
	fs.StringVar(&c.Progress, "progress", "auto", "progress display: auto (a bar on a terminal, log lines otherwise), bar, log or none")
}

func (c *runConfig) Validate() error {
	if c.Policy != "" && c.Policies != "" {
		return usagef("--policy and --policies are exclusive: give one policy for all counties or a folder of county policies")
	}
	switch c.Format {
	case pipeline.FormatNative, pipeline.FormatGogen:
	default:
		return usagef("--format %q: want native or gogen", c.Format)
	}
	switch c.Progress {
	case "auto", "bar", "log", "none":
	default:
		return usagef("--progress %q: want auto, bar, log or none", c.Progress)
	}
	if c.County != "" && !record.IsCounty(c.County) {
		return usagef("--county %q is not a California county as the DOJ writes it: %s", c.County, record.CountyHint(c.County))
	}
	if c.Out == "" {
		return usagef("--out must name a folder")
	}
	if c.Workers < 0 {
		return usagef("--workers must be positive")
	}
	return nil
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	var c runConfig
	c.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway run [flags] FILE...\n\nDecides every Prop 64 conviction in the DOJ research files (CSV/.dat, optionally .gz).\n\nflags:")
		fs.PrintDefaults()
	}
	files, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("no input files: give one or more DOJ research files")
	}
	computeAt := record.DateOf(time.Now())
	if c.ComputeAt != "" {
		if computeAt, err = record.ParseISO(c.ComputeAt); err != nil {
			return usagef("--compute-at: %v", err)
		}
	}
	pols, err := loadPolicies(c.Policy, c.Policies)
	if err != nil {
		return err
	}
	eng := &eligibility.Engine{Policies: pols, ComputeAt: computeAt, County: c.County}
	if err := eng.Validate(); err != nil {
		return err
	}
	runID := c.RunID
	if runID == "" {
		runID = deriveRunID(files, pols, computeAt, c.County)
	}
	cfg := pipeline.Config{
		Files:  files,
		Engine: eng,
		Info: report.RunInfo{
			RunID: runID, ComputeAt: computeAt, County: c.County, Policies: pols,
			EngineVersion: eligibility.Version, Started: time.Now().UTC(),
		},
		Format:  c.Format,
		OutDir:  c.Out,
		Workers: c.Workers,
		Group:   doj.GroupOptions{MemoryBudget: int64(c.Memory), TempDir: c.TempDir},
	}
	if c.ClickHouse.Addr != "" || c.HTTP != "" {
		tel, stopMetrics, err := startRunMetrics(ctx, c.HTTP)
		if err != nil {
			return err
		}
		defer stopMetrics()
		if c.ClickHouse.Addr != "" {
			closeCH, err := c.addClickHouse(ctx, &cfg, tel)
			if err != nil {
				return err
			}
			defer closeCH()
		}
	}
	if c.CPUProfile != "" {
		stopProfile, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	setMemoryLimit(int64(c.Memory))
	prog := newProgress(c.Progress, stderr)
	cfg.Progress = prog.update
	st, err := pipeline.Run(ctx, cfg)
	prog.done()
	for _, e := range st.Unreadable {
		fmt.Fprintf(stderr, "clearway run: unreadable input: %v\n", e)
	}
	if err != nil {
		return err
	}
	printRunSummary(stdout, c, runID, st)
	if c.ClickHouse.Addr != "" {
		fmt.Fprintf(stdout, "  clickhouse: stored in %s and %s at %s (clearway report --clickhouse %s --run %s)\n",
			c.ClickHouse.Restricted, c.ClickHouse.Analytics, c.ClickHouse.Addr, c.ClickHouse.Addr, runID)
	}
	switch {
	case len(st.Unreadable) > 0:
		return fmt.Errorf("%d input file(s) could not be read (listed above); the other files were processed", len(st.Unreadable))
	case c.Strict && st.Rejects > 0:
		return fmt.Errorf("--strict: %d row(s) quarantined, see %s", st.Rejects, filepath.Join(c.Out, "rejects.csv"))
	}
	return nil
}

// addClickHouse makes the run also write its results to ClickHouse through a
// warehouse.Writer (one per pipeline attempt) whose inserts tel records; the returned
// func closes the connection.
func (c *runConfig) addClickHouse(ctx context.Context, cfg *pipeline.Config, tel *telemetry.Telemetry) (func(), error) {
	conn, dbs, key, err := c.ClickHouse.open(ctx, true)
	if err != nil {
		return nil, err
	}
	cfg.Extra = func(info report.RunInfo) (report.Output, error) {
		return warehouse.NewWriter(ctx, conn, warehouse.WriterConfig{Databases: dbs, PseudonymKey: key, Info: info,
			Observe: observeInserts(tel)})
	}
	return func() { _ = conn.Close() }, nil
}

// setMemoryLimit keeps the Go heap near the run's budget: the grouper holds at most the
// budget in rows, and the rest of the pipeline needs far less than 128 MiB. Without a
// limit the garbage collector lets the heap grow to twice its live size. GOMEMLIMIT in
// the environment wins.
func setMemoryLimit(budget int64) {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(budget + 128<<20)
	}
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func loadPolicies(file, dir string) (*eligibility.Policies, error) {
	switch {
	case file != "":
		p, err := policy.LoadFile(file)
		if err != nil {
			return nil, err
		}
		return &eligibility.Policies{Default: p}, nil
	case dir != "":
		return policy.LoadDir(dir)
	}
	return policy.DefaultPolicies(), nil
}

// deriveRunID names a run after what decides its results, so that rerunning the same
// files with the same policies and date gives byte-identical decisions.
func deriveRunID(files []string, pols *eligibility.Policies, at record.Date, county string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", at, county)
	for _, f := range files {
		fi, err := os.Stat(f)
		size := int64(-1)
		if err == nil {
			size = fi.Size()
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(f), size)
	}
	var counties []string
	for c := range pols.ByCounty {
		counties = append(counties, c)
	}
	sort.Strings(counties)
	for _, c := range counties {
		fmt.Fprintf(h, "%s=%s\x00", c, pols.ByCounty[c].Hash)
	}
	if pols.Default != nil {
		fmt.Fprintf(h, "default=%s\x00", pols.Default.Hash)
	}
	return "run-" + hex.EncodeToString(h.Sum(nil))[:12]
}

func printRunSummary(w io.Writer, c runConfig, runID string, st pipeline.Stats) {
	rows := int64(0)
	for _, r := range st.Group.Rows {
		rows += r
	}
	secs := st.Duration.Seconds()
	fmt.Fprintf(w, "run %s: %s rows, %s people, %s convictions decided in %.1fs (%s rows/s, %s mode)\n",
		runID, thousands(rows), thousands(st.Subjects), thousands(st.Evaluated), secs,
		thousands(int64(float64(rows)/max(secs, 1e-9))), st.Group.Mode)
	var parts []string
	for _, d := range []eligibility.Determination{eligibility.Dismiss, eligibility.Reduce, eligibility.HandReview, eligibility.NotEligible, eligibility.None} {
		name := d.String()
		if n := st.ByDetermination[name]; n > 0 {
			if name == "" {
				name = "undecided"
			}
			parts = append(parts, fmt.Sprintf("%s %s", name, thousands(n)))
		}
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "  decisions: %s\n", strings.Join(parts, ", "))
	}
	if st.Rejects > 0 {
		fmt.Fprintf(w, "  quarantined rows: %s (see rejects.csv)\n", thousands(st.Rejects))
	}
	if st.Group.Duplicates > 0 {
		fmt.Fprintf(w, "  exact duplicate rows dropped: %s\n", thousands(st.Group.Duplicates))
	}
	var names []string
	if c.Format == pipeline.FormatGogen {
		names = []string{"All_Results*.csv", "All_Results_Condensed*.csv", "Prop64_Results*.csv", "gogen.json"}
	} else {
		names = []string{"decisions.parquet", "decisions.csv", "summary.json", "report.html", "rejects.csv"}
	}
	fmt.Fprintf(w, "  outputs in %s: %s\n", c.Out, strings.Join(names, ", "))
	if c.Format != pipeline.FormatGogen {
		fmt.Fprintf(w, "  report: %s\n", filepath.Join(c.Out, "report.html"))
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// byteSize is a flag value such as 256MiB, 1GiB, 500MB or a plain number of bytes.
type byteSize int64

func (b *byteSize) String() string { return fmt.Sprintf("%dMiB", int64(*b)>>20) }

func (b *byteSize) Set(s string) error {
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	mult := int64(1)
	num := strings.TrimSpace(s)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	var n int64
	if _, err := fmt.Sscan(num, &n); err != nil || n <= 0 {
		return errors.New("want a size such as 256MiB or 1GiB")
	}
	*b = byteSize(n * mult)
	return nil
}
