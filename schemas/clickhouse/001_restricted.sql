-- Case-level data: who, which case, what was decided. Only the writer user (the sink,
-- `clearway run --clickhouse`, `clearway report`) reads this database; the analyst user
-- is refused by users.xml (allow_databases) or, on servers with SQL RBAC, by grants.
CREATE DATABASE IF NOT EXISTS {{restricted}};

-- One row per evaluated (in-scope Prop 64) conviction. Rows of the same
-- (run_id, subject_id, file_index, line) are copies from a rerun or a redelivered
-- batch: ReplacingMergeTree keeps the highest version when parts merge, and queries
-- read with FINAL (or argMax by version) so that copies never count twice.
-- Partitioned by run: a writer inserts one run, so every insert makes one part, and a
-- finished run's parts are never merged again with later runs' (which cost more
-- server CPU than the inserts themselves when runs shared one partition); a run can
-- also be dropped whole (ALTER TABLE … DROP PARTITION).
-- Dates are 'YYYY-MM-DD' strings ('' when the DOJ value is not a valid date): Date
-- starts in 1970 on 18.16, and most dates of birth are older.
CREATE TABLE IF NOT EXISTS {{restricted}}.decisions (
    run_id          String,
    subject_id      String,
    file_index      UInt32,
    line            UInt64,
    input_file      String,
    cii             String,
    name            String,
    dob             String,
    case_numbers    String,
    county          String,
    section         String,
    felony          UInt8,
    conviction_date String,
    determination   Enum8('none' = 0, 'dismiss' = 1, 'reduce' = 2, 'hand_review' = 3, 'not_eligible' = 4),
    reason          String,
    rule_id         String,
    policy          String,
    policy_hash     String,
    compute_at      Date,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY run_id
ORDER BY (run_id, subject_id, file_index, line);

-- Quarantined rows, with the raw text (capped at 4 KiB by the reader).
CREATE TABLE IF NOT EXISTS {{restricted}}.rejects (
    run_id     String,
    file_index UInt32,
    line       UInt64,
    input_file String,
    field      String,
    reason     String,
    subject_id String,
    raw        String,
    version    UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY run_id
ORDER BY (run_id, file_index, line);
