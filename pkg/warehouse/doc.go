// Package warehouse stores Clearway's decisions in ClickHouse and reads them back.
//
// Two databases hold one run's results (schemas/clickhouse, applied by Migrate):
// clearway_restricted has the case-level decisions with identities and the
// quarantined rows; clearway_analytics has the same decisions pseudonymised (a keyed
// HMAC-SHA256 of SUBJECT_ID), one outcome row per person, the runs, and aggregates
// of the deduplicated decisions written when a run completes. Every table
// deduplicates on (run, subject, conviction), so reruns and redelivered batches never
// count twice when read with FINAL (the *_dedup views) or through the aggregates.
//
// Writer is a report.Output: the embedded pipeline (clearway run --clickhouse) and the
// sink feed it results; it inserts columnar batches into both databases and, on Close,
// writes the run's aggregates and records the run. The aggregates come from the
// writer's own tally when the run's stored decisions are provably the rows it sent
// (a writer given each subject once, and as many stored rows as it sent), else the
// server rebuilds them from the deduplicated decisions (RebuildAggregates); both give
// the same rows. LoadSummary rebuilds a run's report.Summary from the stored rows, so
// `clearway report --clickhouse` writes the same summary.json and report.html as the
// run itself.
//
// The client speaks the native protocol with explicit column lists on every INSERT:
// the only way clickhouse-go works with both Debian's ClickHouse 18.16 and current
// releases (docs/analytics.md, deploy/local/clickhouse/README.md).
package warehouse
