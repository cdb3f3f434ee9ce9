// Package log is the `log` check provider: how many lines of a log file
// match a pattern (and not an exclusion), the last few of them, and how
// recently the file was written.
//
// The file is streamed through a fixed buffer, so a multi-gigabyte log
// costs about a megabyte of memory however long its lines are.
package log

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
)

var (
	_ checks.Provider   = (*Provider)(nil)
	_ checks.Typed      = (*Provider)(nil)
	_ checks.Documented = (*Provider)(nil)
	_ checks.Describer  = (*Provider)(nil)
	_ checks.Validator  = (*Provider)(nil)
)

const (
	// Window is the most of one line that pattern and exclude see: a
	// longer line is matched on its first Window bytes and the rest is
	// skipped unread into memory.
	Window = 1 << 20
	// DefaultTail is how many matching lines the result keeps by default.
	DefaultTail = 10
	// MaxTail bounds tail, and with max_line the memory a Run may hold.
	MaxTail = 10000
	// DefaultMaxLine is how many bytes of each kept line the result holds
	// by default.
	DefaultMaxLine = 4096
)

// Provider scans log files. Its only field is set by New and read
// afterwards, so Run is safe for concurrent use.
type Provider struct {
	now func() time.Time // the clock age_s is measured against
}

// New returns a log Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{now: time.Now} }

// Schema describes the `log` block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"path":     &hcldec.AttrSpec{Name: "path", Type: cty.String, Required: true},
		"pattern":  &hcldec.AttrSpec{Name: "pattern", Type: cty.String, Required: true},
		"exclude":  &hcldec.AttrSpec{Name: "exclude", Type: cty.String},
		"tail":     &hcldec.AttrSpec{Name: "tail", Type: cty.Number},
		"max_line": &hcldec.AttrSpec{Name: "max_line", Type: cty.Number},
	}
}

// Doc returns the provider's reference documentation.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Lines of a log file that match a pattern but not an exclusion, and how recently it was written.",
		Result: map[string]string{
			"matches":       "number of lines that match pattern and not exclude",
			"lines":         "the last `tail` matching lines, oldest first, each cut to max_line bytes",
			"age_s":         "seconds since the file was last written (its mtime)",
			"size_bytes":    "size of the file when the scan started",
			"lines_scanned": "number of lines read",
		},
	}
}

// Describe summarizes a block as "PATH =~ /PATTERN/ !~ /EXCLUDE/".
func (p *Provider) Describe(cfg cty.Value) string {
	s := checks.String(cfg, "path", "(path not known yet)") +
		" =~ /" + checks.String(cfg, "pattern", "(not known yet)") + "/"
	if checks.Set(cfg, "exclude") {
		s += " !~ /" + checks.String(cfg, "exclude", "(not known yet)") + "/"
	}
	return s
}

// Validate compiles the expressions and checks the bounds of tail and
// max_line.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parseScan(cfg)
	return err
}

// scan is a decoded, validated configuration. Unknown values leave their
// field at its zero value (or default).
type scan struct {
	path    string
	pattern *matcher
	exclude *matcher
	tail    int
	maxLine int
}

func parseScan(cfg cty.Value) (scan, error) {
	s := scan{tail: DefaultTail, maxLine: DefaultMaxLine}
	if v, ok := checks.KnownAttr(cfg, "path"); ok {
		if s.path = v.AsString(); s.path == "" {
			return s, errors.New("path must not be empty")
		}
	}
	for _, re := range []struct {
		name string
		dst  **matcher
	}{{"pattern", &s.pattern}, {"exclude", &s.exclude}} {
		v, ok := checks.KnownAttr(cfg, re.name)
		if !ok {
			continue
		}
		m, err := compile(v.AsString())
		if err != nil {
			return s, fmt.Errorf("%s: %w", re.name, err)
		}
		*re.dst = m
	}
	for _, n := range []struct {
		name     string
		dst      *int
		min, max int
	}{{"tail", &s.tail, 0, MaxTail}, {"max_line", &s.maxLine, 1, Window}} {
		v, ok := checks.KnownAttr(cfg, n.name)
		if !ok {
			continue
		}
		bf := v.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || i < int64(n.min) || i > int64(n.max) {
			return s, fmt.Errorf("%s must be a whole number from %d to %d, got %s", n.name, n.min, n.max, bf.Text('f', -1))
		}
		*n.dst = int(i)
	}
	return s, nil
}

// Run scans the file once, from its start to the size it had when
// opened, so lines appended meanwhile wait for the next run. A missing or
// unreadable file is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	if !cfg.IsWhollyKnown() {
		return cty.NilVal, errors.New("log configuration is not wholly known")
	}
	s, err := parseScan(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	if s.pattern == nil {
		return cty.NilVal, errors.New("pattern is required")
	}
	f, err := os.Open(s.path)
	if err != nil {
		return cty.NilVal, fmt.Errorf("open log: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return cty.NilVal, fmt.Errorf("stat log: %w", err)
	}
	if fi.IsDir() {
		return cty.NilVal, fmt.Errorf("log %q is a directory", s.path)
	}
	res, err := s.run(ctx, io.LimitReader(f, fi.Size()))
	if err != nil {
		return cty.NilVal, fmt.Errorf("read log %q: %w", s.path, err)
	}
	age := p.now().Sub(fi.ModTime()).Seconds()
	return cty.ObjectVal(map[string]cty.Value{
		"matches":       cty.NumberIntVal(res.matches),
		"lines":         res.lines(),
		"age_s":         cty.NumberFloatVal(math.Round(age*1000) / 1000),
		"size_bytes":    cty.NumberIntVal(fi.Size()),
		"lines_scanned": cty.NumberIntVal(res.scanned),
	}), nil
}

// tally is what a scan found.
type tally struct {
	matches, scanned int64
	ring             [][]byte // the last matching lines, a ring starting at next
	next             int
}

// run reads r line by line and tallies the lines that match.
func (s scan) run(ctx context.Context, r io.Reader) (*tally, error) {
	t := &tally{ring: make([][]byte, 0, s.tail)}
	br := bufio.NewReaderSize(r, Window)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) == 0 && err == io.EOF {
			return t, nil
		}
		t.scanned++
		if t.scanned%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		text := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
		if s.match(text) {
			t.matches++
			t.keep(text, s.tail, s.maxLine)
		}
		// The rest of a line longer than the buffer is read and dropped.
		for err == bufio.ErrBufferFull {
			_, err = br.ReadSlice('\n')
		}
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// match reports whether a line counts: it matches pattern, not exclude.
func (s scan) match(line []byte) bool {
	return s.pattern.match(line) && (s.exclude == nil || !s.exclude.match(line))
}

// keep copies the first maxLine bytes of text into the ring of the last
// tail lines, reusing the ring's buffers once it is full. A cut line ends
// in "…", cut on a UTF-8 boundary.
func (t *tally) keep(text []byte, tail, maxLine int) {
	if tail == 0 {
		return
	}
	cut := len(text)
	if cut > maxLine {
		cut = maxLine
		for cut > 0 && text[cut]&0xC0 == 0x80 {
			cut--
		}
	}
	i := len(t.ring)
	if i < tail {
		t.ring = append(t.ring, nil)
	} else {
		i = t.next
		t.next = (t.next + 1) % tail
	}
	dst := append(t.ring[i][:0], text[:cut]...)
	if cut < len(text) {
		dst = append(dst, "…"...)
	}
	t.ring[i] = dst
}

// lines returns the kept lines, oldest first, as valid UTF-8.
func (t *tally) lines() cty.Value {
	if len(t.ring) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	out := make([]cty.Value, 0, len(t.ring))
	for i := range t.ring {
		b := t.ring[(t.next+i)%len(t.ring)]
		out = append(out, cty.StringVal(strings.ToValidUTF8(string(b), "\uFFFD")))
	}
	return cty.ListVal(out)
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return checks.DynamicResult(checks.SortedKeys(p.Doc().Result), nil)
}
