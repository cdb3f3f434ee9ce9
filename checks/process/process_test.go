package process

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// observed is the comparable part of a result; elapsed_s is checked apart.
type observed struct {
	Running bool
	Pid     int
	Count   int
	Cmdline string
	Name    string
}

func observe(t *testing.T, v cty.Value) (observed, float64) {
	t.Helper()
	var o observed
	var elapsed float64
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"running", &o.Running}, {"pid", &o.Pid}, {"count", &o.Count},
		{"cmdline", &o.Cmdline}, {"name", &o.Name}, {"elapsed_s", &elapsed},
	} {
		if err := gocty.FromCtyValue(v.GetAttr(f.name), f.dst); err != nil {
			t.Fatalf("result %s: %v", f.name, err)
		}
	}
	return o, elapsed
}

// cfg builds a process block's decoded value; attributes left out are null,
// as hcldec leaves them.
func cfg(attrs map[string]cty.Value) cty.Value {
	full := map[string]cty.Value{
		"pid_file":      cty.NullVal(cty.String),
		"pid":           cty.NullVal(cty.Number),
		"name":          cty.NullVal(cty.String),
		"match_cmdline": cty.NullVal(cty.String),
	}
	for k, v := range attrs {
		full[k] = v
	}
	return cty.ObjectVal(full)
}

// startSleeper starts `sleep 30` whose argv[0] is argv0, so the test can
// find it by name among whatever else runs on the machine. The process is
// killed and reaped when the test ends.
func startSleeper(t *testing.T, argv0 string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("no sleep binary: %v", err)
	}
	cmd := exec.Command(path, "30")
	cmd.Args[0] = argv0
	if err := cmd.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunChild(t *testing.T) {
	argv0 := fmt.Sprintf("rbtest-%d-sleeper", os.Getpid())
	child := startSleeper(t, argv0).Process.Pid
	dir := t.TempDir()
	pidFile := writeFile(t, filepath.Join(dir, "shadow.pid"), strconv.Itoa(child)+"\n")
	wordy := writeFile(t, filepath.Join(dir, "wordy.pid"), strconv.Itoa(child)+"\n8080\n")
	empty := writeFile(t, filepath.Join(dir, "empty.pid"), " \n")

	live := observed{Running: true, Pid: child, Count: 1, Cmdline: argv0 + " 30", Name: "sleep"}
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  observed
	}{
		{"pid", map[string]cty.Value{"pid": cty.NumberIntVal(int64(child))}, live},
		{"pid file", map[string]cty.Value{"pid_file": cty.StringVal(pidFile)}, live},
		{"pid file with more lines", map[string]cty.Value{"pid_file": cty.StringVal(wordy)}, live},
		{"missing pid file", map[string]cty.Value{"pid_file": cty.StringVal(filepath.Join(dir, "gone.pid"))}, observed{}},
		{"empty pid file", map[string]cty.Value{"pid_file": cty.StringVal(empty)}, observed{}},
		{"name is argv0 basename", map[string]cty.Value{"name": cty.StringVal(argv0)}, live},
		{"name is comm, narrowed by cmdline", map[string]cty.Value{
			"name": cty.StringVal("sleep"), "match_cmdline": cty.StringVal("^" + argv0 + " 30$"),
		}, live},
		{"name is comm, cmdline differs", map[string]cty.Value{
			"name": cty.StringVal("sleep"), "match_cmdline": cty.StringVal("^" + argv0 + " 31$"),
		}, observed{}},
		{"name matches nothing", map[string]cty.Value{"name": cty.StringVal(argv0 + "-not")}, observed{}},
		{"pid reused by another program", map[string]cty.Value{
			"pid": cty.NumberIntVal(int64(child)), "match_cmdline": cty.StringVal("shadow_run"),
		}, observed{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New().Run(context.Background(), cfg(tc.attrs))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			got, elapsed := observe(t, v)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if got.Running && (elapsed < 0 || elapsed > 30) {
				t.Errorf("elapsed_s: got %v, want between 0 and 30 for a fresh sleep 30", elapsed)
			}
			if !got.Running && elapsed != 0 {
				t.Errorf("elapsed_s: got %v, want 0 when not running", elapsed)
			}
		})
	}
}

func TestRunCountsByName(t *testing.T) {
	argv0 := fmt.Sprintf("rbtest-%d-pair", os.Getpid())
	first := startSleeper(t, argv0).Process.Pid
	// Start times count in clock ticks (10 ms); let the second start later.
	time.Sleep(50 * time.Millisecond)
	startSleeper(t, argv0)

	v, err := New().Run(context.Background(), cfg(map[string]cty.Value{"name": cty.StringVal(argv0)}))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	got, _ := observe(t, v)
	want := observed{Running: true, Pid: first, Count: 2, Cmdline: argv0 + " 30", Name: "sleep"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
}

// TestRunDeadAndZombie kills a child: until it is reaped it is a zombie,
// which is not running; after, its pid is gone.
func TestRunDeadAndZombie(t *testing.T) {
	cmd := startSleeper(t, "sleep")
	pid := cmd.Process.Pid
	byPid := cfg(map[string]cty.Value{"pid": cty.NumberIntVal(int64(pid))})
	p := New()

	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatalf("read stat of unreaped child: %v", err)
		}
		if info, err := parseStat(stat); err == nil && info.state == 'Z' {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d never became a zombie: %s", pid, stat)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, stage := range []string{"zombie", "reaped"} {
		t.Run(stage, func(t *testing.T) {
			v, err := p.Run(context.Background(), byPid)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got, _ := observe(t, v); got != (observed{}) {
				t.Errorf("result: got %+v, want not running", got)
			}
		})
		cmd.Wait()
	}
}

// TestElapsedMatchesPs compares elapsed_s with ps's etimes for init and
// for a fresh child.
func TestElapsedMatchesPs(t *testing.T) {
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("no ps")
	}
	child := startSleeper(t, "sleep").Process.Pid
	for _, pid := range []int{1, child} {
		t.Run(strconv.Itoa(pid), func(t *testing.T) {
			v, err := New().Run(context.Background(), cfg(map[string]cty.Value{"pid": cty.NumberIntVal(int64(pid))}))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			_, elapsed := observe(t, v)
			out, err := exec.Command("ps", "-o", "etimes=", "-p", strconv.Itoa(pid)).Output()
			if err != nil {
				t.Skipf("ps -o etimes: %v", err)
			}
			etimes, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
			if err != nil {
				t.Fatalf("ps output %q: %v", out, err)
			}
			if math.Abs(elapsed-etimes) > 2 {
				t.Errorf("elapsed_s: got %v, want ps's etimes %v within 2 s", elapsed, etimes)
			}
		})
	}
}

func TestClockTicksMatchesGetconf(t *testing.T) {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Skipf("getconf CLK_TCK: %v", err)
	}
	want, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		t.Fatalf("getconf output %q: %v", out, err)
	}
	if got := clockTicks(); got != want {
		t.Errorf("clockTicks: got %v, want getconf's %v", got, want)
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := writeFile(t, filepath.Join(dir, "garbage.pid"), "not-a-pid\n")
	negative := writeFile(t, filepath.Join(dir, "negative.pid"), "-5\n")
	for _, tc := range []struct {
		name  string
		p     *Provider
		attrs map[string]cty.Value
		want  string
	}{
		{"garbage pid file", nil, map[string]cty.Value{"pid_file": cty.StringVal(garbage)},
			fmt.Sprintf("pid file %q: \"not-a-pid\" is not a process id", garbage)},
		{"negative pid file", nil, map[string]cty.Value{"pid_file": cty.StringVal(negative)},
			fmt.Sprintf("pid file %q: \"-5\" is not a process id", negative)},
		{"pid file is a directory", nil, map[string]cty.Value{"pid_file": cty.StringVal(dir)},
			"read pid file: read " + dir + ": is a directory"},
		{"no selector", nil, nil, "exactly one of pid_file, pid or name is required"},
		{"no /proc", &Provider{proc: dir, ticks: 100}, map[string]cty.Value{"pid": cty.NumberIntVal(1)},
			"process lookup needs Linux /proc: stat " + filepath.Join(dir, "self", "stat") + ": no such file or directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			if p == nil {
				p = New().(*Provider)
			}
			v, err := p.Run(context.Background(), cfg(tc.attrs))
			if err == nil {
				t.Fatalf("Run: got %#v, want error %q", v, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Run error: got %q, want %q", err, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  string
	}{
		{"pid", map[string]cty.Value{"pid": cty.NumberIntVal(42)}, ""},
		{"pid file", map[string]cty.Value{"pid_file": cty.StringVal("/run/shadow.pid")}, ""},
		{"name and cmdline", map[string]cty.Value{"name": cty.StringVal("python3"), "match_cmdline": cty.StringVal(`shadow_run\.py`)}, ""},
		{"unknown pid", map[string]cty.Value{"pid": cty.UnknownVal(cty.Number)}, ""},
		{"none", nil, "exactly one of pid_file, pid or name is required"},
		{"two", map[string]cty.Value{"pid": cty.NumberIntVal(42), "name": cty.UnknownVal(cty.String)},
			"exactly one of pid_file, pid or name is allowed, got pid and name"},
		{"zero pid", map[string]cty.Value{"pid": cty.Zero}, "pid must be a positive whole number, got 0"},
		{"fractional pid", map[string]cty.Value{"pid": cty.NumberFloatVal(1.5)}, "pid must be a positive whole number, got 1.5"},
		{"empty pid file", map[string]cty.Value{"pid_file": cty.StringVal("")}, "pid_file must not be empty"},
		{"name is a path", map[string]cty.Value{"name": cty.StringVal("/usr/bin/python3")},
			`name "/usr/bin/python3" must be a command name, not a path: use "python3"`},
		{"bad regex", map[string]cty.Value{"name": cty.StringVal("x"), "match_cmdline": cty.StringVal("(")},
			"match_cmdline: error parsing regexp: missing closing ): `(`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := New().(*Provider).Validate(cfg(tc.attrs)); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  string
	}{
		{"pid file", map[string]cty.Value{"pid_file": cty.StringVal("/run/aos/shadow.pid")}, "pid file /run/aos/shadow.pid"},
		{"pid", map[string]cty.Value{"pid": cty.NumberIntVal(42)}, "pid 42"},
		{"unknown pid", map[string]cty.Value{"pid": cty.UnknownVal(cty.Number)}, "pid (not known yet)"},
		{"name", map[string]cty.Value{"name": cty.StringVal("python3"), "match_cmdline": cty.StringVal("shadow_run")},
			"process named python3 with command line matching /shadow_run/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := New().(*Provider).Describe(cfg(tc.attrs)); got != tc.want {
				t.Errorf("Describe: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	// Fields 4 (ppid) to 24 (rss); 22 is the start time.
	tail := " 1 1 1 0 -1 4194560 100 0 0 0 2 3 0 0 20 0 1 0 12345 1000 100"
	for _, tc := range []struct {
		name, stat string
		want       procInfo
		wantErr    string
	}{
		{"plain", "42 (sleep) S" + tail, procInfo{comm: "sleep", state: 'S', start: 12345}, ""},
		{"spaces and parens in comm", "42 (a) (b c) Z" + tail, procInfo{comm: "a) (b c", state: 'Z', start: 12345}, ""},
		{"no parens", "42 sleep S" + tail, procInfo{}, "malformed stat"},
		{"truncated", "42 (sleep) S 1 1", procInfo{}, "too few fields"},
		{"bad start time", "42 (sleep) S" + strings.Replace(tail, "12345", "x", 1), procInfo{}, `malformed stat start time "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.stat))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("parseStat: got error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseStat: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(procInfo{})); diff != "" {
				t.Errorf("parseStat (-want +got):\n%s", diff)
			}
		})
	}
}
