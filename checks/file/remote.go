package file

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var _ checks.Remote = (*Provider)(nil)

// RunOn inspects the path on a target with stat(1) (GNU or BusyBox); the
// age is counted from the target's own clock.
func (p *Provider) RunOn(ctx context.Context, h checks.Host, cfg cty.Value) (cty.Value, error) {
	path := checks.String(cfg, "path", "")
	if path == "" {
		return cty.NilVal, errors.New("path is not known")
	}
	q := checks.ShellQuote(path)
	script := "if [ -e " + q + " ]; then stat -L -c '%s %Y %a %F' -- " + q + " && date +%s; else echo missing; fi"
	var out, errOut strings.Builder
	code, err := h.Exec(ctx, script, nil, &out, &errOut)
	if err != nil {
		return cty.NilVal, err
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if code == 0 && len(lines) == 1 && lines[0] == "missing" {
		return missing(), nil
	}
	if code != 0 || len(lines) != 2 {
		return cty.NilVal, fmt.Errorf("inspect file on %s: stat exited %d: %s", h.Name(), code, strings.TrimSpace(errOut.String()))
	}
	f := strings.SplitN(lines[0], " ", 4)
	if len(f) != 4 {
		return cty.NilVal, fmt.Errorf("inspect file on %s: unexpected stat output %q", h.Name(), lines[0])
	}
	size, err1 := strconv.ParseInt(f[0], 10, 64)
	mtime, err2 := strconv.ParseInt(f[1], 10, 64)
	mode, err3 := strconv.ParseUint(f[2], 8, 32)
	now, err4 := strconv.ParseInt(strings.TrimSpace(lines[1]), 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return cty.NilVal, fmt.Errorf("inspect file on %s: unexpected stat output %q: %w", h.Name(), out.String(), err)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"exists": cty.True,
		"size":   cty.NumberIntVal(size),
		"age_s":  cty.NumberFloatVal(math.Max(0, float64(now-mtime))),
		"mode":   cty.StringVal(fmt.Sprintf("%04o", mode)),
		"is_dir": cty.BoolVal(f[3] == "directory"),
	}), nil
}

func missing() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"exists": cty.False,
		"size":   cty.Zero,
		"age_s":  cty.Zero,
		"mode":   cty.StringVal(""),
		"is_dir": cty.False,
	})
}
