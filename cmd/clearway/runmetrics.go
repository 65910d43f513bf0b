package main

import (
	"context"
	"fmt"
	"time"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/telemetry"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/services/health"
)

// startRunMetrics gives `clearway run` the metrics of docs/metrics.md it produces — the
// ClickHouse inserts of --clickhouse — served on /metrics at addr while the run runs
// (addr "" serves nothing; the inserts are then recorded but not exposed). The returned
// function stops the endpoint and the telemetry.
func startRunMetrics(ctx context.Context, addr string) (*telemetry.Telemetry, func(), error) {
	tel, err := telemetry.New(ctx, telemetry.Options{Service: "run", Version: eligibility.Version})
	if err != nil {
		return nil, nil, fmt.Errorf("run telemetry: %w", err)
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}
	hs, err := health.Listen(addr, health.WithMetrics(tel.Handler()))
	if err != nil {
		stop()
		return nil, nil, err
	}
	hs.SetReady(true)
	return tel, func() { _ = hs.Close(context.WithoutCancel(ctx)); stop() }, nil
}

// observeInserts records a warehouse.Writer's inserts in tel's ClickHouse metrics.
func observeInserts(tel *telemetry.Telemetry) func(warehouse.Insert) {
	return func(i warehouse.Insert) {
		tel.Instruments.ClickHouseInsert(context.Background(), i.Table, int64(i.Rows), i.Duration.Seconds(), i.Err == nil)
	}
}
