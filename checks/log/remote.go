package log

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var _ checks.Remote = (*Provider)(nil)

// RunOn scans a log on a target: the file is read there with head(1) up
// to the size stat(1) gave, streamed over the SSH session and matched
// here, with the same expressions and limits as a local log. age_s is
// counted by the target's clock.
func (p *Provider) RunOn(ctx context.Context, h checks.Host, cfg cty.Value) (cty.Value, error) {
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
	q := checks.ShellQuote(s.path)
	// The header (size, mtime, now) goes to stderr, the content to stdout.
	script := "[ -d " + q + " ] && { echo 'is a directory' >&2; exit 2; }\n" +
		"set -- $(stat -L -c '%s %Y' -- " + q + ") || exit 2\n" +
		"echo \"runbook-log $1 $2 $(date +%s)\" >&2\n" +
		"exec head -c \"$1\" -- " + q
	pr, pw := io.Pipe()
	type scanned struct {
		t   *tally
		err error
	}
	done := make(chan scanned, 1)
	go func() {
		t, err := s.run(ctx, pr)
		_ = pr.CloseWithError(errors.New("scan ended"))
		done <- scanned{t, err}
	}()
	var stderr strings.Builder
	code, err := h.Exec(ctx, script, nil, pw, &stderr)
	_ = pw.Close()
	sc := <-done
	if err != nil {
		return cty.NilVal, err
	}
	var size, mtime, now int64
	header := false
	for _, line := range strings.Split(stderr.String(), "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "runbook-log" {
			size, _ = strconv.ParseInt(f[1], 10, 64)
			mtime, _ = strconv.ParseInt(f[2], 10, 64)
			now, _ = strconv.ParseInt(f[3], 10, 64)
			header = true
		}
	}
	if code != 0 || !header {
		return cty.NilVal, fmt.Errorf("read log %q on %s: exit %d: %s", s.path, h.Name(), code, strings.TrimSpace(stderr.String()))
	}
	if sc.err != nil {
		return cty.NilVal, fmt.Errorf("read log %q on %s: %w", s.path, h.Name(), sc.err)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"matches":       cty.NumberIntVal(sc.t.matches),
		"lines":         sc.t.lines(),
		"age_s":         cty.NumberFloatVal(math.Max(0, float64(now-mtime))),
		"size_bytes":    cty.NumberIntVal(size),
		"lines_scanned": cty.NumberIntVal(sc.t.scanned),
	}), nil
}
