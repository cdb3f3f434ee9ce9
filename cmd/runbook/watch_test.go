package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

const shadowMonitor = "../../runbooks/shadow-monitor.hcl"

// shadowEnv is a real shadow run in miniature: a log file, a golden
// directory, a pid file of a live process, and a Prometheus that answers
// with a mismatch count and firing alerts the test chooses.
type shadowEnv struct {
	dir, log, golden, pidFile, evidence string
	mu                                  sync.Mutex
	promMismatches                      string
	promFiring                          []string
	prom                                *httptest.Server
}

const healthyLog = `2025-12-02 13:12:49 cycle 1: 9 workflows, 9 replays, 0 mismatches
2025-12-02 13:13:19 cycle 2: 9 workflows, 9 replays, 0 mismatches detected
2025-12-02 13:13:49 cycle 3: 9 workflows, 9 replays, 0 mismatches
`

func newShadowEnv(t *testing.T) *shadowEnv {
	t.Helper()
	e := &shadowEnv{dir: t.TempDir(), promMismatches: "0"}
	e.log = filepath.Join(e.dir, "shadow_24h.log")
	e.golden = filepath.Join(e.dir, "golden")
	e.pidFile = filepath.Join(e.dir, "shadow.pid")
	e.evidence = filepath.Join(e.dir, "incidents")
	if err := os.MkdirAll(e.golden, 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeLog(t, healthyLog)

	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	e.writePid(t, sleep.Process.Pid)

	e.prom = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/v1/query":
			fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1764677539,%q]}]}}`, e.promMismatches)
		case "/api/v1/alerts":
			var alerts []string
			for _, name := range e.promFiring {
				alerts = append(alerts, fmt.Sprintf(`{"labels":{"alertname":%q},"annotations":{},"state":"firing","activeAt":"2025-12-02T13:00:00Z","value":"1"}`, name))
			}
			fmt.Fprintf(w, `{"status":"success","data":{"alerts":[%s]}}`, strings.Join(alerts, ","))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(e.prom.Close)
	return e
}

func (e *shadowEnv) writeLog(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(e.log, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (e *shadowEnv) writePid(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(e.pidFile, []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// vars are the --var flags pointing the runbook at the environment; the
// disk thresholds are 100% so the test machine's real disks pass.
func (e *shadowEnv) vars(extra ...string) []string {
	kv := append([]string{
		"log_file=" + e.log, "golden_dir=" + e.golden, "pid_file=" + e.pidFile, "tmp_dir=" + e.dir,
		"evidence_dir=" + e.evidence,
		"disk_warning_percent=100", "disk_critical_percent=100",
		"prometheus_enabled=true", "prometheus_url=" + e.prom.URL,
	}, extra...)
	var args []string
	for _, v := range kv {
		args = append(args, "--var", v)
	}
	return args
}

// statuses runs `check --format json` and returns each check's status.
func statuses(t *testing.T, args ...string) (int, map[string]string) {
	t.Helper()
	code, stdout, stderr := runCLI(t, "", append([]string{"check", shadowMonitor, "--format", "json", "--state", t.TempDir()}, args...)...)
	var run record.Run
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("check output is not a run record (exit %d): %v\n%s\n%s", code, err, stdout, stderr)
	}
	out := map[string]string{}
	for _, it := range run.Items {
		out[it.Name] = it.Status
	}
	return code, out
}

func TestShadowMonitorValidates(t *testing.T) {
	code, stdout, stderr := runCLI(t, "", "validate", shadowMonitor)
	if code != 0 || !strings.Contains(stdout, "valid (8 checks, 2 steps, 0 cleanups, 1 playbook,") {
		t.Errorf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestShadowMonitorStatuses(t *testing.T) {
	allPassed := map[string]string{
		"shadow_process": "passed", "shadow_mismatches": "passed", "disk_golden": "passed", "disk_tmp": "passed",
		"disk_root": "passed", "log_activity": "passed", "prometheus_mismatches": "passed", "prometheus_alerts": "passed",
	}
	with := func(changes map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range allPassed {
			m[k] = v
		}
		for k, v := range changes {
			m[k] = v
		}
		return m
	}
	tests := []struct {
		name     string
		setup    func(t *testing.T, e *shadowEnv)
		vars     []string
		wantCode int
		want     map[string]string
	}{
		{name: "healthy: 0 mismatches lines do not count (BUG-002)", want: allPassed},
		{
			name: "mismatches detected",
			setup: func(t *testing.T, e *shadowEnv) {
				e.writeLog(t, healthyLog+"2025-12-02 13:14:19 cycle 4: 9 workflows, 9 replays, 2 mismatches detected\n")
			},
			wantCode: 1, want: with(map[string]string{"shadow_mismatches": "failed"}),
		},
		{
			name: "the shadow run died",
			setup: func(t *testing.T, e *shadowEnv) {
				dead := exec.Command("true")
				if err := dead.Run(); err != nil {
					t.Fatal(err)
				}
				e.writePid(t, dead.Process.Pid)
			},
			wantCode: 1, want: with(map[string]string{"shadow_process": "failed"}),
		},
		{name: "found by name", vars: []string{"process_name=sleep"}, want: allPassed},
		{name: "restarted recently", vars: []string{"min_uptime_s=86400"}, want: with(map[string]string{"shadow_process": "warning"})},
		{
			name: "stale log",
			setup: func(t *testing.T, e *shadowEnv) {
				old := time.Now().Add(-20 * time.Minute)
				if err := os.Chtimes(e.log, old, old); err != nil {
					t.Fatal(err)
				}
			},
			want: with(map[string]string{"log_activity": "warning"}),
		},
		{
			name: "no log at all",
			setup: func(t *testing.T, e *shadowEnv) {
				os.Remove(e.log)
			},
			wantCode: 1, want: with(map[string]string{"log_activity": "failed", "shadow_mismatches": "failed"}),
		},
		{
			name: "disks above the warning threshold", vars: []string{"disk_warning_percent=0"},
			want: with(map[string]string{"disk_golden": "warning", "disk_tmp": "warning", "disk_root": "warning"}),
		},
		{
			name: "disks above the critical threshold", vars: []string{"disk_warning_percent=0", "disk_critical_percent=0.0001"},
			wantCode: 1, want: with(map[string]string{"disk_golden": "failed", "disk_tmp": "failed", "disk_root": "failed"}),
		},
		{
			name: "Prometheus counts mismatches and an alert fires",
			setup: func(t *testing.T, e *shadowEnv) {
				e.mu.Lock()
				e.promMismatches, e.promFiring = "2", []string{"WorkflowMismatch"}
				e.mu.Unlock()
			},
			wantCode: 1, want: with(map[string]string{"prometheus_mismatches": "failed", "prometheus_alerts": "warning"}),
		},
		{
			name: "Prometheus off", vars: []string{"prometheus_enabled=false"},
			want: with(map[string]string{"prometheus_mismatches": "skipped", "prometheus_alerts": "skipped"}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newShadowEnv(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			code, got := statuses(t, e.vars(tt.vars...)...)
			if code != tt.wantCode {
				t.Errorf("exit: got %d want %d", code, tt.wantCode)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("statuses (-want +got):\n%s", d)
			}
		})
	}
}

func TestShadowMonitorCronIsQuiet(t *testing.T) {
	e := newShadowEnv(t)
	code, stdout, stderr := runCLI(t, "", append([]string{"check", shadowMonitor, "--quiet", "--state", t.TempDir()}, e.vars()...)...)
	if code != 0 || stdout != "" {
		t.Errorf("healthy --quiet: got exit %d and output %q %q, want 0 and nothing", code, stdout, stderr)
	}
	e.writeLog(t, healthyLog+"cycle 9: 1 mismatches\n")
	code, stdout, _ = runCLI(t, "", append([]string{"check", shadowMonitor, "--quiet", "--state", t.TempDir()}, e.vars()...)...)
	if code != 1 || !strings.Contains(stdout, "1 mismatch lines") {
		t.Errorf("mismatch --quiet: got exit %d output %q, want 1 and the mismatch", code, stdout)
	}
}

// hookReceiver records signed webhook alerts.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	sigs   []string
	stamps []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, body)
		h.sigs = append(h.sigs, r.Header.Get(alert.SignatureHeader))
		h.stamps = append(h.stamps, r.Header.Get(alert.TimestampHeader))
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func TestWatchOnceAlertsAndPlaybook(t *testing.T) {
	tests := []struct {
		name       string
		auto       bool
		wantAction string
	}{
		{name: "offered", auto: false, wantAction: "offered"},
		{name: "run by itself", auto: true, wantAction: "started"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newShadowEnv(t)
			hook := newHookReceiver(t)
			extra := newHookReceiver(t)
			stateDir := t.TempDir()
			args := append([]string{"watch", shadowMonitor, "--once", "--state", stateDir, "--log-format", "json",
				"--webhook", extra.URL + "/generic"},
				e.vars("alert_webhook_url="+hook.URL+"/hook", "alert_hmac_secret=hm4c-s3cret", "auto_playbook="+strconv.FormatBool(tt.auto))...)

			code, stdout, stderr := runCLI(t, "", args...)
			if code != 0 || len(hook.bodies) != 0 {
				t.Fatalf("healthy cycle: exit %d, %d alerts\n%s%s", code, len(hook.bodies), stdout, stderr)
			}

			e.writeLog(t, healthyLog+"2025-12-02 13:14:19 cycle 4: 9 workflows, 9 replays, 3 mismatches detected\n")
			code, stdout, stderr = runCLI(t, "", args...)
			if code != 1 {
				t.Errorf("failing cycle: exit %d want 1\n%s%s", code, stdout, stderr)
			}
			if len(hook.bodies) != 1 || len(extra.bodies) != 1 {
				t.Fatalf("got %d alerts on the runbook's webhook and %d on --webhook, want 1 each\n%s", len(hook.bodies), len(extra.bodies), stdout)
			}
			if !alert.Verify([]byte("hm4c-s3cret"), hook.bodies[0], hook.stamps[0], hook.sigs[0], time.Now(), alert.DefaultTolerance) {
				t.Errorf("signature %q (timestamp %q) does not verify", hook.sigs[0], hook.stamps[0])
			}
			if extra.sigs[0] != "" {
				t.Errorf("--webhook is signed: %q", extra.sigs[0])
			}
			for _, out := range []string{string(hook.bodies[0]), stdout, stderr} {
				if strings.Contains(out, "hm4c-s3cret") {
					t.Errorf("the HMAC secret leaked: %s", out)
				}
			}
			var p struct {
				Transitions []alert.Transition
			}
			if err := json.Unmarshal(hook.bodies[0], &p); err != nil {
				t.Fatal(err)
			}
			if len(p.Transitions) != 1 || p.Transitions[0].Check != "shadow_mismatches" || p.Transitions[0].Event != "CRITICAL" {
				t.Fatalf("transitions: got %+v", p.Transitions)
			}
			pbs := p.Transitions[0].Playbooks
			if len(pbs) != 1 || pbs[0].Name != "mismatch" || pbs[0].Action != tt.wantAction {
				t.Errorf("playbooks: got %+v want mismatch %s", pbs, tt.wantAction)
			}
			captured, _ := filepath.Glob(filepath.Join(e.evidence, "shadow-mismatches-*.log"))
			if tt.auto {
				if len(captured) != 1 {
					t.Fatalf("evidence files: got %v, want one", captured)
				}
				data, _ := os.ReadFile(captured[0])
				if got := strings.TrimSpace(string(data)); got != "2025-12-02 13:14:19 cycle 4: 9 workflows, 9 replays, 3 mismatches detected" {
					t.Errorf("captured evidence: got %q", got)
				}
				if !strings.Contains(stdout, `"msg":"playbook finished"`) || !strings.Contains(stdout, `"status":"incomplete"`) {
					t.Errorf("log lacks the playbook's end (incomplete: the review step is manual):\n%s", stdout)
				}
			} else if len(captured) != 0 {
				t.Errorf("the playbook ran without auto: %v", captured)
			}

			// A third process sees the same state: no alert again.
			runCLI(t, "", args...)
			if len(hook.bodies) != 1 {
				t.Errorf("after a restart: got %d alerts, want still 1", len(hook.bodies))
			}
		})
	}
}

func TestWatchFlagErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.hcl": passing, "bad.hcl": `runbook "b" {}
alert "a" {
  webhook {
    url    = "http://127.0.0.1:1/x"
    secret = "typo"
  }
}
`})
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "log format", args: []string{"watch", "ok.hcl", "--log-format", "xml"}, want: `--log-format: "xml" is not text or json`},
		{name: "webhook", args: []string{"watch", "ok.hcl", "--webhook", "localhost:9"}, want: "--webhook: url must be an http:// or https:// URL"},
		{name: "record", args: []string{"watch", "ok.hcl", "--record", "some"}, want: `--record: "some" is not changes or all`},
		{name: "misspelt alert argument", args: []string{"watch", "bad.hcl", "--once"}, want: `An argument named "secret" is not expected here.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, dir, tt.args...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("got exit %d stderr %q, want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// startWatch runs the built binary's watch and returns its log lines as
// they come.
func startWatch(t *testing.T, dir string, args ...string) (*exec.Cmd, <-chan string) {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"watch"}, args...)...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return cmd, lines
}

// waitLine returns the first line containing want.
func waitLine(t *testing.T, lines <-chan string, want string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("watch ended before logging %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no log line with %q in time", want)
		}
	}
}

func waitExit(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("watch did not stop after SIGTERM")
	}
	return cmd.ProcessState.ExitCode()
}

func TestWatchServesHealthAndStopsOnSIGTERM(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.hcl": passing})
	cmd, lines := startWatch(t, dir, "ok.hcl", "--every", "1h", "--listen", "127.0.0.1:0")
	addr := regexp.MustCompile(`address=(\S+)`).FindStringSubmatch(waitLine(t, lines, "serving /healthz"))
	if addr == nil {
		t.Fatal("no address in the serving line")
	}
	waitLine(t, lines, "msg=cycle")
	resp, err := http.Get("http://" + addr[1] + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"health": "HEALTHY"`) {
		t.Errorf("healthz: got %d %s", resp.StatusCode, body)
	}
	resp, err = http.Get("http://" + addr[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `runbook_check_status{check="true",informational="false",mode="watch",runbook="ok",status="passed"} 1`) {
		t.Errorf("metrics lack the check's status:\n%s", body)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if code := waitExit(t, cmd); code != 0 {
		t.Errorf("exit after SIGTERM: got %d want 0", code)
	}
}

func TestWatchFinishesTheCycleInFlight(t *testing.T) {
	dir := writeFiles(t, map[string]string{"slow.hcl": `runbook "slow" {}

check "slow" {
  shell {
    command = "touch started; sleep 1; echo done"
  }
  assert {
    condition = self.stdout == "done\n"
  }
}
`})
	cmd, lines := startWatch(t, dir, "slow.hcl", "--every", "1h", "--log-format", "json")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the check never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	line := waitLine(t, lines, `"msg":"cycle"`)
	if !strings.Contains(line, `"health":"HEALTHY"`) || !strings.Contains(line, `"passed":1`) {
		t.Errorf("the cycle in flight did not finish well: %s", line)
	}
	if code := waitExit(t, cmd); code != 0 {
		t.Errorf("exit: got %d want 0", code)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, ".runbook", "runs", "*.json"))
	if len(runs) != 1 {
		t.Fatalf("run records: got %v, want one", runs)
	}
	rec, err := record.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	if rec.Interrupted || rec.Status != record.Passed || rec.Mode != "watch" {
		t.Errorf("record: interrupted %v status %s mode %s, want a passed watch record", rec.Interrupted, rec.Status, rec.Mode)
	}
}

// TestWatchAutoPlaybookTakesTheProcedureLock: a playbook the watch starts
// by itself is refused, as `runbook exec --playbook` would be, while the
// same playbook runs elsewhere on the state.
func TestWatchAutoPlaybookTakesTheProcedureLock(t *testing.T) {
	e := newShadowEnv(t)
	hook := newHookReceiver(t)
	stateDir := t.TempDir()
	args := append([]string{"watch", shadowMonitor, "--once", "--state", stateDir, "--log-format", "json"},
		e.vars("alert_webhook_url="+hook.URL+"/hook", "auto_playbook=true")...)
	if code, stdout, stderr := runCLI(t, "", args...); code != 0 {
		t.Fatalf("healthy cycle: exit %d\n%s%s", code, stdout, stderr)
	}
	lock, err := state.NewDir(stateDir).Acquire(context.Background(), state.ProcKey("shadow-monitor", "mismatch"),
		state.Holder{Operator: "carol", Host: "ops-2", PID: os.Getpid(), Since: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	e.writeLog(t, healthyLog+"2025-12-02 13:14:19 cycle 4: 9 workflows, 9 replays, 3 mismatches detected\n")
	_, stdout, stderr := runCLI(t, "", args...)
	if !strings.Contains(stdout, `"msg":"playbook refused"`) || !strings.Contains(stdout, "carol") {
		t.Errorf("the playbook was not refused while its lock is held:\n%s%s", stdout, stderr)
	}
	if captured, _ := filepath.Glob(filepath.Join(e.evidence, "shadow-mismatches-*.log")); len(captured) != 0 {
		t.Errorf("the playbook ran while another run held its lock: %v", captured)
	}
}
