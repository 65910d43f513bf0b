// Package chtest connects tests to a real ClickHouse server, normally the one that
// scripts/start-clickhouse runs on 127.0.0.1.
//
// Tests find the server through CLEARWAY_CLICKHOUSE_ADDR (host:port of the native
// protocol, e.g. 127.0.0.1:9000) and skip, saying how to start one, when it is unset.
// The users and passwords default to the dev defaults of scripts/start-clickhouse and
// can be overridden with the same variables the script reads:
//
//	CLEARWAY_CH_USER, CLEARWAY_CH_PASSWORD            writer   (clearway / clearway)
//	CLEARWAY_ANALYST_USER, CLEARWAY_ANALYST_PASSWORD  analyst  (analyst / analyst)
//
// Connections use the native protocol: it is the one clickhouse-go speaks to both
// Debian's ClickHouse 18.16 and current releases (its HTTP transport fails on 18.16).
package chtest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Environment variables read by this package.
const (
	EnvAddr            = "CLEARWAY_CLICKHOUSE_ADDR"
	EnvWriterUser      = "CLEARWAY_CH_USER"
	EnvWriterPassword  = "CLEARWAY_CH_PASSWORD"
	EnvAnalystUser     = "CLEARWAY_ANALYST_USER"
	EnvAnalystPassword = "CLEARWAY_ANALYST_PASSWORD"
)

// AnalyticsDatabase is the only database the analyst user may read.
const AnalyticsDatabase = "clearway_analytics"

// pingTimeout bounds the first round trip: a server that is up answers on loopback in
// milliseconds, and a test should fail fast rather than hang when it is not.
const pingTimeout = 10 * time.Second

// Account is a ClickHouse user name and password.
type Account struct {
	User     string
	Password string
}

// Writer returns the writer account: CLEARWAY_CH_USER / CLEARWAY_CH_PASSWORD, or the
// dev defaults of scripts/start-clickhouse.
func Writer() Account {
	return Account{
		User:     envOr(EnvWriterUser, "clearway"),
		Password: envOr(EnvWriterPassword, "clearway"),
	}
}

// Analyst returns the read-only analyst account: CLEARWAY_ANALYST_USER /
// CLEARWAY_ANALYST_PASSWORD, or the dev defaults of scripts/start-clickhouse.
func Analyst() Account {
	return Account{
		User:     envOr(EnvAnalystUser, "analyst"),
		Password: envOr(EnvAnalystPassword, "analyst"),
	}
}

// Addr returns the server's native-protocol address from CLEARWAY_CLICKHOUSE_ADDR, or
// skips the test when it is unset.
func Addr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv(EnvAddr)
	if addr == "" {
		t.Skipf("%s is not set: no ClickHouse server to test against; run scripts/start-clickhouse and export %s=127.0.0.1:9000", EnvAddr, EnvAddr)
	}
	return addr
}

// Connect returns a connection as the writer, in the server's default database. It
// skips when CLEARWAY_CLICKHOUSE_ADDR is unset, fails the test when the server does
// not answer, and closes the connection when the test ends.
func Connect(t testing.TB) driver.Conn {
	t.Helper()
	return ConnectAs(t, Writer(), "")
}

// ConnectAnalyst returns a connection as the analyst, in AnalyticsDatabase, which must
// already exist (the analyst may not create it). Otherwise it behaves like Connect.
func ConnectAnalyst(t testing.TB) driver.Conn {
	t.Helper()
	return ConnectAs(t, Analyst(), AnalyticsDatabase)
}

// ConnectAs returns a connection as account, with database as the current database
// ("" means the server's default). Otherwise it behaves like Connect.
func ConnectAs(t testing.TB, account Account, database string) driver.Conn {
	t.Helper()
	addr := Addr(t)
	conn, err := clickhouse.Open(&clickhouse.Options{
		Addr:     []string{addr},
		Protocol: clickhouse.Native,
		Auth: clickhouse.Auth{
			Database: database,
			Username: account.User,
			Password: account.Password,
		},
		DialTimeout: 5 * time.Second,
		ReadTimeout: time.Minute,
	})
	if err != nil {
		t.Fatalf("clickhouse: open %s as %s: %v", addr, account.User, err)
	}
	t.Cleanup(func() { _ = conn.Close() })

	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("clickhouse: %s as %s does not answer (is scripts/start-clickhouse running, with the same passwords?): %v",
			addr, account.User, err)
	}
	return conn
}

// Scratch creates an empty database with a name unique to this test run, as the
// writer, and drops it when the test ends. Tests that create tables use it so that
// packages testing in parallel against one server never see each other's tables.
func Scratch(t testing.TB, conn driver.Conn) string {
	t.Helper()
	name := fmt.Sprintf("chtest_%d_%d", os.Getpid(), time.Now().UnixNano())
	ctx := context.Background()
	if err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("clickhouse: create scratch database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// The test's own context may be cancelled by now; the drop must still run.
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name); err != nil {
			t.Errorf("clickhouse: drop scratch database %s: %v", name, err)
		}
	})
	return name
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
