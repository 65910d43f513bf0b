package eligibility

import (
	"regexp"
	"strings"
)

// superstrikeAlternatives are the super-strike offences of PC 667(e)(2)(C)(iv) as gogen
// recognises them (gogen-behaviour.md §2.1), one regexp alternative each. They feed
// gogen-format output columns that are compared cell by cell with gogen's, so they match
// exactly what gogen matches: searched anywhere in the code section, case-sensitive.
var superstrikeAlternatives = []string{
	`37 PC`,  // treason
	`128 PC`, // perjury causing execution
	// Gang-enhanced (186.22(b)(4)) offences, enhancement written after or before.
	`(?:136\.1|215|213\(A\)\(1\)\(A\)|246|519|12022\.55).*186\.22\(B\)\(4\) PC`,
	`186\.22\(B\)\(4\).*(?:136\.1|215|213\(A\)\(1\)\(A\)|246|519|12022\.55) PC`,
	`187 PC`, `188 PC`, `189(?:\.[15])? PC`, // murder
	`190(?:\.\d{1,2})?(?:\(.*\))? PC`,
	`191(?:\.5)? PC`,                     // vehicular manslaughter
	`205 PC`, `207 PC`, `209(?:\.5)? PC`, // mayhem, kidnapping
	`217\.1 PC`, `218 PC`, `219 PC`, `220 PC`,
	`245\(D\)\(3\) PC`,
	`261(?:\(.*\))? PC`, `262(?:\(.*\))? PC`, `264\.1 PC`, `269 PC`,
	`273AB(?:\(.*\))? PC`,
	`286(?:\(C\)\([123]\)(?:\([ABC]\))?|\(D\)\([123]\))? PC`,
	`287 PC`,
	`288(?:\(A\)|\(B\)\([12]\))? PC`,
	`288A(?:\(D\)|\(C\)\(1\)|\(C\)\(2\)\([ABC]\))? PC`,
	`288\.5(?:\(A\))? PC`,
	`289(?:\(J\)|\(A\)\(1\)\([ABC]\)|\(A\)\(2\)\(C\))? PC`,
	`451\.5 PC`, `653F PC`, `667\.(?:61|7|71) PC`, `4500 PC`,
	`11418(?:\(A\)\(1\)|\(B\)\([12]\)) PC`,
	`12308 PC`, `12310 PC`, `18745 PC`, `18755 PC`,
	`1672\(A\) MV`,
}

// pc290Alternatives are the sex-offender-registrable (PC 290) sections as gogen
// recognises them (gogen-behaviour.md §2.1).
var pc290Alternatives = []string{
	`236\.1\([BC]\).* PC`,
	`243\.4.* PC`,
	`261 PC`, `261[(.a-zA-Z]+.* PC`,
	`262\(A\)(?:\(1\))? PC`,
	`264\.1(?:\(.*)? PC`,
	`266 PC`, `266C PC`, `266H\(B\).* PC`, `266I\(B\).* PC`, `266J PC`, `267 PC`,
	`269 PC`, `269[(.a-zA-Z]+.* PC`,
	`272 PC`, `285 PC`, `287 PC`,
	`286[^.]* PC`,
	`288 PC`, `288A.* PC`, `288\.[23457].* PC`,
	`289[^.]* PC`,
	`311\.1.* PC`, `311\.2\([BCD]\) PC`, `311\.(?:[34]|10|11).* PC`,
	`314\([12]\) PC`,
	`451\.5 PC`,
	`647\.6.* PC`, `647A.* PC`,
	`653F\([BC]\) PC`,
}

// Compiled once at package initialisation and never changed: immutable, so safe to
// share between goroutines. One alternation per list scans a section once instead of
// once per pattern; an unanchored alternation matches iff one of its parts does.
//
// The "bounded" variants require the match to start the string or follow a non-digit.
// gogen's unanchored lists also match "1187 PC" as 187 and "137 PC" as 37 (§8.13);
// the columns keep that, but a disqualifier must not fire on such a false positive.
var (
	superstrikeRE        = regexp.MustCompile(`(?:` + strings.Join(superstrikeAlternatives, `|`) + `)`)
	superstrikeBoundedRE = regexp.MustCompile(`(?:^|[^0-9])(?:` + strings.Join(superstrikeAlternatives, `|`) + `)`)
	pc290RE              = regexp.MustCompile(`(?:` + strings.Join(pc290Alternatives, `|`) + `)`)
	pc290BoundedRE       = regexp.MustCompile(`(?:^|[^0-9])(?:` + strings.Join(pc290Alternatives, `|`) + `)`)
)

// IsSuperstrike reports whether a code section is a super strike, exactly as gogen
// decides it for its "Superstrike Code Section(s)" column.
func IsSuperstrike(section string) bool {
	return mayMatch(section) && superstrikeRE.MatchString(section)
}

// IsPC290 reports whether a code section is PC 290 registrable, exactly as gogen decides
// it for its "PC290 Code Section(s)" column.
func IsPC290(section string) bool {
	return mayMatch(section) && pc290RE.MatchString(section)
}

// mayMatch is a cheap pre-check: every alternative of both lists ends in " PC" or
// " MV", and a regexp run over a list costs about a microsecond, so sections of other
// codes (HS, VC, BP…: every Prop 64 charge) skip it.
func mayMatch(section string) bool {
	return strings.Contains(section, " PC") || strings.Contains(section, " MV")
}

// isSuperstrikeStrict and isPC290Strict are the matchers the disqualifiers use: gogen's
// lists, but a section number may not be the tail of a longer number. A strict match is
// always a gogen match, so callers run them only after IsSuperstrike / IsPC290 said yes.
func isSuperstrikeStrict(section string) bool { return superstrikeBoundedRE.MatchString(section) }
func isPC290Strict(section string) bool       { return pc290BoundedRE.MatchString(section) }

// gogenProp64Section is gogen's original Prop 64 rule, kept for its display column
// "Possible Other P64 Charges": the leftmost of 11357/11358/11359/11360 anywhere in s.
func gogenProp64Section(s string) (idx int, ok bool) {
	for from := 0; from+5 <= len(s); {
		j := strings.Index(s[from:], "113")
		if j < 0 || from+j+5 > len(s) {
			return -1, false
		}
		p := from + j
		if i := sectionDigits(s[p+3], s[p+4]); i >= 0 {
			return i, true
		}
		from = p + 1
	}
	return -1, false
}

// subsection11357 returns the letter of the leftmost "11357(X)" in s, X in A–D (upper
// case only, as gogen).
func subsection11357(s string) (byte, bool) {
	for from := 0; ; {
		j := strings.Index(s[from:], "11357(")
		if j < 0 {
			return 0, false
		}
		p := from + j + len("11357(")
		if p+1 < len(s) && s[p] >= 'A' && s[p] <= 'D' && s[p+1] == ')' {
			return s[p], true
		}
		from += j + 1
	}
}

// OtherProp64Charges is gogen's "Possible Other P64 Charges" column for one row
// (gogen-behaviour.md §4.2): COMMENT_TEXT when it names a Prop 64 charge that the offense
// description does not, else "". It deliberately keeps gogen's substring rule (11357.5
// counts) because the column exists to make a person look at the comment, and it is
// compared cell by cell with gogen's output.
func OtherProp64Charges(offense, comment string) string {
	if chargeInComment(offense) {
		return "" // the comment already is the charge
	}
	inComment, ok := gogenProp64Section(comment)
	if !ok {
		return ""
	}
	inOffense, ok := gogenProp64Section(offense)
	if !ok || inOffense != inComment {
		return comment
	}
	if inOffense != HS11357 {
		return ""
	}
	o, oHas := subsection11357(offense)
	c, cHas := subsection11357(comment)
	switch {
	case oHas && cHas:
		if isPossessionAB(o) != isPossessionAB(c) {
			return comment
		}
		return ""
	case cHas:
		return comment
	}
	return ""
}

// isPossessionAB splits 11357's subsections into gogen's two groups, (A)/(B) and (C)/(D).
func isPossessionAB(letter byte) bool { return letter == 'A' || letter == 'B' }
