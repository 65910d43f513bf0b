// Command clearway decides Prop 64 relief for every marijuana conviction in California
// DOJ criminal-history extracts. `clearway run` is the one-process pipeline; the other
// subcommands generate data and (later) run the distributed services.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/clearway/clearway/pkg/eligibility"
)

// usageError is a mistake in the command line: reported in one line, exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "decide every Prop 64 conviction in DOJ files, in one process (no servers)", runCmd},
		{"gen", "write a synthetic DOJ research file for tests, demos and benchmarks", genCmd},
		{"ingest", "publish a run's DOJ files to the pipeline (Kafka) and exit when acknowledged", ingestCmd},
		{"evaluate", "decide subjects from the pipeline until SIGTERM (scale by running more)", evaluateCmd},
		{"sink", "store decisions and write each complete run's outputs, until SIGTERM", sinkCmd},
		{"status", "print a pipeline run's progress; --wait blocks until it completes", statusCmd},
		{"migrate", "apply the ClickHouse schema (idempotent)", migrateCmd},
		{"report", "write a stored run's summary.json and report.html from ClickHouse", reportCmd},
		{"version", "print the version", func(_ context.Context, _ []string, stdout, _ io.Writer) error {
			fmt.Fprintln(stdout, eligibility.Version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := mainCode(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func mainCode(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "clearway %s: %v (see 'clearway %s --help')\n", c.name, err, c.name)
			return 2
		default:
			fmt.Fprintf(stderr, "clearway %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "clearway: unknown command %q\n", args[0])
	printUsage(stderr)
	return 2
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: clearway <command> [flags] [files]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
}

// parseFlags parses flags that may come before, between or after positional arguments
// (`clearway run in.csv --out x` works like `clearway run --out x in.csv`); "--" ends flags.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.Usage()
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
