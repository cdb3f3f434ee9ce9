package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/state"
)

// deployRunbook has a mutating step that touches marker, a playbook with
// one and a playbook without.
func deployRunbook(marker string) string {
	return fmt.Sprintf(`runbook "deploy" {}

check "up" {
  shell {
    command = ["true"]
  }
}

step "look" {
  check = check.up
}

step "restart" {
  shell {
    command = ["touch", %q]
  }
  confirm = true
}

playbook "observe" {
  step "peek" {
    shell {
      command = ["true"]
    }
  }
}

playbook "fix" {
  step "fix" {
    shell {
      command = ["touch", %q]
    }
    confirm = true
  }
}
`, marker, marker)
}

// stopStep is one command of a scenario and what it must print.
type stopStep struct {
	args       []string
	code       int
	stdout     []string // substrings
	stderr     []string
	notMarked  bool // the mutating step must not have run
	wantMarked bool
}

func runStopSteps(t *testing.T, dir, marker string, steps []stopStep) {
	t.Helper()
	for _, s := range steps {
		t.Run(strings.Join(s.args, " "), func(t *testing.T) {
			_ = os.Remove(marker)
			code, stdout, stderr := runCLI(t, dir, s.args...)
			if code != s.code {
				t.Fatalf("got exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, s.code, stdout, stderr)
			}
			for _, want := range s.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout does not contain %q:\n%s", want, stdout)
				}
			}
			for _, want := range s.stderr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not contain %q:\n%s", want, stderr)
				}
			}
			_, err := os.Stat(marker)
			if s.notMarked && err == nil {
				t.Errorf("the mutating step ran")
			}
			if s.wantMarked && err != nil {
				t.Errorf("the mutating step did not run: %v", err)
			}
		})
	}
}

func TestStop(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "RESTARTED")
	if err := os.WriteFile(filepath.Join(dir, "deploy.hcl"), []byte(deployRunbook(marker)), 0o644); err != nil {
		t.Fatal(err)
	}
	st := filepath.Join(dir, "state")
	host := hostname()
	runStopSteps(t, dir, marker, []stopStep{
		{args: []string{"stop", "status", "--state", st}, code: 0, stdout: []string{"Emergency stop: OFF", "never enabled"}},
		{args: []string{"stop", "enable", "--state", st}, code: 2, stderr: []string{"--reason is required"}},
		{args: []string{"stop", "enable", "--state", st, "--reason", "  "}, code: 2, stderr: []string{"--reason is required"}},
		{args: []string{"stop", "enable", "--state", st, "--operator", "alice", "--reason", "golden mismatch on shard 3"}, code: 0,
			stdout: []string{"Emergency stop ON", "alice", "golden mismatch on shard 3", "exit 4"}},
		{args: []string{"exec", "deploy.hcl", "--state", st, "--yes"}, code: 4, notMarked: true,
			stderr: []string{"refused: the emergency stop is ON", "by alice on " + host, `"golden mismatch on shard 3"`, "mutating steps (confirm = true): restart", "runbook stop disable"}},
		{args: []string{"exec", "deploy.hcl", "--state", st, "--yes", "--playbook", "fix"}, code: 4, notMarked: true, stderr: []string{": fix."}},
		{args: []string{"exec", "deploy.hcl", "--state", st, "--playbook", "observe"}, code: 0},
		{args: []string{"exec", "deploy.hcl", "--state", st, "--skip", "restart"}, code: 0, notMarked: true},
		{args: []string{"check", "deploy.hcl", "--state", st}, code: 0},
		{args: []string{"stop", "status", "--state", st}, code: 0,
			stdout: []string{"Emergency stop: ON", "by      alice", "host    " + host, "reason  golden mismatch on shard 3", "state   " + st}},
		{args: []string{"stop", "disable", "--state", st, "--operator", "bob"}, code: 0, stdout: []string{"Emergency stop OFF", "disabled by bob"}},
		{args: []string{"exec", "deploy.hcl", "--state", st, "--yes"}, code: 0, wantMarked: true},
		{args: []string{"stop", "status", "--state", st, "--audit"}, code: 0,
			stdout: []string{"Emergency stop: OFF", "| enable  | alice", "| disable | bob"}},
		{args: []string{"stop", "status", "--state", st, "--format", "yaml"}, code: 2, stderr: []string{"--format"}},
		{args: []string{"stop", "frobnicate", "--state", st}, code: 2},
	})

	// Refused runs leave no record; the three that ran do.
	ids, err := state.NewDir(st).RunIDs(context.Background())
	if err != nil || len(ids) != 4 {
		t.Errorf("run records: got %d (%v), want 4 (observe, --skip, check, the last exec)", len(ids), err)
	}

	code, stdout, stderr := runCLI(t, dir, "stop", "status", "--state", st, "--format", "json", "--audit")
	if code != 0 {
		t.Fatalf("status --format json: exit %d: %s", code, stderr)
	}
	var got struct {
		Location string             `json:"location"`
		Stop     state.StopState    `json:"stop"`
		Audit    []state.AuditEntry `json:"audit"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("status --format json: %v\n%s", err, stdout)
	}
	if got.Location != st || got.Stop.On || got.Stop.By != "bob" || len(got.Audit) != 2 ||
		got.Audit[0].Action != "enable" || got.Audit[0].User != "alice" || got.Audit[0].Reason != "golden mismatch on shard 3" || got.Audit[0].Host != host {
		t.Errorf("status --format json: got %+v", got)
	}
}

// TestStopUser: the user is --operator, else SUDO_USER, else USER.
func TestStopUser(t *testing.T) {
	for _, tc := range []struct {
		name, operator, sudo, user, want string
	}{
		{"operator flag", "olga", "sam", "root", "olga"},
		{"sudo user", "", "sam", "root", "sam"},
		{"user", "", "", "uma", "uma"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SUDO_USER", tc.sudo)
			t.Setenv("USER", tc.user)
			st := t.TempDir()
			args := []string{"stop", "enable", "--state", st, "--reason", "r"}
			if tc.operator != "" {
				args = append(args, "--operator", tc.operator)
			}
			if code, _, stderr := runCLI(t, "", args...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			s, err := state.NewDir(st).Stop(context.Background())
			if err != nil || s.By != tc.want {
				t.Errorf("got by %q (%v), want %q", s.By, err, tc.want)
			}
		})
	}
}

// TestStopDefaultState: without --state, the stop lives beside the runbook
// given, where exec of that runbook finds it, and in the host-wide state,
// which every exec on the host honours, whatever its state; RUNBOOK_STATE
// names the state the stop commands use.
func TestStopDefaultState(t *testing.T) {
	t.Setenv("RUNBOOK_STATE", "")
	host := t.TempDir()
	t.Setenv("XDG_STATE_HOME", host)
	dir := t.TempDir()
	marker := filepath.Join(dir, "RESTARTED")
	rb := filepath.Join(dir, "deploy.hcl")
	if err := os.WriteFile(rb, []byte(deployRunbook(marker)), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "", "stop", "enable", "--reason", "drill", "--operator", "alice", rb); code != 0 {
		t.Fatalf("stop enable FILE: exit %d: %s", code, stderr)
	}
	for _, p := range []string{filepath.Join(dir, ".runbook", "stop.json"), filepath.Join(host, "runbook", "stop.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("stop enable FILE did not write %s: %v", p, err)
		}
	}
	if code, _, stderr := runCLI(t, "", "exec", rb, "--yes"); code != 4 {
		t.Errorf("exec beside an enabled stop: got exit %d, want 4: %s", code, stderr)
	}

	other := t.TempDir()
	t.Setenv("RUNBOOK_STATE", other)
	if code, _, stderr := runCLI(t, "", "exec", rb, "--yes"); code != 4 || !strings.Contains(stderr, "host-wide state "+filepath.Join(host, "runbook")) {
		t.Errorf("exec with RUNBOOK_STATE elsewhere: got exit %d, want 4 by the host-wide stop: %s", code, stderr)
	}
	code, stdout, _ := runCLI(t, "", "stop", "status")
	if code != 0 || !strings.Contains(stdout, "Emergency stop: OFF") || !strings.Contains(stdout, other) ||
		!strings.Contains(stdout, "Host-wide emergency stop: ON") || !strings.Contains(stdout, filepath.Join(host, "runbook")) {
		t.Errorf("stop status with RUNBOOK_STATE: got exit %d\n%s", code, stdout)
	}
	// Disabling another state leaves the host-wide stop on, and says so.
	code, stdout, _ = runCLI(t, "", "stop", "disable", "--operator", "bob")
	if code != 0 || !strings.Contains(stdout, "host-wide stop in "+filepath.Join(host, "runbook")+" is ON too") {
		t.Errorf("stop disable with RUNBOOK_STATE: got exit %d\n%s", code, stdout)
	}

	t.Setenv("RUNBOOK_STATE", "")
	if code, _, stderr := runCLI(t, "", "stop", "disable", "--operator", "bob", rb); code != 0 {
		t.Fatalf("stop disable FILE: exit %d: %s", code, stderr)
	}
	t.Setenv("RUNBOOK_STATE", other)
	if code, _, stderr := runCLI(t, "", "exec", rb, "--yes"); code != 0 {
		t.Errorf("exec once both stops are off: got exit %d, want 0: %s", code, stderr)
	}
}

// TestStopPostgres: one PostgreSQL state for the fleet, through
// RUNBOOK_STATE; nothing prints its password.
func TestStopPostgres(t *testing.T) {
	u, _ := url.Parse(testserver.PostgresDatabase(t, "cli_stop_"))
	password, _ := u.User.Password()
	t.Setenv("RUNBOOK_STATE", u.String())

	dir := t.TempDir()
	marker := filepath.Join(dir, "RESTARTED")
	if err := os.WriteFile(filepath.Join(dir, "deploy.hcl"), []byte(deployRunbook(marker)), 0o644); err != nil {
		t.Fatal(err)
	}
	steps := []stopStep{
		{args: []string{"stop", "enable", "--operator", "alice", "--reason", "fleet drill"}, code: 0, stdout: []string{"postgres://runbook@127.0.0.1:"}},
		{args: []string{"exec", "deploy.hcl", "--yes"}, code: 4, notMarked: true, stderr: []string{"by alice", "fleet drill"}},
		{args: []string{"check", "deploy.hcl"}, code: 0},
		{args: []string{"stop", "disable", "--operator", "bob", "--reason", "done"}, code: 0},
		{args: []string{"exec", "deploy.hcl", "--yes"}, code: 0, wantMarked: true},
		{args: []string{"history"}, code: 0, stdout: []string{"deploy"}},
		{args: []string{"show", "last", "--format", "json"}, code: 0, stdout: []string{`"runbook": "deploy"`}},
		{args: []string{"stop", "status", "--audit"}, code: 0, stdout: []string{"OFF", "| enable  | alice", "| disable | bob"}},
	}
	runStopSteps(t, dir, marker, steps)
	for _, s := range steps {
		_, stdout, stderr := runCLI(t, dir, s.args...)
		if strings.Contains(stdout+stderr, password) {
			t.Errorf("%v prints the password", s.args)
		}
	}

	bad := *u
	bad.Host = "127.0.0.1:1"
	code, stdout, stderr := runCLI(t, dir, "stop", "status", "--state", bad.String())
	if code != 2 || strings.Contains(stdout+stderr, password) || !strings.Contains(stderr, "--state") {
		t.Errorf("unreachable --state: got exit %d, want 2 without the password\n%s%s", code, stdout, stderr)
	}
}

// TestStopInWorkingDirectoryRefusesRunbooksElsewhere is the documented
// flow from a repository's root: `runbook stop enable` there must stop
// `runbook exec runbooks/x.hcl`, whose own state is runbooks/.runbook.
func TestStopInWorkingDirectoryRefusesRunbooksElsewhere(t *testing.T) {
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	dir := writeFiles(t, map[string]string{"runbooks/mutating.hcl": `runbook "m" {}

step "flip" {
  shell {
    command = ["true"]
  }
  confirm = true
}
`})
	if code, _, stderr := runCLI(t, dir, "stop", "enable", "--reason", "incident INC-1", "--operator", "alice"); code != 0 {
		t.Fatalf("stop enable: exit %d: %s", code, stderr)
	}
	code, _, stderr := runCLI(t, dir, "exec", "runbooks/mutating.hcl", "--yes")
	if code != 4 || !strings.Contains(stderr, "INC-1") {
		t.Errorf("exec: exit %d, want 4 naming the reason:\n%s", code, stderr)
	}
	runCLI(t, dir, "stop", "disable", "--reason", "over", "--operator", "alice")
	if code, _, stderr := runCLI(t, dir, "exec", "runbooks/mutating.hcl", "--yes"); code != 0 {
		t.Errorf("after disable: exit %d: %s", code, stderr)
	}
}
