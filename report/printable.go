package report

import (
	"strings"
	"unicode/utf8"
)

// Replacement is what Printable shows in place of a control character.
const Replacement = '\uFFFD'

// Printable replaces every control character in s except tab and newline
// (ESC, BEL, NUL, DEL, a lone carriage return, the C1 controls) and every
// byte that is not UTF-8 with U+FFFD, visibly: text from outside (a
// response body, a command's output, an error message) then cannot move
// the cursor, retitle a terminal or ring its bell when shown, and the
// reader sees that something was there. A CR LF pair is kept as a line
// break. Text with nothing to replace is returned as is, without copying.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\t' {
			i++
			continue
		}
		if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i += 2
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && size == 1) && !isC1(r) {
				i += size
				continue
			}
		}
		break
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		switch {
		case c >= 0x20 && c < 0x7f || c == '\n' || c == '\t':
			b.WriteByte(c)
			i++
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			b.WriteString("\r\n")
			i += 2
		case c < utf8.RuneSelf:
			b.WriteRune(Replacement)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || isC1(r) {
				b.WriteRune(Replacement)
			} else {
				b.WriteString(s[i : i+size])
			}
			i += size
		}
	}
	return b.String()
}

// isC1 reports whether r is one of the C1 control characters (U+0080 to
// U+009F), which some terminals obey like ESC sequences.
func isC1(r rune) bool { return r >= 0x80 && r <= 0x9f }
