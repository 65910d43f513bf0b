package record

import (
	"fmt"
	"strings"
)

// County is one of California's 58 counties as the DOJ writes it in STP_ORI_CNTY_NAME.
type County struct {
	// Name is the county name in upper case, e.g. "LOS ANGELES".
	Name string
	// Population is the rounded 2020-census population in thousands (for generators
	// and per-capita figures).
	Population int
	// Code is the two-digit county code (alphabetical order, 01 = ALAMEDA), as in
	// STP_ORI_CNTY_CODE.
	Code string
}

// countyTable is alphabetical so that Code is simply the 1-based position. It is
// read-only; Counties hands out a copy.
var countyTable = [...]struct {
	name string
	pop  int
}{
	{"ALAMEDA", 1682}, {"ALPINE", 1}, {"AMADOR", 41}, {"BUTTE", 211},
	{"CALAVERAS", 45}, {"COLUSA", 22}, {"CONTRA COSTA", 1166}, {"DEL NORTE", 28},
	{"EL DORADO", 192}, {"FRESNO", 1008}, {"GLENN", 29}, {"HUMBOLDT", 136},
	{"IMPERIAL", 180}, {"INYO", 19}, {"KERN", 909}, {"KINGS", 153},
	{"LAKE", 68}, {"LASSEN", 33}, {"LOS ANGELES", 10014}, {"MADERA", 156},
	{"MARIN", 262}, {"MARIPOSA", 17}, {"MENDOCINO", 91}, {"MERCED", 281},
	{"MODOC", 9}, {"MONO", 13}, {"MONTEREY", 439}, {"NAPA", 138},
	{"NEVADA", 102}, {"ORANGE", 3186}, {"PLACER", 405}, {"PLUMAS", 20},
	{"RIVERSIDE", 2418}, {"SACRAMENTO", 1585}, {"SAN BENITO", 64}, {"SAN BERNARDINO", 2181},
	{"SAN DIEGO", 3298}, {"SAN FRANCISCO", 874}, {"SAN JOAQUIN", 779}, {"SAN LUIS OBISPO", 283},
	{"SAN MATEO", 764}, {"SANTA BARBARA", 449}, {"SANTA CLARA", 1936}, {"SANTA CRUZ", 271},
	{"SHASTA", 182}, {"SIERRA", 3}, {"SISKIYOU", 44}, {"SOLANO", 453},
	{"SONOMA", 489}, {"STANISLAUS", 552}, {"SUTTER", 99}, {"TEHAMA", 65},
	{"TRINITY", 16}, {"TULARE", 473}, {"TUOLUMNE", 55}, {"VENTURA", 843},
	{"YOLO", 217}, {"YUBA", 81},
}

// Counties returns the 58 California counties in alphabetical order (a fresh slice
// each call, so callers may modify it).
func Counties() []County {
	out := make([]County, len(countyTable))
	for i, c := range countyTable {
		out[i] = County{Name: c.name, Population: c.pop, Code: fmt.Sprintf("%02d", i+1)}
	}
	return out
}

// CountyIndex returns the position of name in Counties(), matching exactly.
func CountyIndex(name string) (int, bool) {
	for i, c := range countyTable {
		if c.name == name {
			return i, true
		}
	}
	return -1, false
}

// IsCounty reports whether name is one of the 58 counties exactly as the DOJ writes it
// (upper case, single spaces).
func IsCounty(name string) bool {
	_, ok := CountyIndex(name)
	return ok
}

// CountyHint says how to spell a county the DOJ's way: it suggests the intended name
// when name differs only in case or spacing, and otherwise lists all 58.
func CountyHint(name string) string {
	names := make([]string, len(countyTable))
	for i, c := range countyTable {
		names[i] = c.name
		if strings.EqualFold(strings.Join(strings.Fields(name), " "), c.name) {
			return fmt.Sprintf("did you mean %q?", c.name)
		}
	}
	return "use one of the 58 county names in upper case as the DOJ writes them: " + strings.Join(names, ", ")
}
