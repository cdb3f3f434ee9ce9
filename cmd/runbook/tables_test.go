package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// boxRunes are the box-drawing characters of the terminal table style.
const boxRunes = "─│┌┐└┘├┤┬┴┼"

// TestTablesAreASCIIUnlessOnATerminal runs every command that prints a
// table through the built binary twice: piped, the table is plain ASCII
// like exec's; at a terminal (a pty, through util-linux's script), it is
// drawn with box characters.
func TestTablesAreASCIIUnlessOnATerminal(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.hcl": passing})
	st := filepath.Join(dir, "state")
	for _, setup := range [][]string{
		{"exec", "ok.hcl", "--state", st, "--no-report"},
		{"stop", "enable", "--state", st, "--operator", "alice", "--reason", "drill"},
		{"stop", "disable", "--state", st, "--operator", "alice"},
		{"silence", "add", "true", "--for", "1h", "--reason", "swap", "--state", st, "--operator", "alice"},
		{"token", "add", "alice", "--role", "operator", "--state", st},
	} {
		if code, stdout, stderr := runBin(t, dir, nil, time.Minute, setup...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(setup, " "), code, stdout, stderr)
		}
	}
	scriptBin, scriptErr := exec.LookPath("script")
	for _, args := range [][]string{
		{"exec", "ok.hcl", "--state", st, "--no-report"},
		{"check", "ok.hcl", "--state", st},
		{"providers"},
		{"plan", "ok.hcl"},
		{"history", "--state", st},
		{"stop", "status", "--audit", "--state", st},
		{"silence", "list", "--state", st},
		{"token", "list", "--state", st},
	} {
		name := strings.Join(args[:min(2, len(args))], " ")
		t.Run(name+"/piped", func(t *testing.T) {
			code, stdout, stderr := runBin(t, dir, []string{"TERM=xterm"}, time.Minute, args...)
			if code != 0 {
				t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
			}
			if strings.ContainsAny(stdout, boxRunes) {
				t.Errorf("piped output has box drawing:\n%s", stdout)
			}
			if !strings.Contains(stdout, "+-") || !strings.Contains(stdout, "| ") {
				t.Errorf("piped output has no ASCII table:\n%s", stdout)
			}
		})
		t.Run(name+"/terminal", func(t *testing.T) {
			if scriptErr != nil {
				t.Skip("util-linux's script (a pty) is not installed")
			}
			cmd := exec.Command(scriptBin, "-qec", binary(t)+" "+strings.Join(args, " "), "/dev/null")
			cmd.Dir = dir
			cmd.Env = append(withoutEnv(os.Environ(), "NO_COLOR"), "TERM=xterm")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.ContainsAny(string(out), boxRunes) {
				t.Errorf("terminal output has no box drawing:\n%s", out)
			}
		})
	}
}

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}
