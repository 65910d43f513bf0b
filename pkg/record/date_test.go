package record

import (
	"testing"
	"time"
)

func TestDateRoundTrip(t *testing.T) {
	for _, s := range []string{"0001-01-01", "1961-02-28", "1970-01-01", "2000-02-29", "2016-11-09", "2099-12-31"} {
		d, err := ParseISO(s)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != s {
			t.Errorf("%s round-trips to %s", s, d.String())
		}
		tm, _ := time.Parse("2006-01-02", s)
		if !d.Time().Equal(tm) {
			t.Errorf("%s: Time() = %v", s, d.Time())
		}
	}
}

func TestParseYYYYMMDD(t *testing.T) {
	cases := map[string]bool{
		"19790601": true, "20000229": true, "19000229": false, "20150230": false,
		"19700000": false, "1970XXXX": false, "": false, "2015-01-01": false, "197906011": false,
	}
	for in, ok := range cases {
		d, got := ParseYYYYMMDD(in)
		if got != ok || d.Valid() != ok {
			t.Errorf("ParseYYYYMMDD(%q) = %v, %v; want ok=%v", in, d, got, ok)
		}
	}
}

func TestAddYearsMatchesGo(t *testing.T) {
	for _, s := range []string{"2000-02-29", "1963-07-01", "1999-12-31", "2004-01-31"} {
		d, _ := ParseISO(s)
		for _, n := range []int{-7, 1, 21, 57} {
			want := DateOf(d.Time().AddDate(n, 0, 0))
			if got := d.AddYears(n); got != want {
				t.Errorf("%s + %d years = %s, want %s", s, n, got, want)
			}
		}
		want := DateOf(d.Time().AddDate(0, 13, 0))
		if got := d.AddMonths(13); got != want {
			t.Errorf("%s + 13 months = %s, want %s", s, got, want)
		}
	}
	if NoDate.AddYears(3).Valid() {
		t.Error("NoDate + 3 years is valid")
	}
}

func TestYearsBetween(t *testing.T) {
	a, _ := ParseISO("1990-07-02")
	b, _ := ParseISO("2020-07-01")
	if got := YearsBetween(a, b); got != 29 {
		t.Errorf("got %d, want 29", got)
	}
	c, _ := ParseISO("2020-07-02")
	if got := YearsBetween(a, c); got != 30 {
		t.Errorf("got %d, want 30", got)
	}
	if YearsBetween(NoDate, c) != -1 {
		t.Error("invalid date gives an age")
	}
}
