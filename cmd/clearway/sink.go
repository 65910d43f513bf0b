package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/clearway/clearway/services/sink"
)

func sinkCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	var (
		cfg sink.Config
		bf  busFlags
		lf  logFlags
	)
	cfg.RegisterFlags(fs)
	bf.RegisterFlags(fs)
	lf.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway sink --brokers HOST:PORT --out DIR [flags]\n\nStores decisions and writes each complete run to DIR/<run-id>/ until SIGTERM.\n\nflags:")
		fs.PrintDefaults()
	}
	rest, err := parseServiceFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected arguments %q", rest)
	}
	if err := cfg.Validate(); err != nil {
		return usagef("%v", err)
	}
	log, err := lf.install(stderr)
	if err != nil {
		return err
	}
	b, closeBus, err := kafkaBus(bf.Kafka)
	if err != nil {
		return err
	}
	defer closeBus()
	s, err := sink.New(cfg, b, log.With("service", "sink"))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
