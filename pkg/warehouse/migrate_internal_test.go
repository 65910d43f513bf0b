package warehouse

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

func TestStatements(t *testing.T) {
	sql := "-- comment\nCREATE DATABASE IF NOT EXISTS a;\n\nCREATE TABLE a.t (\n    x UInt8 -- inline\n) ENGINE = Memory;\n-- tail\nSELECT 1\n"
	got := statements(sql)
	want := []string{"CREATE DATABASE IF NOT EXISTS a", "CREATE TABLE a.t (\n    x UInt8 -- inline\n) ENGINE = Memory", "SELECT 1"}
	if len(got) != len(want) {
		t.Fatalf("statements = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statement %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"18.16.1", Version{18, 16}, true},
		{"24.8.4.13", Version{24, 8}, true},
		{"25.3", Version{25, 3}, true},
		{"x.1", Version{}, false},
		{"18", Version{}, false},
	} {
		got, err := ParseVersion(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	if !(Version{18, 16}).Less(Version{20, 5}) || (Version{24, 1}).Less(Version{20, 5}) {
		t.Error("Version.Less is wrong")
	}
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) < 4 || ms[0].Name != "001_restricted.sql" {
		t.Fatalf("migrations = %d, first %q; want 001_restricted.sql first of at least 4", len(ms), ms[0].Name)
	}
	last := ms[len(ms)-1]
	if last.MinVersion != (Version{20, 5}) {
		t.Fatalf("%s MinVersion = %v, want 20.5 (SQL RBAC)", last.Name, last.MinVersion)
	}
}

// TestMigrateChangedFileIsAnError applies a migration, then "edits" it: the migrator
// must refuse rather than silently diverge from the recorded schema.
func TestMigrateChangedFileIsAnError(t *testing.T) {
	conn := chtest.Connect(t)
	dbs := Databases{Restricted: chtest.Scratch(t, conn), Analytics: chtest.Scratch(t, conn)}
	ctx := context.Background()
	v1 := fstest.MapFS{"001_t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS {{analytics}}.t (a UInt8) ENGINE = Memory;\n")}}
	ms, err := loadMigrations(v1)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := migrate(ctx, conn, dbs, ms); err != nil || res[0].Action != "applied" {
		t.Fatalf("first migrate = %v, %v; want applied", res, err)
	}
	v2 := fstest.MapFS{"001_t.sql": {Data: []byte("CREATE TABLE IF NOT EXISTS {{analytics}}.t (a UInt16) ENGINE = Memory;\n")}}
	ms2, err := loadMigrations(v2)
	if err != nil {
		t.Fatal(err)
	}
	_, err = migrate(ctx, conn, dbs, ms2)
	if err == nil || !strings.Contains(err.Error(), "never edit an applied migration") {
		t.Fatalf("migrate with an edited file: err = %v, want a checksum error", err)
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	for _, fs := range []fstest.MapFS{
		{"1_x.sql": {Data: []byte("SELECT 1;")}},
		{"001_a.sql": {Data: []byte("SELECT 1;")}, "001_b.sql": {Data: []byte("SELECT 1;")}},
	} {
		if _, err := loadMigrations(fs); err == nil {
			t.Errorf("loadMigrations(%v) succeeded, want an error", fs)
		}
	}
}
