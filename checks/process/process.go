// Package process is the `process` check provider: whether a process is
// alive, found by pid file, pid or name, and for how long it has run.
//
// It reads Linux's /proc rather than sending signal 0, so it sees other
// users' processes too, tells zombies from live processes, and knows when
// each process started. On systems without /proc, Run returns an error.
package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
)

var (
	_ checks.Provider        = (*Provider)(nil)
	_ checks.Typed           = (*Provider)(nil)
	_ checks.Documented      = (*Provider)(nil)
	_ checks.Describer       = (*Provider)(nil)
	_ checks.Validator       = (*Provider)(nil)
	_ checks.DefaultAsserter = (*Provider)(nil)
)

// maxCmdline is how many bytes of a command line the result keeps;
// match_cmdline always sees the whole of it.
const maxCmdline = 4096

// Provider looks processes up in /proc. Its fields are set once by New and
// only read afterwards, so Run is safe for concurrent use.
type Provider struct {
	proc  string  // mount point of procfs
	ticks float64 // clock ticks per second, the unit of a process's start time
	self  int     // this process, never counted by name
}

// New returns a process Provider; it is a checks.Factory.
func New() checks.Provider {
	return &Provider{proc: "/proc", ticks: clockTicks(), self: os.Getpid()}
}

// Schema describes the `process` block: exactly one of pid_file, pid or
// name, and an optional match_cmdline.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"pid_file":      &hcldec.AttrSpec{Name: "pid_file", Type: cty.String},
		"pid":           &hcldec.AttrSpec{Name: "pid", Type: cty.Number},
		"name":          &hcldec.AttrSpec{Name: "name", Type: cty.String},
		"match_cmdline": &hcldec.AttrSpec{Name: "match_cmdline", Type: cty.String},
	}
}

// Doc returns the provider's reference documentation.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Whether a process (by pid file, pid or name) is running, and for how long.",
		Result: map[string]string{
			"running":   "true when a live (not zombie) process matched",
			"pid":       "its process id; 0 when not running",
			"elapsed_s": "seconds since it started; 0 when not running",
			"count":     "number of live matching processes (0 or 1 for pid and pid_file)",
			"cmdline":   "its command line, arguments joined by spaces (first 4 KiB)",
			"name":      "its command name (/proc/PID/comm, at most 15 characters)",
		},
	}
}

// DefaultAssert fails a block without asserts when the process is not
// running.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "self.running", "process is not running"
}

// Describe summarizes a block: "pid file /run/x.pid", "pid 42" or
// "process named x".
func (p *Provider) Describe(cfg cty.Value) string {
	var s string
	switch {
	case checks.Set(cfg, "pid_file"):
		s = "pid file " + checks.String(cfg, "pid_file", "(not known yet)")
	case checks.Set(cfg, "pid"):
		if n := checks.Int(cfg, "pid", 0); n > 0 {
			s = "pid " + strconv.FormatInt(n, 10)
		} else {
			s = "pid (not known yet)"
		}
	case checks.Set(cfg, "name"):
		s = "process named " + checks.String(cfg, "name", "(not known yet)")
	default:
		s = "process"
	}
	if checks.Set(cfg, "match_cmdline") {
		s += " with command line matching /" + checks.String(cfg, "match_cmdline", "(not known yet)") + "/"
	}
	return s
}

// Validate checks that exactly one selector is set and that each known
// value makes sense.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parseSelector(cfg)
	return err
}

// selector is a decoded, validated configuration. Unknown values leave
// their field at its zero value.
type selector struct {
	pidFile string
	pid     int
	name    string
	cmdline *regexp.Regexp
}

func parseSelector(cfg cty.Value) (selector, error) {
	var sel selector
	var set []string
	for _, name := range []string{"pid_file", "pid", "name"} {
		if checks.Set(cfg, name) {
			set = append(set, name)
		}
	}
	if len(set) != 1 {
		if len(set) == 0 {
			return sel, errors.New("exactly one of pid_file, pid or name is required")
		}
		return sel, fmt.Errorf("exactly one of pid_file, pid or name is allowed, got %s", strings.Join(set, " and "))
	}
	if v, ok := checks.KnownAttr(cfg, "pid_file"); ok {
		if sel.pidFile = v.AsString(); sel.pidFile == "" {
			return sel, errors.New("pid_file must not be empty")
		}
	}
	if v, ok := checks.KnownAttr(cfg, "pid"); ok {
		bf := v.AsBigFloat()
		n, acc := bf.Int64()
		if !bf.IsInt() || acc != 0 || n <= 0 || n > math.MaxInt32 {
			return sel, fmt.Errorf("pid must be a positive whole number, got %s", bf.Text('f', -1))
		}
		sel.pid = int(n)
	}
	if v, ok := checks.KnownAttr(cfg, "name"); ok {
		if sel.name = v.AsString(); sel.name == "" {
			return sel, errors.New("name must not be empty")
		}
		if strings.Contains(sel.name, "/") {
			return sel, fmt.Errorf("name %q must be a command name, not a path: use %q", sel.name, filepath.Base(sel.name))
		}
	}
	if v, ok := checks.KnownAttr(cfg, "match_cmdline"); ok {
		re, err := regexp.Compile(v.AsString())
		if err != nil {
			return sel, fmt.Errorf("match_cmdline: %w", err)
		}
		sel.cmdline = re
	}
	return sel, nil
}

// Run looks the process up. A missing pid file, an empty one, a process
// that is gone or a zombie is a normal result with running = false; an
// unreadable or malformed pid file, or a system without /proc, is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	if !cfg.IsWhollyKnown() {
		return cty.NilVal, errors.New("process configuration is not wholly known")
	}
	sel, err := parseSelector(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	if _, err := os.Stat(filepath.Join(p.proc, "self", "stat")); err != nil {
		return cty.NilVal, fmt.Errorf("process lookup needs Linux /proc: %w", err)
	}
	switch {
	case sel.pidFile != "":
		pid, err := readPidFile(sel.pidFile)
		if err != nil {
			return cty.NilVal, err
		}
		if pid == 0 {
			return notRunning(), nil
		}
		return p.byPid(pid, sel.cmdline)
	case sel.pid != 0:
		return p.byPid(sel.pid, sel.cmdline)
	default:
		return p.byName(ctx, sel.name, sel.cmdline)
	}
}

// readPidFile returns the pid a pid file holds, 0 when the file is missing
// or empty.
func readPidFile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return 0, nil
	}
	// Some daemons write more than the pid (a second line, a port).
	if i := strings.IndexAny(s, " \t\r\n"); i >= 0 {
		s = s[:i]
	}
	pid, err := strconv.Atoi(s)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("pid file %q: %q is not a process id", path, truncate(s, 40))
	}
	return pid, nil
}

// byPid inspects one process.
func (p *Provider) byPid(pid int, cmdline *regexp.Regexp) (cty.Value, error) {
	info, ok, err := p.inspect(pid)
	if err != nil {
		return cty.NilVal, err
	}
	if !ok || (cmdline != nil && !cmdline.MatchString(info.cmdline)) {
		return notRunning(), nil
	}
	return p.result(info, 1)
}

// byName scans every process for those whose command name or argv[0]
// basename is name and, if set, whose command line matches cmdline. It
// reports the one that started first, and how many matched.
func (p *Provider) byName(ctx context.Context, name string, cmdline *regexp.Regexp) (cty.Value, error) {
	entries, err := os.ReadDir(p.proc)
	if err != nil {
		return cty.NilVal, fmt.Errorf("list processes: %w", err)
	}
	var oldest procInfo
	count := 0
	for i, e := range entries {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return cty.NilVal, err
			}
		}
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.self {
			continue
		}
		info, ok, err := p.inspect(pid)
		if err != nil || !ok {
			continue // gone meanwhile, or not ours to read
		}
		if info.comm != name && filepath.Base(info.argv0) != name {
			continue
		}
		if cmdline != nil && !cmdline.MatchString(info.cmdline) {
			continue
		}
		count++
		if count == 1 || info.start < oldest.start || info.start == oldest.start && info.pid < oldest.pid {
			oldest = info
		}
	}
	if count == 0 {
		return notRunning(), nil
	}
	return p.result(oldest, count)
}

// result builds the object for a live process.
func (p *Provider) result(info procInfo, count int) (cty.Value, error) {
	uptime, err := p.uptime()
	if err != nil {
		return cty.NilVal, err
	}
	elapsed := max(uptime-float64(info.start)/p.ticks, 0)
	return cty.ObjectVal(map[string]cty.Value{
		"running":   cty.True,
		"pid":       cty.NumberIntVal(int64(info.pid)),
		"elapsed_s": cty.NumberFloatVal(math.Round(elapsed*100) / 100),
		"count":     cty.NumberIntVal(int64(count)),
		"cmdline":   cty.StringVal(truncate(info.cmdline, maxCmdline)),
		"name":      cty.StringVal(info.comm),
	}), nil
}

func notRunning() cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"running":   cty.False,
		"pid":       cty.Zero,
		"elapsed_s": cty.Zero,
		"count":     cty.Zero,
		"cmdline":   cty.StringVal(""),
		"name":      cty.StringVal(""),
	})
}

// truncate cuts s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return checks.DynamicResult(checks.SortedKeys(p.Doc().Result), nil)
}
