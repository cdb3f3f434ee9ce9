package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// binEnv is the environment for the built binary: the test's, with a
// host-wide state of its own and no operator set, plus extra.
func binEnv(t *testing.T, extra ...string) []string {
	env := append(os.Environ(), "XDG_STATE_HOME="+t.TempDir(), "RUNBOOK_OPERATOR=", "SUDO_USER=", "USER=uma", "RUNBOOK_STATE=")
	return append(env, extra...)
}

// TestStopFromStepRecordsOperator: a step that runs `runbook stop enable`
// records the operator of the run it belongs to, not the account.
func TestStopFromStepRecordsOperator(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	st := filepath.Join(dir, "fleet-state")
	rb := fmt.Sprintf(`runbook "halt" {}

step "halt" {
  shell {
    command = [%q, "stop", "enable", "--state", %q, "--reason", "halted from a step"]
  }
}
`, bin, st)
	if err := os.WriteFile(filepath.Join(dir, "halt.hcl"), []byte(rb), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "exec", "halt.hcl", "--operator", "olga", "--state", filepath.Join(dir, "runs"))
	cmd.Dir = dir
	cmd.Env = binEnv(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	trail, err := state.NewDir(st).Audit(context.Background())
	if err != nil || len(trail) != 1 {
		t.Fatalf("audit trail: got %+v, %v; want one entry", trail, err)
	}
	if trail[0].User != "olga" || trail[0].Action != state.ActionEnable {
		t.Errorf("audit entry: got user %q action %q, want olga (the run's --operator), enable", trail[0].User, trail[0].Action)
	}
}

// TestExecOneAtATime: a second exec of a procedure that is running is
// refused with exit 4 naming the first; checks and other procedures go
// on; a lock whose process was killed is taken over with a warning.
func TestExecOneAtATime(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "sleep.pid")
	rb := fmt.Sprintf(`runbook "slow" {}

check "up" {
  shell {
    command = ["true"]
  }
}

step "wait" {
  shell {
    command = ["sh", "-c", "echo $$ > %s; exec sleep 60"]
  }
}

playbook "other" {
  step "quick" {
    shell {
      command = ["true"]
    }
  }
}
`, pidFile)
	if err := os.WriteFile(filepath.Join(dir, "slow.hcl"), []byte(rb), 0o644); err != nil {
		t.Fatal(err)
	}
	env := binEnv(t)
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, stderr.String()
	}

	first := exec.Command(bin, "exec", "slow.hcl", "--operator", "alice")
	first.Dir, first.Env = dir, env
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = first.Process.Kill()
		_ = first.Wait()
		if data, err := os.ReadFile(pidFile); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	// The step runs once the lock is held.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if data, err := os.ReadFile(pidFile); err == nil && len(bytes.TrimSpace(data)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first exec never started its step")
		}
		time.Sleep(20 * time.Millisecond)
	}

	code, stderr := run("exec", "slow.hcl", "--operator", "bob")
	host := hostname()
	for _, want := range []string{`refused: runbook "slow" is already running`, "started by alice on " + host, fmt.Sprintf("(pid %d)", first.Process.Pid), " at 20"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("second exec: stderr does not contain %q:\n%s", want, stderr)
		}
	}
	if code != 4 {
		t.Errorf("second exec: got exit %d, want 4\n%s", code, stderr)
	}
	if code, stderr := run("check", "slow.hcl"); code != 0 {
		t.Errorf("check while the procedure runs: got exit %d, want 0\n%s", code, stderr)
	}
	if code, stderr := run("exec", "slow.hcl", "--playbook", "other"); code != 0 {
		t.Errorf("another procedure of the runbook: got exit %d, want 0\n%s", code, stderr)
	}

	// Killed: its lock is taken over, with a warning naming it.
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	code, stderr = run("exec", "slow.hcl", "--operator", "carol", "--skip", "wait")
	if code != 0 || !strings.Contains(stderr, "took over the lock") || !strings.Contains(stderr, "alice") || !strings.Contains(stderr, "is gone") {
		t.Errorf("exec after the holder was killed: got exit %d, want 0 with a takeover warning\n%s", code, stderr)
	}
}

// TestStopHostWide: `runbook stop enable` typed in one directory stops
// `runbook exec` of a runbook elsewhere on the host, whatever its state;
// `stop status` prints absolute paths and what each stop covers.
func TestStopHostWide(t *testing.T) {
	t.Setenv("RUNBOOK_STATE", "")
	host := t.TempDir()
	t.Setenv("XDG_STATE_HOME", host)
	hostState := filepath.Join(host, "runbook")
	typed := t.TempDir()
	repo := writeFiles(t, map[string]string{"runbooks/deploy.hcl": deployRunbook(filepath.Join(t.TempDir(), "RESTARTED"))})

	code, stdout, stderr := runCLI(t, typed, "stop", "enable", "--reason", "INC-7 on the fleet", "--operator", "alice")
	if code != 0 {
		t.Fatalf("stop enable: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"state   " + filepath.Join(typed, ".runbook"), "state   " + hostState + " (host-wide)", "covers  every runbook exec on this host"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stop enable: stdout does not contain %q:\n%s", want, stdout)
		}
	}
	for _, args := range [][]string{
		{"exec", "runbooks/deploy.hcl", "--yes"},
		{"exec", "runbooks/deploy.hcl", "--yes", "--state", "elsewhere"},
	} {
		code, _, stderr := runCLI(t, repo, args...)
		if code != 4 || !strings.Contains(stderr, "INC-7") || !strings.Contains(stderr, "host-wide state "+hostState) {
			t.Errorf("%v: got exit %d, want 4 by the host-wide stop:\n%s", args, code, stderr)
		}
	}
	if code, _, stderr := runCLI(t, repo, "check", "runbooks/deploy.hcl"); code != 0 {
		t.Errorf("check under the host-wide stop: exit %d: %s", code, stderr)
	}
	code, stdout, _ = runCLI(t, repo, "stop", "status", "--state", "rel")
	if code != 0 || !strings.Contains(stdout, "state   "+filepath.Join(repo, "rel")) || !strings.Contains(stdout, "Host-wide emergency stop: ON") ||
		!strings.Contains(stdout, "refused with exit 4") {
		t.Errorf("stop status --state rel: exit %d\n%s", code, stdout)
	}

	// Lifted from yet another directory.
	if code, _, stderr := runCLI(t, t.TempDir(), "stop", "disable", "--reason", "over", "--operator", "bob"); code != 0 {
		t.Fatalf("stop disable: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI(t, repo, "exec", "runbooks/deploy.hcl", "--yes"); code != 0 {
		t.Errorf("exec after the host-wide stop was lifted: exit %d: %s", code, stderr)
	}
	trail, err := state.NewDir(hostState).Audit(context.Background())
	if err != nil || len(trail) != 2 || trail[0].User != "alice" || trail[1].User != "bob" {
		t.Errorf("host-wide audit trail: got %+v, %v", trail, err)
	}
}

// TestStopForceRepairsDamagedStop: a stop.json that does not parse stops
// enable and disable (and exec of mutating steps) with a message naming
// --force, which rewrites it, audited.
func TestStopForceRepairsDamagedStop(t *testing.T) {
	dir := writeFiles(t, map[string]string{"st/stop.json": `{"on": tr`, "deploy.hcl": deployRunbook("/nonexistent/RESTARTED")})
	code, _, stderr := runCLI(t, dir, "stop", "enable", "--state", "st", "--reason", "r", "--operator", "alice")
	if code != 1 || !strings.Contains(stderr, "damaged") || !strings.Contains(stderr, "runbook stop enable --force") {
		t.Errorf("enable over a damaged stop: exit %d, want 1 naming --force:\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, dir, "stop", "status", "--state", "st"); code != 1 || !strings.Contains(stderr, "--force") {
		t.Errorf("status of a damaged stop: exit %d, want 1 naming --force:\n%s", code, stderr)
	}
	if code, _, stderr := runCLI(t, dir, "exec", "deploy.hcl", "--state", "st", "--yes"); code != 2 || !strings.Contains(stderr, "cannot tell whether the emergency stop") {
		t.Errorf("exec over a damaged stop: exit %d, want 2:\n%s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, dir, "stop", "disable", "--state", "st", "--force", "--operator", "alice")
	if code != 0 || !strings.Contains(stdout, "Repaired") {
		t.Fatalf("disable --force: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, dir, "stop", "status", "--state", "st", "--audit")
	if code != 0 || !strings.Contains(stdout, "Emergency stop: OFF") || !strings.Contains(stdout, "replaced a damaged stop.json") {
		t.Errorf("status after the repair: exit %d\n%s", code, stdout)
	}
}

// TestStopStatusAuditProblems: an incomplete last line is a warning; a
// damaged line in the middle fails the command, but every other entry is
// printed.
func TestStopStatusAuditProblems(t *testing.T) {
	good := func(user string) string {
		return `{"time":"2026-11-30T10:00:00Z","action":"enable","user":"` + user + `","host":"ops-1","reason":"r"}` + "\n"
	}
	for _, tc := range []struct {
		name, trail string
		code        int
		stderr      string
	}{
		{"torn last line", good("alice") + good("bob") + `{"time":"2026-11-30T1`, 0, "warning: audit trail"},
		{"damaged middle line", good("alice") + "garbage\n" + good("bob"), 1, "line 2 is damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"st/audit.log": tc.trail})
			code, stdout, stderr := runCLI(t, dir, "stop", "status", "--state", "st", "--audit")
			if code != tc.code || !strings.Contains(stderr, tc.stderr) || !strings.Contains(stdout, "alice") || !strings.Contains(stdout, "bob") {
				t.Errorf("exit %d, want %d with both entries and %q:\n%s\n%s", code, tc.code, tc.stderr, stdout, stderr)
			}
		})
	}
}

// TestResumeLast: --resume last picks the last resumable exec of the same
// runbook and procedure, never a check or another playbook's run.
func TestResumeLast(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "ready")
	rb := fmt.Sprintf(`runbook "r" {}

check "probe" {
  shell {
    command = ["false"]
  }
}

step "first" {
  shell {
    command = ["true"]
  }
}

step "second" {
  shell {
    command = ["test", "-f", %q]
  }
}

playbook "p" {
  step "fails" {
    shell {
      command = ["false"]
    }
  }
}
`, flag)
	if err := os.WriteFile(filepath.Join(dir, "r.hcl"), []byte(rb), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := runCLI(t, dir, "exec", "r.hcl"); code != 1 {
		t.Fatalf("exec: exit %d, want 1", code)
	}
	d := state.NewDir(filepath.Join(dir, ".runbook"))
	failed, err := d.LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "r.hcl"}, {"exec", "r.hcl", "--playbook", "p"}, {"exec", "r.hcl", "--only", "first"}} {
		runCLI(t, dir, args...)
	}
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, dir, "exec", "r.hcl", "--resume", "last"); code != 0 {
		t.Fatalf("exec --resume last: exit %d: %s", code, stderr)
	}
	resumed, err := d.LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	if resumed.ResumedFrom != failed.ID {
		t.Errorf("--resume last resumed %q, want the failed exec %s", resumed.ResumedFrom, failed.ID)
	}
	if code, _, stderr := runCLI(t, dir, "exec", "r.hcl", "--playbook", "p", "--resume", "last"); code != 1 {
		t.Errorf("--playbook p --resume last: exit %d: %s", code, stderr)
	}
	pb, err := d.LoadRun(context.Background(), "last")
	if err != nil || pb.Playbook == nil || *pb.Playbook != "p" || pb.ResumedFrom == "" || pb.ResumedFrom == failed.ID {
		t.Errorf("--playbook p --resume last: got %+v, %v; want a resume of the playbook's run", pb, err)
	}
}

// TestHistoryFiltersCorruptAndAbandoned: history shows mode and playbook,
// filters, lists a corrupt record as corrupt, and names the item an
// abandoned run was running; show names it too.
func TestHistoryFiltersCorruptAndAbandoned(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.hcl": passing, "bad.hcl": failing})
	for _, args := range [][]string{{"exec", "ok.hcl"}, {"check", "bad.hcl"}, {"exec", "bad.hcl"}} {
		runCLI(t, dir, args...)
	}
	runs := filepath.Join(dir, ".runbook", "runs")
	if err := os.WriteFile(filepath.Join(runs, "20261130T235959.000000Z-00000000000000ff.json"), []byte(`{"id": "x", "runbook": `), 0o644); err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Minute).UTC()
	abandoned := &record.Run{ID: record.NewRunID(started), Runbook: "ok", Mode: "exec", Status: record.Running, Host: hostname(), PID: dead.Process.Pid, StartedAt: started,
		Items: []record.Item{{Kind: record.KindStep, Name: "done", Status: record.Passed}, {Kind: record.KindStep, Name: "restart", Status: record.Running, StartedAt: &started}}}
	if _, err := state.NewDir(filepath.Join(dir, ".runbook")).SaveRun(context.Background(), abandoned); err != nil {
		t.Fatal(err)
	}

	code, stdout, _ := runCLI(t, dir, "history")
	for _, want := range []string{"MODE", "PLAYBOOK", "corrupt", "20261130T235959.000000Z-00000000000000ff", "abandoned", `it was running step "restart"`, "check"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("history: does not contain %q:\n%s", want, stdout)
		}
	}
	if code != 0 {
		t.Errorf("history: exit %d", code)
	}
	for _, tc := range []struct {
		args    []string
		want    []string
		notWant []string
	}{
		{[]string{"--mode", "check"}, []string{"bad", "check"}, []string{"| exec"}},
		{[]string{"--runbook", "ok", "--status", "passed"}, []string{"| ok"}, []string{"| bad", "abandoned"}},
		{[]string{"--status", "abandoned"}, []string{"restart"}, []string{"passed |"}},
		{[]string{"--playbook", "", "--mode", "exec", "--runbook", "bad"}, []string{"| bad"}, []string{"| ok"}},
	} {
		code, stdout, stderr := runCLI(t, dir, append([]string{"history"}, tc.args...)...)
		if code != 0 {
			t.Errorf("history %v: exit %d: %s", tc.args, code, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("history %v: does not contain %q:\n%s", tc.args, w, stdout)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(stdout, w) {
				t.Errorf("history %v: contains %q:\n%s", tc.args, w, stdout)
			}
		}
	}
	if code, _, _ := runCLI(t, dir, "history", "--mode", "cron"); code != 2 {
		t.Errorf("history --mode cron: exit %d, want 2", code)
	}
	code, stdout, _ = runCLI(t, dir, "show", abandoned.ID)
	if code != 0 || !strings.Contains(stdout, `it was running step "restart"`) || !strings.Contains(stdout, fmt.Sprintf("pid %d", dead.Process.Pid)) {
		t.Errorf("show of an abandoned run: exit %d\n%s", code, stdout)
	}
}

// TestReportWithoutRunPicksLastExec: `runbook report` without RUN renders
// the last exec of a runbook with report blocks, not a later check.
func TestReportWithoutRunPicksLastExec(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rep.hcl": `runbook "rep" {}

check "c" {
  shell {
    command = ["true"]
  }
}

step "s" {
  shell {
    command = ["true"]
  }
}

report "summary" {
  template = "summary"
}
`,
		"plain.hcl": passing,
	})
	if code, _, stderr := runCLI(t, dir, "exec", "rep.hcl"); code != 0 {
		t.Fatalf("exec: %d %s", code, stderr)
	}
	d := state.NewDir(filepath.Join(dir, ".runbook"))
	execRun, err := d.LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	runCLI(t, dir, "check", "rep.hcl")
	runCLI(t, dir, "exec", "plain.hcl") // an exec without report blocks
	code, stdout, stderr := runCLI(t, dir, "report")
	if code != 0 || !strings.Contains(stdout, execRun.ID+"-summary.md") {
		t.Errorf("report: exit %d, want the exec run %s's report:\n%s%s", code, execRun.ID, stdout, stderr)
	}
}

// TestReportWithoutRunPicksAPlaybooksReports: report blocks belong to
// their procedure, so a playbook's run with report blocks is picked over
// a later run of the runbook's top-level steps, which has none.
func TestReportWithoutRunPicksAPlaybooksReports(t *testing.T) {
	dir := writeFiles(t, map[string]string{"pb.hcl": `runbook "pb" {}

step "top" {
  shell {
    command = ["true"]
  }
}

playbook "fix" {
  step "repair" {
    shell {
      command = ["true"]
    }
  }

  report "fixed" {
    template = "summary"
  }
}
`})
	if code, _, stderr := runCLI(t, dir, "exec", "pb.hcl", "--playbook", "fix"); code != 0 {
		t.Fatalf("exec --playbook: %d %s", code, stderr)
	}
	pbRun, err := state.NewDir(filepath.Join(dir, ".runbook")).LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, dir, "exec", "pb.hcl"); code != 0 {
		t.Fatalf("exec: %d %s", code, stderr)
	}
	code, stdout, stderr := runCLI(t, dir, "report")
	if code != 0 || !strings.Contains(stdout, pbRun.ID+"-fixed.md") {
		t.Errorf("report: exit %d, want the playbook run %s's report:\n%s%s", code, pbRun.ID, stdout, stderr)
	}
}

// TestReportRefusesSymlinkInState: a report is never written through a
// symbolic link inside the state directory.
func TestReportRefusesSymlinkInState(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rep.hcl": `runbook "rep" {}

step "s" {
  shell {
    command = ["true"]
  }
}

report "summary" {
  template = "summary"
}
`})
	elsewhere := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".runbook"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, ".runbook", "reports")); err != nil {
		t.Fatal(err)
	}
	_, _, stderr := runCLI(t, dir, "exec", "rep.hcl")
	if !strings.Contains(stderr, "symbolic link") {
		t.Errorf("exec: stderr does not name the symbolic link:\n%s", stderr)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("a report was written through the link: %v", entries)
	}
}
