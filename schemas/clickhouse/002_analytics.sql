-- Pseudonymised data for analysts. `person` is HMAC-SHA256(deployment secret,
-- SUBJECT_ID) as its 32 raw bytes (lower(hex(person)) shows the usual hex): half the
-- size of the hex, which every insert sends and every key comparison reads. It is
-- stable within a deployment, so one person's convictions group
-- together across runs, but not reversible without the secret, which never enters
-- ClickHouse. No name, date of birth, CII, SSN, licence number, case number, raw
-- SUBJECT_ID or input line is stored here.
CREATE DATABASE IF NOT EXISTS {{analytics}};

-- One row per evaluated conviction. `conviction` numbers a person's evaluated
-- convictions in record order (0, 1, …). Deduplicated on (run_id, person, conviction)
-- like the restricted table: read with FINAL, or through decisions_dedup. Partitioned
-- by run, like the restricted tables.
CREATE TABLE IF NOT EXISTS {{analytics}}.decisions (
    run_id          String,
    person          FixedString(32),
    conviction      UInt16,
    county          String,
    section         String,
    felony          UInt8,
    determination   Enum8('none' = 0, 'dismiss' = 1, 'reduce' = 2, 'hand_review' = 3, 'not_eligible' = 4),
    reason          String,
    rule_id         String,
    race            String,
    gender          String,
    age_band        String,
    conviction_year UInt16,
    policy          String,
    policy_hash     String,
    compute_at      Date,
    version         UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY run_id
ORDER BY (run_id, person, conviction);

-- One row per person (subject) of a run, with or without a Prop 64 conviction. The
-- outcome flags follow gogen's "clear record" statistics, computed over ALL of the
-- person's convictions (any offense, any county) at the run's compute-at date:
--   fully_cleared     every conviction is dismissed (and there is at least one)
--   felony_free       had a felony conviction, and every felony is dismissed or reduced
--   clear_last_7y     had a conviction dated in the 7 years before compute-at, and all
--                     of those are dismissed
-- and the da_* columns are the same under "dismiss every Prop 64 conviction in scope".
CREATE TABLE IF NOT EXISTS {{analytics}}.people (
    run_id            String,
    person            FixedString(32),
    race              String,
    gender            String,
    age_band          String,
    convictions       UInt16,
    prop64            UInt16,
    dismissed         UInt16,
    reduced           UInt16,
    felonies          UInt16,
    any_relief        UInt8,
    fully_cleared     UInt8,
    felony_free       UInt8,
    clear_last_7y     UInt8,
    da_fully_cleared  UInt8,
    da_felony_free    UInt8,
    da_clear_last_7y  UInt8,
    compute_at        Date,
    version           UInt64
) ENGINE = ReplacingMergeTree(version)
PARTITION BY run_id
ORDER BY (run_id, person);

-- One row per run and state change; the row with the highest version is current
-- (runs_latest). provenance is the run's summary.json "run" object: input files with
-- their row counts, policies with their hashes. No personal data.
CREATE TABLE IF NOT EXISTS {{analytics}}.runs (
    run_id              String,
    status              Enum8('running' = 1, 'complete' = 2, 'failed' = 3),
    started             DateTime,
    finished            DateTime,
    compute_at          Date,
    scope               String,
    county              String,
    engine_version      String,
    rows                UInt64,
    rejects             UInt64,
    subjects            UInt64,
    convictions         UInt64,
    duration_seconds    Float64,
    earliest_conviction String,
    provenance          String,
    version             UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY run_id;

-- Deduplicated views: what analysts should query.
CREATE VIEW IF NOT EXISTS {{analytics}}.decisions_dedup AS
    SELECT * FROM {{analytics}}.decisions FINAL;

CREATE VIEW IF NOT EXISTS {{analytics}}.people_dedup AS
    SELECT * FROM {{analytics}}.people FINAL;

CREATE VIEW IF NOT EXISTS {{analytics}}.runs_latest AS
    SELECT * FROM {{analytics}}.runs FINAL;
