package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/record"
)

// dataTables are the tables that hold a run's rows keyed for deduplication, as
// (database, table) of dbs.
func dataTables(dbs Databases) [][2]string {
	return [][2]string{
		{dbs.Restricted, "decisions"}, {dbs.Restricted, "rejects"},
		{dbs.Analytics, "decisions"}, {dbs.Analytics, "people"},
	}
}

// DeleteOlderVersions removes a run's rows whose version is below version from the
// data tables (both decisions tables, rejects, people) and waits until ClickHouse has
// applied the deletes (ALTER … DELETE is an asynchronous mutation), or ctx ends.
//
// The sink writes each attempt of a run with the attempt number as version: rows of
// an abandoned attempt that share a key with the final attempt's lose to them anyway,
// and this removes the ones that do not (a subject cut short by an abandoned
// streaming attempt may have had convictions the full subject does not have at the
// same key).
func DeleteOlderVersions(ctx context.Context, conn driver.Conn, dbs Databases, runID string, version uint64) error {
	if err := dbs.Validate(); err != nil {
		return err
	}
	for _, t := range dataTables(dbs) {
		// The run id and version are bound client-side; neither identifies anyone.
		q := "ALTER TABLE " + t[0] + "." + t[1] + " DELETE WHERE run_id = ? AND version < ?"
		if err := conn.Exec(ctx, q, runID, version); err != nil {
			return fmt.Errorf("warehouse: delete rows of run %s below version %d from %s.%s: %w", runID, version, t[0], t[1], err)
		}
	}
	return waitMutations(ctx, conn, dbs)
}

// waitMutations polls system.mutations until no mutation of the data tables is left
// to do.
func waitMutations(ctx context.Context, conn driver.Conn, dbs Databases) error {
	wait := 20 * time.Millisecond
	for {
		var pending uint64
		q := "SELECT count() FROM system.mutations WHERE is_done = 0 AND ((database = ? AND table IN ('decisions', 'rejects')) OR (database = ? AND table IN ('decisions', 'people')))"
		if err := conn.QueryRow(ctx, q, dbs.Restricted, dbs.Analytics).Scan(&pending); err != nil {
			return fmt.Errorf("warehouse: read mutations: %w", err)
		}
		if pending == 0 {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("warehouse: %d deletes still being applied: %w", pending, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, time.Second)
	}
}

// countStored replaces the writer's own counts of subjects, convictions and the
// earliest conviction with those of the run's deduplicated rows: what a writer that
// saw some rows twice, or only the rows since a restart, must record (CountStored).
func (w *Writer) countStored() error {
	dbs, run := w.cfg.Databases, w.cfg.Info.RunID
	var subjects, convictions uint64
	var earliest string
	err := w.cfg.Retry.do(w.ctx, "count the stored rows of run "+run, func() error {
		if err := w.conn.QueryRow(w.ctx, "SELECT count() FROM "+dbs.Analytics+".people FINAL WHERE run_id = ?", run).Scan(&subjects); err != nil {
			return err
		}
		if err := w.conn.QueryRow(w.ctx, "SELECT count() FROM "+dbs.Analytics+".decisions FINAL WHERE run_id = ?", run).Scan(&convictions); err != nil {
			return err
		}
		return w.conn.QueryRow(w.ctx, "SELECT min(conviction_date) FROM "+dbs.Restricted+".decisions FINAL WHERE run_id = ? AND conviction_date != ''", run).
			Scan(&earliest)
	})
	if err != nil {
		return err
	}
	w.subjects, w.convicts = int64(subjects), int64(convictions)
	w.earliest = record.NoDate
	if earliest != "" {
		if d, err := record.ParseISO(earliest); err == nil {
			w.earliest = d
		}
	}
	return nil
}
