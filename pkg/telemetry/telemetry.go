// Package telemetry sets up OpenTelemetry for Clearway's services: metrics exported to
// Prometheus on /metrics (names in docs/metrics.md, the contract the dashboards and alerts
// rely on), traces sent over OTLP when the standard OTEL_* environment variables ask for
// it, W3C trace context carried in Kafka message headers, and slog loggers that add the
// trace and span ids. Nothing here ever records a person's data.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of every Clearway instrument and tracer.
const ScopeName = "github.com/clearway/clearway"

// Options configures New.
type Options struct {
	// Service is the stage name: "ingest", "evaluate", "sink" or "run".
	Service string
	// Version is recorded as service.version.
	Version string
	// SpanExporter receives finished spans. When nil, spans go over OTLP/HTTP if
	// OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set (and
	// OTEL_TRACES_EXPORTER is not "none"), and nowhere otherwise. Tests pass an
	// in-memory exporter.
	SpanExporter sdktrace.SpanExporter
}

// Telemetry owns one service's meter and tracer providers.
type Telemetry struct {
	Service     string
	Tracer      trace.Tracer
	Meter       metric.Meter
	Instruments *Instruments
	Propagator  propagation.TextMapPropagator

	registry *prometheus.Registry
	meters   *sdkmetric.MeterProvider
	tracers  *sdktrace.TracerProvider
}

// New builds the providers. Call Shutdown when the service stops, to flush spans.
func New(ctx context.Context, opt Options) (*Telemetry, error) {
	if opt.Service == "" {
		return nil, errors.New("telemetry: Options.Service is required")
	}
	res := resource.NewSchemaless(
		semconv.ServiceName("clearway-"+opt.Service),
		semconv.ServiceVersion(opt.Version),
	)
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))

	spans := opt.SpanExporter
	if spans == nil && otlpConfigured() {
		if spans, err = otlptracehttp.New(ctx); err != nil {
			return nil, fmt.Errorf("telemetry: OTLP trace exporter: %w", err)
		}
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if spans != nil {
		tpOpts = append(tpOpts, sdktrace.WithBatcher(spans))
	}
	tp := sdktrace.NewTracerProvider(tpOpts...)

	t := &Telemetry{
		Service:    opt.Service,
		Tracer:     tp.Tracer(ScopeName),
		Meter:      mp.Meter(ScopeName),
		Propagator: propagation.TraceContext{},
		registry:   reg,
		meters:     mp,
		tracers:    tp,
	}
	if t.Instruments, err = newInstruments(t.Meter, opt.Service); err != nil {
		return nil, err
	}
	return t, nil
}

func otlpConfigured() bool {
	if os.Getenv("OTEL_TRACES_EXPORTER") == "none" {
		return false
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Handler serves the Prometheus metrics of this service (mount it at /metrics).
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// ForceFlush exports finished spans now (tests and graceful shutdown).
func (t *Telemetry) ForceFlush(ctx context.Context) error { return t.tracers.ForceFlush(ctx) }

// Shutdown flushes and stops the providers.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	return errors.Join(t.tracers.Shutdown(ctx), t.meters.Shutdown(ctx))
}

// Attribute keys used by the instruments (docs/metrics.md, "Label values").
var (
	AttrStage     = attribute.Key("stage")
	AttrDirection = attribute.Key("direction")
	AttrReason    = attribute.Key("reason")
	AttrTable     = attribute.Key("table")
	AttrOutcome   = attribute.Key("outcome")
	AttrState     = attribute.Key("state")
	AttrRunID     = attribute.Key("run_id")
)
