package warehouse_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/clearway/clearway/pkg/eligibility"
	"github.com/clearway/clearway/pkg/policy"
	"github.com/clearway/clearway/pkg/report"
	"github.com/clearway/clearway/pkg/warehouse"
	"github.com/clearway/clearway/pkg/warehouse/chtest"
)

// docQuery is one example query of docs/analytics.md.
type docQuery struct {
	id, title, sql string
}

var docHeading = regexp.MustCompile(`(?m)^### (Q[0-9]+)\. (.*)$`)

// docQueries extracts "### Qn. title" sections and the ```sql block of each.
func docQueries(t *testing.T) []docQuery {
	t.Helper()
	b, err := os.ReadFile("../../docs/analytics.md")
	if err != nil {
		t.Fatalf("read the analysts' guide: %v", err)
	}
	doc := string(b)
	locs := docHeading.FindAllStringSubmatchIndex(doc, -1)
	var out []docQuery
	for i, l := range locs {
		end := len(doc)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		body := doc[l[1]:end]
		_, after, ok := strings.Cut(body, "```sql\n")
		if !ok {
			t.Fatalf("%s has no ```sql block", doc[l[2]:l[3]])
		}
		sql, _, ok := strings.Cut(after, "```")
		if !ok {
			t.Fatalf("%s: unterminated ```sql block", doc[l[2]:l[3]])
		}
		out = append(out, docQuery{id: doc[l[2]:l[3]], title: doc[l[4]:l[5]], sql: sql})
	}
	return out
}

// row is one result row, by column name.
type row map[string]any

func (r row) n(t *testing.T, col string) int64 {
	t.Helper()
	switch v := r[col].(type) {
	case uint64:
		return int64(v)
	case int64:
		return v
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case int32:
		return int64(v)
	case float64:
		return int64(v)
	}
	t.Fatalf("column %s = %#v (%T): not a number", col, r[col], r[col])
	return 0
}

func (r row) s(col string) string { return fmt.Sprint(r[col]) }

// queryRows runs a query and returns its rows generically, by the driver's scan types.
func queryRows(t *testing.T, conn driver.Conn, q string) []row {
	t.Helper()
	rows, err := conn.Query(context.Background(), q)
	if err != nil {
		t.Fatalf("query failed: %v\n%s", err, q)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	var out []row
	for rows.Next() {
		dest := make([]any, len(types))
		for i, ct := range types {
			dest[i] = reflect.New(ct.ScanType()).Interface()
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatalf("scan: %v\n%s", err, q)
		}
		r := row{}
		for i, ct := range types {
			r[ct.Name()] = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("rows: %v\n%s", err, q)
	}
	return out
}

// switchedPolicies dismisses every section a policy reduced: the "one policy switch"
// of Q8.
func switchedPolicies() *eligibility.Policies {
	pols := policy.DefaultPolicies()
	sw := func(p *eligibility.Policy) *eligibility.Policy {
		c := *p
		c.Dismiss = append(append([]int(nil), p.Dismiss...), p.Reduce...)
		c.Reduce = nil
		c.Name, c.Hash = p.Name+"+dismiss-reduced-sections", p.Hash+"-switched"
		return &c
	}
	out := &eligibility.Policies{ByCounty: map[string]*eligibility.Policy{}}
	if pols.Default != nil {
		out.Default = sw(pols.Default)
	}
	for county, p := range pols.ByCounty {
		out.ByCounty[county] = sw(p)
	}
	return out
}

// TestAnalyticsDocQueries runs every query of docs/analytics.md against a loaded
// statewide run and checks its result against the run's own summary.json.
func TestAnalyticsDocQueries(t *testing.T) {
	queries := docQueries(t)
	if len(queries) < 10 {
		t.Fatalf("docs/analytics.md has %d example queries, want at least 10", len(queries))
	}
	conn := chtest.Connect(t)
	dbs := migratedOn(t, conn)
	a := runWithClickHouse(t, conn, dbs, "doc-run")
	b := runWithPolicies(t, conn, dbs, "doc-run-alt", switchedPolicies())
	s := a.summary

	checks := docChecks(s, b.summary)
	for _, q := range queries {
		t.Run(q.id, func(t *testing.T) {
			check, ok := checks[q.id]
			if !ok {
				t.Fatalf("%s (%s) has no result check in this test: add one", q.id, q.title)
			}
			sql := strings.NewReplacer(
				"clearway_analytics.", dbs.Analytics+".",
				"'2024-07-statewide-alt'", "'doc-run-alt'",
				"'2024-07-statewide'", "'doc-run'",
			).Replace(q.sql)
			rows := queryRows(t, conn, sql)
			if len(rows) == 0 {
				t.Fatalf("%s returned no rows", q.id)
			}
			check(t, rows)
		})
	}
}

func migratedOn(t *testing.T, conn driver.Conn) warehouse.Databases {
	t.Helper()
	dbs := warehouse.Databases{Restricted: chtest.Scratch(t, conn), Analytics: chtest.Scratch(t, conn)}
	if _, err := warehouse.Migrate(context.Background(), conn, dbs); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return dbs
}

// eq fails when got != want, naming what was compared.
func eq(t *testing.T, what string, got, want int64) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %d, want %d (summary.json)", what, got, want)
	}
}

func entry(t *testing.T, b report.Breakdown, key, rule string) *report.Entry {
	t.Helper()
	e := b.Find(key, rule)
	if e == nil {
		t.Fatalf("summary.json has no breakdown entry %q %q", key, rule)
	}
	return e
}

func docChecks(s, alt *report.Summary) map[string]func(*testing.T, []row) {
	br := s.Breakdowns
	relieved := func(e *report.Entry) int64 { return e.ByDetermination.Dismiss + e.ByDetermination.Reduce }
	return map[string]func(*testing.T, []row){
		"Q1": func(t *testing.T, rows []row) {
			found := false
			for _, r := range rows {
				if r.s("run_id") != "doc-run" {
					continue
				}
				found = true
				if r.s("status") != "complete" {
					t.Errorf("status %q, want complete", r.s("status"))
				}
				eq(t, "rows", r.n(t, "rows"), s.Totals.Rows)
				eq(t, "subjects", r.n(t, "subjects"), s.Totals.Subjects)
				eq(t, "convictions", r.n(t, "convictions"), s.Totals.ConvictionsEvaluated)
			}
			if !found || len(rows) != 2 {
				t.Errorf("%d runs listed (doc-run found: %v), want doc-run and doc-run-alt", len(rows), found)
			}
		},
		"Q2": func(t *testing.T, rows []row) {
			eq(t, "counties", int64(len(rows)), int64(len(br.County)))
			for _, r := range rows {
				e := entry(t, br.County, r.s("county"), "")
				eq(t, r.s("county")+" convictions", r.n(t, "convictions"), e.Convictions)
				eq(t, r.s("county")+" relieved", r.n(t, "convictions_relieved"), relieved(e))
				eq(t, r.s("county")+" people", r.n(t, "people"), e.People)
			}
		},
		"Q3": func(t *testing.T, rows []row) {
			byRace, byGender := map[string]int64{}, map[string]int64{}
			var dismissed, reduced int64
			for _, r := range rows {
				byRace[r.s("race")] += r.n(t, "convictions")
				byGender[r.s("gender")] += r.n(t, "convictions")
				dismissed += r.n(t, "dismissed")
				reduced += r.n(t, "reduced")
			}
			for _, e := range br.Race {
				eq(t, "race "+e.Key, byRace[e.Key], e.Convictions)
			}
			for _, e := range br.Gender {
				eq(t, "gender "+e.Key, byGender[e.Key], e.Convictions)
			}
			eq(t, "race keys", int64(len(byRace)), int64(len(br.Race)))
			eq(t, "dismissed", dismissed, s.Totals.ConvictionsDismissed)
			eq(t, "reduced", reduced, s.Totals.ConvictionsReduced)
		},
		"Q4": func(t *testing.T, rows []row) {
			var fel, red, dis int64
			for _, r := range rows {
				fel += r.n(t, "felonies")
				red += r.n(t, "felonies_reduced")
				dis += r.n(t, "felonies_dismissed")
			}
			e := entry(t, br.Felony, report.KeyFelony, "")
			eq(t, "felonies", fel, e.Convictions)
			eq(t, "felonies reduced", red, e.ByDetermination.Reduce)
			eq(t, "felonies dismissed", dis, e.ByDetermination.Dismiss)
		},
		"Q5": func(t *testing.T, rows []row) {
			r := rows[0]
			c := s.Gogen.ReliefWithCurrentEligibilityChoices
			eq(t, "people", r.n(t, "people"), s.Totals.Subjects)
			eq(t, "people with relief", r.n(t, "people_with_relief"), s.Totals.PeopleWithRelief)
			eq(t, "records fully cleared", r.n(t, "records_fully_cleared"), s.Totals.RecordsFullyCleared)
			eq(t, "felony free", r.n(t, "felony_free"), c.CountSubjectsNoFelony)
			eq(t, "clear 7 years", r.n(t, "clear_last_7_years"), c.CountSubjectsNoConvictionLast7Years)
		},
		"Q6": func(t *testing.T, rows []row) {
			eq(t, "counties", int64(len(rows)), int64(len(br.County)))
			for _, r := range rows {
				e := entry(t, br.County, r.s("county"), "")
				eq(t, r.s("county")+" dismissed now", r.n(t, "dismissed_now"), e.ByDetermination.Dismiss)
				eq(t, r.s("county")+" more if dismiss all", r.n(t, "more_dismissed_if_dismiss_all"), e.Convictions-e.ByDetermination.Dismiss)
				eq(t, r.s("county")+" people", r.n(t, "people"), e.People)
			}
		},
		"Q7": func(t *testing.T, rows []row) {
			r := rows[0]
			c, d := s.Gogen.ReliefWithCurrentEligibilityChoices, s.Gogen.ReliefWithDismissAllProp64
			eq(t, "cleared now", r.n(t, "cleared_now"), c.CountSubjectsNoConviction)
			eq(t, "cleared if dismiss all", r.n(t, "cleared_if_dismiss_all"), d.CountSubjectsNoConviction)
			eq(t, "felony free now", r.n(t, "felony_free_now"), c.CountSubjectsNoFelony)
			eq(t, "felony free if dismiss all", r.n(t, "felony_free_if_dismiss_all"), d.CountSubjectsNoFelony)
			eq(t, "clear 7y now", r.n(t, "clear_7y_now"), c.CountSubjectsNoConvictionLast7Years)
			eq(t, "clear 7y if dismiss all", r.n(t, "clear_7y_if_dismiss_all"), d.CountSubjectsNoConvictionLast7Years)
		},
		"Q8": func(t *testing.T, rows []row) {
			// Every changed conviction leaves one determination and enters another, so
			// per determination: left − entered = before-run count − after-run count.
			net := map[string]int64{}
			for _, r := range rows {
				net[r.s("before")] += r.n(t, "convictions")
				net[r.s("after")] -= r.n(t, "convictions")
			}
			for _, e := range br.Determination {
				var after int64
				if a := alt.Breakdowns.Determination.Find(e.Key, ""); a != nil {
					after = a.Convictions
				}
				eq(t, "net change of "+e.Key, net[e.Key], e.Convictions-after)
			}
			eq(t, "reduce→dismiss convictions", rows[0].n(t, "convictions"), s.Totals.ConvictionsReduced-alt.Totals.ConvictionsReduced)
		},
		"Q9": func(t *testing.T, rows []row) {
			eq(t, "sections", int64(len(rows)), int64(len(br.Section)))
			for _, r := range rows {
				e := entry(t, br.Section, r.s("section"), "")
				eq(t, r.s("section")+" convictions", r.n(t, "convictions"), e.Convictions)
				eq(t, r.s("section")+" dismissed", r.n(t, "dismissed"), e.ByDetermination.Dismiss)
				eq(t, r.s("section")+" reduced", r.n(t, "reduced"), e.ByDetermination.Reduce)
				eq(t, r.s("section")+" hand review", r.n(t, "hand_review"), e.ByDetermination.HandReview)
				eq(t, r.s("section")+" not eligible", r.n(t, "not_eligible"), e.ByDetermination.NotEligible)
			}
		},
		"Q10": func(t *testing.T, rows []row) {
			eq(t, "age bands", int64(len(rows)), int64(len(br.AgeBand)))
			for _, r := range rows {
				e := entry(t, br.AgeBand, r.s("age_band"), "")
				eq(t, r.s("age_band")+" convictions", r.n(t, "convictions"), e.Convictions)
				eq(t, r.s("age_band")+" people", r.n(t, "people"), e.People)
				eq(t, r.s("age_band")+" relieved", r.n(t, "relieved"), relieved(e))
			}
		},
		"Q11": func(t *testing.T, rows []row) {
			got := map[[2]string]int64{}
			for _, r := range rows {
				k := [2]string{r.s("reason"), r.s("rule_id")}
				got[k] += r.n(t, "convictions")
				e := entry(t, br.Reason, k[0], k[1])
				eq(t, k[0]+" "+r.s("determination"), r.n(t, "convictions"), e.ByDetermination.Get(determinationOf(r.s("determination"))))
			}
			eq(t, "reason/rule pairs", int64(len(got)), int64(len(br.Reason)))
			for _, e := range br.Reason {
				eq(t, e.Key+" "+e.RuleID, got[[2]string{e.Key, e.RuleID}], e.Convictions)
			}
		},
		"Q12": func(t *testing.T, rows []row) {
			eq(t, "counties", int64(len(rows)), int64(len(br.County)))
			for _, r := range rows {
				e := entry(t, br.County, r.s("county"), "")
				eq(t, r.s("county")+" convictions", r.n(t, "total_convictions"), e.Convictions)
				eq(t, r.s("county")+" relieved", r.n(t, "relieved"), relieved(e))
			}
		},
		"Q13": func(t *testing.T, rows []row) {
			eq(t, "determinations", int64(len(rows)), int64(len(br.Determination)))
			for _, r := range rows {
				e := entry(t, br.Determination, r.s("determination"), "")
				eq(t, r.s("determination"), r.n(t, "convictions"), e.Convictions)
			}
		},
		"Q14": func(t *testing.T, rows []row) {
			var n, dis, red int64
			for _, r := range rows {
				if d := r.n(t, "decade"); d != 0 && (d < 1900 || d%10 != 0) {
					t.Errorf("decade %d", d)
				}
				n += r.n(t, "convictions")
				dis += r.n(t, "dismissed")
				red += r.n(t, "reduced")
			}
			eq(t, "convictions", n, s.Totals.ConvictionsEvaluated)
			eq(t, "dismissed", dis, s.Totals.ConvictionsDismissed)
			eq(t, "reduced", red, s.Totals.ConvictionsReduced)
		},
	}
}

// determinationOf maps a stored determination name back to the engine's value.
func determinationOf(name string) eligibility.Determination {
	for d := eligibility.None; d <= eligibility.NotEligible; d++ {
		if d.String() == name {
			return d
		}
	}
	return eligibility.None
}
