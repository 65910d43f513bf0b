package report

import (
	"bytes"
	"encoding/csv"
	"testing"
)

func csvBoth(t testing.TB, records [][]string) (mine, std []byte) {
	var a, b bytes.Buffer
	w := newCSVWriter(&a)
	sw := csv.NewWriter(&b)
	for _, r := range records {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
		if err := sw.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	sw.Flush()
	return a.Bytes(), b.Bytes()
}

func TestCSVWriterMatchesEncodingCSV(t *testing.T) {
	records := [][]string{
		{"", "plain", "DOE,JANE", `say "hi"`, "  -  ", " lead", "trail ", "\tTab", "\vvt", "\ffeed"},
		{"a\nb", "a\r\nb", "cr\r", `\.`, `\.x`, "\u00a0nbsp", "\u0085nel", "é", "\u2003em", `"`},
		{"NULL  ; 140192; 140193"},
		{""},
		{},
	}
	mine, std := csvBoth(t, records)
	if !bytes.Equal(mine, std) {
		t.Errorf("csv output differs:\nmine %q\n std %q", mine, std)
	}
}

func FuzzCSVWriter(f *testing.F) {
	f.Add("a", " b", "c,d")
	f.Add(`\.`, "\u00a0", "\"\r\n")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		mine, std := csvBoth(t, [][]string{{a, b, c}, {c}, {b, a}})
		if !bytes.Equal(mine, std) {
			t.Errorf("csv output differs for %q %q %q:\nmine %q\n std %q", a, b, c, mine, std)
		}
	})
}
