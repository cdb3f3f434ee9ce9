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

// RunOn finds the process on a target from one listing of its
// processes, read there and matched here as a local lookup matches
// /proc: each process's /proc/PID/stat and cmdline (NUL-separated
// arguments, so names and arguments may hold spaces), or, on a target
// without /proc, `ps -e -o pid,ppid,stat,etimes,comm,args` (procps),
// whose command names must then have no spaces. The listing's own shell
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
	script += "echo ---\n" + listScript
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
	listing := parseListing(parts[2])
	for _, e := range listing {
		pid, ppid, age, info := e.pid, e.ppid, e.age, e.info
		if pid == self || ppid == self || e.zombie {
			continue
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

// listScript prints the target's processes: "proc CLK_TCK UPTIME" then,
// per process, its stat line, a tab and its arguments each followed by a
// tab; or "ps" then a ps listing when there is no /proc.
const listScript = `if [ -r /proc/self/stat ] && read -r up _ </proc/uptime; then
echo "proc $(getconf CLK_TCK 2>/dev/null || echo 100) $up"
cd /proc || exit 1
for p in [0-9]*; do
IFS= read -r st <"$p/stat" || continue
printf '%s\t' "$st"
tr '\000\t\n' '\t  ' <"$p/cmdline"
echo
done 2>/dev/null
exit 0
fi
echo ps
exec ps -e -o pid= -o ppid= -o stat= -o etimes= -o comm= -o args=`

// listed is one process of a target's listing.
type listed struct {
	pid, ppid int
	age       int64 // seconds since it started
	zombie    bool
	info      procInfo
}

// parseListing reads listScript's output; lines it cannot read (a
// process that ended while listed) are skipped.
func parseListing(out string) []listed {
	head, body, _ := strings.Cut(out, "\n")
	var list []listed
	f := strings.Fields(head)
	if len(f) == 3 && f[0] == "proc" {
		tck, err1 := strconv.ParseFloat(f[1], 64)
		up, err2 := strconv.ParseFloat(f[2], 64)
		if errors.Join(err1, err2) != nil || tck <= 0 {
			return nil
		}
		for _, line := range strings.Split(body, "\n") {
			if e, ok := parseProcLine(line, tck, up); ok {
				list = append(list, e)
			}
		}
		return list
	}
	for _, line := range strings.Split(body, "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		pid, err1 := strconv.Atoi(f[0])
		ppid, err2 := strconv.Atoi(f[1])
		age, err3 := strconv.ParseInt(f[3], 10, 64)
		if errors.Join(err1, err2, err3) != nil {
			continue
		}
		e := listed{pid: pid, ppid: ppid, age: age, zombie: strings.HasPrefix(f[2], "Z"), info: procInfo{pid: pid, comm: f[4], cmdline: strings.Join(f[5:], " ")}}
		if len(f) > 5 {
			e.info.argv0 = f[5]
		}
		list = append(list, e)
	}
	return list
}

// parseProcLine reads "STAT\tARG\tARG\t…": the command name is between
// the first "(" and the last ")" of the stat line, as in proc(5).
func parseProcLine(line string, tck, uptime float64) (listed, bool) {
	open, end := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
	if open < 0 || end < open {
		return listed{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(line[:open]))
	if err != nil {
		return listed{}, false
	}
	rest, args, _ := strings.Cut(line[end+1:], "\t")
	fields := strings.Fields(rest)
	// Fields after the command name, numbered from 3 (state) as in proc(5).
	const state, ppidField, starttime = 3, 4, 22
	if len(fields) <= starttime-state {
		return listed{}, false
	}
	ppid, err1 := strconv.Atoi(fields[ppidField-state])
	start, err2 := strconv.ParseUint(fields[starttime-state], 10, 64)
	if errors.Join(err1, err2) != nil {
		return listed{}, false
	}
	age := int64(uptime - float64(start)/tck)
	if age < 0 {
		age = 0
	}
	e := listed{pid: pid, ppid: ppid, age: age, zombie: fields[0] == "Z" || fields[0] == "X" || fields[0] == "x"}
	e.info = procInfo{pid: pid, comm: line[open+1 : end]}
	argv := strings.Split(strings.TrimSuffix(args, "\t"), "\t")
	if args == "" {
		argv = nil
	}
	if len(argv) > 0 {
		e.info.argv0 = argv[0]
	}
	e.info.cmdline = strings.Join(argv, " ")
	return e, true
}
