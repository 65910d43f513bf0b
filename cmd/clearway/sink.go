package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/clearway/clearway/services/sink"
)

// sinkFlags are the sink's flags: the service's own and the ClickHouse flags `clearway
// run` has.
type sinkFlags struct {
	sink.Config
	ClickHouse clickhouseStoreFlags
}

func (f *sinkFlags) RegisterFlags(fs *flag.FlagSet) {
	f.Config.RegisterFlags(fs)
	f.ClickHouse.register(fs, "also store every run in ClickHouse at this native address, host:port (run `clearway migrate` first); offsets are committed only after ClickHouse acknowledged")
}

func (f *sinkFlags) Validate() error {
	if f.Out == "" && f.ClickHouse.Addr == "" {
		return fmt.Errorf("give --out DIR, --clickhouse ADDR or both: nowhere to store runs")
	}
	if _, err := f.ClickHouse.databases(); err != nil {
		return err
	}
	return f.Config.Validate()
}

func sinkCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	var f sinkFlags
	env, err := setupService("sink", "usage: clearway sink --brokers HOST:PORT [--out DIR] [--clickhouse HOST:PORT] [flags]\n\n"+
		"Stores decisions until SIGTERM: writes each complete run to DIR/<run-id>/ and/or inserts it into ClickHouse.\n"+
		"Spools and completion markers are kept in --state (default: --out, or "+sink.DefaultState+").",
		&f, args, stderr, noArgs)
	if err != nil {
		return err
	}
	defer env.close()
	cfg := f.Config
	if f.ClickHouse.Addr != "" {
		conn, dbs, key, err := f.ClickHouse.open(ctx, false)
		if err != nil {
			return err
		}
		defer conn.Close()
		cfg.Warehouse = &sink.Warehouse{Conn: conn, Databases: dbs, PseudonymKey: key}
	}
	s, err := sink.New(cfg, env.bus, env.log.With("service", "sink"))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
