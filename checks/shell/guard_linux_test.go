//go:build linux

package shell

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
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
