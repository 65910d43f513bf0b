package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/warehouse"
)

// Environment variables of the ClickHouse commands. The password and the pseudonym
// secret are read from the environment only: on a command line `ps` would show them.
const (
	envCHUser       = "CLEARWAY_CH_USER"
	envCHPassword   = "CLEARWAY_CH_PASSWORD"
	envPseudonymKey = "CLEARWAY_PSEUDONYM_KEY"
)

// devPseudonymKey is the pseudonym secret of --dev runs against a local server. It is
// public (it is in the source), so pseudonyms made with it protect nothing.
const devPseudonymKey = "clearway-dev-pseudonym-key-NOT-SECRET"

// clickhouseFlags are the connection flags shared by migrate, run and report.
type clickhouseFlags struct {
	Addr       string
	User       string
	Restricted string
	Analytics  string
}

func (c *clickhouseFlags) register(fs *flag.FlagSet, addrUsage string) {
	fs.StringVar(&c.Addr, "clickhouse", "", addrUsage)
	fs.StringVar(&c.User, "ch-user", envOr(envCHUser, "clearway"), "ClickHouse writer user (env "+envCHUser+"); the password comes from "+envCHPassword+" (dev default: clearway)")
	fs.StringVar(&c.Restricted, "restricted-db", warehouse.DefaultDatabases.Restricted, "database for case-level data with identities")
	fs.StringVar(&c.Analytics, "analytics-db", warehouse.DefaultDatabases.Analytics, "database for pseudonymised data (the analyst's)")
}

func (c *clickhouseFlags) databases() (warehouse.Databases, error) {
	d := warehouse.Databases{Restricted: c.Restricted, Analytics: c.Analytics}
	if err := d.Validate(); err != nil {
		return d, usagef("%v", err)
	}
	return d, nil
}

func (c *clickhouseFlags) dial(ctx context.Context) (driver.Conn, error) {
	return warehouse.Dial(ctx, c.Addr, c.account(), "")
}

func (c *clickhouseFlags) account() warehouse.Account {
	return warehouse.Account{User: c.User, Password: envOr(envCHPassword, "clearway")}
}

// clickhouseStoreFlags are the flags of the commands that store results in ClickHouse
// (run, sink): the connection flags and --dev for the pseudonym key.
type clickhouseStoreFlags struct {
	clickhouseFlags
	Dev bool
}

func (c *clickhouseStoreFlags) register(fs *flag.FlagSet, addrUsage string) {
	c.clickhouseFlags.register(fs, addrUsage+"; the pseudonym secret comes from "+envPseudonymKey)
	fs.BoolVar(&c.Dev, "dev", false, "with --clickhouse and no "+envPseudonymKey+": use the public development pseudonym key (local try-outs only)")
}

// open checks the databases and the pseudonym key, then connects: checking that the
// server answers (a command), or not (a service, which retries while it is down).
func (c *clickhouseStoreFlags) open(ctx context.Context, check bool) (driver.Conn, warehouse.Databases, []byte, error) {
	dbs, err := c.databases()
	if err != nil {
		return nil, dbs, nil, err
	}
	key, err := pseudonymKey(c.Dev)
	if err != nil {
		return nil, dbs, nil, err
	}
	var conn driver.Conn
	if check {
		conn, err = c.dial(ctx)
	} else {
		conn, err = warehouse.Open(c.Addr, c.account(), "")
	}
	if err != nil {
		return nil, dbs, nil, err
	}
	return conn, dbs, key, nil
}

// pseudonymKey returns the deployment secret: CLEARWAY_PSEUDONYM_KEY as hex (at least
// 16 bytes), or the public development key with --dev.
func pseudonymKey(dev bool) ([]byte, error) {
	v := os.Getenv(envPseudonymKey)
	switch {
	case v != "":
		k, err := hex.DecodeString(v)
		if err != nil || len(k) < warehouse.MinPseudonymKeyLen {
			return nil, usagef("%s must be at least %d bytes as hex (e.g. `openssl rand -hex 32`)", envPseudonymKey, warehouse.MinPseudonymKeyLen)
		}
		return k, nil
	case dev:
		return []byte(devPseudonymKey), nil
	}
	return nil, usagef("%s is not set: the analytics pseudonyms need the deployment secret (hex, e.g. `openssl rand -hex 32`); for a local try-out pass --dev to use the public development key", envPseudonymKey)
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func migrateCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	var ch clickhouseFlags
	ch.register(fs, "ClickHouse native address, host:port (required), e.g. 127.0.0.1:9000")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway migrate --clickhouse ADDR [flags]\n\nApplies the ClickHouse schema (schemas/clickhouse/NNN_*.sql) that is not applied yet, in order,\nand records each migration (name, checksum, applied_at); re-running is a no-op.\n\nflags:")
		fs.PrintDefaults()
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if ch.Addr == "" {
		return usagef("--clickhouse ADDR is required")
	}
	dbs, err := ch.databases()
	if err != nil {
		return err
	}
	conn, err := ch.dial(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	_, version, err := warehouse.ServerVersion(ctx, conn)
	if err != nil {
		return err
	}
	res, err := warehouse.Migrate(ctx, conn, dbs)
	for _, r := range res {
		fmt.Fprintf(stdout, "%-28s %s\n", r.Name, r.Action)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ClickHouse %s at %s: schema up to date (%s, %s)\n", version, ch.Addr, dbs.Restricted, dbs.Analytics)
	return nil
}
