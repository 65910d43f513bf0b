-- requires: clickhouse >= 20.5
-- SQL access control, where the server has it (20.5 and later; 18.16 has only
-- users.xml, see deploy/local/clickhouse/README.md). A role that can read the
-- pseudonymised database and nothing else; grant it to analysts' SQL users.
CREATE ROLE IF NOT EXISTS clearway_analyst;

GRANT SELECT ON {{analytics}}.* TO clearway_analyst;
