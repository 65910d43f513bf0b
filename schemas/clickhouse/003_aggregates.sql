-- Pre-aggregated convictions per run × county × section × determination × race ×
-- gender × age band × felony, kept by a materialized view on every insert into
-- decisions. Counts are exact distinct counts (uniqExact) of conviction and person
-- keys rather than sums, so a redelivered or repeated batch adds nothing: the state
-- already holds those keys. Read with uniqExactMerge (see conviction_groups).
CREATE TABLE IF NOT EXISTS {{analytics}}.conviction_groups_state (
    run_id        String,
    county        String,
    section       String,
    determination Enum8('none' = 0, 'dismiss' = 1, 'reduce' = 2, 'hand_review' = 3, 'not_eligible' = 4),
    race          String,
    gender        String,
    age_band      String,
    felony        UInt8,
    convictions   AggregateFunction(uniqExact, UInt64),
    people        AggregateFunction(uniqExact, String)
) ENGINE = AggregatingMergeTree()
ORDER BY (run_id, county, section, determination, race, gender, age_band, felony);

CREATE MATERIALIZED VIEW IF NOT EXISTS {{analytics}}.conviction_groups_mv
TO {{analytics}}.conviction_groups_state AS
SELECT
    run_id, county, section, determination, race, gender, age_band, felony,
    uniqExactState(cityHash64(person, conviction)) AS convictions,
    uniqExactState(person) AS people
FROM {{analytics}}.decisions
GROUP BY run_id, county, section, determination, race, gender, age_band, felony;

CREATE VIEW IF NOT EXISTS {{analytics}}.conviction_groups AS
SELECT
    run_id, county, section, determination, race, gender, age_band, felony,
    uniqExactMerge(convictions) AS convictions,
    uniqExactMerge(people) AS people
FROM {{analytics}}.conviction_groups_state
GROUP BY run_id, county, section, determination, race, gender, age_band, felony;
