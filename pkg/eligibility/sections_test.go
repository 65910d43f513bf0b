package eligibility

import (
	"testing"

	"github.com/clearway/clearway/pkg/record"
)

func TestProp64Section(t *testing.T) {
	tests := []struct {
		section string
		want    int // -1 = not Prop 64
	}{
		{"11357(C)HS", HS11357},
		{"11357(A) HS", HS11357},
		{"11357(A)", HS11357},   // no code letters (gogen test)
		{"11357(A)PC", HS11357}, // wrong code letters (gogen test)
		{"11357(b)", HS11357},
		{"11358 HS", HS11358},
		{"11359HS", HS11359},
		{"11360(A) HS", HS11360},
		{"66411357(A) HS", HS11357}, // attempt glued on (gogen test)
		{"664/11357(c) HS", HS11357},
		{"664.11357(c) HS", HS11357},
		{"/11357 HS", HS11357},
		{"HS11358", HS11358},
		{"11358/11357 HS", HS11358}, // leftmost counts
		{"11357.5 HS", -1},          // synthetic cannabinoids (§8.4)
		{"11357.5/11359 HS", HS11359},
		{"11360.1 HS", -1}, // any dotted section is a different section
		{"11357. HS", HS11357},
		{"111357 HS", -1},
		{"113570 HS", -1},
		{"1664113571 HS", -1},
		{"166411357 HS", -1}, // 664 must be the whole prefix number
		{"11364 HS", -1},
		{"11350 HS", -1},
		{"1135", -1},
		{"", -1},
		{"664", -1},
		{"5555 HS", -1},
	}
	for _, tt := range tests {
		idx, ok := Prop64Section(tt.section)
		if tt.want < 0 {
			if ok {
				t.Errorf("Prop64Section(%q) = %d, true; want not Prop 64", tt.section, idx)
			}
			continue
		}
		if !ok || idx != tt.want {
			t.Errorf("Prop64Section(%q) = %d, %v; want %s", tt.section, idx, ok, SectionNames[tt.want])
		}
	}
}

func TestEffectiveSectionDashAttempt(t *testing.T) {
	tests := []struct {
		name             string
		offense, comment string
		section          string // as the reader cut it
		want             string
		wantIdx          int
	}{
		{"dash attempt", "664-11357(A) HS-ATTEMPT", "", "664", "11357(A) HS", HS11357},
		{"dash attempt with spaces", "664 - 11360(A) HS-ATTEMPT", "", "664 ", " 11360(A) HS", HS11360},
		{"dash attempt in comment", "SEE COMMENT FOR CHARGE", "664-11358 HS-ATTEMPT", "664", "11358 HS", HS11358},
		{"slash attempt untouched", "664/11360(A) HS-ATTEMPT", "", "664/11360(A) HS", "664/11360(A) HS", HS11360},
		{"attempted murder is not Prop 64", "664-187 PC-ATTEMPT", "", "664", "664", -1},
		{"dash attempt of 11357.5", "664-11357.5 HS-ATTEMPT", "", "664", "664", -1},
		{"other section", "4149 BP - UNLICENSED", "", "4149 BP ", "4149 BP ", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &record.Event{Offense: tt.offense, Comment: tt.comment, Section: tt.section}
			if got := EffectiveSection(e); got != tt.want {
				t.Errorf("EffectiveSection = %q, want %q", got, tt.want)
			}
			idx, ok := EventProp64Section(e)
			if (tt.wantIdx >= 0) != ok || (ok && idx != tt.wantIdx) {
				t.Errorf("EventProp64Section = %d, %v; want %d", idx, ok, tt.wantIdx)
			}
		})
	}
}

func TestInvolvesMinors(t *testing.T) {
	tests := []struct {
		section string
		want    bool
	}{
		{"11359(C)(3) HS", true},
		{"11359(c)(3) HS", true},
		{"11359(D) HS", true},
		{"11359 (d) HS", true},
		{"11360(A)(3)(C) HS", true},
		{"11360(a)(3)(d) HS", true},
		{"664/11359(D) HS", true},
		{"11359(C) HS", false},
		{"11359(C)(2) HS", false},
		{"11360(A)(3)(B) HS", false},
		{"11360(A) HS", false},
		{"11358(D) HS", false},
		{"11357(D) HS", false},
		{"111359(D) HS", false},
	}
	for _, tt := range tests {
		if got := InvolvesMinors(tt.section); got != tt.want {
			t.Errorf("InvolvesMinors(%q) = %v, want %v", tt.section, got, tt.want)
		}
	}
}

func TestHasSectionContainment(t *testing.T) {
	// gogen's dismiss/reduce lists test containment, not only the leftmost section.
	if !hasSection("11358/11357 HS", HS11357) || !hasSection("11358/11357 HS", HS11358) {
		t.Error("hasSection must find every section named")
	}
	if hasSection("11357.5 HS", HS11357) {
		t.Error("hasSection must not accept 11357.5")
	}
}

func TestEnactmentConstant(t *testing.T) {
	if Enactment != record.MakeDate(2016, 11, 9) {
		t.Fatalf("Enactment = %s, want 2016-11-09", Enactment)
	}
}
