"""Checks clearway's ClickHouse schema and the analysts' queries on a current ClickHouse.

Run by scripts/check-clickhouse-current, which installs chDB (ClickHouse's engine as a
Python module) and loads two runs into scratch databases on the local server (the
project's 18.16). This program:

  1. applies every schemas/clickhouse/NNN_*.sql to chDB as `clearway migrate` would on a
     current server: version-gated migrations ("-- requires: clickhouse >= X.Y") apply
     when chDB's version is at least X.Y; statements split as pkg/warehouse splits them;
     then applies them all again (they must be idempotent);
  2. copies the analytics tables of the two runs from the local server into chDB;
  3. runs every query of docs/analytics.md ("### Qn." sections, ```sql blocks) on both
     engines and requires the same rows (numbers compared to 1e-9 relative);
  4. replays the statements pkg/warehouse sent to the local server in
     TestRecordStatements (migrate, the writer's aggregates rebuild and clean-up, the
     reads of `clearway report`), arguments bound as clickhouse-go binds them: every one
     must run on the current engine, and the reads of run data must return the same rows
     on both engines.

chDB is clickhouse-local: it has no writable SQL access storage, so statements that
need one (CREATE ROLE, GRANT) are only parsed (EXPLAIN AST) there.

usage: check_clickhouse_current.py REPO HTTP_URL USER PASSWORD RESTRICTED_DB ANALYTICS_DB WORKDIR STATEMENTS_JSON
"""

import base64
import glob
import json
import os
import re
import sys
import urllib.parse
import urllib.request

from chdb import session as chs

ACCESS_STATEMENT = re.compile(r"^\s*(CREATE\s+ROLE|GRANT|REVOKE|CREATE\s+USER)\b", re.I)
REQUIRES = re.compile(r"^-- requires: clickhouse >= ([0-9]+)\.([0-9]+)\s*$")
HEADING = re.compile(r"^### (Q[0-9]+)\. (.*)$", re.M)
TABLES = [("analytics", t) for t in ("decisions", "people", "runs", "conviction_group_counts")] + \
    [("restricted", t) for t in ("decisions", "rejects")]
CH_DB = "clearway_analytics_current"
CH_RESTRICTED = "clearway_restricted_current"


def statements(sql):
    """Splits like pkg/warehouse's statements(): a statement ends with ';' at the end of a
    line; blank and comment-only lines are dropped."""
    out, cur = [], []
    for line in sql.split("\n"):
        t = line.strip()
        if not t or t.startswith("--"):
            continue
        cur.append(line)
        if t.endswith(";"):
            out.append("\n".join(cur).strip()[:-1])
            cur = []
    if "".join(cur).strip():
        out.append("\n".join(cur).strip())
    return out


def doc_queries(path):
    doc = open(path, encoding="utf-8").read()
    heads = list(HEADING.finditer(doc))
    out = []
    for i, h in enumerate(heads):
        body = doc[h.end(): heads[i + 1].start() if i + 1 < len(heads) else len(doc)]
        _, _, after = body.partition("```sql\n")
        sql, _, _ = after.partition("```")
        if not sql:
            raise SystemExit(f"{h.group(1)} has no ```sql block")
        out.append((h.group(1), h.group(2), sql))
    return out


class Server:
    """The local server over HTTP (the 18.16 reference)."""

    def __init__(self, url, user, password):
        self.url, self.auth = url, base64.b64encode(f"{user}:{password}".encode()).decode()

    def query(self, sql):
        req = urllib.request.Request(self.url + "/?" + urllib.parse.urlencode({"query": sql}), method="POST",
                                     headers={"Authorization": "Basic " + self.auth})
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.read()


def rows(tsv):
    return [line.split("\t") for line in tsv.decode("utf-8", "surrogateescape").split("\n") if line != ""]


def bind(sql, args):
    """Formats positional ? arguments into sql as clickhouse-go does (outside quotes)."""
    out, i, quoted = [], 0, False
    for ch in sql:
        if ch == "'":
            quoted = not quoted
        if ch == "?" and not quoted:
            a = args[i]
            i += 1
            if isinstance(a, str):
                out.append("'" + a.replace("\\", "\\\\").replace("'", "\\'") + "'")
            else:
                out.append(str(int(a)))
            continue
        out.append(ch)
    if i != len(args or []):
        raise ValueError(f"{len(args)} arguments for {i} placeholders")
    return "".join(out)


def same_rows(got, want):
    return len(got) == len(want) and all(
        len(g) == len(w) and all(same_cell(a, b) for a, b in zip(g, w)) for g, w in zip(got, want))


def same_cell(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def main():
    repo, url, user, password, restricted, analytics, work, recorded = sys.argv[1:9]
    local_db = {"restricted": restricted, "analytics": analytics}
    current_db = {"restricted": CH_RESTRICTED, "analytics": CH_DB}
    s = chs.Session(os.path.join(work, "chdb"))
    version = s.query("SELECT version()", "TSV").bytes().decode().strip()
    major, minor = (int(p) for p in version.split(".")[:2])
    print(f"chDB engine: ClickHouse {version}")
    failures = 0

    # 1. Migrations, twice.
    for attempt in ("apply", "re-apply"):
        for f in sorted(glob.glob(os.path.join(repo, "schemas/clickhouse/[0-9][0-9][0-9]_*.sql"))):
            name = os.path.basename(f)
            text = open(f, encoding="utf-8").read()
            m = REQUIRES.match(text.split("\n", 1)[0])
            if m and (major, minor) < (int(m.group(1)), int(m.group(2))):
                print(f"  {attempt} {name}: skipped (needs {m.group(1)}.{m.group(2)})")
                continue
            text = text.replace("{{restricted}}", CH_RESTRICTED).replace("{{analytics}}", CH_DB)
            parsed_only = 0
            for st in statements(text):
                try:
                    if ACCESS_STATEMENT.match(st):
                        s.query("EXPLAIN AST " + st)
                        parsed_only += 1
                    else:
                        s.query(st)
                except Exception as e:  # chDB raises its own exception types
                    failures += 1
                    print(f"FAIL {attempt} {name}: {e}\n{st}")
            note = f" ({parsed_only} access statements parsed only)" if parsed_only else ""
            print(f"  {attempt} {name}: ok{note}")

    # 2. The runs' analytics tables, copied from the local server.
    srv = Server(url, user, password)
    for db, t in TABLES:
        path = os.path.join(work, f"{db}.{t}.tsv")
        with open(path, "wb") as out:
            out.write(srv.query(f"SELECT * FROM {local_db[db]}.{t} FORMAT TSVWithNamesAndTypes"))
        s.query(f"INSERT INTO {current_db[db]}.{t} SELECT * FROM file('{path}', 'TSVWithNamesAndTypes')")
        n = s.query(f"SELECT count() FROM {current_db[db]}.{t}", "TSV").bytes().decode().strip()
        print(f"  copied {db} {t}: {n} rows")

    # 3. The analysts' queries on both engines.
    queries = doc_queries(os.path.join(repo, "docs/analytics.md"))
    for qid, title, sql in queries:
        sql = sql.strip().rstrip(";")
        try:
            want = rows(srv.query(sql.replace("clearway_analytics.", analytics + ".") + "\nFORMAT TSV"))
        except Exception as e:
            failures += 1
            print(f"FAIL {qid} ({title}) on the local server: {e}")
            continue
        try:
            got = rows(s.query(sql.replace("clearway_analytics.", CH_DB + "."), "TSV").bytes())
        except Exception as e:
            failures += 1
            print(f"FAIL {qid} ({title}) on ClickHouse {version}: {e}")
            continue
        if not same_rows(got, want):
            failures += 1
            print(f"FAIL {qid} ({title}): results differ\n  {version}: {got[:5]}\n  local:  {want[:5]}")
            continue
        print(f"  {qid}: {len(got)} rows, identical ({title})")

    # 4. pkg/warehouse's own statements, as recorded against the local server.
    rec = json.load(open(recorded, encoding="utf-8"))
    names = {rec["restricted"]: "restricted", rec["analytics"]: "analytics"}
    scratch = re.compile(r"^CREATE DATABASE \w+$")  # the test's scratch databases
    replayed = compared = 0
    for st in rec["statements"]:
        sql = bind(st["sql"], st["args"] or [])
        if scratch.match(sql):
            continue
        on_current, on_local = sql, sql
        for name, db in names.items():
            on_current = on_current.replace(name, current_db[db])
            on_local = on_local.replace(name, local_db[db])
        try:
            got = rows(s.query(on_current, "TSV").bytes())
        except Exception as e:
            failures += 1
            print(f"FAIL replay on ClickHouse {version}: {e}\n{on_current}")
            continue
        replayed += 1
        reads_run_data = st["kind"] == "query" and "run_id = " in sql and "system." not in sql
        if reads_run_data:
            compared += 1
            want = rows(srv.query(on_local + "\nFORMAT TSV"))
            if not same_rows(got, want):
                failures += 1
                print(f"FAIL replay: results differ\n{on_current}\n  {version}: {got[:3]}\n  local:  {want[:3]}")
    # The replayed rebuild wrote a newer version of the aggregates: the view must show
    # the same groups as the local server's.
    groups = "SELECT * FROM {}.conviction_groups ORDER BY run_id, county, section, toString(determination), race, gender, age_band, felony"
    if not same_rows(rows(s.query(groups.format(CH_DB), "TSV").bytes()), rows(srv.query(groups.format(analytics) + " FORMAT TSV"))):
        failures += 1
        print("FAIL conviction_groups after the replayed rebuild differ between the engines")
    print(f"  replayed {replayed} pkg/warehouse statements ({compared} reads of run data compared)")
    print(f"{len(queries)} queries, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
