package chtest_test

import (
	"context"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// ClickHouse error codes the access rules produce (ErrorCodes.cpp).
const (
	codeReadonly     = 164 // READONLY: writes, DDL, SET, table functions
	codeAccessDenied = 291 // DATABASE_ACCESS_DENIED: outside allow_databases
)

func TestWriterSelectsVersion(t *testing.T) {
	conn := chtest.Connect(t)

	var version string
	if err := conn.QueryRow(context.Background(), "SELECT version()").Scan(&version); err != nil {
		t.Fatalf("SELECT version(): %v", err)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+`).MatchString(version) {
		t.Fatalf("SELECT version() = %q, want a dotted version such as 18.16.1", version)
	}
	t.Logf("server version %s", version)
}

// TestWriterCreatesAndInserts checks the writer's rights and the insert path that works
// on 18.16 and current servers alike: a batch whose INSERT names its columns.
func TestWriterCreatesAndInserts(t *testing.T) {
	conn := chtest.Connect(t)
	db := chtest.Scratch(t, conn)
	ctx := context.Background()

	if err := conn.Exec(ctx, "CREATE TABLE "+db+".counties (code UInt8, name String, as_of Date) ENGINE = MergeTree ORDER BY code"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".counties (code, name, as_of)")
	if err != nil {
		t.Fatalf("prepare batch: %v", err)
	}
	asOf := time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)
	rows := []struct {
		code uint8
		name string
	}{{1, "ALAMEDA"}, {19, "LOS ANGELES"}, {38, "SAN FRANCISCO"}}
	for _, r := range rows {
		if err := batch.Append(r.code, r.name, asOf); err != nil {
			t.Fatalf("append %d: %v", r.code, err)
		}
	}
	if err := batch.Send(); err != nil {
		t.Fatalf("send batch: %v", err)
	}

	var (
		count uint64
		names string
		maxAs time.Time
	)
	err = conn.QueryRow(ctx, "SELECT count(), arrayStringConcat(groupArray(name), '|'), max(as_of) FROM (SELECT name, as_of FROM "+db+".counties ORDER BY code)").
		Scan(&count, &names, &maxAs)
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if count != 3 || names != "ALAMEDA|LOS ANGELES|SAN FRANCISCO" || !maxAs.Equal(asOf) {
		t.Fatalf("read back count=%d names=%q max(as_of)=%v; want 3, %q, %v",
			count, names, maxAs, "ALAMEDA|LOS ANGELES|SAN FRANCISCO", asOf)
	}
}

func TestAnalystIsReadOnlyOnAnalytics(t *testing.T) {
	writer := chtest.Connect(t)
	ctx := context.Background()
	// Normally the migrations create it; the analyst cannot, and cannot log in to it
	// before it exists.
	if err := writer.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+chtest.AnalyticsDatabase); err != nil {
		t.Fatalf("create %s as writer: %v", chtest.AnalyticsDatabase, err)
	}
	// A database the analyst must not read, holding a table so that a refusal cannot
	// be mistaken for "no such table".
	restricted := chtest.Scratch(t, writer)
	if err := writer.Exec(ctx, "CREATE TABLE "+restricted+".people (id UInt32) ENGINE = Memory"); err != nil {
		t.Fatalf("create restricted table: %v", err)
	}

	// Should the rules ever let the CREATE TABLE below through, the test fails; this
	// keeps that failure from leaking into the next run.
	t.Cleanup(func() {
		_ = writer.Exec(context.Background(), "DROP TABLE IF EXISTS "+chtest.AnalyticsDatabase+".chtest_denied")
	})

	analyst := chtest.ConnectAnalyst(t)

	// The positive control: the analyst's connection works and lands in analytics, so
	// the refusals below are the access rules and not a broken login.
	var current string
	if err := analyst.QueryRow(ctx, "SELECT currentDatabase()").Scan(&current); err != nil {
		t.Fatalf("analyst SELECT currentDatabase(): %v", err)
	}
	if current != chtest.AnalyticsDatabase {
		t.Fatalf("analyst's current database = %q, want %q", current, chtest.AnalyticsDatabase)
	}

	denied := []struct {
		name  string
		query string
		code  int32
	}{
		{"create table in analytics", "CREATE TABLE " + chtest.AnalyticsDatabase + ".chtest_denied (a UInt8) ENGINE = Memory", codeReadonly},
		{"create database", "CREATE DATABASE chtest_denied", codeReadonly},
		{"read another database", "SELECT count() FROM " + restricted + ".people", codeAccessDenied},
		// start-clickhouse's config.xml keeps the query logs, which hold other users'
		// query text, out of the system database that 18.16 shows everyone.
		{"read the query log", "SELECT count() FROM clearway_querylog.query_log", codeAccessDenied},
		{"change a setting", "SET max_memory_usage = 100000000000", codeReadonly},
		{"table function", "SELECT * FROM numbers(1)", codeReadonly},
	}
	for _, tc := range denied {
		t.Run(tc.name, func(t *testing.T) {
			err := analyst.Exec(ctx, tc.query)
			var ex *clickhouse.Exception
			if !errors.As(err, &ex) {
				t.Fatalf("analyst %q: err = %v, want ClickHouse exception code %d", tc.query, err, tc.code)
			}
			if ex.Code != tc.code {
				t.Fatalf("analyst %q: code %d (%s), want %d", tc.query, ex.Code, ex.Message, tc.code)
			}
		})
	}

	// The refused CREATE TABLE must have left nothing behind.
	var exists uint8
	if err := writer.QueryRow(ctx, "EXISTS TABLE "+chtest.AnalyticsDatabase+".chtest_denied").Scan(&exists); err != nil {
		t.Fatalf("EXISTS TABLE as writer: %v", err)
	}
	if exists != 0 {
		t.Fatalf("the analyst's refused CREATE TABLE left %s.chtest_denied behind", chtest.AnalyticsDatabase)
	}
}
