//go:build linux

package shell

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// guardPID returns the pid of this process's guard.
func guardPID(t *testing.T) int {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range stats {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(cmdline, []byte("runbook-guard\x00")) {
			continue
		}
		dir := filepath.Dir(p)
		stat, err := os.ReadFile(filepath.Join(dir, "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pid, _ := strconv.Atoi(filepath.Base(dir))
			return pid
		}
	}
	t.Fatal("no guard process among this process's children")
	return 0
}

// readsOf returns how many read system calls process pid made.
func readsOf(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/io")
	if err != nil {
		t.Skipf("no /proc/PID/io: %v", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Skip("no syscr in /proc/PID/io")
	return 0
}

// The guard costs nothing while commands run: it reads the list of
// groups only when runbook is gone (what it then does is
// TestKilledRunLeavesNoProcessAndAnAbandonedRecord's, in cmd/runbook).
func TestGuardReadsNothingWhileCommandsRun(t *testing.T) {
	p := New()
	cfg := decode(t, p, `command = ["true"]`)
	if _, err := p.Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if guardFD() < 0 {
		t.Skip("no guard could start here")
	}
	pid := guardPID(t)
	before := readsOf(t, pid)
	for i := 0; i < 50; i++ {
		if _, err := p.Run(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	if got := readsOf(t, pid) - before; got > 5 {
		t.Errorf("the guard made %d reads while 50 commands ran, want none", got)
	}
}

// StartGuard starts the guard without a command being run, in the
// background; the first command finds it running. A fresh process (this
// test binary again) shows it: the guard is once per process.
func TestStartGuardStartsTheGuardBeforeAnyCommand(t *testing.T) {
	if os.Getenv("RUNBOOK_TEST_START_GUARD") == "1" {
		StartGuard()
		for i := 0; i < 1000; i++ {
			if guardOf(os.Getpid()) > 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("no guard process after StartGuard")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStartGuardStartsTheGuardBeforeAnyCommand$")
	cmd.Env = append(os.Environ(), "RUNBOOK_TEST_START_GUARD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// guardOf returns the pid of process parent's guard, or 0.
func guardOf(parent int) int {
	stats, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range stats {
		cmdline, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(cmdline, []byte("runbook-guard\x00")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if err != nil {
			continue
		}
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(parent) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}
