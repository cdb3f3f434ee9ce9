package shell

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// decode decodes the body of a shell block as the engine would.
func decode(t testing.TB, p checks.Provider, src string) cty.Value {
	return checkstest.Decode(t, p, src, nil)
}

// plain turns a result into JSON-shaped Go values for go-cmp.
func plain(t *testing.T, v cty.Value) map[string]any {
	t.Helper()
	data, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	var out map[string]any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("unmarshal result: %v", err)
	}
	return out
}

func want(code int, stdout, stderr string, lines ...string) map[string]any {
	l := []any{}
	for _, s := range lines {
		l = append(l, s)
	}
	return map[string]any{
		"exit_code": float64(code), "stdout": stdout, "stderr": stderr, "stdout_lines": l,
		"stdout_truncated": false, "stderr_truncated": false,
	}
}

func TestRun(t *testing.T) {
	t.Setenv("RUNBOOK_SHELL_INHERITED", "inherited")
	truncated := want(0, "0123", "", "0123")
	truncated["stdout_truncated"] = true
	tests := []struct {
		name string
		src  string
		want map[string]any
	}{
		{"string command", `command = "echo hello; echo oops >&2; exit 3"`, want(3, "hello\n", "oops\n", "hello")},
		{"list command", `command = ["printf", "%s\n", "a", "b c"]`, want(0, "a\nb c\n", "", "a", "b c")},
		{"numbers in list", `command = ["printf", "%s-%s", 1, true]`, want(0, "1-true", "", "1-true")},
		{"no output", `command = "true"`, want(0, "", "")},
		{"crlf lines", `command = ["printf", "a\r\nb\r\n"]`, want(0, "a\r\nb\r\n", "", "a", "b")},
		{"dir", `
			command = "cat greeting.txt"
			dir     = "testdata"`, want(0, "hello from testdata\n", "", "hello from testdata")},
		{"env added to inherited", `
			command = "printf '%s %s' \"$GREETING\" \"$RUNBOOK_SHELL_INHERITED\""
			env     = { GREETING = "hi" }`, want(0, "hi inherited", "", "hi inherited")},
		{"env overrides inherited", `
			command = ["sh", "-c", "printf %s \"$RUNBOOK_SHELL_INHERITED\""]
			env     = { RUNBOOK_SHELL_INHERITED = "overridden" }`, want(0, "overridden", "", "overridden")},
		{"stdin", `
			command = ["cat"]
			stdin   = "one\ntwo\n"`, want(0, "one\ntwo\n", "", "one", "two")},
		{"max_output", `
			command    = "printf 0123456789"
			max_output = 4`, truncated},
		{"killed by signal", `command = "kill -TERM $$"`, want(128+15, "", "")},
		{"missing program under sh", `command = "no-such-program-runbook-test"`, nil},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), decode(t, p, tt.src))
			if err != nil {
				t.Fatalf("Run: got error %v, want none", err)
			}
			got := plain(t, res)
			if tt.want == nil { // sh reports 127 and a message on stderr
				if got["exit_code"] != float64(127) || got["stderr"] == "" {
					t.Fatalf("got exit_code %v stderr %q, want 127 and a message", got["exit_code"], got["stderr"])
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"no such program", `command = ["no-such-program-runbook-test"]`, "executable file not found"},
		{"no such dir", `
			command = "true"
			dir     = "testdata/missing"`, "no such file or directory"},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Run(context.Background(), decode(t, p, tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  cty.Value
		want string // "" means valid
	}{
		{"string", cfgOf(cty.StringVal("make test"), nil), ""},
		{"list", cfgOf(cty.TupleVal([]cty.Value{cty.StringVal("ls"), cty.NumberIntVal(1)}), nil), ""},
		{"unknown command", cfgOf(cty.UnknownVal(cty.String), nil), ""},
		{"list with unknown element", cfgOf(cty.TupleVal([]cty.Value{cty.StringVal("ls"), cty.UnknownVal(cty.String)}), nil), ""},
		{"unknown timeout", cfgOf(cty.StringVal("true"), map[string]cty.Value{"timeout": cty.UnknownVal(cty.String)}), ""},
		{"empty string", cfgOf(cty.StringVal("  "), nil), "must not be empty"},
		{"empty list", cfgOf(cty.EmptyTupleVal, nil), "must start with the program"},
		{"empty program", cfgOf(cty.TupleVal([]cty.Value{cty.StringVal("")}), nil), "must start with the program"},
		{"nested list", cfgOf(cty.TupleVal([]cty.Value{cty.StringVal("ls"), cty.EmptyTupleVal}), nil), "not a string"},
		{"number", cfgOf(cty.NumberIntVal(3), nil), "must be a string"},
		{"object", cfgOf(cty.EmptyObjectVal, nil), "must be a string"},
		{"bad timeout", cfgOf(cty.StringVal("true"), map[string]cty.Value{"timeout": cty.StringVal("5")}), "timeout"},
		{"zero max_output", cfgOf(cty.StringVal("true"), map[string]cty.Value{"max_output": cty.NumberIntVal(0)}), "max_output"},
		{"fractional max_output", cfgOf(cty.StringVal("true"), map[string]cty.Value{"max_output": cty.NumberFloatVal(1.5)}), "max_output"},
		{"bad env name", cfgOf(cty.StringVal("true"), map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"A=B": cty.StringVal("x")})}), "env"},
		{"env name with shell code", cfgOf(cty.StringVal("true"), map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"X;touch /tmp/x;Y": cty.StringVal("x")})}), "not a valid variable name"},
		{"env name starting with a digit", cfgOf(cty.StringVal("true"), map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"1A": cty.StringVal("x")})}), "not a valid variable name"},
		{"env name with a dash", cfgOf(cty.StringVal("true"), map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"A-B": cty.StringVal("x")})}), "not a valid variable name"},
		{"env name with underscore and digits", cfgOf(cty.StringVal("true"), map[string]cty.Value{"env": cty.MapVal(map[string]cty.Value{"_A1": cty.StringVal("x")})}), ""},
	}
	p := New().(*Provider)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(tt.cfg)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// cfgOf builds a decoded config the way hcldec would: every attribute
// present, null unless given.
func cfgOf(command cty.Value, attrs map[string]cty.Value) cty.Value {
	obj := map[string]cty.Value{
		"command":    command,
		"dir":        cty.NullVal(cty.String),
		"env":        cty.NullVal(cty.Map(cty.String)),
		"stdin":      cty.NullVal(cty.String),
		"timeout":    cty.NullVal(cty.String),
		"max_output": cty.NullVal(cty.Number),
	}
	for k, v := range attrs {
		obj[k] = v
	}
	return cty.ObjectVal(obj)
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name string
		cfg  cty.Value
		want string
	}{
		{"string", cfgOf(cty.StringVal("make test"), nil), `sh -c 'make test'`},
		{"string with quote", cfgOf(cty.StringVal("echo 'hi'"), nil), `sh -c 'echo '\''hi'\'''`},
		{"list", cfgOf(cty.TupleVal([]cty.Value{cty.StringVal("kubectl"), cty.StringVal("get"), cty.StringVal("pods -A"), cty.StringVal("")}), nil), `kubectl get 'pods -A' ''`},
		{"unknown", cfgOf(cty.UnknownVal(cty.String), nil), "shell (command known at run time)"},
		{"list with unknown element", cfgOf(cty.TupleVal([]cty.Value{cty.StringVal("logger"), cty.NumberIntVal(3), cty.UnknownVal(cty.String)}), nil), "logger 3 (known at run time)"},
	}
	p := New().(*Provider)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Describe(tt.cfg); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDefaultAssert(t *testing.T) {
	cond, msg := New().(*Provider).DefaultAssert()
	if cond != "self.exit_code == 0" || !strings.Contains(msg, "${self.exit_code}") {
		t.Errorf("got (%q, %q), want the exit code condition and a message showing it", cond, msg)
	}
}

// runWithin calls Run and fails the test if it has not returned within d,
// so a hang is a failure rather than a stuck test binary.
func runWithin(t *testing.T, ctx context.Context, p checks.Provider, cfg cty.Value, d time.Duration) (cty.Value, error, time.Duration) {
	t.Helper()
	type ret struct {
		v   cty.Value
		err error
	}
	start := time.Now()
	ch := make(chan ret, 1)
	go func() {
		v, err := p.Run(ctx, cfg)
		ch <- ret{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err, time.Since(start)
	case <-time.After(d):
		t.Fatalf("Run did not return within %s", d)
		return cty.NilVal, nil, 0
	}
}

// groupAlive lists live (non-zombie) processes in process group pgid,
// waiting up to two seconds for killed ones to go.
func groupAlive(t *testing.T, pgid int) []string {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		var alive []string
		entries, err := os.ReadDir("/proc")
		if err != nil {
			t.Fatalf("read /proc: %v", err)
		}
		for _, e := range entries {
			if _, err := strconv.Atoi(e.Name()); err != nil {
				continue
			}
			stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
			if err != nil {
				continue
			}
			// Fields after "(comm)": state ppid pgrp …
			s := string(stat)
			fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
			if len(fields) > 2 && fields[2] == strconv.Itoa(pgid) && fields[0] != "Z" && fields[0] != "X" {
				alive = append(alive, e.Name()+" "+s[:strings.LastIndexByte(s, ')')+1])
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// markProcesses returns an env entry that tags every process a test
// starts, and kills any tagged process still alive when the test ends, so
// a failing test leaves nothing behind.
func markProcesses(t *testing.T) string {
	t.Helper()
	mark := fmt.Sprintf("RUNBOOK_SHELL_TEST=%s-%d", t.Name(), time.Now().UnixNano())
	t.Cleanup(func() {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
			if err == nil && strings.Contains("\x00"+string(env)+"\x00", "\x00"+mark+"\x00") {
				t.Logf("killing leftover process %d", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return mark
}

// withEnv adds a KEY=value entry to a decoded config's env.
func withEnv(cfg cty.Value, entry string) cty.Value {
	k, v, _ := strings.Cut(entry, "=")
	attrs := cfg.AsValueMap()
	attrs["env"] = cty.MapVal(map[string]cty.Value{k: cty.StringVal(v)})
	return cty.ObjectVal(attrs)
}

func firstLinePID(t *testing.T, res cty.Value) int {
	t.Helper()
	if res == cty.NilVal {
		t.Fatal("got no result, want the partial output")
	}
	out := res.GetAttr("stdout").AsString()
	pid, err := strconv.Atoi(strings.SplitN(out, "\n", 2)[0])
	if err != nil {
		t.Fatalf("got stdout %q, want the shell's pid on the first line", out)
	}
	return pid
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	p := New()
	cfg := decode(t, p, `
		command = "echo $$; sleep 3600 & sleep 3600"
		timeout = "2s"`)
	cfg = withEnv(cfg, markProcesses(t))
	res, err, took := runWithin(t, context.Background(), p, cfg, 15*time.Second)
	if err == nil || !strings.Contains(err.Error(), "timed out after 2s") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got error %v, want a timeout after 2s", err)
	}
	if took > 6*time.Second {
		t.Errorf("Run took %s, want about 2s", took)
	}
	pgid := firstLinePID(t, res)
	if alive := groupAlive(t, pgid); len(alive) > 0 {
		t.Errorf("process group %d still has live members: %q", pgid, alive)
	}
	if err := syscall.Kill(-pgid, 0); err == nil {
		t.Logf("process group %d has only zombies left (their parent has not reaped them)", pgid)
	}
}

func TestDeadlineKillsProcessesIgnoringTERM(t *testing.T) {
	p := New()
	// The subshell and its sleep ignore SIGTERM and hold stdout: only
	// SIGKILL after the grace period ends them.
	cfg := decode(t, p, `command = "echo $$; (trap '' TERM; sleep 3600) & sleep 3600"`)
	cfg = withEnv(cfg, markProcesses(t))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	res, err, _ := runWithin(t, ctx, p, cfg, 15*time.Second)
	if err == nil || !strings.Contains(err.Error(), "timed out at the check's deadline") {
		t.Fatalf("got error %v, want a timeout at the check's deadline", err)
	}
	pgid := firstLinePID(t, res)
	if alive := groupAlive(t, pgid); len(alive) > 0 {
		t.Errorf("process group %d still has live members: %q", pgid, alive)
	}
}

func TestCancelledRun(t *testing.T) {
	p := New()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	cfg := withEnv(decode(t, p, `command = ["sleep", "3600"]`), markProcesses(t))
	_, err, _ := runWithin(t, ctx, p, cfg, 15*time.Second)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("got error %v, want a cancellation", err)
	}
}

func TestBackgroundChildDoesNotHoldRun(t *testing.T) {
	p := New()
	// The background sleep inherits stdout; without WaitDelay, Wait would
	// block until it exits.
	cfg := withEnv(decode(t, p, `command = "sleep 3600 & echo $!"`), markProcesses(t))
	res, err, _ := runWithin(t, context.Background(), p, cfg, 15*time.Second)
	if err != nil {
		t.Fatalf("got error %v, want none", err)
	}
	if code := res.GetAttr("exit_code"); !code.RawEquals(cty.NumberIntVal(0)) {
		t.Errorf("got exit_code %s, want 0", code.GoString())
	}
}

func TestLargeOutputIsCappedInBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("pipes 1 GiB")
	}
	p := New()
	cfg := decode(t, p, `command = "head -c 1073741824 /dev/zero; echo done >&2"`)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	res, err := p.Run(context.Background(), cfg)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := len(res.GetAttr("stdout").AsString()); n != checks.DefaultCaptureLimit {
		t.Errorf("got %d bytes of stdout, want %d", n, checks.DefaultCaptureLimit)
	}
	if !res.GetAttr("stdout_truncated").True() {
		t.Error("got stdout_truncated false, want true")
	}
	if got := res.GetAttr("stderr").AsString(); got != "done\n" {
		t.Errorf("got stderr %q, want %q", got, "done\n")
	}
	const bound = 32 << 20
	if grew := after.TotalAlloc - before.TotalAlloc; grew > bound {
		t.Errorf("Run allocated %d MiB for 1 GiB of output, want under %d MiB", grew>>20, bound>>20)
	}
}

func TestListArgumentsAreLiteral(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "pwned")
	value := fmt.Sprintf("x; touch %[1]s $(touch %[1]s) `touch %[1]s` $(id) 'single' \"double\" \\ $HOME\nsecond line", marker)
	tests := []struct {
		name    string
		command []string
		env     map[string]string
	}{
		{"argument", []string{"printf", "%s", value}, nil},
		{"through env", []string{"sh", "-c", `printf %s "$VALUE"`}, map[string]string{"VALUE": value}},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := make([]cty.Value, len(tt.command))
			for i, a := range tt.command {
				cmd[i] = cty.StringVal(a)
			}
			// Run in the temporary directory: should a shell interpret the
			// value after all, its side effects land there.
			attrs := map[string]cty.Value{"dir": cty.StringVal(dir)}
			if tt.env != nil {
				attrs["env"] = cty.MapVal(map[string]cty.Value{"VALUE": cty.StringVal(tt.env["VALUE"])})
			}
			res, err := p.Run(context.Background(), cfgOf(cty.TupleVal(cmd), attrs))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := res.GetAttr("stdout").AsString(); got != value {
				t.Errorf("got %q, want %q", got, value)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("got %v for %s, want it not to exist: the value was run by a shell", err, marker)
			}
		})
	}
}

func BenchmarkShell(b *testing.B) {
	p := New()
	cfg := decode(b, p, `command = ["true"]`)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Run(context.Background(), cfg); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkExecTrue is the floor for BenchmarkShell: os/exec alone.
func BenchmarkExecTrue(b *testing.B) {
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := exec.Command("true").Run(); err != nil {
				b.Error(err)
			}
		}
	})
}

// Standard input larger than a pipe holds reaches the command whole, and
// input the command never reads does not hold the check.
func TestStdinLargeAndUnread(t *testing.T) {
	p := New()
	big := strings.Repeat("x", 1<<20)
	for _, tt := range []struct {
		name, command, want string
	}{
		{"read whole", `["wc", "-c"]`, "1048576"},
		{"never read", `["true"]`, ""},
		{"read a little", `"head -c 10 >/dev/null; echo read"`, "read"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := decode(t, p, "command = "+tt.command)
			cfg = setAttr(cfg, "stdin", cty.StringVal(big))
			res, err, _ := runWithin(t, context.Background(), p, cfg, 15*time.Second)
			if err != nil {
				t.Fatalf("got error %v", err)
			}
			if got := strings.TrimSpace(res.GetAttr("stdout").AsString()); got != tt.want {
				t.Errorf("stdout %q, want %q", got, tt.want)
			}
		})
	}
}

// A command that closes its output and keeps running is still waited for,
// and still stopped by its timeout.
func TestClosedOutputStillTimedOut(t *testing.T) {
	p := New()
	cfg := decode(t, p, `
		command = "exec >&- 2>&-; sleep 3600"
		timeout = "500ms"`)
	_, err, el := runWithin(t, context.Background(), p, cfg, 15*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got error %v after %s, want a timeout", err, el)
	}
}

// Running commands leaves no descriptor open in the runbook process, on
// success, failure to start, timeout or cancel.
func TestNoDescriptorsLeak(t *testing.T) {
	count := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(ents)
	}
	p := New()
	cfgs := []cty.Value{
		decode(t, p, `command = ["echo", "hi"]`),
		decode(t, p, `command = "echo out; echo err >&2; exit 3"`),
		decode(t, p, `command = ["no-such-program-runbook-test"]`),
		decode(t, p, `
			command = "sleep 3600"
			timeout = "100ms"`),
		setAttr(decode(t, p, `command = ["cat"]`), "stdin", cty.StringVal("in")),
	}
	for _, cfg := range cfgs { // warm up: devNull, pools, runtime
		_, _ = p.Run(context.Background(), cfg)
	}
	before := count()
	for i := 0; i < 20; i++ {
		for _, cfg := range cfgs {
			_, _ = p.Run(context.Background(), cfg)
		}
	}
	if after := count(); after != before {
		t.Fatalf("%d descriptors open before, %d after 100 commands", before, after)
	}
}

// setAttr sets one attribute of a decoded config.
func setAttr(cfg cty.Value, name string, v cty.Value) cty.Value {
	attrs := cfg.AsValueMap()
	attrs[name] = v
	return cty.ObjectVal(attrs)
}

// An env entry replaces the inherited variable of the same name for every
// program (C's getenv reads the first of two entries), and a command run in
// dir sees PWD there, as os/exec gives it.
func TestEnvironment(t *testing.T) {
	t.Setenv("RUNBOOK_TEST_OVERRIDE", "inherited")
	p := New()
	res, err := p.Run(context.Background(), withEnv(decode(t, p, `command = ["printenv", "RUNBOOK_TEST_OVERRIDE"]`), "RUNBOOK_TEST_OVERRIDE=given"))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.GetAttr("stdout").AsString(); got != "given\n" {
		t.Errorf("printenv printed %q, want only the given value", got)
	}

	res, err = p.Run(context.Background(), decode(t, p, `
		command = ["printenv", "PWD"]
		dir     = "testdata"`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Abs("testdata")
	if got := strings.TrimSpace(res.GetAttr("stdout").AsString()); got != want {
		t.Errorf("PWD %q, want %q", got, want)
	}

	_, err = p.Run(context.Background(), withEnv(decode(t, p, `command = ["true"]`), "BAD=a\x00b"))
	if err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("got %v, want a NUL byte error", err)
	}
}
