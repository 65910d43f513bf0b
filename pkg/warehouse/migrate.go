package warehouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/schemas/clickhouse"
)

// Databases names the two databases Clearway writes. Tests use their own names so
// that they never see each other's tables.
type Databases struct {
	// Restricted holds case-level data with identities; only the writer reads it.
	Restricted string
	// Analytics holds pseudonymised data; the analyst user reads it and nothing else.
	Analytics string
}

// DefaultDatabases are the production names, which users.xml and the docs use.
var DefaultDatabases = Databases{Restricted: "clearway_restricted", Analytics: "clearway_analytics"}

// identifier matches the database names Clearway accepts: they are spliced into SQL.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Validate reports a database name that could not be used unquoted in SQL.
func (d Databases) Validate() error {
	for _, n := range []string{d.Restricted, d.Analytics} {
		if !identifier.MatchString(n) {
			return fmt.Errorf("warehouse: database name %q: want letters, digits and underscores", n)
		}
	}
	if d.Restricted == d.Analytics {
		return fmt.Errorf("warehouse: restricted and analytics databases must differ (both %q)", d.Restricted)
	}
	return nil
}

// expand replaces the database placeholders of a schema file.
func (d Databases) expand(sql string) string {
	return strings.NewReplacer("{{restricted}}", d.Restricted, "{{analytics}}", d.Analytics).Replace(sql)
}

// Migration is one schema file.
type Migration struct {
	Name string // file name, e.g. 001_restricted.sql
	// Checksum is the hex SHA-256 of the file as written (placeholders unexpanded), so
	// one file has one checksum whatever the database names.
	Checksum string
	// MinVersion is the oldest server that can apply it (zero: any).
	MinVersion Version
	SQL        string
}

// Version is a ClickHouse server version, major.minor.
type Version struct{ Major, Minor int }

// Less reports whether v is older than o.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || (v.Major == o.Major && v.Minor < o.Minor)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// ParseVersion reads the major and minor numbers of a version() string such as
// "18.16.1" or "24.8.4.13".
func ParseVersion(s string) (Version, error) {
	parts := strings.SplitN(strings.TrimSpace(s), ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("warehouse: server version %q: want major.minor[.patch]", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return Version{}, fmt.Errorf("warehouse: server version %q: want major.minor[.patch]", s)
	}
	return Version{major, minor}, nil
}

var (
	migrationName = regexp.MustCompile(`^[0-9]{3}_[a-z0-9_]+\.sql$`)
	requiresLine  = regexp.MustCompile(`^-- requires: clickhouse >= ([0-9]+\.[0-9]+)\s*$`)
)

// Migrations returns the embedded schema files in the order they apply.
func Migrations() ([]Migration, error) {
	return loadMigrations(clickhouse.Migrations)
}

func loadMigrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("warehouse: list migrations: %w", err)
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		if !migrationName.MatchString(n) {
			return nil, fmt.Errorf("warehouse: migration %s: want a name like 001_name.sql", n)
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("warehouse: read migration %s: %w", n, err)
		}
		sum := sha256.Sum256(b)
		m := Migration{Name: n, Checksum: hex.EncodeToString(sum[:]), SQL: string(b)}
		first, _, _ := strings.Cut(m.SQL, "\n")
		if g := requiresLine.FindStringSubmatch(first); g != nil {
			if m.MinVersion, err = ParseVersion(g[1]); err != nil {
				return nil, fmt.Errorf("warehouse: migration %s: %w", n, err)
			}
		}
		if len(out) > 0 && out[len(out)-1].Name[:3] == n[:3] {
			return nil, fmt.Errorf("warehouse: migrations %s and %s share a number", out[len(out)-1].Name, n)
		}
		out = append(out, m)
	}
	return out, nil
}

// statements splits a migration into statements: each ends with a semicolon at the end
// of a line. Comment-only lines are dropped; the native protocol runs one statement
// per call.
func statements(sql string) []string {
	var out []string
	var cur strings.Builder
	for line := range strings.SplitSeq(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(cur.String()), ";")
			out = append(out, s)
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// MigrationResult says what Migrate did with one migration.
type MigrationResult struct {
	Name   string
	Action string // "applied", "already applied" or "skipped (needs clickhouse >= X.Y)"
}

// migrationsTable records applied migrations. It lives in the restricted database,
// which the analyst cannot read.
const migrationsTable = "schema_migrations"

// ServerVersion asks the server for its version.
func ServerVersion(ctx context.Context, conn driver.Conn) (Version, string, error) {
	var s string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&s); err != nil {
		return Version{}, "", fmt.Errorf("warehouse: SELECT version(): %w", err)
	}
	v, err := ParseVersion(s)
	return v, s, err
}

// Migrate applies the embedded migrations that are not yet recorded, in order, and
// records each (name, checksum, applied_at) once all its statements succeeded.
// Re-running is a no-op. An applied migration whose file has since changed is an
// error: schema changes go into a new file. Statements are written to be idempotent
// (IF NOT EXISTS), so a migration interrupted half-way applies cleanly next time.
func Migrate(ctx context.Context, conn driver.Conn, dbs Databases) ([]MigrationResult, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return migrate(ctx, conn, dbs, ms)
}

func migrate(ctx context.Context, conn driver.Conn, dbs Databases, ms []Migration) ([]MigrationResult, error) {
	if err := dbs.Validate(); err != nil {
		return nil, err
	}
	server, _, err := ServerVersion(ctx, conn)
	if err != nil {
		return nil, err
	}
	table := dbs.Restricted + "." + migrationsTable
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + dbs.Restricted,
		"CREATE TABLE IF NOT EXISTS " + table +
			" (name String, checksum String, applied_at DateTime) ENGINE = MergeTree ORDER BY name",
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("warehouse: create migrations table %s: %w", table, err)
		}
	}
	applied := map[string]string{}
	rows, err := conn.Query(ctx, "SELECT name, checksum FROM "+table)
	if err != nil {
		return nil, fmt.Errorf("warehouse: read %s: %w", table, err)
	}
	for rows.Next() {
		var n, c string
		if err := rows.Scan(&n, &c); err != nil {
			rows.Close()
			return nil, fmt.Errorf("warehouse: read %s: %w", table, err)
		}
		applied[n] = c
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("warehouse: read %s: %w", table, err)
	}

	var out []MigrationResult
	for _, m := range ms {
		if sum, ok := applied[m.Name]; ok {
			if sum != m.Checksum {
				return out, fmt.Errorf("warehouse: migration %s was applied with checksum %s but the file now has %s: never edit an applied migration, add a new one",
					m.Name, sum, m.Checksum)
			}
			out = append(out, MigrationResult{m.Name, "already applied"})
			continue
		}
		if server.Less(m.MinVersion) {
			out = append(out, MigrationResult{m.Name, "skipped (needs clickhouse >= " + m.MinVersion.String() + ")"})
			continue
		}
		for i, st := range statements(dbs.expand(m.SQL)) {
			if err := conn.Exec(ctx, st); err != nil {
				return out, fmt.Errorf("warehouse: migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
		batch, err := conn.PrepareBatch(ctx, "INSERT INTO "+table+" (name, checksum, applied_at)")
		if err == nil {
			if err = batch.Append(m.Name, m.Checksum, time.Now().UTC().Truncate(time.Second)); err == nil {
				err = batch.Send()
			}
		}
		if err != nil {
			return out, fmt.Errorf("warehouse: record migration %s: %w", m.Name, err)
		}
		out = append(out, MigrationResult{m.Name, "applied"})
	}
	return out, nil
}
