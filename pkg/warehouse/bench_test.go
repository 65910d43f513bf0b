package warehouse_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/doj"
	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/record"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// syntheticResults builds n subjects with k evaluated convictions each: enough shape
// for the writer (cells, events, decisions) without running the engine, so the
// benchmark measures the writer and the server.
func syntheticResults(n, k int) []eligibility.Result {
	counties := record.Counties()
	out := make([]eligibility.Result, n)
	cells := make([]string, doj.NumColumns)
	for i := range out {
		cells[doj.ColRaceDescr] = []string{"WHITE", "BLACK", "HISPANIC", "ASIAN"}[i%4]
		cells[doj.ColGender] = []string{"MALE", "FEMALE"}[i%2]
		cells[doj.ColPriName] = "DOE,JANE"
		cells[doj.ColCIINumber] = fmt.Sprintf("A%08d", i)
		s := &record.Subject{ID: fmt.Sprintf("S%09d", i), Events: make([]record.Event, k)}
		r := eligibility.Result{Subject: s, ConvictionRows: make([]bool, k),
			Facts: eligibility.Facts{DOB: record.MakeDate(1960+i%40, 1+i%12, 1+i%28)}}
		for j := range k {
			d := record.MakeDate(1990+(i+j)%30, 1+j%12, 1+i%28)
			s.Events[j] = record.Event{Src: record.Source{Line: int64(i*k + j + 2)}, Cells: record.CellsOf(cells), Date: d, Felony: j%3 == 0}
			r.ConvictionRows[j] = true
			det := eligibility.Determination(1 + (i+j)%4)
			r.Evaluated = append(r.Evaluated, eligibility.Conviction{
				Index: j, Section: (i + j) % eligibility.NumSections, Felony: j%3 == 0, Date: d,
				CaseNumbers: fmt.Sprintf("CASE%07d", i), County: counties[(i*7+j)%len(counties)].Name,
				Policy: "default", PolicyHash: "abc123",
				Decision: eligibility.Decision{Determination: det, Reason: "Dismiss all HS 11357 convictions", RuleID: "baseline.dismiss"},
			})
		}
		out[i] = r
	}
	return out
}

// BenchmarkWriterInsert measures decision rows per second through the writer into the
// local server: both databases, the people rows and the aggregate rebuild of Close
// included (decisions/s), and the same up to the last insert's acknowledgement, without
// the run's completion in Close (insert-decisions/s: what a sink sees while a long run
// streams). Besides wall-clock rates it reports the CPU the writer's process
// spent per 1M decisions (client-cpu-s/1M, user+sys from getrusage: the writer and
// clickhouse-go, the Go runtime included) and, when CLEARWAY_BENCH_CLICKHOUSE_PID
// names the server's process (on this machine), the server's CPU per 1M decisions
// (server-cpu-s/1M, from /proc/PID/stat; the server must not be busy with other
// work). CPU time stays meaningful when other processes share the cores.
func BenchmarkWriterInsert(b *testing.B) {
	conn, dbs := migratedB(b)
	const subjects, perSubject = 100_000, 3
	results := syntheticResults(subjects, perSubject)
	ctx := context.Background()
	at := record.MakeDate(2024, 7, 1)
	serverPID := os.Getenv("CLEARWAY_BENCH_CLICKHOUSE_PID")
	b.ResetTimer()
	var rows int64
	var inserting time.Duration
	start := time.Now()
	client0, server0 := processCPU(b), serverCPU(b, serverPID)
	for i := range b.N {
		t0 := time.Now()
		w, err := warehouse.NewWriter(ctx, conn, warehouse.WriterConfig{
			Databases: dbs, PseudonymKey: testKey, BatchRows: warehouse.MaxBatchRows,
			Info: report.RunInfo{RunID: fmt.Sprintf("bench-%d", i), ComputeAt: at, Started: time.Now()},
		})
		if err != nil {
			b.Fatal(err)
		}
		for j := range results {
			if err := w.Subject(&results[j]); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		inserting += time.Since(t0)
		if err := w.Close(ctx, report.RunStats{}); err != nil {
			b.Fatal(err)
		}
		rows += subjects * perSubject
	}
	b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "decisions/s")
	b.ReportMetric(float64(rows)/inserting.Seconds(), "insert-decisions/s")
	perM := 1e6 / float64(rows)
	b.ReportMetric((processCPU(b)-client0).Seconds()*perM, "client-cpu-s/1M")
	if serverPID != "" {
		b.ReportMetric((serverCPU(b, serverPID)-server0).Seconds()*perM, "server-cpu-s/1M")
	}
}

// processCPU is the user+sys CPU time this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serverCPU is the user+sys CPU time process pid has used, from /proc/pid/stat (0 when
// pid is ""). Linux reports it in clock ticks of 1/100 s.
func serverCPU(b *testing.B, pid string) time.Duration {
	if pid == "" {
		return 0
	}
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		b.Fatalf("CLEARWAY_BENCH_CLICKHOUSE_PID: %v", err)
	}
	// The command name (field 2) may hold spaces; fields after its ')' are plain.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	const utime, stime = 11, 12 // fields 14 and 15, counted from field 3
	var ticks int64
	for _, i := range []int{utime, stime} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			b.Fatalf("CLEARWAY_BENCH_CLICKHOUSE_PID: /proc/%s/stat: %v", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100)
}

// BenchmarkCountyAggregate10M generates 10M decision rows on the server (INSERT …
// SELECT from numbers()), rebuilds their aggregates as Writer.Close would, and measures
// the county-level aggregate of the analysts' guide, deduplicated with FINAL, with
// argMax, and from the pre-aggregated table.
func BenchmarkCountyAggregate10M(b *testing.B) {
	conn, dbs := migratedB(b)
	ctx := context.Background()
	const n = 10_000_000
	gen := "INSERT INTO " + dbs.Analytics + ".decisions (run_id, person, conviction, county, section, felony, determination, reason, rule_id, race, gender, age_band, conviction_year, policy, policy_hash, compute_at, version) " +
		"SELECT 'bench10m', SHA256(toString(intDiv(number, 2))), toUInt16(number % 2), " +
		"concat('COUNTY', toString(number % 58)), toString(11357 + number % 4), toUInt8(number % 3 = 0), " +
		"toInt8(1 + number % 4), 'reason', 'rule', ['WHITE','BLACK','HISPANIC','ASIAN'][1 + number % 4], " +
		"['MALE','FEMALE'][1 + number % 2], '30-39', toUInt16(1980 + number % 40), 'default', 'h', toDate('2024-07-01'), 1 " +
		"FROM numbers(" + fmt.Sprint(n) + ")"
	t0 := time.Now()
	if err := conn.Exec(ctx, gen); err != nil {
		b.Fatalf("generate: %v", err)
	}
	b.Logf("generated %d rows in %s", n, time.Since(t0).Round(time.Millisecond))
	t0 = time.Now()
	if err := warehouse.RebuildAggregates(ctx, conn, dbs, "bench10m"); err != nil {
		b.Fatal(err)
	}
	b.Logf("rebuilt the aggregates of %d rows in %s", n, time.Since(t0).Round(time.Millisecond))
	for _, q := range []struct{ name, sql string }{
		{"final", "SELECT county, count(), countIf(determination IN ('dismiss','reduce')) FROM " + dbs.Analytics + ".decisions_dedup WHERE run_id = 'bench10m' GROUP BY county"},
		{"argMax", "SELECT county, count(), countIf(d IN ('dismiss','reduce')) FROM (SELECT person, conviction, argMax(county, version) AS county, argMax(determination, version) AS d FROM " + dbs.Analytics + ".decisions WHERE run_id = 'bench10m' GROUP BY person, conviction) GROUP BY county"},
		{"aggregate", "SELECT county, sum(convictions) AS c FROM " + dbs.Analytics + ".conviction_groups WHERE run_id = 'bench10m' GROUP BY county"},
	} {
		b.Run(q.name, func(b *testing.B) {
			for range b.N {
				rows, err := conn.Query(ctx, q.sql)
				if err != nil {
					b.Fatal(err)
				}
				k := 0
				for rows.Next() {
					k++
				}
				rows.Close()
				if k != 58 {
					b.Fatalf("%d counties, want 58", k)
				}
			}
		})
	}
}

func migratedB(b *testing.B) (conn driver.Conn, dbs warehouse.Databases) {
	b.Helper()
	conn = chtest.Connect(b)
	dbs = warehouse.Databases{Restricted: chtest.Scratch(b, conn), Analytics: chtest.Scratch(b, conn)}
	if _, err := warehouse.Migrate(context.Background(), conn, dbs); err != nil {
		b.Fatalf("migrate: %v", err)
	}
	return conn, dbs
}
