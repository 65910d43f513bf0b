// Package record holds Clearway's domain types: dates, the typed view of one DOJ
// event row, and subjects (all rows of one person). It does no I/O.
package record

import (
	"fmt"
	"time"
)

// Date is a calendar date stored as days since 1970-01-01 (UTC). The zero value is
// 1970-01-01; NoDate marks a missing or unparseable date. Dates are compared as ints.
type Date int32

// NoDate is a missing or invalid date. It never grants relief (see docs/gogen-differences.md).
const NoDate Date = -1 << 31

// Valid reports whether d is a real date.
func (d Date) Valid() bool { return d != NoDate }

// DateOf returns the Date of t's calendar day in UTC.
func DateOf(t time.Time) Date {
	y, m, dd := t.UTC().Date()
	return civilToDays(y, int(m), dd)
}

// MakeDate returns the Date for year y, month m, day dd; out-of-range parts normalise
// as time.Date does.
func MakeDate(y, m, dd int) Date {
	if m >= 1 && m <= 12 && dd >= 1 && dd <= 28 {
		return civilToDays(y, m, dd)
	}
	return DateOf(time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC))
}

// ParseYYYYMMDD parses the DOJ's strict 8-digit date. It returns NoDate, false for
// anything else, including impossible dates such as 20150230 or 19700000.
func ParseYYYYMMDD(s string) (Date, bool) {
	if len(s) != 8 {
		return NoDate, false
	}
	n := 0
	for i := 0; i < 8; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return NoDate, false
		}
		n = n*10 + int(c-'0')
	}
	y, m, d := n/10000, n/100%100, n%100
	if y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return NoDate, false
	}
	return civilToDays(y, m, d), true
}

// ParseISO parses YYYY-MM-DD (the flag format).
func ParseISO(s string) (Date, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return NoDate, fmt.Errorf("%q is not a date in the form YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// Civil returns year, month and day.
func (d Date) Civil() (y, m, dd int) {
	// Howard Hinnant's days_from_civil inverse.
	z := int(d) + 719468
	era := z
	if z < 0 {
		era = z - 146096
	}
	era /= 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	dd = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return y, m, dd
}

// Time returns midnight UTC of d.
func (d Date) Time() time.Time {
	y, m, dd := d.Civil()
	return time.Date(y, time.Month(m), dd, 0, 0, 0, 0, time.UTC)
}

// AddYears adds n calendar years the way Go's time.AddDate does: 29 February plus a
// year that is not leap normalises to 1 March. NoDate stays NoDate.
func (d Date) AddYears(n int) Date {
	if !d.Valid() {
		return NoDate
	}
	y, m, dd := d.Civil()
	return MakeDate(y+n, m, dd)
}

// AddMonths adds n calendar months (time.AddDate semantics).
func (d Date) AddMonths(n int) Date {
	if !d.Valid() {
		return NoDate
	}
	y, m, dd := d.Civil()
	return MakeDate(y, m+n, dd)
}

// Year returns the calendar year, or 0 for NoDate.
func (d Date) Year() int {
	if !d.Valid() {
		return 0
	}
	y, _, _ := d.Civil()
	return y
}

// String formats d as YYYY-MM-DD, or "" for NoDate.
func (d Date) String() string {
	if !d.Valid() {
		return ""
	}
	y, m, dd := d.Civil()
	return fmt.Sprintf("%04d-%02d-%02d", y, m, dd)
}

// YearsBetween returns whole calendar years from a to b (age arithmetic), or -1 when
// either date is invalid or b is before a.
func YearsBetween(a, b Date) int {
	if !a.Valid() || !b.Valid() || b < a {
		return -1
	}
	ay, am, ad := a.Civil()
	by, bm, bd := b.Civil()
	n := by - ay
	if bm < am || (bm == am && bd < ad) {
		n--
	}
	return n
}

func civilToDays(y, m, d int) Date {
	if m <= 2 {
		y--
	}
	era := y
	if y < 0 {
		era = y - 399
	}
	era /= 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return Date(era*146097 + doe - 719468)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
