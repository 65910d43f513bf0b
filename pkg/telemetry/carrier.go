package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/propagation"

	"github.com/clearway/clearway/pkg/bus"
)

// HeaderCarrier lets the W3C trace context travel in Kafka message headers
// (`traceparent`, `tracestate`), so one trace crosses ingest, evaluator and sink.
type HeaderCarrier struct{ Headers *[]bus.Header }

var _ propagation.TextMapCarrier = HeaderCarrier{}

// Get returns the value of header key.
func (c HeaderCarrier) Get(key string) string {
	for _, h := range *c.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// Set replaces or adds header key.
func (c HeaderCarrier) Set(key, value string) {
	for i, h := range *c.Headers {
		if h.Key == key {
			(*c.Headers)[i].Value = []byte(value)
			return
		}
	}
	*c.Headers = append(*c.Headers, bus.Header{Key: key, Value: []byte(value)})
}

// Keys lists the header keys.
func (c HeaderCarrier) Keys() []string {
	keys := make([]string, len(*c.Headers))
	for i, h := range *c.Headers {
		keys[i] = h.Key
	}
	return keys
}

// Inject writes ctx's span context into headers.
func (t *Telemetry) Inject(ctx context.Context, headers *[]bus.Header) {
	t.Propagator.Inject(ctx, HeaderCarrier{Headers: headers})
}

// Extract returns ctx with the span context found in headers (if any) as its remote parent.
func (t *Telemetry) Extract(ctx context.Context, headers []bus.Header) context.Context {
	return t.Propagator.Extract(ctx, HeaderCarrier{Headers: &headers})
}
