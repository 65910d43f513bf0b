package warehouse

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// RebuildAggregates recomputes a run's rows of <analytics>.conviction_groups from its
// deduplicated decisions (FINAL), replacing what an earlier rebuild wrote. Writer.Close
// calls it; call it yourself after loading decisions some other way, or after a sink
// that writes one run from several writers has finished.
func RebuildAggregates(ctx context.Context, conn driver.Conn, dbs Databases, runID string) error {
	if err := dbs.Validate(); err != nil {
		return err
	}
	if err := rebuildAggregates(ctx, conn, dbs, runID, 0); err != nil {
		return fmt.Errorf("warehouse: rebuild the aggregates of run %s: %w", runID, err)
	}
	return nil
}

// rebuildAggregates writes the run's groups with a version that is the clock or
// atLeast, whichever is higher: it must exceed every earlier rebuild's of the run for
// the new rows to be the ones the conviction_groups view reads.
func rebuildAggregates(ctx context.Context, conn driver.Conn, dbs Databases, runID string, atLeast uint64) error {
	version := max(uint64(time.Now().UnixNano()), atLeast)
	a := dbs.Analytics
	// The run id and version are bound client-side; neither identifies anyone.
	q := "INSERT INTO " + a + ".conviction_group_counts " +
		"(run_id, county, section, determination, race, gender, age_band, felony, convictions, people, version) " +
		"SELECT run_id, county, section, determination, race, gender, age_band, felony, count(), uniqExact(person), toUInt64(?) " +
		"FROM " + a + ".decisions FINAL WHERE run_id = ? " +
		"GROUP BY run_id, county, section, determination, race, gender, age_band, felony"
	return conn.Exec(ctx, q, version, runID)
}
