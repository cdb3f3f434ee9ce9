package process

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var _ checks.Remote = (*Provider)(nil)

// RunOn finds the process on a target from one `ps -e -o
// pid,ppid,stat,etimes,comm,args` listing (procps), read there and
// matched here as a local lookup matches /proc. The listing's own shell
// and its children are left out.
func (p *Provider) RunOn(ctx context.Context, h checks.Host, cfg cty.Value) (cty.Value, error) {
	if !cfg.IsWhollyKnown() {
		return cty.NilVal, errors.New("process configuration is not wholly known")
	}
	sel, err := parseSelector(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	script := `echo "$$"; echo ---` + "\n"
	if sel.pidFile != "" {
		script += "{ cat -- " + checks.ShellQuote(sel.pidFile) + " 2>/dev/null || true; } | head -n 1\n"
	}
	script += "echo ---\nexec ps -e -o pid= -o ppid= -o stat= -o etimes= -o comm= -o args="
	var out, errOut strings.Builder
	code, err := h.Exec(ctx, script, nil, &out, &errOut)
	if err != nil {
		return cty.NilVal, err
	}
	parts := strings.SplitN(out.String(), "---\n", 3)
	if code != 0 || len(parts) != 3 {
		return cty.NilVal, fmt.Errorf("list processes on %s: ps exited %d: %s", h.Name(), code, strings.TrimSpace(errOut.String()))
	}
	self, _ := strconv.Atoi(strings.TrimSpace(parts[0]))
	want := sel.pid
	if sel.pidFile != "" {
		s := strings.TrimSpace(parts[1])
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			s = s[:i]
		}
		if s == "" {
			return notRunning(), nil
		}
		if want, err = strconv.Atoi(s); err != nil || want <= 0 {
			return cty.NilVal, fmt.Errorf("pid file %q on %s: %q is not a process id", sel.pidFile, h.Name(), truncate(s, 40))
		}
	}
	var oldest procInfo
	var oldestAge int64
	count := 0
	for _, line := range strings.Split(parts[2], "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		ppid, err2 := strconv.Atoi(f[1])
		age, err3 := strconv.ParseInt(f[3], 10, 64)
		if errors.Join(err1, err2, err3) != nil || pid == self || ppid == self || strings.HasPrefix(f[2], "Z") {
			continue
		}
		info := procInfo{pid: pid, comm: f[4], cmdline: strings.Join(f[5:], " ")}
		if len(f) > 5 {
			info.argv0 = f[5]
		}
		if want != 0 {
			if pid != want {
				continue
			}
		} else if info.comm != sel.name && filepath.Base(info.argv0) != sel.name {
			continue
		}
		if sel.cmdline != nil && !sel.cmdline.MatchString(info.cmdline) {
			continue
		}
		count++
		if count == 1 || age > oldestAge || age == oldestAge && pid < oldest.pid {
			oldest, oldestAge = info, age
		}
	}
	if count == 0 {
		return notRunning(), nil
	}
	return cty.ObjectVal(map[string]cty.Value{
		"running":   cty.True,
		"pid":       cty.NumberIntVal(int64(oldest.pid)),
		"elapsed_s": cty.NumberIntVal(oldestAge),
		"count":     cty.NumberIntVal(int64(count)),
		"cmdline":   cty.StringVal(truncate(oldest.cmdline, maxCmdline)),
		"name":      cty.StringVal(oldest.comm),
	}), nil
}
