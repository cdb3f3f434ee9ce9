package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSilenceCommands: add, list and remove silences in a state
// directory; each change is in the audit trail.
func TestSilenceCommands(t *testing.T) {
	st := filepath.Join(t.TempDir(), "state")
	code, out, stderr := runCLI(t, "", "silence", "add", "disk_root", "api", "--for", "2h", "--reason", "disk swap", "--state", st, "--operator", "alice")
	if code != 0 {
		t.Fatalf("add: exit %d\n%s%s", code, out, stderr)
	}
	id := regexp.MustCompile(`s-[0-9a-f]{8}`).FindString(out)
	if id == "" || !strings.Contains(out, "alerts about disk_root, api are held back until") {
		t.Fatalf("add: got %q", out)
	}
	if code, out, stderr := runCLI(t, "", "silence", "add", "--all", "--for", "30m", "--reason", "deploy", "--state", st, "--operator", "bob"); code != 0 {
		t.Fatalf("add --all: exit %d\n%s%s", code, out, stderr)
	}

	code, out, _ = runCLI(t, "", "silence", "list", "--state", st, "--format", "json")
	var list []struct {
		ID     string   `json:"id"`
		Checks []string `json:"checks"`
		Reason string   `json:"reason"`
		By     string   `json:"by"`
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil {
		t.Fatalf("list: exit %d %v\n%s", code, err, out)
	}
	if len(list) != 2 || list[0].ID != id || list[0].By != "alice" || len(list[1].Checks) != 0 || list[1].Reason != "deploy" {
		t.Errorf("list: got %+v", list)
	}
	code, out, _ = runCLI(t, "", "silence", "list", "--state", st)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "every check") || !strings.Contains(out, "left)") {
		t.Errorf("list table: exit %d\n%s", code, out)
	}

	if code, out, stderr := runCLI(t, "", "silence", "remove", id, "--state", st, "--operator", "carol", "--reason", "swap done"); code != 0 || !strings.Contains(out, "removed") {
		t.Fatalf("remove: exit %d\n%s%s", code, out, stderr)
	}
	if code, _, stderr := runCLI(t, "", "silence", "remove", id, "--state", st); code != 1 || !strings.Contains(stderr, "no silence") {
		t.Errorf("remove twice: exit %d %s, want 1 and \"no silence\"", code, stderr)
	}

	code, out, _ = runCLI(t, "", "stop", "status", "--audit", "--state", st)
	for _, want := range []string{"silence   | alice", "unsilence | carol", id + ": disk_root, api: swap done"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("audit trail lacks %q:\n%s", want, out)
		}
	}
}

func TestSilenceFlagErrors(t *testing.T) {
	st := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{name: "nothing named", args: []string{"add", "--for", "1h", "--reason", "x"}, want: "name the checks to silence, or give --all"},
		{name: "both", args: []string{"add", "a", "--all", "--for", "1h", "--reason", "x"}, want: "not both"},
		{name: "no duration", args: []string{"add", "a", "--reason", "x"}, want: "--for is required"},
		{name: "no reason", args: []string{"add", "a", "--for", "1h"}, want: "--reason is required"},
		{name: "unknown subcommand", args: []string{"mute"}, want: "use add, list or remove"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", append(append([]string{"silence"}, tt.args...), "--state", st)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("got exit %d %q, want 2 and %q", code, stderr, tt.want)
			}
		})
	}
}

// TestSilenceGoesWhereTheWatchLooks: a silence must land in the state the
// watch reads and name checks the runbook has. Without --runbook, --state
// or $RUNBOOK_STATE it is refused (it would go to ./.runbook, which a
// watch of runbooks/mon.hcl never reads); with --runbook, a misspelt check
// is refused with a suggestion, "check.NAME" is read as NAME, and the
// silence goes to the runbook's .runbook/ state; its end is in the future.
func TestSilenceGoesWhereTheWatchLooks(t *testing.T) {
	t.Setenv("RUNBOOK_STATE", "")
	dir := writeFiles(t, map[string]string{"runbooks/mon.hcl": `runbook "mon" {}
check "disk_root" {
  file {
    path = "/"
  }
}
check "api" {
  file {
    path = "/"
  }
}
`})
	code, _, stderr := runCLI(t, dir, "silence", "add", "disk_root", "--for", "2h", "--reason", "swap")
	if code != 2 || !strings.Contains(stderr, "say which state holds the silences: --runbook FILE|DIR") {
		t.Errorf("no state named: exit %d %q, want 2 and which flags to give", code, stderr)
	}
	if code, _, stderr := runCLI(t, dir, "silence", "list"); code != 2 || !strings.Contains(stderr, "say which state") {
		t.Errorf("list, no state named: exit %d %q, want 2", code, stderr)
	}
	for _, name := range []string{"disk_rot", "check.disk_rot"} {
		code, _, stderr = runCLI(t, dir, "silence", "add", name, "--for", "2h", "--reason", "swap", "--runbook", "runbooks/mon.hcl")
		if code != 2 || !strings.Contains(stderr, `"`+name+`" is not a check of runbooks/mon.hcl. Did you mean "disk_root"?`) ||
			!strings.Contains(stderr, "Its checks: disk_root, api") {
			t.Errorf("%s: exit %d %q, want 2 and a suggestion", name, code, stderr)
		}
	}
	code, out, stderr := runCLI(t, dir, "silence", "add", "check.disk_root", "api", "--for", "2h", "--reason", "swap", "--runbook", "runbooks/mon.hcl")
	if code != 0 || !strings.Contains(out, "alerts about disk_root, api are held back until") || !strings.Contains(out, "(in 2h0m0s)") ||
		!strings.Contains(out, "State: "+filepath.Join("runbooks", ".runbook")) {
		t.Errorf("add: exit %d\n%s%s", code, out, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, ".runbook")); !os.IsNotExist(err) {
		t.Errorf("./.runbook was created: %v", err)
	}
	code, out, _ = runCLI(t, dir, "silence", "list", "--state", filepath.Join(dir, "runbooks", ".runbook"), "--format", "json")
	if code != 0 || !strings.Contains(out, `"disk_root",`) {
		t.Errorf("list: exit %d\n%s", code, out)
	}
}
