package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPackageInitIsCheap holds runbook's own packages to a small
// initialisation: every command pays for every package's init, whatever
// it runs. What one command needs (a regexp with a bounded repeat, a
// parsed template) is built on first use instead. The runtime's
// inittrace counts bytes allocated, which do not depend on the machine's
// speed or load.
func TestPackageInitIsCheap(t *testing.T) {
	const limit = 40 << 10 // bytes; the largest today is report's ~34 KB
	cmd := exec.Command(binary(t), "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("runbook version: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != "init" || !strings.HasPrefix(f[1], "github.com/runbookhq/runbook/") {
			continue
		}
		seen++
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("unexpected inittrace line %q", line)
		}
		if b > limit {
			t.Errorf("package %s allocates %d bytes at init (at most %d): build what one command needs on first use (sync.OnceValue)", f[1], b, limit)
		}
	}
	if seen == 0 {
		t.Fatalf("no inittrace lines for runbook's packages in:\n%s", out)
	}
}

// traceStart runs runbook under strace, following its children, and
// returns the trace's lines (process starts and files opened).
func traceStart(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	if out, err := exec.Command(strace, "-o", os.DevNull, "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here: %v: %s", err, out)
	}
	trace := filepath.Join(dir, "trace.txt")
	cmd := exec.Command(strace, append([]string{"-f", "-qq", "-e", "trace=execve,openat", "-o", trace, binary(t)}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("runbook %v: %v\n%s", args, err, out)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(string(data), "\n")
}

// firstLineWith returns the position of the first line containing every
// part, or -1.
func firstLineWith(lines []string, parts ...string) int {
	for i, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return i
		}
	}
	return -1
}

// `check` starts the guard process while it prepares a run with a local
// command (checks/shell.StartGuard; it may finish starting after the
// journal is created, but before the first command); a run with no local
// command starts none.
func TestCheckStartsTheGuardOnlyForLocalCommands(t *testing.T) {
	t.Run("shell", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"c.hcl": `runbook "c" {}

check "a" {
  shell {
    command = ["true", "check-a"]
  }
}
`})
		lines := traceStart(t, dir, "check", "c.hcl", "--state", "st")
		guard := firstLineWith(lines, "execve(", `"runbook-guard"`)
		command := firstLineWith(lines, "execve(", `"check-a"`)
		if guard < 0 || command < 0 || guard > command {
			t.Errorf("want the guard started before the command, got them at lines %d and %d:\n%s", guard, command, strings.Join(lines, "\n"))
		}
	})
	t.Run("no local command", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"c.hcl": `runbook "c" {}

check "a" {
  file {
    path = "c.hcl"
  }
}
`})
		lines := traceStart(t, dir, "check", "c.hcl", "--state", "st")
		if at := firstLineWith(lines, "execve(", `"runbook-guard"`); at >= 0 {
			t.Errorf("a run with no local command started the guard: %s", lines[at])
		}
	})
}
