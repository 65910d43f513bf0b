package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/clearway/clearway/pkg/bus"
	"github.com/clearway/clearway/pkg/bus/kafka"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/services/control"
	"github.com/clearway/clearway/services/ingest"
)

// busFlags are the Kafka settings every service command takes: pkg/bus/kafka's flags
// (-kafka.*) plus --brokers, the short form the operators' runbooks use.
type busFlags struct {
	Kafka kafka.Config
}

func (b *busFlags) RegisterFlags(fs *flag.FlagSet) {
	b.Kafka.RegisterFlags(fs)
	fs.Var(brokersFlag{&b.Kafka}, "brokers", "comma-separated Kafka bootstrap brokers, host:port (same as -kafka.brokers; env CLEARWAY_KAFKA_BROKERS)")
}

type brokersFlag struct{ c *kafka.Config }

func (f brokersFlag) String() string {
	if f.c == nil {
		return ""
	}
	return strings.Join(f.c.Brokers, ",")
}

func (f brokersFlag) Set(s string) error {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	f.c.Brokers = out
	return nil
}

// parseServiceFlags sets flags from the environment (CLEARWAY_KAFKA_* for -kafka.*,
// CLEARWAY_<FLAG> for the others, '-' and '.' as '_'), then from the command line, which
// wins.
func parseServiceFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	if err := kafka.SetFromEnv(fs, os.LookupEnv); err != nil {
		return nil, usagef("%v", err)
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "kafka.") || f.Name == "brokers" {
			return
		}
		env := "CLEARWAY_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(f.Name))
		if v, ok := os.LookupEnv(env); ok && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usagef("%s: %v", env, err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	return parseFlags(fs, args)
}

// logFlags choose the services' log format: text for a terminal, JSON for containers,
// where the log collector parses each line. Both add trace and span ids to lines logged
// inside a batch's span.
type logFlags struct{ Format string }

func (l *logFlags) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&l.Format, "log-format", "text", "log format: text or json (env CLEARWAY_LOG_FORMAT)")
}

// install makes the chosen logger (writing to w) the default, which the Kafka client's
// logs use too, and returns it.
func (l *logFlags) install(w io.Writer) (*slog.Logger, error) {
	if l.Format != "text" && l.Format != "json" {
		return nil, usagef("--log-format %q: want text or json", l.Format)
	}
	log := telemetry.NewLogger(w, l.Format == "json", slog.LevelInfo)
	slog.SetDefault(log)
	return log, nil
}

// kafkaBus connects the services to Kafka.
func kafkaBus(kc kafka.Config) (control.Bus, func(), error) {
	kc.Logger = slog.Default()
	if err := kc.Validate(); err != nil {
		return control.Bus{}, nil, usagef("%v", err)
	}
	admin, err := kafka.NewAdmin(kc)
	if err != nil {
		return control.Bus{}, nil, err
	}
	pub, err := kafka.NewPublisher(kc, bus.PublisherOptions{Partitioning: bus.PartitionExplicit})
	if err != nil {
		admin.Close()
		return control.Bus{}, nil, err
	}
	b := control.Bus{
		Admin:     admin,
		Publisher: pub,
		Subscribe: func(opts bus.SubscriberOptions) (bus.Subscriber, error) {
			return kafka.NewSubscriber(kc, opts)
		},
		Partitions: admin.Partitions,
	}
	return b, func() { pub.Close(); admin.Close() }, nil
}

func ingestCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg ingest.Config
	env, err := setupService("ingest", "usage: clearway ingest --brokers HOST:PORT --run-id ID [flags] FILE...\n\nPublishes a run to the pipeline's subjects topic and exits once every message is acknowledged.",
		&cfg, args, stderr, func(files []string) error {
			if len(files) == 0 {
				return usagef("no input files: give one or more DOJ research files")
			}
			return nil
		})
	if err != nil {
		return err
	}
	defer env.close()
	setMemoryLimit(cfg.Memory)
	st, err := ingest.Run(ctx, env.bus, cfg, env.args, env.log.With("service", "ingest"))
	for _, e := range st.Unreadable {
		fmt.Fprintf(stderr, "clearway ingest: unreadable input: %v\n", e)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "run %s published: %s rows, %s subjects, %s rejects in %.1fs (%s rows/s, %s mode)\n",
		cfg.RunID, thousands(st.Rows), thousands(st.Subjects), thousands(st.Rejects), st.Duration.Seconds(),
		thousands(int64(float64(st.Rows)/max(st.Duration.Seconds(), 1e-9))), st.Mode)
	if len(st.Unreadable) > 0 {
		return fmt.Errorf("%d input file(s) could not be read (listed above); the other files were published", len(st.Unreadable))
	}
	return nil
}
