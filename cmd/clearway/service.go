package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/clearway/clearway/services/control"
)

// flagConfig is a service's Config: its own flags and their validation.
type flagConfig interface {
	RegisterFlags(*flag.FlagSet)
	Validate() error
}

// serviceEnv is what a pipeline command has once its command line is accepted.
type serviceEnv struct {
	args  []string // positional arguments
	log   *slog.Logger
	bus   control.Bus
	close func()
}

// serviceGCPercent is the pipeline services' GOGC unless the environment sets one. Their
// live heaps are small (the batches in flight) while they allocate every batch afresh,
// so at Go's default of 100 the collector runs every few megabytes; at 300 its share of
// their CPU falls by about two thirds (loadtest/distributed, per 1M rows: evaluators
// 2.6 → 1.8 CPU-s, ingest 3.6 → 3.2). The heap may then grow to 4× the live data; in
// containers GOMEMLIMIT (the memory limit, deploy/k8s) still caps it, and ingest sets a
// soft limit from --memory.
const serviceGCPercent = 300

// setupService parses a pipeline command's flags (the service's Config, the Kafka flags
// and the log flags, with their environment equivalents), validates them and the
// positional arguments (checkArgs), then installs the logger and connects to Kafka. It
// is the set-up ingest, evaluate and sink share; usage mistakes come back as usage errors
// before anything connects.
func setupService(name, usage string, cfg flagConfig, args []string, stderr io.Writer, checkArgs func([]string) error) (serviceEnv, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var (
		bf      busFlags
		lf      logFlags
		profile string
	)
	cfg.RegisterFlags(fs)
	fs.StringVar(&profile, "cpuprofile", "", "write a Go CPU profile of the process to this file until it stops (for performance work)")
	bf.RegisterFlags(fs)
	lf.RegisterFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), usage+"\n\nflags:")
		fs.PrintDefaults()
	}
	rest, err := parseServiceFlags(fs, args)
	if err != nil {
		return serviceEnv{}, err
	}
	if err := cfg.Validate(); err != nil {
		return serviceEnv{}, usagef("%v", err)
	}
	if err := checkArgs(rest); err != nil {
		return serviceEnv{}, err
	}
	log, err := lf.install(stderr)
	if err != nil {
		return serviceEnv{}, err
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serviceGCPercent)
	}
	stopProfile := func() {}
	if profile != "" {
		if stopProfile, err = startCPUProfile(profile); err != nil {
			return serviceEnv{}, fmt.Errorf("cpu profile: %w", err)
		}
	}
	b, closeBus, err := kafkaBus(bf.Kafka)
	if err != nil {
		stopProfile()
		return serviceEnv{}, err
	}
	return serviceEnv{args: rest, log: log, bus: b, close: func() { closeBus(); stopProfile() }}, nil
}

// noArgs accepts no positional arguments.
func noArgs(rest []string) error {
	if len(rest) > 0 {
		return usagef("unexpected arguments %q", rest)
	}
	return nil
}
