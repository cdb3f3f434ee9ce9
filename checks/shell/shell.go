// Package shell is the `shell` check provider: it runs a command and
// observes its exit code and output.
//
// A string command runs under `/bin/sh -c`; a list is exec'd directly, each
// element one literal argument, with no shell in between. The child runs in
// its own process group so that a timeout or a cancelled run kills
// everything it started, not just the shell.
package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var (
	_ checks.Provider        = (*Provider)(nil)
	_ checks.Typed           = (*Provider)(nil)
	_ checks.Documented      = (*Provider)(nil)
	_ checks.Describer       = (*Provider)(nil)
	_ checks.Validator       = (*Provider)(nil)
	_ checks.DefaultAsserter = (*Provider)(nil)
	_ checks.Environment     = (*Provider)(nil)
)

// Provider runs shell checks. It keeps no state between runs and is safe
// for concurrent use.
type Provider struct {
	// base is the environment commands inherit; nil means the runbook's
	// own (os.Environ). Set by SetEnviron before the first Run.
	base []string

	// grace is how long a process group has between SIGTERM and SIGKILL.
	grace time.Duration
	// waitDelay bounds how long Run waits for the output pipes to close
	// once the command has exited or been killed; a background child that
	// inherited them cannot hold the check open longer.
	waitDelay time.Duration

	// paths caches PATH lookups of program names for the run: a runbook
	// of many checks runs the same few programs, and each lookup stats
	// every PATH entry.
	paths sync.Map // name → string
}

// lookPath resolves a program name like exec.LookPath, once per name.
// Names with a slash are used as they are; failures are not cached.
func (p *Provider) lookPath(name string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	if v, ok := p.paths.Load(name); ok {
		return v.(string), nil
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return "", err
	}
	p.paths.Store(name, path)
	return path, nil
}

// New returns a shell Provider; it is a checks.Factory.
func New() checks.Provider {
	return &Provider{grace: time.Second, waitDelay: time.Second}
}

// Schema describes the shell block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"command":    &hcldec.AttrSpec{Name: "command", Type: cty.DynamicPseudoType, Required: true},
		"dir":        &hcldec.AttrSpec{Name: "dir", Type: cty.String},
		"env":        &hcldec.AttrSpec{Name: "env", Type: cty.Map(cty.String)},
		"stdin":      &hcldec.AttrSpec{Name: "stdin", Type: cty.String},
		"timeout":    &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		"max_output": &hcldec.AttrSpec{Name: "max_output", Type: cty.Number},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Runs a command (through /bin/sh -c, or exec'd directly from a list) and observes its exit code and output.",
		Result: map[string]string{
			"exit_code":        "the command's exit status; 128+N when killed by signal N",
			"stdout":           "standard output, capped at max_output bytes",
			"stderr":           "standard error, capped at max_output bytes",
			"stdout_lines":     "stdout split into lines, without line endings",
			"stdout_truncated": "true when stdout was longer than max_output",
			"stderr_truncated": "true when stderr was longer than max_output",
		},
	}
}

// DefaultAssert makes a block without asserts fail on a non-zero exit.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "self.exit_code == 0", "command exited with code ${self.exit_code}"
}

// DefaultPasses answers the default assert in Go for the engine: true
// when self.exit_code is a known 0. False leaves the decision to the
// condition itself, which also renders the failure message.
func (p *Provider) DefaultPasses(self cty.Value) bool {
	if self == cty.NilVal || !self.IsKnown() || self.IsNull() || self.IsMarked() {
		return false
	}
	ty := self.Type()
	if !ty.IsObjectType() || !ty.HasAttribute("exit_code") || ty.AttributeType("exit_code") != cty.Number {
		return false
	}
	v := self.GetAttr("exit_code")
	return v.IsKnown() && !v.IsNull() && !v.IsMarked() && v.Equals(cty.Zero).True()
}

// Validate checks the command's shape, the timeout and max_output.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parse(cfg)
	return err
}

// Describe renders the command as a shell would read it: `sh -c '…'` for
// a string, the quoted argv for a list.
func (p *Provider) Describe(cfg cty.Value) string {
	c, err := parse(cfg)
	switch {
	case err != nil:
		return "shell (invalid command)"
	case c.shell:
		return "sh -c " + quote(c.argv[2])
	case c.argv != nil:
		return quoteAll(c.argv)
	}
	// A list with elements not known yet: show what is known.
	v, ok := checks.KnownAttr(cfg, "command")
	if !ok || !(v.Type().IsListType() || v.Type().IsTupleType()) {
		return "shell (command known at run time)"
	}
	var argv []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if s, err := convert.Convert(e, cty.String); err == nil && s.IsKnown() && !s.IsNull() {
			argv = append(argv, quote(s.AsString()))
		} else {
			argv = append(argv, "(known at run time)")
		}
	}
	return strings.Join(argv, " ")
}

// command is a parsed shell block. Fields whose value is not known yet
// (while validating) are left zero.
type command struct {
	argv      []string
	shell     bool
	dir       string
	env       map[string]string
	stdin     *string
	timeout   time.Duration
	maxOutput int
}

// validEnvName reports whether k is a POSIX variable name
// ([A-Za-z_][A-Za-z0-9_]*), the only names a shell exports as given.
func validEnvName(k string) bool {
	if k == "" || k[0] >= '0' && k[0] <= '9' {
		return false
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func parse(cfg cty.Value) (*command, error) {
	c := &command{
		dir:       checks.String(cfg, "dir", ""),
		env:       checks.StringMap(cfg, "env"),
		maxOutput: checks.DefaultCaptureLimit,
	}
	switch v, ok := checks.KnownAttr(cfg, "command"); {
	case !ok || !v.IsWhollyKnown():
		// Null is the schema's to report; unknown waits for run time.
	case v.Type() == cty.String:
		if strings.TrimSpace(v.AsString()) == "" {
			return nil, errors.New("command must not be empty")
		}
		c.shell = true
		c.argv = []string{"/bin/sh", "-c", v.AsString()}
	case v.Type().IsListType() || v.Type().IsTupleType():
		argv, err := checks.StringList(cfg, "command")
		if err != nil {
			return nil, err
		}
		if len(argv) == 0 || argv[0] == "" {
			return nil, errors.New("command list must start with the program to run")
		}
		c.argv = argv
	default:
		return nil, fmt.Errorf("command must be a string (run by /bin/sh -c) or a list of strings (run without a shell), not %s", v.Type().FriendlyName())
	}
	for _, k := range checks.SortedKeys(c.env) {
		if !validEnvName(k) {
			return nil, fmt.Errorf("env: %q is not a valid variable name: use letters, digits and underscores, not starting with a digit", k)
		}
	}
	if v, ok := checks.KnownAttr(cfg, "stdin"); ok {
		s := v.AsString()
		c.stdin = &s
	}
	var err error
	if c.timeout, err = checks.Duration(cfg, "timeout", 0); err != nil {
		return nil, err
	}
	if _, ok := checks.KnownAttr(cfg, "max_output"); ok {
		n := checks.Int(cfg, "max_output", 0)
		if n <= 0 || n > 1<<30 {
			return nil, fmt.Errorf("max_output must be a whole number of bytes between 1 and %d", 1<<30)
		}
		c.maxOutput = int(n)
	}
	return c, nil
}

// Run starts the command, waits for it, and returns its exit code and
// captured output. A non-zero exit is a result; a command that cannot
// start, or is stopped by the timeout or ctx, is an error (with whatever
// output it had written).
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	res, err := p.RunResult(ctx, cfg)
	if res == nil {
		return cty.NilVal, err
	}
	return res.Value(), err
}

// RunResult is Run with the result kept in Go (checks.ResultRunner): the
// engine builds it as cty only when an expression reads it. For a check
// judged by its default assert in Go: 12 fewer allocations and 0.9 KB
// less allocated a check (BenchmarkRunShell1000); the run phase's own CPU
// 1.08× → 1.01× its floor's (BenchmarkRunPhaseShell1000); whole process,
// CPU −2% at 1,000 `true` checks (two sets of 9 and 11 alternated runs,
// load 5.5–8), within ±2.6% at 10,000 (docs/performance.md, "round 7:
// exec").
func (p *Provider) RunResult(ctx context.Context, cfg cty.Value) (checks.Result, error) {
	c, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	if c.argv == nil {
		return nil, errors.New("command is not known")
	}
	runCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}

	stdout := &checks.CappedBuffer{Limit: c.maxOutput}
	stderr := &checks.CappedBuffer{Limit: c.maxOutput}
	path, err := p.lookPath(c.argv[0])
	if err != nil {
		return nil, fmt.Errorf("start command: %w", err)
	}
	env, err := environ(c, p.base)
	if err != nil {
		return nil, fmt.Errorf("start command: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("command not started: %w", err)
	}
	out := p.spawn(runCtx, path, c, env, stdout, stderr)
	if !out.started {
		return nil, fmt.Errorf("start command: %w", out.err)
	}
	res := newResult(out.code, stdout, stderr)
	if out.stopped {
		return res, stopReason(ctx, c.timeout)
	}
	if out.err != nil {
		return res, fmt.Errorf("wait for command: %w", out.err)
	}
	return res, nil
}

// environ is the command's environment: the runbook's own, with env's
// entries replacing those of the same name (a C program's getenv takes the
// first of two), and PWD set to dir when the command runs elsewhere, as
// os/exec does. Nil means the runbook's own environment unchanged.
func environ(c *command, base []string) ([]string, error) {
	if len(c.env) == 0 && c.dir == "" && base == nil {
		return nil, nil
	}
	set := make(map[string]string, len(c.env)+1)
	for k, v := range c.env {
		if strings.ContainsRune(k+v, 0) {
			return nil, fmt.Errorf("env %q contains a NUL byte", k)
		}
		set[k] = v
	}
	if c.dir != "" {
		if _, given := c.env["PWD"]; !given {
			if abs, err := filepath.Abs(c.dir); err == nil {
				set["PWD"] = abs
			}
		}
	}
	if base == nil {
		base = os.Environ()
	}
	env := make([]string, 0, len(base)+len(set))
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !hasKey(set, k) {
			env = append(env, kv)
		}
	}
	for _, k := range checks.SortedKeys(set) {
		env = append(env, k+"="+set[k])
	}
	return env, nil
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// outcome is how a command ended.
type outcome struct {
	started bool  // false: err says why it could not start
	code    int   // exit code (see exitCode), -1 when its end was not seen
	stopped bool  // its process group was stopped (timeout or cancel)
	err     error // why it could not start, or could not be waited for
}

// exitCode is a wait status as a shell reports it: the exit status, or
// 128 + the signal that ended the process.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// stopReason says why the command was stopped: its own timeout, the
// check's deadline, or a cancelled run.
func stopReason(parent context.Context, timeout time.Duration) error {
	switch err := parent.Err(); {
	case err == nil:
		return fmt.Errorf("command timed out after %s; its process group was killed: %w", timeout, context.DeadlineExceeded)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("command timed out at the check's deadline; its process group was killed: %w", err)
	default:
		return fmt.Errorf("command cancelled; its process group was killed: %w", err)
	}
}

// result is a command's end as observed: its exit code and output
// (capped), kept in Go until an expression reads it (checks.Result).
type result struct {
	code                       int
	stdout, stderr             string
	outTruncated, errTruncated bool
}

var (
	_ checks.ResultRunner  = (*Provider)(nil)
	_ checks.Result        = (*result)(nil)
	_ checks.DefaultPasser = (*result)(nil)
)

func newResult(code int, stdout, stderr *checks.CappedBuffer) *result {
	return &result{
		code:   code,
		stdout: stdout.String(), stderr: stderr.String(),
		outTruncated: stdout.Truncated(), errTruncated: stderr.Truncated(),
	}
}

// lines is stdout split into lines, without line endings, before NFC.
func (res *result) lines() []string {
	if res.stdout == "" {
		return nil
	}
	split := strings.Split(strings.TrimSuffix(res.stdout, "\n"), "\n")
	for i, l := range split {
		split[i] = strings.TrimSuffix(l, "\r")
	}
	return split
}

// DefaultPasses answers the default assert, self.exit_code == 0.
func (res *result) DefaultPasses() bool { return res.code == 0 }

// Value is the result as cty: what `self` holds.
func (res *result) Value() cty.Value {
	lines := cty.ListValEmpty(cty.String)
	if split := res.lines(); split != nil {
		vals := make([]cty.Value, len(split))
		for i, l := range split {
			vals[i] = cty.StringVal(l)
		}
		lines = cty.ListVal(vals)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"exit_code":        cty.NumberIntVal(int64(res.code)),
		"stdout":           cty.StringVal(res.stdout),
		"stderr":           cty.StringVal(res.stderr),
		"stdout_lines":     lines,
		"stdout_truncated": cty.BoolVal(res.outTruncated),
		"stderr_truncated": cty.BoolVal(res.errTruncated),
	})
}

// JSON is the result as the record holds it, checks.JSONValue(Value())
// built without cty: strings in NFC (each line on its own, as cty.StringVal
// normalizes it), the exit code as a whole number.
func (res *result) JSON() map[string]any {
	split := res.lines()
	lines := make([]any, len(split))
	for i, l := range split {
		lines[i] = cty.NormalizeString(l)
	}
	return map[string]any{
		"exit_code":        json.Number(strconv.Itoa(res.code)),
		"stdout":           cty.NormalizeString(res.stdout),
		"stderr":           cty.NormalizeString(res.stderr),
		"stdout_lines":     lines,
		"stdout_truncated": res.outTruncated,
		"stderr_truncated": res.errTruncated,
	}
}

// quoteAll renders argv as a shell command line.
func quoteAll(argv []string) string {
	quoted := make([]string, len(argv))
	for i, a := range argv {
		quoted[i] = quote(a)
	}
	return strings.Join(quoted, " ")
}

// quote returns s as one POSIX shell word.
func quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// SetEnviron sets the environment commands inherit, in place of the
// runbook's own: the engine leaves sensitive variables' RUNBOOK_VAR_
// values out of it.
func (p *Provider) SetEnviron(env []string) { p.base = env }

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{
		"exit_code": cty.Number, "stdout": cty.String, "stderr": cty.String,
		"stdout_lines": cty.List(cty.String), "stdout_truncated": cty.Bool, "stderr_truncated": cty.Bool,
	})
}
