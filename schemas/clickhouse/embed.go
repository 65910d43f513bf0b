// Package clickhouse embeds Clearway's ClickHouse schema: the numbered migrations
// NNN_name.sql that `clearway migrate` (pkg/warehouse) applies in order.
//
// Every file is a list of statements separated by a semicolon at the end of a line.
// Database names are placeholders, {{restricted}} and {{analytics}}, which the
// migrator replaces (by default with clearway_restricted and clearway_analytics; tests
// use their own names). A first-line comment "-- requires: clickhouse >= X.Y" marks a
// migration that only servers of that version or later can apply; older servers skip
// it, without recording it, so that it applies after an upgrade.
package clickhouse

import "embed"

// Migrations holds the NNN_*.sql files.
//
//go:embed *.sql
var Migrations embed.FS
