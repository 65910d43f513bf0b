package doj

import "testing"

func TestCutOne(t *testing.T) {
	const maxRow = 40
	tests := []struct {
		name string
		in   string
		eof  bool
		want cut
	}{
		{name: "plain row", in: "a,b\nc", want: cut{kind: cutRow, end: 3, next: 4, lines: 1}},
		{name: "CRLF row keeps CR for the worker", in: "a,b\r\nc", want: cut{kind: cutRow, end: 4, next: 5, lines: 1}},
		{name: "last line without terminator", in: "a,b", eof: true, want: cut{kind: cutRow, end: 3, next: 3, lines: 1}},
		{name: "incomplete line", in: "a,b", want: cut{kind: cutNeedMore}},
		{name: "blank", in: "\nx", want: cut{kind: cutBlank, next: 1, lines: 1}},
		{name: "blank CR", in: "\r\nx", want: cut{kind: cutBlank, next: 2, lines: 1}},
		{name: "blank CR at EOF", in: "\r", eof: true, want: cut{kind: cutBlank, next: 1, lines: 1}},
		{name: "even quotes", in: "\"a,b\",c\nd", want: cut{kind: cutRow, end: 7, next: 8, lines: 1}},
		{name: "even quotes, malformed, still one line", in: "a\"b,\"c\nd\"", want: cut{kind: cutRow, end: 6, next: 7, lines: 1}},
		{name: "quoted newline", in: "a,\"x\ny\",b\nz", want: cut{kind: cutRow, end: 9, next: 10, lines: 2, multi: true}},
		{name: "quoted CRLF and CRLF end", in: "a,\"x\r\ny\"\r\nz", want: cut{kind: cutRow, end: 9, next: 10, lines: 2, multi: true}},
		{name: "quoted newlines, two of them", in: "\"\n\n\"\n", want: cut{kind: cutRow, end: 4, next: 5, lines: 3, multi: true}},
		{name: "quoted newline needs more", in: "a,\"x\ny", want: cut{kind: cutNeedMore}},
		{name: "closing quote at buffer end", in: "a,\"x\ny\"", want: cut{kind: cutNeedMore}},
		{name: "closing quote at EOF", in: "a,\"x\ny\"", eof: true, want: cut{kind: cutRow, end: 7, next: 7, lines: 2, multi: true}},
		{name: "closing quote and CR at EOF", in: "a,\"x\ny\"\r", eof: true, want: cut{kind: cutRow, end: 8, next: 8, lines: 2, multi: true}},
		{name: "odd quotes, malformed first line", in: "a\"b,c\nd", want: cut{kind: cutRow, end: 5, next: 6, lines: 1}},
		{name: "odd quotes, text after close", in: "\"a\"x,\"b\nc", want: cut{kind: cutRow, end: 7, next: 8, lines: 1}},
		{name: "unterminated at EOF", in: "a,\"x\ny,z\n", eof: true, want: cut{kind: cutRow, end: 4, next: 5, lines: 1}},
		{name: "unterminated, next line closes badly", in: "a,\"x\n1,\"DOE,J\"\n", want: cut{kind: cutRow, end: 4, next: 5, lines: 1}},
		{name: "unterminated past the bound", in: "a,\"x\n" + rep('y', 50), want: cut{kind: cutRow, end: 4, next: 5, lines: 1}},
		{name: "line too long, rest buffered", in: rep('y', 45) + "\nz", want: cut{kind: cutTooLong, end: maxRow, next: 46, lines: 1}},
		{name: "line too long, rest not buffered", in: rep('y', 45), want: cut{kind: cutTooLong, end: maxRow, next: -1, lines: 1}},
		{name: "line exactly at the bound", in: rep('y', 40) + "\n", want: cut{kind: cutRow, end: 40, next: 41, lines: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cutOne([]byte(tt.in), tt.eof, maxRow); got != tt.want {
				t.Errorf("cutOne(%q, eof=%v) = %+v, want %+v", tt.in, tt.eof, got, tt.want)
			}
		})
	}
}

func rep(c byte, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = c
	}
	return string(b)
}
