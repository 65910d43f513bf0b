package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/clearway/clearway/services/evaluator"
)

func evaluateCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	var (
		cfg evaluator.Config
		bf  busFlags
		lf  logFlags
	)
	cfg.RegisterFlags(fs)
	bf.RegisterFlags(fs)
	lf.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: clearway evaluate --brokers HOST:PORT [flags]\n\nDecides the subjects of every run on the subjects topic until SIGTERM.\n\nflags:")
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
	ev, err := evaluator.New(cfg, b, log.With("service", "evaluator"))
	if err != nil {
		return err
	}
	return ev.Run(ctx)
}
