package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// clearway runs the command in-process and returns its exit status and output.
func clearway(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := mainCode(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func genFile(t *testing.T, args ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "doj.csv")
	if code, _, stderr := clearway(t, append([]string{"gen", "-o", p}, args...)...); code != 0 {
		t.Fatalf("gen failed (%d): %s", code, stderr)
	}
	return p
}

func TestUsageErrorsExitTwoWithOneLine(t *testing.T) {
	in := genFile(t, "--rows", "50")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--format", "xml", in}, `--format "xml": want native or gogen`},
		{[]string{"run", "--compute-at", "2020-13-01", in}, "--compute-at"},
		{[]string{"run", "--county", "Los Angeles", in}, `"LOS ANGELES"`},
		{[]string{"run", "--policy", "a.json", "--policies", "dir", in}, "exclusive"},
		{[]string{"run"}, "no input files"},
		{[]string{"run", "--no-such-flag", in}, "no-such-flag"},
		{[]string{"gen", "--rows", "10"}, "-o FILE is required"},
		{[]string{"frobnicate"}, "unknown command"},
	}
	for _, c := range cases {
		code, _, stderr := clearway(t, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, stderr %q; want exit 2 mentioning %q", c.args, code, stderr, c.want)
		}
	}
}

func TestBadPolicyFailsBeforeReading(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "opts.json")
	os.WriteFile(pol, []byte(`{"baselineEligibility":{"dismiss":["11357(A)"]}}`), 0o644)
	out := filepath.Join(dir, "out")
	code, _, stderr := clearway(t, "run", "--policy", pol, "--out", out, filepath.Join(dir, "missing.csv"))
	if code != 1 || !strings.Contains(stderr, "opts.json") || !strings.Contains(stderr, "11357(A)") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Error("output folder created although the policy was bad")
	}
}

func TestRunNativeStatewide(t *testing.T) {
	in := genFile(t, "--rows", "3000", "--seed", "7")
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, stderr := clearway(t, "run", "--compute-at", "2020-07-01", "--progress", "none", "--out", out, in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, name := range []string{"decisions.parquet", "decisions.csv", "summary.json", "report.html", "rejects.csv"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("missing output %s", name)
		}
	}
	if _, err := os.Stat(filepath.Join(out, ".clearway-partial")); !os.IsNotExist(err) {
		t.Error("staging folder left behind")
	}
	var sum struct {
		Run struct {
			ComputeAt string `json:"compute_at"`
		} `json:"run"`
	}
	b, _ := os.ReadFile(filepath.Join(out, "summary.json"))
	if err := json.Unmarshal(b, &sum); err != nil || sum.Run.ComputeAt != "2020-07-01" {
		t.Errorf("summary compute-at = %q (%v)", sum.Run.ComputeAt, err)
	}
	rows := readCSV(t, filepath.Join(out, "decisions.csv"))
	if len(rows) < 2 {
		t.Fatalf("no decisions in %d generated rows", 3000)
	}
	if !strings.Contains(stdout, "convictions decided") || !strings.Contains(stdout, "report.html") {
		t.Errorf("summary line missing: %q", stdout)
	}
	if strings.Contains(stdout+stderr, "DOE,") {
		t.Error("output mentions a name")
	}
}

func TestUnreadableInputRunsTheOthersAndExitsOne(t *testing.T) {
	in := genFile(t, "--rows", "500")
	out := filepath.Join(t.TempDir(), "out")
	missing := filepath.Join(t.TempDir(), "nope.csv")
	code, _, stderr := clearway(t, "run", "--compute-at", "2020-07-01", "--progress", "none", "--out", out, in, missing)
	if code != 1 || !strings.Contains(stderr, "nope.csv") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(out, "decisions.csv")); err != nil {
		t.Error("the readable file's results were not written")
	}
}

func TestStrictFailsOnQuarantinedRows(t *testing.T) {
	in := genFile(t, "--rows", "200")
	f, _ := os.OpenFile(in, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("a,b,c\n")
	f.Close()
	out := filepath.Join(t.TempDir(), "out")
	code, stdout, _ := clearway(t, "run", "--compute-at", "2020-07-01", "--progress", "none", "--out", out, in)
	if code != 0 || !strings.Contains(stdout, "quarantined rows: 1") {
		t.Fatalf("without --strict: exit %d, %q", code, stdout)
	}
	rej := readCSV(t, filepath.Join(out, "rejects.csv"))
	if len(rej) != 2 || !strings.Contains(strings.Join(rej[1], ","), "want 95") {
		t.Errorf("rejects.csv = %q", rej)
	}
	code, _, stderr := clearway(t, "run", "--strict", "--compute-at", "2020-07-01", "--progress", "none", "--out", out, in)
	if code != 1 || !strings.Contains(stderr, "--strict") {
		t.Errorf("with --strict: exit %d, %q", code, stderr)
	}
}

// TestRerunIsByteIdentical covers the determinism promise on sorted and shuffled input.
func TestRerunIsByteIdentical(t *testing.T) {
	for _, shuffle := range []bool{false, true} {
		args := []string{"--rows", "4000", "--seed", "3"}
		if shuffle {
			args = append(args, "--shuffle")
		}
		in := genFile(t, args...)
		var got [2][]byte
		for i := range got {
			out := filepath.Join(t.TempDir(), "out")
			if code, _, stderr := clearway(t, "run", "--compute-at", "2020-07-01", "--progress", "none", "--out", out, in); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			got[i], _ = os.ReadFile(filepath.Join(out, "decisions.csv"))
			pq, _ := os.ReadFile(filepath.Join(out, "decisions.parquet"))
			got[i] = append(got[i], pq...)
		}
		if len(got[0]) == 0 || !bytes.Equal(got[0], got[1]) {
			t.Errorf("shuffle=%v: reruns differ", shuffle)
		}
	}
}

func TestGenIsDeterministicAndGzips(t *testing.T) {
	a := genFile(t, "--rows", "1000", "--seed", "5")
	b := genFile(t, "--rows", "1000", "--seed", "5")
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Fatal("same seed, different files")
	}
	gz := filepath.Join(t.TempDir(), "doj.csv.gz")
	if code, _, stderr := clearway(t, "gen", "--rows", "1000", "--seed", "5", "-o", gz); code != 0 {
		t.Fatal(stderr)
	}
	zb, _ := os.ReadFile(gz)
	if len(zb) < 2 || zb[0] != 0x1f || zb[1] != 0x8b {
		t.Fatal("not gzip")
	}
	if fi, _ := os.Stat(gz); fi.Mode().Perm()&0o044 == 0 {
		t.Errorf("generated file is not readable by others: %v", fi.Mode())
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
