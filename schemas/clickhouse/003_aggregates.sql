-- Pre-aggregated convictions per run × county × section × determination × race ×
-- gender × age band × felony, for dashboards. Not a materialized view: the writer
-- rebuilds a run's groups when the run completes (Writer.Close, RebuildAggregates),
-- with INSERT … SELECT from the deduplicated decisions. So the counts are exact, a
-- redelivered or repeated batch never counts twice (they are recomputed from FINAL
-- data), and inserting decisions stays cheap: a materialized view keeping
-- uniqExact states cost more server CPU than the decisions insert itself.
--
-- Every rebuild writes all of the run's groups with a new, higher version. Rows of
-- one group and version collapse (ReplacingMergeTree), so a retried rebuild adds
-- nothing; the conviction_groups view reads only each run's latest version, so a
-- group that a later rebuild no longer has (say, a rerun under another policy)
-- disappears.
CREATE TABLE IF NOT EXISTS {{analytics}}.conviction_group_counts (
    run_id        String,
    county        String,
    section       String,
    determination Enum8('none' = 0, 'dismiss' = 1, 'reduce' = 2, 'hand_review' = 3, 'not_eligible' = 4),
    race          String,
    gender        String,
    age_band      String,
    felony        UInt8,
    convictions   UInt64,
    people        UInt64,
    version       UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY (run_id, county, section, determination, race, gender, age_band, felony);

CREATE VIEW IF NOT EXISTS {{analytics}}.conviction_groups AS
SELECT
    run_id, county, section, determination, race, gender, age_band, felony, convictions, people
FROM {{analytics}}.conviction_group_counts FINAL
WHERE (run_id, version) IN (
    SELECT run_id, max(version) FROM {{analytics}}.conviction_group_counts GROUP BY run_id
);
