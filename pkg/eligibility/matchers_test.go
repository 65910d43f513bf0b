package eligibility

import "testing"

func TestIsSuperstrike(t *testing.T) {
	yes := []string{
		"37 PC", "128 PC", "187 PC", "188 PC", "189 PC", "189.1 PC", "189.5 PC",
		"190 PC", "190.05 PC", "190.2(A)(17) PC", "190.25(B) PC", "191 PC", "191.5 PC",
		"205 PC", "207 PC", "209 PC", "209.5 PC", "217.1 PC", "218 PC", "219 PC", "220 PC",
		"245(D)(3) PC", "261 PC", "261(A)(1) PC", "262 PC", "262(A)(2) PC", "264.1 PC", "269 PC",
		"273AB PC", "273AB(B) PC", "286 PC", "286(C)(1) PC", "286(C)(3)(B) PC", "286(D)(3) PC",
		"287 PC", "288 PC", "288(A) PC", "288(B)(2) PC", "288A PC", "288A(D) PC",
		"288A(C)(1) PC", "288A(C)(2)(C) PC", "288.5 PC", "288.5(A) PC", "289 PC", "289(J) PC",
		"289(A)(1)(B) PC", "289(A)(2)(C) PC", "451.5 PC", "653F PC", "667.61 PC", "667.7 PC",
		"667.71 PC", "4500 PC", "11418(A)(1) PC", "11418(B)(2) PC", "12308 PC", "12310 PC",
		"18745 PC", "18755 PC", "1672(A) MV",
		// gang enhancement, either order, anything between
		"215/186.22(B)(4) PC", "186.22(B)(4)+519 PC", "12022.55 - 186.22(B)(4) PC",
		"213(A)(1)(A)/186.22(B)(4) PC", "186.22(B)(4)/136.1 PC",
		// unanchored, as gogen (§8.13)
		"1187 PC", "664/187 PC", "137 PC",
	}
	no := []string{
		"187", "187 HS", "187 pc", "186.22(B)(4) PC", "246 PC", "136.1 PC", "186.22(A)/215 PC",
		"189.2 PC", "1900 PC", "190.123 PC", "191(A) PC", "191.55 PC", "209.6 PC", "217.1(A) PC",
		"245 PC", "261.5 PC", "264.11 PC", "273A(B) PC", "286(C) PC", "286(E)(1) PC",
		"288(B) PC", "288B PC", "289(A)(2)(A) PC", "653(F) PC", "667.6 PC", "667 PC",
		"4500(A) PC", "11418(A)(2) PC", "18745(A) PC", "1672(B) MV", "11357 HS",
	}
	for _, s := range yes {
		if !IsSuperstrike(s) {
			t.Errorf("IsSuperstrike(%q) = false, want true", s)
		}
	}
	for _, s := range no {
		if IsSuperstrike(s) {
			t.Errorf("IsSuperstrike(%q) = true, want false", s)
		}
	}
}

func TestIsPC290(t *testing.T) {
	yes := []string{
		"236.1(B) PC", "236.1(C)(2) PC", "243.4 PC", "243.4(A) PC", "261 PC", "261.5 PC",
		"261(A)(2) PC", "262(A) PC", "262(A)(1) PC", "264.1 PC", "264.1(A) PC", "266 PC",
		"266C PC", "266H(B) PC", "266I(B)(1) PC", "266J PC", "267 PC", "269 PC", "269(A)(1) PC",
		"272 PC", "285 PC", "287 PC", "286 PC", "286(C)(2) PC", "288 PC", "288A PC",
		"288A(C) PC", "288.2 PC", "288.3(A) PC", "288.4 PC", "288.5 PC", "288.7(B) PC",
		"289 PC", "289(A)(1) PC", "311.1 PC", "311.2(B) PC", "311.3 PC", "311.4(C) PC",
		"311.10 PC", "311.11(A) PC", "314(1) PC", "314(2) PC", "451.5 PC", "647.6 PC",
		"647.6(A)(1) PC", "647A PC", "653F(B) PC", "653F(C) PC",
		"1266 PC", // unanchored, as gogen
	}
	no := []string{
		"236.1(A) PC", "262 PC", "262(B) PC", "266H PC", "266I(A) PC", "288.1 PC", "288.6 PC",
		"286.5 PC", "289.6 PC", "311.2(A) PC", "311.5 PC", "314 PC", "314(3) PC", "647 PC",
		"653F PC", "653F(A) PC", "290 PC", "266 HS", "11357 HS",
	}
	for _, s := range yes {
		if !IsPC290(s) {
			t.Errorf("IsPC290(%q) = false, want true", s)
		}
	}
	for _, s := range no {
		if IsPC290(s) {
			t.Errorf("IsPC290(%q) = true, want false", s)
		}
	}
}

func TestStrictMatchersRejectLongerNumbers(t *testing.T) {
	tests := []struct {
		section       string
		strike, pc290 bool
	}{
		{"187 PC", true, false},
		{"664/187 PC", true, false}, // attempted murder is a super strike
		{"1187 PC", false, false},
		{"137 PC", false, false},
		{"314(1) PC", false, true},
		{"1266 PC", false, false},
		{"261 PC", true, true},
		{"215/186.22(B)(4) PC", true, false},
	}
	for _, tt := range tests {
		if got := isSuperstrikeStrict(tt.section); got != tt.strike {
			t.Errorf("isSuperstrikeStrict(%q) = %v, want %v", tt.section, got, tt.strike)
		}
		if got := isPC290Strict(tt.section); got != tt.pc290 {
			t.Errorf("isPC290Strict(%q) = %v, want %v", tt.section, got, tt.pc290)
		}
	}
}

func TestOtherProp64Charges(t *testing.T) {
	tests := []struct {
		offense, comment, want string
	}{
		{"912 PC-SOMETHING", "11357(A) HS", "11357(A) HS"},
		{"11358 HS-CULTIVATE", "11359 HS-OTHER CANNABIS", "11359 HS-OTHER CANNABIS"},
		{"11357(A) HS", "11357(C) HS", "11357(C) HS"},
		{"11357(D) HS", "11357(B) HS", "11357(B) HS"},
		{"11357(A) HS", "11357(B) HS", ""},
		{"11357(C) HS", "11357(D) HS", ""},
		{"11357 HS", "11357(C) HS", "11357(C) HS"}, // only the comment has a letter
		{"11357(C) HS", "11357 HS", ""},            // only the offense has one
		{"11357(c) HS", "11357(a) HS", ""},         // lower case letters are not subsections
		{"11358 HS", "11358(C) HS", ""},            // same non-11357 section
		{"SEE COMMENT FOR CHARGE", "11359 HS", ""},
		{"  ", "11359 HS", ""},
		{"11358 HS", "THIS IS A COMMENT", ""},
		{"11358 HS", "", ""},
		{"503 VC-TAKE CAR", "11357.5 HS", "11357.5 HS"}, // gogen's substring rule on purpose
		{"11359 HS", "111359 HS", ""},
	}
	for _, tt := range tests {
		if got := OtherProp64Charges(tt.offense, tt.comment); got != tt.want {
			t.Errorf("OtherProp64Charges(%q, %q) = %q, want %q", tt.offense, tt.comment, got, tt.want)
		}
	}
}
