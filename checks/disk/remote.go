package disk

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var _ checks.Remote = (*Provider)(nil)

// RunOn reads the file system's usage on a target with `stat -f` (GNU or
// BusyBox): the same numbers statfs gives here.
func (p *Provider) RunOn(ctx context.Context, h checks.Host, cfg cty.Value) (cty.Value, error) {
	path := checks.String(cfg, "path", "")
	if path == "" {
		return cty.NilVal, errors.New("path must not be empty")
	}
	var out, errOut strings.Builder
	code, err := h.Exec(ctx, "stat -f -c '%S %b %f %a %c %d' -- "+checks.ShellQuote(path), nil, &out, &errOut)
	if err != nil {
		return cty.NilVal, err
	}
	if code != 0 {
		return cty.NilVal, fmt.Errorf("statfs %q on %s: stat exited %d: %s", path, h.Name(), code, strings.TrimSpace(errOut.String()))
	}
	f := strings.Fields(out.String())
	if len(f) != 6 {
		return cty.NilVal, fmt.Errorf("statfs %q on %s: unexpected stat output %q", path, h.Name(), out.String())
	}
	var n [6]uint64
	for i, s := range f {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return cty.NilVal, fmt.Errorf("statfs %q on %s: unexpected stat output %q", path, h.Name(), out.String())
		}
		n[i] = v
	}
	bs := n[0]
	return Usage{TotalBytes: n[1] * bs, FreeBytes: n[2] * bs, AvailBytes: n[3] * bs, InodesTotal: n[4], InodesFree: n[5]}.value(), nil
}
