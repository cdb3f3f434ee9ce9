package log

import (
	"bytes"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode/utf8"
)

// maxLiterals bounds the literals a matcher tries on each line.
const maxLiterals = 16

// matcher is an RE2 expression with literal shortcuts, because
// bytes.Contains runs at gigabytes a second and regexp at tens of
// megabytes: a line holding none of the needed literals cannot match, and
// a line holding one of the sufficient literals does. The expression runs
// only on lines in between.
type matcher struct {
	re         *regexp.Regexp
	needed     [][]byte // every match contains one of these; nil: no filter
	sufficient [][]byte // a line containing one of these matches
}

// compile makes a matcher for an RE2 pattern.
func compile(pattern string) (*matcher, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	m := &matcher{re: re}
	tree, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", pattern, err)
	}
	tree = tree.Simplify()
	if lits := needed(tree); usable(lits) {
		m.needed = asBytes(lits)
	}
	if lits := sufficient(tree); usable(lits) {
		m.sufficient = asBytes(lits)
	}
	return m, nil
}

// match reports whether line matches the expression.
func (m *matcher) match(line []byte) bool {
	if m.needed != nil && !containsAny(line, m.needed) {
		return false
	}
	if containsAny(line, m.sufficient) {
		return true
	}
	return m.re.Match(line)
}

// usable reports whether literals can stand in for the expression: regexp
// reads an invalid byte as U+FFFD, bytes.Contains would not.
func usable(lits []string) bool {
	if len(lits) == 0 || len(lits) > maxLiterals {
		return false
	}
	for _, l := range lits {
		if l == "" || strings.ContainsRune(l, utf8.RuneError) {
			return false
		}
	}
	return true
}

func asBytes(lits []string) [][]byte {
	out := make([][]byte, len(lits))
	for i, l := range lits {
		out[i] = []byte(l)
	}
	return out
}

// literal returns re's text when re matches exactly that text and
// nothing else.
func literal(re *syntax.Regexp) (string, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		return string(re.Rune), re.Flags&syntax.FoldCase == 0
	case syntax.OpCapture:
		return literal(re.Sub[0])
	}
	return "", false
}

// needed returns strings one of which every match of re contains, or nil
// when re guarantees none (".*", a character class, case folding).
func needed(re *syntax.Regexp) []string {
	if l, ok := literal(re); ok {
		return []string{l}
	}
	switch re.Op {
	case syntax.OpCapture, syntax.OpPlus:
		return needed(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return needed(re.Sub[0])
		}
	case syntax.OpConcat:
		// Every part of a concatenation is in every match: pick the part
		// whose shortest literal is longest.
		var best []string
		for _, sub := range re.Sub {
			if lits := needed(sub); lits != nil && (best == nil || shortest(lits) > shortest(best)) {
				best = lits
			}
		}
		return best
	case syntax.OpAlternate:
		var all []string
		for _, sub := range re.Sub {
			lits := needed(sub)
			if lits == nil {
				return nil
			}
			all = append(all, lits...)
		}
		return all
	}
	return nil
}

// sufficient returns strings any of which, found in a line, makes re
// match it: re itself when it is a plain literal, or its alternatives
// that are.
func sufficient(re *syntax.Regexp) []string {
	if l, ok := literal(re); ok {
		return []string{l}
	}
	var out []string
	if re.Op == syntax.OpAlternate {
		for _, sub := range re.Sub {
			if l, ok := literal(sub); ok {
				out = append(out, l)
			}
		}
	}
	return out
}

func shortest(lits []string) int {
	n := len(lits[0])
	for _, l := range lits[1:] {
		n = min(n, len(l))
	}
	return n
}

// containsAny reports whether line holds one of lits.
func containsAny(line []byte, lits [][]byte) bool {
	for _, l := range lits {
		if bytes.Contains(line, l) {
			return true
		}
	}
	return false
}
