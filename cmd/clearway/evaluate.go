package main

import (
	"context"
	"io"

	"github.com/clearway/clearway/services/evaluator"
)

func evaluateCmd(ctx context.Context, args []string, _, stderr io.Writer) error {
	var cfg evaluator.Config
	env, err := setupService("evaluate", "usage: clearway evaluate --brokers HOST:PORT [flags]\n\nDecides the subjects of every run on the subjects topic until SIGTERM.",
		&cfg, args, stderr, noArgs)
	if err != nil {
		return err
	}
	defer env.close()
	ev, err := evaluator.New(cfg, env.bus, env.log.With("service", "evaluator"))
	if err != nil {
		return err
	}
	return ev.Run(ctx)
}
