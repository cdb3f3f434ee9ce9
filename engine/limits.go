package engine

import (
	"fmt"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// Limits on hostile input. HCL's parser and evaluator recurse once per
// level of nesting (and once per operator of a chain like 1 + 1 + … + 1),
// so a file of 100,000 opening parentheses would exhaust the stack; such
// input is refused before it is parsed.
const (
	// MaxNesting is the deepest nesting of brackets, braces, parentheses,
	// template interpolations, template directives (%{if}, %{for}) and
	// unary operators a runbook file may have, counting as one level
	// each operator of a chain of binary or conditional operators.
	MaxNesting = 1000
	// MaxFileSize is the largest runbook or variables file, in bytes.
	MaxFileSize = 1 << 20
)

// CheckText refuses, with one diagnostic, a file that is larger than
// MaxFileSize, that is not UTF-8 text (a binary, a file in another
// encoding) or that nests deeper than MaxNesting. It is a single pass over
// the bytes, safe to run on any input before parsing it.
func CheckText(name string, src []byte) hcl.Diagnostics {
	if len(src) > MaxFileSize {
		pos := hcl.InitialPos
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "File too large",
			Detail:   fmt.Sprintf("%s is %d bytes; a runbook or variables file may be at most %d bytes (1 MiB). Split it over several files.", name, len(src), MaxFileSize),
			Subject:  &hcl.Range{Filename: name, Start: pos, End: pos},
		}}
	}
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
			Detail:   fmt.Sprintf("Expressions may nest at most %d levels deep (brackets, braces, parentheses, template interpolations, template directives and unary operators together, each operator of a chain like a + b + c counting as a level); this one goes deeper here.", MaxNesting),
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
// nesting than the parser and the evaluator see: expressions (where
// brackets count and #, // and /* */ comments are skipped), quoted strings
// and heredocs (where only ${ and %{ open a nested expression, and
// %{if}/%{for} directives nest until their %{end…}). Runs of unary ! and
// - count as nesting too, and so does each operator of a chain (binary
// operators, ? of conditionals, [ of an index): HCL builds a chain as a
// tree one level deeper per operator. A chain ends at a comma, at a
// closing bracket, and at a newline where newlines end an expression (in
// a body or an object, not inside brackets or a for expression). JSON
// files are scanned the same way: their strings are templates too.
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
		ops    int    // the operators of the chain open in the level below
		lines  bool   // newlines end a chain in the level below
	}
	var stack []frame
	mode := expr
	var marker []byte
	unary := 0
	// ops counts the operators of the chains open at every level; cur
	// those of the current level. lines says whether a newline ends the
	// current level's chain.
	ops, cur, lines := 0, 0, true
	directives := 0
	depth := func() int { return len(stack) + unary + ops + directives }
	push := func(f frame, newLines bool) {
		f.ops, f.lines = cur, lines
		stack = append(stack, f)
		cur, lines = 0, newLines
	}
	pop := func() {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		mode, marker = f.mode, f.marker
		ops -= cur
		cur, lines = f.ops, f.lines
	}
	op := func() { cur++; ops++ }
	endChain := func() { ops -= cur; cur = 0 }
	// term reports whether the byte before i ends a term, so that a [
	// there indexes it rather than opening a list.
	term := func(i int) bool {
		j := i - 1
		for j >= 0 && (src[j] == ' ' || src[j] == '\t') {
			j--
		}
		if j < 0 {
			return false
		}
		c := src[j]
		return c == ')' || c == ']' || c == '}' || c == '"' || c == '_' || isASCIILetter(c) || (c >= '0' && c <= '9')
	}
	// directive returns +1 for %{if and %{for, -1 for %{endif and
	// %{endfor, 0 otherwise; i is the offset of the {.
	directive := func(i int) int {
		j := i + 1
		for j < len(src) && (src[j] == '~' || src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\n') {
			j++
		}
		k := j
		for k < len(src) && isASCIILetter(src[k]) {
			k++
		}
		if k < len(src) && (src[k] == '_' || src[k] == '-' || (src[k] >= '0' && src[k] <= '9')) {
			return 0
		}
		switch string(src[j:k]) {
		case "if", "for":
			return 1
		case "endif", "endfor":
			return -1
		}
		return 0
	}
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch mode {
		case expr:
			switch {
			case c == '(' || c == '[' || c == '{':
				if c == '[' && term(i) {
					op()
				}
				newLines := false
				if c == '{' {
					// A body or an object; a for expression in braces
					// ignores newlines.
					j := i + 1
					for j < len(src) && (src[j] == ' ' || src[j] == '\t' || src[j] == '\r' || src[j] == '\n') {
						j++
					}
					newLines = !(len(src)-j > 3 && string(src[j:j+3]) == "for" && !isASCIILetter(src[j+3]) && src[j+3] != '_' && src[j+3] != '-' && !(src[j+3] >= '0' && src[j+3] <= '9'))
				}
				push(frame{mode: expr}, newLines)
				unary = 0
			case c == ')' || c == ']' || c == '}':
				unary = 0
				if len(stack) > 0 {
					pop()
				}
			case c == '!' || c == '-':
				if c == '!' && i+1 < len(src) && src[i+1] == '=' {
					i++
					unary = 0
					op()
					break
				}
				if c == '-' {
					op() // binary or unary: count it both ways
				}
				unary++
			case c == '+' || c == '*' || c == '%' || c == '<' && !(i+1 < len(src) && src[i+1] == '<') || c == '>' || c == '?':
				op()
				unary = 0
			case (c == '&' || c == '|' || c == '=') && i+1 < len(src) && src[i+1] == c:
				op()
				unary = 0
				i++
			case c == ',':
				endChain()
				unary = 0
			case c == '\n':
				if lines {
					endChain()
				}
			case c == ' ' || c == '\t' || c == '\r':
			case c == '"':
				push(frame{mode: expr}, false)
				mode, unary = str, 0
			case c == '#' || (c == '/' && i+1 < len(src) && src[i+1] == '/'):
				for i+1 < len(src) && src[i+1] != '\n' {
					i++
				}
			case c == '/' && i+1 < len(src) && src[i+1] == '*':
				i += 2
				for i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/') {
					i++
				}
				i++
			case c == '/':
				op()
				unary = 0
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
					push(frame{mode: expr}, false)
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
				pop() // the string's own frame
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				if i > 0 && src[i-1] == c {
					break // $${ and %%{ are literal
				}
				if c == '%' {
					directives = max(directives+directive(i+1), 0)
				}
				push(frame{mode: str}, false)
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
						pop()
						i = k - 1
					}
				}
			case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
				if i > 0 && src[i-1] == c {
					break
				}
				if c == '%' {
					directives = max(directives+directive(i+1), 0)
				}
				push(frame{mode: heredoc, marker: marker}, false)
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

func isASCIILetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
