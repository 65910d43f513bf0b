package eligibility

import (
	"strings"

	"github.com/clearway/clearway/pkg/record"
)

// seeCommentForCharge is the DOJ placeholder that moves the real charge into COMMENT_TEXT.
const seeCommentForCharge = "SEE COMMENT FOR CHARGE"

// Prop64Section classifies a code section string (record.Event.Section). It reports the
// leftmost occurrence of 11357, 11358, 11359 or 11360 that stands as a section number of
// its own, as an index HS11357…HS11360.
//
// This is gogen's substring rule (gogen-behaviour.md §1.3) with two fixes (§8.4):
//   - a match must not be part of a longer number: a digit right after it (113570) or
//     right before it (111357) rejects it. The one exception is the attempt prefix "664"
//     written without a separator ("66411357(A) HS"), which gogen's tests require;
//   - a match followed by "." and a digit names a different, dotted section (11357.5 is
//     synthetic cannabinoids, not Prop 64), so it is rejected.
//
// Separators such as "664/11357", "664.11357" or "/11357" are fine, and the code letters
// that follow are not checked ("11357(A)PC" counts, as in gogen).
func Prop64Section(section string) (idx int, ok bool) {
	_, idx = nextSection(section, 0)
	return idx, idx >= 0
}

// nextSection returns the position and index of the first valid Prop 64 section number
// at or after from, or (-1, -1). Code sections are short, so a plain byte loop beats
// strings.Index's call overhead; this runs on every conviction row.
func nextSection(s string, from int) (pos, idx int) {
	for p := from; p+5 <= len(s); p++ {
		if s[p] != '1' || s[p+1] != '1' || s[p+2] != '3' {
			continue
		}
		if idx := sectionDigits(s[p+3], s[p+4]); idx >= 0 && standsAlone(s, p) {
			return p, idx
		}
	}
	return -1, -1
}

// sectionDigits maps the last two digits of 113xx to a section index, or -1.
func sectionDigits(a, b byte) int {
	switch {
	case a == '5' && b == '7':
		return HS11357
	case a == '5' && b == '8':
		return HS11358
	case a == '5' && b == '9':
		return HS11359
	case a == '6' && b == '0':
		return HS11360
	}
	return -1
}

// standsAlone reports whether the five digits at s[p:p+5] are a whole section number.
func standsAlone(s string, p int) bool {
	if end := p + 5; end < len(s) {
		if isDigit(s[end]) {
			return false
		}
		if s[end] == '.' && end+1 < len(s) && isDigit(s[end+1]) {
			return false
		}
	}
	if p > 0 && isDigit(s[p-1]) {
		// Only the attempt prefix may be glued on: exactly "664" before it.
		return p >= 3 && s[p-3:p] == "664" && (p == 3 || !isDigit(s[p-4]))
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// hasSection reports whether s contains a valid occurrence (see Prop64Section) of the
// section with index idx anywhere, not only leftmost: gogen's dismiss and reduce lists
// test containment (a section string naming two sections matches both).
func hasSection(s string, idx int) bool {
	for from := 0; ; {
		p, i := nextSection(s, from)
		if p < 0 {
			return false
		}
		if i == idx {
			return true
		}
		from = p + 1
	}
}

// chargeText is the text the reader cut the event's Section from: OFFENSE_DESCR, or
// COMMENT_TEXT when the description is blank or the "see comment" placeholder.
func chargeText(e *record.Event) string {
	if chargeInComment(e.Offense) {
		return e.Comment
	}
	return e.Offense
}

// chargeInComment is gogen's test for a charge carried in COMMENT_TEXT.
func chargeInComment(offense string) bool {
	t := strings.TrimSpace(offense)
	return t == "" || t == seeCommentForCharge
}

// EffectiveSection returns the code section text the engine classifies for e: normally
// e.Section, but for an attempt written with a dash ("664-11357(A) HS-ATTEMPT", whose
// Section the reader cut to "664", gogen-behaviour.md §1.3 and §8.4) the text between
// "664-" and the next '-' ("11357(A) HS"). It never allocates.
func EffectiveSection(e *record.Event) string {
	text, _ := effectiveSection(e)
	return text
}

// EventProp64Section classifies an event: Prop64Section of its EffectiveSection.
func EventProp64Section(e *record.Event) (idx int, ok bool) {
	_, idx = effectiveSection(e)
	return idx, idx >= 0
}

// effectiveSection returns EffectiveSection and its Prop 64 index (-1 when none),
// classifying the text once.
func effectiveSection(e *record.Event) (string, int) {
	if _, idx := nextSection(e.Section, 0); idx >= 0 {
		return e.Section, idx
	}
	// The reader cut a dash attempt's Section to what precedes the dash: "664".
	if strings.TrimSpace(e.Section) != "664" {
		return e.Section, -1
	}
	rest := strings.TrimLeft(chargeText(e), " ")
	rest = strings.TrimLeft(strings.TrimPrefix(rest, "664"), " ")
	rest, ok := strings.CutPrefix(rest, "-")
	if !ok {
		return e.Section, -1
	}
	if i := strings.IndexByte(rest, '-'); i >= 0 {
		rest = rest[:i]
	}
	if _, idx := nextSection(rest, 0); idx >= 0 {
		return rest, idx
	}
	return e.Section, -1
}

// InvolvesMinors reports whether a code section names one of the subsections that
// involve minors and so were never eligible: 11359(c)(3), 11359(d), 11360(a)(3)(C) and
// 11360(a)(3)(D). Letters are case-insensitive and spaces may separate the section
// number from its subsections.
func InvolvesMinors(section string) bool {
	for from := 0; ; {
		p, idx := nextSection(section, from)
		if p < 0 {
			return false
		}
		from = p + 1
		rest := strings.TrimLeft(section[p+5:], " ")
		switch idx {
		case HS11359:
			if hasPrefixFold(rest, "(C)(3)") || hasPrefixFold(rest, "(D)") {
				return true
			}
		case HS11360:
			if hasPrefixFold(rest, "(A)(3)(C)") || hasPrefixFold(rest, "(A)(3)(D)") {
				return true
			}
		}
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
