package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RebuildAggregates recomputes a run's rows of <analytics>.conviction_groups from its
// deduplicated decisions (FINAL), replacing what an earlier rebuild wrote. Writer.Close
// calls it (or writes the same rows from its own tally, see Writer.tallied); call it
// yourself after loading decisions some other way, or after a sink that writes one run
// from several writers has finished.
func RebuildAggregates(ctx context.Context, conn driver.Conn, dbs Databases, runID string) error {
	if err := dbs.Validate(); err != nil {
		return err
	}
	if err := rebuildAggregates(ctx, conn, dbs, runID, 0); err != nil {
		return fmt.Errorf("warehouse: rebuild the aggregates of run %s: %w", runID, err)
	}
	return nil
}

// aggregateVersion is the version of a rebuild's rows: the clock or atLeast, whichever
// is higher. It must exceed every earlier rebuild's of the run for the new rows to be
// the ones the conviction_groups view reads.
func aggregateVersion(atLeast uint64) uint64 {
	return max(uint64(time.Now().UnixNano()), atLeast)
}

// rebuildAggregates writes the run's groups, computed by the server from the
// deduplicated decisions, with aggregateVersion(atLeast).
func rebuildAggregates(ctx context.Context, conn driver.Conn, dbs Databases, runID string, atLeast uint64) error {
	version := aggregateVersion(atLeast)
	a := dbs.Analytics
	// The run id and version are bound client-side; neither identifies anyone.
	q := "INSERT INTO " + a + ".conviction_group_counts " +
		"(run_id, county, section, determination, race, gender, age_band, felony, convictions, people, version) " +
		"SELECT run_id, county, section, determination, race, gender, age_band, felony, count(), uniqExact(person), toUInt64(?) " +
		"FROM " + a + ".decisions FINAL WHERE run_id = ? " +
		"GROUP BY run_id, county, section, determination, race, gender, age_band, felony"
	return conn.Exec(ctx, q, version, runID)
}

// groupKey is a row of conviction_group_counts without its counts: the analytics
// decision columns the aggregates group by (the run being the writer's).
type groupKey struct {
	county, section, race, gender, band string
	det                                 int8
	felony                              uint8
}

// groupCount is a group's convictions and distinct people, and the last subject
// counted among its people.
type groupCount struct {
	convictions, people uint64
	lastSubject         uint64
}

// tally counts one subject's analytics decisions into the writer's groups, as the
// rebuild's GROUP BY would count them: a conviction per row, and the person once per
// group their convictions fall in.
func (w *Writer) tally(p *personRow, convs []convRow) {
	w.subjectSeq++
	for i := range convs {
		c := &convs[i]
		k := groupKey{county: c.county, section: c.section, race: p.race, gender: p.gender, band: p.band, det: c.det, felony: c.felony}
		g := w.groups[k]
		if g == nil {
			g = &groupCount{}
			w.groups[k] = g
		}
		g.convictions++
		if g.lastSubject != w.subjectSeq {
			g.lastSubject = w.subjectSeq
			g.people++
		}
	}
}

// tallied reports whether the run's stored analytics decisions are exactly the rows
// this writer sent, so that its own tally equals what rebuildAggregates would compute
// from them. That holds when the writer was given each of the run's subjects once (no
// CountStored) and the run holds as many decision rows as it sent: the stored rows
// include every row sent (each insert was acknowledged), so equal counts leave no room
// for a copy from a retried insert, nor for rows of another writer of the same run id.
// (A later writer of the same run id whose rows replaced some of these in a merge
// rewrites the aggregates itself when it closes, with a higher version.) Otherwise
// Close has the server rebuild the groups from the deduplicated rows.
func (w *Writer) tallied() (bool, error) {
	if w.cfg.CountStored {
		return false, nil
	}
	var stored uint64
	// Reads the run_id column of the run's partition only: milliseconds.
	err := w.conn.QueryRow(w.ctx, "SELECT count() FROM "+w.cfg.Databases.Analytics+".decisions WHERE run_id = ?", w.cfg.Info.RunID).Scan(&stored)
	if err != nil {
		return false, err
	}
	return stored == uint64(w.convicts), nil
}

// writeAggregates writes the run's groups: from the writer's tally when tallied says
// it is exact, else rebuilt by the server. Either way with a version above the
// writer's.
func (w *Writer) writeAggregates() error {
	ok, err := w.tallied()
	if err != nil {
		return err
	}
	if !ok {
		return rebuildAggregates(w.ctx, w.conn, w.cfg.Databases, w.cfg.Info.RunID, w.version+1)
	}
	if len(w.groups) == 0 {
		return nil // as the rebuild of a run without decisions, which inserts nothing
	}
	version := aggregateVersion(w.version + 1)
	q := "INSERT INTO " + w.cfg.Databases.Analytics + ".conviction_group_counts " +
		"(run_id, county, section, determination, race, gender, age_band, felony, convictions, people, version)"
	b, err := w.conn.PrepareBatch(w.ctx, q)
	if err != nil {
		return err
	}
	for k, g := range w.groups {
		if err := b.Append(w.cfg.Info.RunID, k.county, k.section, k.det, k.race, k.gender, k.band, k.felony,
			g.convictions, g.people, version); err != nil {
			_ = b.Abort()
			return err
		}
	}
	return b.Send()
}
