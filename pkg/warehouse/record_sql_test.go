package warehouse_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// recordedStatement is one statement the warehouse code sent, with its arguments
// (bound into the text client-side by clickhouse-go).
type recordedStatement struct {
	Kind string `json:"kind"` // "query" or "exec"
	SQL  string `json:"sql"`
	Args []any  `json:"args"`
}

// recordingConn passes everything to the real connection and records the statements
// sent with Query, QueryRow and Exec. Batch inserts (PrepareBatch) carry data, not SQL
// to check, and are not recorded.
type recordingConn struct {
	driver.Conn
	mu    sync.Mutex
	stmts []recordedStatement
}

func (c *recordingConn) record(kind, q string, args []any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stmts = append(c.stmts, recordedStatement{Kind: kind, SQL: q, Args: args})
}

func (c *recordingConn) Query(ctx context.Context, q string, args ...any) (driver.Rows, error) {
	c.record("query", q, args)
	return c.Conn.Query(ctx, q, args...)
}

func (c *recordingConn) QueryRow(ctx context.Context, q string, args ...any) driver.Row {
	c.record("query", q, args)
	return c.Conn.QueryRow(ctx, q, args...)
}

func (c *recordingConn) Exec(ctx context.Context, q string, args ...any) error {
	c.record("exec", q, args)
	return c.Conn.Exec(ctx, q, args...)
}

// TestRecordStatements runs the warehouse's code paths against the test server — migrate,
// a run through the writer (inserts, aggregates rebuild), the run's summary and record
// for `clearway report`, the sink's clean-up of older attempts — through a recording
// connection, and writes every statement to $CLEARWAY_RECORD_SQL (JSON) with the
// scratch database names, for scripts/check-clickhouse-current to replay on a current
// ClickHouse release. Skipped unless that variable is set.
func TestRecordStatements(t *testing.T) {
	path := os.Getenv("CLEARWAY_RECORD_SQL")
	if path == "" {
		t.Skip("CLEARWAY_RECORD_SQL is not set (scripts/check-clickhouse-current sets it)")
	}
	ctx := context.Background()
	rec := &recordingConn{Conn: chtest.Connect(t)}
	dbs := migratedOn(t, rec)
	const runID = "2024-07-statewide"
	runWithClickHouse(t, rec, dbs, runID)
	if _, err := warehouse.LoadSummary(ctx, rec, dbs, runID); err != nil {
		t.Fatalf("LoadSummary: %v", err)
	}
	if _, err := warehouse.LoadRun(ctx, rec, dbs, runID); err != nil {
		t.Fatalf("LoadRun: %v", err)
	}
	if err := warehouse.RebuildAggregates(ctx, rec, dbs, runID); err != nil {
		t.Fatalf("RebuildAggregates: %v", err)
	}
	if err := warehouse.DeleteOlderVersions(ctx, rec, dbs, runID, 0); err != nil {
		t.Fatalf("DeleteOlderVersions: %v", err)
	}
	for i, s := range rec.stmts {
		for _, a := range s.Args {
			switch a.(type) {
			case string, int, int64, uint64, uint32:
			default:
				t.Fatalf("statement %d has an argument of type %T the replay cannot bind: %s", i, a, s.SQL)
			}
		}
	}
	b, err := json.MarshalIndent(map[string]any{
		"restricted": dbs.Restricted, "analytics": dbs.Analytics, "statements": rec.stmts,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "recorded %d statements in %s\n", len(rec.stmts), path)
}
