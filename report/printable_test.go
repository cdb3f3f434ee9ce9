package report

import "testing"

func TestPrintable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello\tworld\n", "hello\tworld\n"},
		{"unicode", "café ✅", "café ✅"},
		{"escape sequence", "a\x1b[2Jb", "a\uFFFD[2Jb"},
		{"osc title and bell", "\x1b]0;pwned\x07", "\uFFFD]0;pwned\uFFFD"},
		{"nul and del", "a\x00b\x7fc", "a\uFFFDb\uFFFDc"},
		{"crlf kept, lone cr replaced", "a\r\nb\rc", "a\r\nb\uFFFDc"},
		{"c1 csi", "a\u009b2Jb", "a\uFFFD2Jb"},
		{"invalid utf-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Printable(tt.in); got != tt.want {
				t.Fatalf("Printable(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
