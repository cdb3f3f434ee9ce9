package engine

import (
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Limits on hostile input. HCL's parser and evaluator recurse once per
// level of nesting, so a file of 100,000 opening parentheses would
// exhaust the stack; such input is refused before it is parsed.
const (
	// MaxNesting is the deepest nesting of brackets, braces, parentheses,
	// template interpolations and unary operators a runbook file may have.
	MaxNesting = 1000
)

// checkText refuses, with one diagnostic, a file that is not UTF-8 text
// (a binary, a file in another encoding) or that nests deeper than
// MaxNesting. It is a single pass over the bytes.
func checkText(name string, src []byte) hcl.Diagnostics {
	if i := invalidText(src); i >= 0 {
		pos := posAt(src, i)
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Not a text file",
			Detail:   fmt.Sprintf("%s is not UTF-8 text: byte %d (line %d) is %s. A runbook file must be UTF-8 text.", name, i, pos.Line, describeByte(src, i)),
			Subject:  &hcl.Range{Filename: name, Start: pos, End: pos},
		}}
	}
	if i := tooDeep(src, MaxNesting); i >= 0 {
		pos := posAt(src, i)
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Nesting too deep",
			Detail:   fmt.Sprintf("Expressions may nest at most %d levels deep (brackets, braces, parentheses, template interpolations and unary operators together); this one goes deeper here.", MaxNesting),
			Subject:  &hcl.Range{Filename: name, Start: pos, End: pos},
		}}
	}
	return nil
}

// invalidText returns the offset of the first byte that makes src other
// than UTF-8 text (a NUL or an invalid UTF-8 sequence), or -1.
func invalidText(src []byte) int {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

func describeByte(src []byte, i int) string {
	if src[i] == 0 {
		return "a NUL byte"
	}
	return fmt.Sprintf("0x%02x, not valid UTF-8", src[i])
}

// posAt returns the position of byte offset i.
func posAt(src []byte, i int) hcl.Pos {
	pos := hcl.InitialPos
	for _, c := range src[:i] {
		if c == '\n' {
			pos.Line++
			pos.Column = 1
		} else if c < 0x80 || c >= 0xC0 {
			pos.Column++
		}
	}
	pos.Byte = i
	return pos
}

// tooDeep returns the offset at which src nests deeper than limit, or -1.
// It follows HCL's lexical modes closely enough never to count less
// nesting than the parser sees: expressions (where brackets count and #,
// // and /* */ comments are skipped), quoted strings and heredocs (where
// only ${ and %{ open a nested expression). Runs of unary ! and - count
// as nesting too. JSON files are scanned the same way: their strings are
// templates too.
func tooDeep(src []byte, limit int) int {
	const (
		expr = iota
		str
		heredoc
	)
	// stack holds, for each open level, the mode to return to when it
	// closes: an interpolation returns to its string or heredoc.
	type frame struct {
		mode   int
		marker []byte // the heredoc's end marker, for heredoc frames
	}
	var stack []frame
	mode := expr
	var marker []byte
	unary := 0
	depth := func() int { return len(stack) + unary }
	push := func(f frame) { stack = append(stack, f) }
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch mode {
		case expr:
			switch {
			case c == '(' || c == '[' || c == '{':
				push(frame{mode: expr})
				unary = 0
			case c == ')' || c == ']' || c == '}':
				unary = 0
				if n := len(stack); n > 0 {
					f := stack[n-1]
					stack = stack[:n-1]
					mode, marker = f.mode, f.marker
				}
			case c == '!' || c == '-':
				if c == '!' && i+1 < len(src) && src[i+1] == '=' {
					i++
					unary = 0
					break
				}
				unary++
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			case c == '"':
				push(frame{mode: expr})
				mode, unary = str, 0
			case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
				for i < len(src) && src[i] != '\n' {
					i++
				}
			case c == '/' && i+1 < len(src) && src[i+1] == '*':
				i += 2
				for i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/') {
					i++
				}
				i++
			case c == '<' && i+1 < len(src) && src[i+1] == '<':
				j := i + 2
				if j < len(src) && src[j] == '-' {
					j++
				}
				k := j
				for k < len(src) && (isASCIILetter(src[k]) || src[k] == '_' || (k > j && (src[k] >= '0' && src[k] <= '9' || src[k] == '-'))) {
					k++
				}
				if k > j && k < len(src) && (src[k] == '\n' || src[k] == '\r') {
					push(frame{mode: expr})
					mode, marker, unary = heredoc, src[j:k], 0
					i = k
				} else {
					unary = 0
					i++
				}
			default:
				unary = 0
			}
		case str:
			switch {
			case c == '\\':
				i++
			case c == '"':
				// The string's own frame.
				f := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				mode, marker = f.mode, f.marker
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				if i > 0 && src[i-1] == c {
					break // $${ and %%{ are literal
				}
				push(frame{mode: str})
				mode = expr
				i++
			}
		case heredoc:
			switch {
			case c == '\n':
				// Does the next line end the heredoc?
				j := i + 1
				for j < len(src) && (src[j] == ' ' || src[j] == '\t') {
					j++
				}
				if len(src)-j >= len(marker) && string(src[j:j+len(marker)]) == string(marker) {
					k := j + len(marker)
					if k == len(src) || src[k] == '\n' || src[k] == '\r' {
						f := stack[len(stack)-1]
						stack = stack[:len(stack)-1]
						mode, marker = f.mode, f.marker
						i = k - 1
					}
				}
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				if i > 0 && src[i-1] == c {
					break
				}
				push(frame{mode: heredoc, marker: marker})
				mode = expr
				i++
			}
		}
		if depth() > limit {
			return i
		}
	}
	return -1
}
