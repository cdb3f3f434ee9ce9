package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// EscapeCell turns literal text into inline Markdown that renders as that
// text, safe inside a GitHub-flavoured table cell: characters Markdown would
// read as syntax are backslash-escaped (pipes included), line breaks become
// <br> and carriage returns and other control characters are dropped. The
// Markdown view and the report templates (the md function) share it.
func EscapeCell(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	// Control characters go first, so the look-aheads below (an entity
	// after "&", emphasis around "_") see the text as it will render.
	s = strings.Map(func(r rune) rune {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	s = escapeLineStart(&b, s)
	var prev rune
	for i, r := range s {
		switch r {
		case '\\', '`', '*', '[', ']', '<', '>', '|', '~', '#':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '_':
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if !isWordRune(prev) || !isWordRune(next) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case '&':
			next, _ := utf8.DecodeRuneInString(s[i+1:])
			if next == '#' || isWordRune(next) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		case '\n':
			b.WriteString("<br>")
		case '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// escapeLineStart writes the start of s that would otherwise begin a list
// item, a thematic break or a setext underline ("- x", "+ x", "1. x", "---",
// "==="), escaped, and returns the rest.
func escapeLineStart(b *strings.Builder, s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '-', '+', '=':
		if len(s) == 1 || !isWordRune(rune(s[1])) {
			b.WriteByte('\\')
		}
		b.WriteByte(s[0])
		return s[1:]
	}
	digits := 0
	for digits < len(s) && digits < 9 && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	if digits > 0 && digits < len(s) && (s[digits] == '.' || s[digits] == ')') &&
		(digits+1 == len(s) || s[digits+1] == ' ' || s[digits+1] == '\t') {
		b.WriteString(s[:digits])
		b.WriteByte('\\')
		b.WriteByte(s[digits])
		return s[digits+1:]
	}
	return s
}

// isWordRune reports whether r is a letter or digit: an underscore between
// two of them cannot start or end emphasis, so it needs no escape.
func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// CodeSpan renders text as an inline code span that is safe inside a table
// cell: the backtick fence is longer than any backtick run inside, pipes are
// escaped as GitHub's table syntax requires, and line breaks show as " ⏎ ".
// Text holding a backslash right before a pipe cannot be written as a code
// span inside a table, so it falls back to EscapeCell.
func CodeSpan(s string) string {
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	s = strings.ReplaceAll(s, "\n", " ⏎ ")
	s = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
	if s == "" {
		return ""
	}
	if strings.Contains(s, `\|`) || strings.Trim(s, " ") == "" {
		return EscapeCell(s)
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	pad := ""
	if s[0] == '`' || s[len(s)-1] == '`' || (s[0] == ' ' && s[len(s)-1] == ' ') {
		pad = " "
	}
	return fence + pad + strings.ReplaceAll(s, "|", `\|`) + pad + fence
}

// Fence renders text as a fenced code block with an info string (a language
// such as "json", or empty). The fence is longer than any backtick run in the
// text, so no content can close it early. The block has no final newline:
// a template puts the call on a line of its own.
func Fence(lang, s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	n := max(3, longestRun(s, '`')+1)
	fence := strings.Repeat("`", n)
	var b strings.Builder
	b.WriteString(fence)
	b.WriteString(strings.Map(func(r rune) rune {
		if r == '`' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return -1
		}
		return r
	}, lang))
	b.WriteByte('\n')
	b.WriteString(s)
	if s != "" && !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
	b.WriteString(fence)
	return b.String()
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// Excerpt keeps the first n lines of s (n < 1 keeps one), without trailing
// blank lines, and marks a cut with a final "…" line.
func Excerpt(n int, s string) string {
	n = max(n, 1)
	s = strings.TrimRight(strings.ReplaceAll(s, "\r\n", "\n"), "\n \t")
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) <= n {
		return s
	}
	return strings.Join(lines[:n], "\n") + "\n…"
}

// Truncate shortens s to at most n characters (runes), ending a cut with "…".
func Truncate(n int, s string) string {
	if n < 1 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	runes := []rune(s)
	return strings.TrimRight(string(runes[:n-1]), " ") + "…"
}

// FirstLine is the first non-blank line of s, trimmed, with " …" when more
// text followed.
func FirstLine(s string) string {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	line, rest, cut := strings.Cut(s, "\n")
	line = strings.TrimSpace(line)
	if cut && strings.TrimSpace(rest) != "" {
		return line + " …"
	}
	return line
}

// Duration renders milliseconds for people: "12ms", "1.23s", "2m03s",
// "1h02m03s".
func Duration(ms int64) string {
	switch {
	case ms < 0:
		return "-" + Duration(-ms)
	case ms < 1000:
		return strconv.FormatInt(ms, 10) + "ms"
	case ms < 60_000:
		return strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64) + "s"
	}
	d := time.Duration(ms) * time.Millisecond
	d = d.Round(time.Second)
	h := int64(d / time.Hour)
	m := int64(d/time.Minute) % 60
	sec := int64(d/time.Second) % 60
	if h > 0 {
		return fmt.Sprintf("%dh%02dm%02ds", h, m, sec)
	}
	return fmt.Sprintf("%dm%02ds", m, sec)
}

// Text renders any template value as plain text: nil is empty, whole
// floating-point numbers have no exponent or fraction (2880, not 2.88e+03),
// times are UTC.
func Text(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case time.Time:
		return DateTime(x)
	case *time.Time:
		return DateTime(x)
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case fmt.Stringer:
		return x.String()
	case error:
		return x.Error()
	}
	return fmt.Sprint(v)
}

// DateTime renders a time.Time or *time.Time as "2006-01-02 15:04:05 UTC";
// a zero or nil time is empty.
func DateTime(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case *time.Time:
		if x == nil {
			return ""
		}
		t = *x
	default:
		return Text(v)
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}
