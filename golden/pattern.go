package golden

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultVolatileNames are the field names that are volatile unless
// Options.NoDefaultVolatile is set. They match any key of a path, as
// written or in its snake_case form (createdAt → created_at).
var DefaultVolatileNames = []string{
	"*_at", "timestamp", "*_timestamp", "ts", "time", "*_time", "date",
	"duration*", "*_duration", "elapsed*", "*_elapsed", "latency*", "*_latency",
	"*_ms", "*_ns", "*_us",
}

// DefaultExternal are the path patterns under which differences are
// EXTERNAL_CALL_VARIATION when Options.External is nil.
var DefaultExternal = []string{"*.external.*", "*.http_response.*"}

// DefaultSeedField is the seed field when Options.SeedField is empty.
const DefaultSeedField = "seed"

// pattern is a compiled volatile, external or seed pattern.
//
// A pattern without '.' or '[' is a name pattern: it matches a path when
// one of the path's keys matches it, as written or in snake_case. Any other
// pattern is a path pattern matched against the whole path and each of its
// ancestors, so it covers the subtree below what it names. '*' matches any
// run of characters, dots and brackets included. A leading "*." may also
// match nothing (so "*.external.*" matches "external.body") and a trailing
// ".*" may too (so it matches "steps[2].external" itself).
type pattern struct {
	raw      string
	name     bool
	variants []string
	// hint explains a finding this pattern classified.
	hint string
}

func compilePattern(s string) (pattern, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return pattern{}, fmt.Errorf("empty pattern")
	}
	if !utf8.ValidString(s) {
		return pattern{}, fmt.Errorf("pattern %q is not valid UTF-8", s)
	}
	p := pattern{raw: s}
	if !strings.ContainsAny(s, ".[") {
		p.name = true
		p.variants = []string{s}
		return p, nil
	}
	seen := map[string]bool{}
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			p.variants = append(p.variants, v)
		}
	}
	add(s)
	head, _ := strings.CutPrefix(s, "*.")
	add(head)
	if tail, ok := strings.CutSuffix(s, ".*"); ok {
		add(tail)
		if t, ok := strings.CutPrefix(tail, "*."); ok {
			add(t)
		}
	}
	return p, nil
}

// compilePatterns compiles a list; hint is a format for each pattern's
// hint, with %q standing for the pattern.
func compilePatterns(what string, list []string, hint string) ([]pattern, error) {
	out := make([]pattern, 0, len(list))
	for _, s := range list {
		p, err := compilePattern(s)
		if err != nil {
			return nil, fmt.Errorf("%s pattern: %w", what, err)
		}
		p.hint = fmt.Sprintf(hint, p.raw)
		out = append(out, p)
	}
	return out, nil
}

// match reports whether the pattern covers the difference at d.
func (p *pattern) match(d *diffPath) bool {
	if p.name {
		for i, k := range d.keys {
			if glob(p.raw, k) {
				return true
			}
			if i < len(d.snakes) && d.snakes[i] != k && glob(p.raw, d.snakes[i]) {
				return true
			}
		}
		return false
	}
	for _, v := range p.variants {
		if glob(v, d.path) {
			return true
		}
		for _, cut := range d.cuts {
			if glob(v, d.path[:cut]) {
				return true
			}
		}
	}
	return false
}

// glob matches s against pattern, where '*' matches any run of bytes and
// every other byte matches itself.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// snake returns the snake_case form of a camelCase or PascalCase key:
// createdAt → created_at, HTTPResponse → http_response. Keys without upper
// case letters come back unchanged.
func snake(k string) string {
	hasUpper := false
	for _, r := range k {
		if unicode.IsUpper(r) {
			hasUpper = true
			break
		}
	}
	if !hasUpper {
		return k
	}
	rs := []rune(k)
	var b strings.Builder
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && rs[i-1] != '_' && (unicode.IsLower(rs[i-1]) || unicode.IsDigit(rs[i-1]) ||
				(i+1 < len(rs) && unicode.IsLower(rs[i+1]) && unicode.IsUpper(rs[i-1]))) {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// diffPath locates one difference: the flattened path, the byte lengths of
// its ancestors' paths, and the object keys along the way with their
// snake_case forms.
type diffPath struct {
	path   string
	cuts   []int
	keys   []string
	snakes []string
}
