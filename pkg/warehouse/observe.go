package warehouse

import "time"

// Insert describes one insert statement the Writer sent (each try of a retried insert
// is one), for metrics. It never holds row data.
type Insert struct {
	// Table is the table as the metrics contract names it: "restricted.decisions",
	// "restricted.rejects", "analytics.decisions", "analytics.people", "analytics.runs"
	// or "analytics.conviction_group_counts" (the configured database names may differ).
	Table string
	// Rows is the number of rows sent; 0 for the aggregate rebuild, an INSERT … SELECT
	// whose row count the server does not report.
	Rows     int
	Duration time.Duration
	// Err is nil when ClickHouse acknowledged the insert.
	Err error
}

// observe wraps one try of an insert into db.table so that WriterConfig.Observe
// learns of it; without an observer it returns fn itself.
func (w *Writer) observe(db, table string, rows int, fn func() error) func() error {
	if w.cfg.Observe == nil {
		return fn
	}
	name := table
	switch db {
	case w.cfg.Databases.Restricted:
		name = "restricted." + table
	case w.cfg.Databases.Analytics:
		name = "analytics." + table
	}
	return func() error {
		start := time.Now()
		err := fn()
		w.cfg.Observe(Insert{Table: name, Rows: rows, Duration: time.Since(start), Err: err})
		return err
	}
}
