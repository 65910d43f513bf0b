package doj

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
)

// go test ./pkg/doj -run TestFixturesUpToDate -update rewrites testdata/ from the
// definitions below; the test otherwise checks that the files match them.
var update = flag.Bool("update", false, "rewrite testdata fixtures")

// The fixtures' rows. All people are invented.
func fixtureRows() (a, b, c string) {
	a = encodeRow(testRow("1001", nil))
	b = encodeRow(testRow("1001", map[int]string{ColCntOrder: "001002004000", ColDispDescr: "DISMISSED/CHARGE DROPPED"}))
	c = encodeRow(testRow("1002", map[int]string{
		ColPriName:       "ROE,RICHARD",
		ColOffenseDescr:  "SEE COMMENT FOR CHARGE",
		ColCommentText:   `11360(A) HS-SELL MARIJUANA, SAID "NONE"`,
		ColConvStatDescr: "FELONY",
	}))
	return a, b, c
}

func quotedFixture(eol string) string {
	multi := encodeRow(testRow("2001", map[int]string{ColCommentText: "LINE ONE" + eol + "LINE TWO, AND MORE"}))
	spaces := encodeRow(testRow("2002", map[int]string{ColPriName: "          ", ColOFN: "  "}))
	escaped := encodeRow(testRow("2003", map[int]string{ColPriName: `SMITH,"SMITTY" JOHN`}))
	plain := encodeRow(testRow("2004", map[int]string{ColPriName: "NOQUOTES"}))
	// multi spans lines 2-3; line 6 is blank.
	return lines(eol, headerLine(), multi, spaces, escaped, "", plain)
}

func rejectsFixture() string {
	good := func(sid string) string { return encodeRow(testRow(sid, nil)) }
	row := func(sid string, set map[int]string) string { return encodeRow(testRow(sid, set)) }
	short := testRow("3002", nil)[:94]
	long := append(testRow("3003", nil), "EXTRA")
	// A bare quote and text after a closing quote cannot be produced by encodeRow.
	bare := strings.Replace(row("3004", map[int]string{ColPriName: "DOEJANE"}), "DOEJANE", `DOE"JANE`, 1)
	after := strings.Replace(row("3005", map[int]string{ColOFN: "QQQ"}), "QQQ", `"123"4`, 1)
	unterminated := strings.Replace(row("3012", map[int]string{ColCommentText: "QQQ"}), "QQQ", `"UNCLOSED`, 1)
	unterminatedAtEOF := strings.Replace(row("3015", map[int]string{ColCommentText: "QQQ"}), "QQQ", `"NEVER CLOSED`, 1)
	return lines("\n",
		headerLine(),     // 1
		good("3001"),     // 2
		encodeRow(short), // 3
		encodeRow(long),  // 4
		bare,             // 5
		after,            // 6
		row("   ", nil),  // 7
		row("3007", map[int]string{ColCntOrder: "12345"}),        // 8
		row("3008", map[int]string{ColStpEventDate: "20150230"}), // 9
		row("3009", map[int]string{ColPriDOB: "19700000"}),       // 10
		row("3010", map[int]string{ColPriDOB: " 19800115 "}),     // 11 accepted
		row("3011", map[int]string{ColStpEventDate: ""}),         // 12 accepted
		unterminated, // 13
		good("3013"), // 14 (has a quoted name that ends the open field badly)
		row("3014", map[int]string{ColPriName: "NOQUOTE"}), // 15
		unterminatedAtEOF, // 16
		row("3016", map[int]string{ColPriName: "NOQUOTE"}), // 17: swallowed by nothing
	)
}

// fixtures maps testdata file names to their content.
func fixtures() map[string][]byte {
	a, b, c := fixtureRows()
	header := lines("\n", headerLine(), a, b, c)
	gz := func(s string) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write([]byte(s))
		zw.Close()
		return buf.Bytes()
	}
	return map[string][]byte{
		"header.csv":                []byte(header),
		"header_crlf.csv":           []byte(lines("\r\n", headerLine(), a, b, c)),
		"header.csv.gz":             gz(header),
		"noheader.csv":              []byte(lines("\n", a, b, c)),
		"bom_header.csv":            []byte(utf8BOM + header),
		"bom_noheader.csv":          []byte(utf8BOM + lines("\n", a, b, c)),
		"trailing_comma_header.csv": []byte(lines("\n", headerLine()+",", a, b, c)),
		"no_final_newline.csv":      []byte(strings.TrimSuffix(header, "\n")),
		"quoted.csv":                []byte(quotedFixture("\n")),
		"quoted_crlf.csv":           []byte(quotedFixture("\r\n")),
		"rejects.csv":               []byte(rejectsFixture()),
		"empty.csv":                 nil,
		"header_only.csv":           []byte(headerLine() + "\n"),
	}
}

func TestFixturesUpToDate(t *testing.T) {
	for name, want := range fixtures() {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to create)", err)
		}
		if strings.HasSuffix(name, ".gz") {
			continue // compressor output may change between versions; content is checked by the scan tests
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale; run go test ./pkg/doj -run TestFixturesUpToDate -update", path)
		}
	}
}
