package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/state"
)

// runbook stop check answers with its exit code: 0 off, 4 on, 2 cannot
// tell; it prints nothing unless -v.
func TestStopCheckExitCodes(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "state")
	steps := []struct {
		args   []string
		code   int
		stdout string // "" means nothing at all
	}{
		{[]string{"stop", "check", "--state", st}, 0, ""},
		{[]string{"stop", "check", "--state", st, "-v"}, 0, "Emergency stop: OFF"},
		{[]string{"stop", "enable", "--state", st, "--operator", "alice", "--reason", "disk full on db-3"}, 0, "Emergency stop ON"},
		{[]string{"stop", "check", "--state", st}, 4, ""},
		{[]string{"stop", "check", "--state", st, "--verbose"}, 4, "alice"},
		{[]string{"stop", "disable", "--state", st, "--operator", "bob", "--reason", "fixed"}, 0, "Emergency stop OFF"},
		{[]string{"stop", "check", "--state", st}, 0, ""},
	}
	for _, s := range steps {
		code, stdout, stderr := runCLI(t, dir, s.args...)
		if code != s.code {
			t.Fatalf("runbook %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(s.args, " "), code, s.code, stdout, stderr)
		}
		if (s.stdout == "" && stdout != "") || !strings.Contains(stdout, s.stdout) {
			t.Errorf("runbook %s: stdout %q, want %q", strings.Join(s.args, " "), stdout, s.stdout)
		}
	}
	// status --format json says the same for programs that want who and why.
	runCLI(t, dir, "stop", "enable", "--state", st, "--operator", "carol", "--reason", "replica lag")
	code, stdout, stderr := runCLI(t, dir, "stop", "status", "--state", st, "--format", "json")
	var got struct {
		Location string          `json:"location"`
		Covers   string          `json:"covers"`
		InEffect bool            `json:"in_effect"`
		Stop     state.StopState `json:"stop"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != 0 {
		t.Fatalf("status --format json: exit %d, %v\n%s%s", code, err, stdout, stderr)
	}
	if !got.InEffect || !got.Stop.On || got.Stop.By != "carol" || got.Stop.Reason != "replica lag" || got.Stop.Since.IsZero() || got.Location != st || got.Covers == "" {
		t.Errorf("status --format json: got %+v", got)
	}
	// A stop that cannot be read: cannot tell, exit 2, and why on stderr.
	if err := os.WriteFile(filepath.Join(st, "stop.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, dir, "stop", "check", "--state", st)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "cannot tell") {
		t.Errorf("damaged stop: exit %d, stdout %q, stderr %q; want 2, nothing, why", code, stdout, stderr)
	}
}
