package main

import (
	"context"
	"io"

	"github.com/clearway/clearway/services/sink"
)

func sinkCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	var cfg sink.Config
	env, err := setupService("sink", "usage: clearway sink --brokers HOST:PORT --out DIR [flags]\n\nStores decisions and writes each complete run to DIR/<run-id>/ until SIGTERM.",
		&cfg, args, stderr, noArgs)
	if err != nil {
		return err
	}
	defer env.close()
	s, err := sink.New(cfg, env.bus, env.log.With("service", "sink"))
	if err != nil {
		return err
	}
	return s.Run(ctx)
}
