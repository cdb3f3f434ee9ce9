package golden

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options configure a Comparer. The zero value is the defaults.
type Options struct {
	// Volatile lists path or name patterns of fields that may differ
	// between runs; a difference there is a VOLATILE_LEAK.
	Volatile []string
	// NoDefaultVolatile turns off DefaultVolatileNames and the rule that
	// two timestamps are volatile, leaving only Volatile.
	NoDefaultVolatile bool
	// SeedField names the seed (a name or path pattern); "" means
	// DefaultSeedField.
	SeedField string
	// External lists path patterns of external call responses; nil means
	// DefaultExternal, an empty non-nil list means none.
	External []string
	// MaxFindings caps the findings kept per pair (the rest are counted);
	// 0 means 1000.
	MaxFindings int
}

const (
	defaultMaxFindings = 1000
	maxRelated         = 20
	maxValueText       = 200
)

// Comparer compares golden documents. It is safe for concurrent use.
type Comparer struct {
	volatile    []pattern
	names       []pattern
	timestamps  bool
	external    []pattern
	seed        pattern
	maxFindings int
}

// NewComparer compiles opts. An empty pattern is an error.
func NewComparer(opts Options) (*Comparer, error) {
	c := &Comparer{maxFindings: opts.MaxFindings, timestamps: !opts.NoDefaultVolatile}
	if c.maxFindings <= 0 {
		c.maxFindings = defaultMaxFindings
	}
	var err error
	if c.volatile, err = compilePatterns("volatile", opts.Volatile, "matches volatile pattern %q"); err != nil {
		return nil, err
	}
	if !opts.NoDefaultVolatile {
		if c.names, err = compilePatterns("volatile", DefaultVolatileNames, "field name matches %q"); err != nil {
			return nil, err
		}
	}
	ext := opts.External
	if ext == nil {
		ext = DefaultExternal
	}
	if c.external, err = compilePatterns("external", ext, "under external pattern %q"); err != nil {
		return nil, err
	}
	seed := opts.SeedField
	if seed == "" {
		seed = DefaultSeedField
	}
	if c.seed, err = compilePattern(seed); err != nil {
		return nil, fmt.Errorf("seed field: %w", err)
	}
	return c, nil
}

// PairResult is the outcome of comparing one pair.
type PairResult struct {
	Pair Pair
	// Bytes is the size of both files together.
	Bytes int64
	// Findings are the classified differences in path order, at most
	// Options.MaxFindings of them.
	Findings []Finding
	// Dropped counts the findings beyond the cap.
	Dropped int
	// Counts counts every finding by class, dropped ones included; a
	// SEED_MISMATCH counts once per pair and its related findings not at all.
	Counts Counts
}

// Identical reports whether the pair had no finding at all.
func (r *PairResult) Identical() bool { return r.Counts.Total() == 0 }

func (r *PairResult) add(f Finding, max int) {
	r.Counts.Add(f.Class, 1)
	if len(r.Findings) < max {
		r.Findings = append(r.Findings, f)
	} else {
		r.Dropped++
	}
}

// CompareFiles reads and compares the two files of p. A side that p lacks
// is a MISSING or EXTRA finding; a file that cannot be read or parsed is
// UNREADABLE. It never fails: every problem is a finding.
func (c *Comparer) CompareFiles(p Pair) PairResult {
	r := PairResult{Pair: p}
	name := p.Name
	switch {
	case p.Left == "" && p.Right == "":
		return r
	case p.Right == "":
		r.add(Finding{File: name, Class: Missing, Left: p.Left, Right: Absent,
			Hint: "no replay for this file: the replay did not run or did not write its output"}, c.maxFindings)
		return r
	case p.Left == "":
		r.add(Finding{File: name, Class: Extra, Left: Absent, Right: p.Right,
			Hint: "a replay without its primary file"}, c.maxFindings)
		return r
	}
	left, lerr := os.ReadFile(p.Left)
	right, rerr := os.ReadFile(p.Right)
	if lerr != nil || rerr != nil {
		r.Bytes = int64(len(left) + len(right))
		if lerr != nil {
			r.add(Finding{File: name, Class: Unreadable, Left: readError(lerr), Right: ""}, c.maxFindings)
		}
		if rerr != nil {
			r.add(Finding{File: name, Class: Unreadable, Left: "", Right: readError(rerr)}, c.maxFindings)
		}
		return r
	}
	res := c.Compare(name, left, right)
	res.Pair = p
	return res
}

func readError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return "read: " + pe.Err.Error()
	}
	return "read: " + err.Error()
}

// Compare compares two JSON documents; file names the pair in findings.
// A document that is not valid JSON is an UNREADABLE finding with the line
// and column of the error.
func (c *Comparer) Compare(file string, left, right []byte) PairResult {
	r := PairResult{Pair: Pair{Name: file}, Bytes: int64(len(left) + len(right))}
	lv, lerr := parse(left)
	rv, rerr := parse(right)
	if lerr != nil {
		r.add(unreadable(file, lerr, true), c.maxFindings)
	}
	if rerr != nil {
		r.add(unreadable(file, rerr, false), c.maxFindings)
	}
	if lerr != nil || rerr != nil {
		return r
	}
	if equal(lv, rv) {
		return r
	}
	w := walker{c: c, file: file, keep: max(c.maxFindings, maxRelated), seed: -1}
	w.walk(lv, rv, true, true)
	w.finish(&r)
	return r
}

func unreadable(file string, err error, left bool) Finding {
	f := Finding{File: file, Class: Unreadable}
	msg := err.Error()
	var se *SyntaxError
	if errors.As(err, &se) {
		f.Line, f.Column = se.Line, se.Column
	}
	if left {
		f.Left = msg
	} else {
		f.Right = msg
	}
	f.Hint = unreadableHint
	return f
}

const unreadableHint = "not valid JSON: look for a truncated file or two writers interleaving"

// SyntaxError is a JSON syntax error with its position.
type SyntaxError struct {
	// Line and Column are 1-based; Column counts characters.
	Line, Column int
	Msg          string
}

// Error returns "line L, column C: message".
func (e *SyntaxError) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// position turns a byte offset into a SyntaxError with line and column.
func position(data []byte, off int, msg string) *SyntaxError {
	off = max(0, min(off, len(data)))
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return &SyntaxError{Line: line, Column: utf8.RuneCount(data[start:off]) + 1, Msg: msg}
}

// equal reports whether two decoded documents are the same up to key order
// and number spelling. It allocates nothing.
func equal(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, va := range x {
			vb, ok := y[k]
			if !ok || !equal(va, vb) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && numbersEqual(string(x), string(y))
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return false
}

// walker finds the differing leaves of two documents in path order (object
// keys sorted, array elements by index) and classifies each on the spot.
type walker struct {
	c    *Comparer
	file string

	path   []byte
	cuts   []int
	keys   []string
	snakes []string

	keep     int       // how many findings to hold
	findings []Finding // the first keep findings, in path order
	counts   Counts
	total    int
	seed     int // index in findings of the first seed difference, or -1
	seedF    Finding
}

func (w *walker) walk(l, r any, lok, rok bool) {
	if lok && rok {
		switch x := l.(type) {
		case map[string]any:
			if y, ok := r.(map[string]any); ok {
				w.walkObjects(x, y)
				return
			}
		case []any:
			if y, ok := r.([]any); ok {
				w.walkArrays(x, y)
				return
			}
		}
	}
	p := string(w.path)
	if p == "" {
		p = "$"
	}
	d := rawDiff{at: diffPath{path: p, cuts: w.cuts, keys: w.keys, snakes: w.snakes}, l: l, r: r, lok: lok, rok: rok}
	f := Finding{File: w.file, Path: p, Left: valueText(l, lok), Right: valueText(r, rok)}
	if w.seed < 0 && w.c.seed.match(&d.at) {
		f.Class = SeedMismatch
		w.seed, w.seedF = w.total, f
		w.total++
		return
	}
	f.Class, f.Hint = w.c.classify(&d)
	w.counts.Add(f.Class, 1)
	w.total++
	if len(w.findings) < w.keep {
		w.findings = append(w.findings, f)
	}
}

// finish puts the findings into r: all of them (up to the cap), or, when
// the seeds differ, one SEED_MISMATCH holding the others.
func (w *walker) finish(r *PairResult) {
	if w.seed < 0 {
		r.Counts = w.counts
		r.Findings = w.findings[:min(len(w.findings), w.c.maxFindings)]
		r.Dropped = w.total - len(r.Findings)
		return
	}
	f := w.seedF
	f.RelatedTotal = w.total - 1
	f.Related = w.findings[:min(len(w.findings), maxRelated)]
	if len(f.Related) == 0 {
		f.Related = nil
	}
	f.Hint = fmt.Sprintf("the two runs used different seeds: the replay must reuse the primary's seed; %d other difference(s) not judged", f.RelatedTotal)
	r.add(f, w.c.maxFindings)
}

// rawDiff is one difference to classify.
type rawDiff struct {
	at       diffPath
	l, r     any
	lok, rok bool
}

func (w *walker) walkObjects(x, y map[string]any) {
	keys := make([]string, 0, len(x)+len(y))
	for k := range x {
		keys = append(keys, k)
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		va, lok := x[k]
		vb, rok := y[k]
		if lok && rok && equal(va, vb) {
			continue
		}
		n := w.pushKey(k)
		w.walk(va, vb, lok, rok)
		w.pop(n, true)
	}
}

func (w *walker) walkArrays(x, y []any) {
	for i := 0; i < max(len(x), len(y)); i++ {
		lok, rok := i < len(x), i < len(y)
		var va, vb any
		if lok {
			va = x[i]
		}
		if rok {
			vb = y[i]
		}
		if lok && rok && equal(va, vb) {
			continue
		}
		n := w.pushIndex(i)
		w.walk(va, vb, lok, rok)
		w.pop(n, false)
	}
}

func (w *walker) pushKey(k string) int {
	n := len(w.path)
	if n > 0 {
		w.cuts = append(w.cuts, n)
	}
	if simpleKey(k) {
		if n > 0 {
			w.path = append(w.path, '.')
		}
		w.path = append(w.path, k...)
	} else {
		w.path = append(w.path, '[')
		w.path = strconv.AppendQuote(w.path, k)
		w.path = append(w.path, ']')
	}
	w.keys = append(w.keys, k)
	w.snakes = append(w.snakes, snake(k))
	return n
}

func (w *walker) pushIndex(i int) int {
	n := len(w.path)
	if n > 0 {
		w.cuts = append(w.cuts, n)
	}
	w.path = append(w.path, '[')
	w.path = strconv.AppendInt(w.path, int64(i), 10)
	w.path = append(w.path, ']')
	return n
}

func (w *walker) pop(n int, key bool) {
	w.path = w.path[:n]
	if n > 0 {
		w.cuts = w.cuts[:len(w.cuts)-1]
	}
	if key {
		w.keys = w.keys[:len(w.keys)-1]
		w.snakes = w.snakes[:len(w.snakes)-1]
	}
}

// simpleKey reports whether a key can follow a dot in a path unquoted.
func simpleKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '$' || c == '@') {
			return false
		}
	}
	return true
}

// classify returns the class of one difference and the reason for it.
// Precedence: volatile, external, unseeded RNG, determinism violation.
func (c *Comparer) classify(d *rawDiff) (Class, string) {
	for i := range c.volatile {
		if c.volatile[i].match(&d.at) {
			return VolatileLeak, c.volatile[i].hint
		}
	}
	for i := range c.names {
		if c.names[i].match(&d.at) {
			return VolatileLeak, c.names[i].hint
		}
	}
	if c.timestamps && d.lok && d.rok {
		ls, lok := d.l.(string)
		rs, rok := d.r.(string)
		if lok && rok && isTimestamp(ls) && isTimestamp(rs) {
			return VolatileLeak, "both values are timestamps"
		}
	}
	for i := range c.external {
		if c.external[i].match(&d.at) {
			return ExternalCallVariation, c.external[i].hint
		}
	}
	if d.lok && d.rok {
		ln, lnum := d.l.(json.Number)
		rn, rnum := d.r.(json.Number)
		if lnum && rnum && closeFloats(ln, rn) {
			return DeterminismViolation, "the values differ only in the last digits: floating-point evaluation order changed (parallel or map-ordered sums)"
		}
		if lk, rk := randomKind(d.l), randomKind(d.r); lk != "" && rk != "" {
			if lk == "float" && rk == "float" {
				return UnseededRNG, "both values look like random floats: draw them from a generator seeded with the run's seed"
			}
			return UnseededRNG, "both values look like random " + randomNoun(lk, rk) +
				": generate them from the run's seed, or mark the field volatile if it is an identifier that need not repeat"
		}
	}
	return DeterminismViolation, ""
}

// randomNoun names what two random-looking values are, in the plural.
func randomNoun(a, b string) string {
	noun := map[string]string{"UUID": "UUIDs", "hex": "hex tokens", "base64": "base64 tokens", "float": "numbers"}
	if a == b {
		return noun[a]
	}
	// In a fixed order, so swapping the sides leaves the hint as it is.
	if a > b {
		a, b = b, a
	}
	return noun[a] + " and " + noun[b]
}

// valueText renders a decoded value as compact JSON, cut at maxValueText
// bytes, or Absent.
func valueText(v any, ok bool) string {
	if !ok {
		return Absent
	}
	var s string
	switch x := v.(type) {
	case nil:
		s = "null"
	case bool:
		s = strconv.FormatBool(x)
	case json.Number:
		s = string(x)
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			s = fmt.Sprint(v)
		} else {
			s = strings.TrimSuffix(b.String(), "\n")
		}
	}
	if len(s) > maxValueText {
		cut := maxValueText
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
