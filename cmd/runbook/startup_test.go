package main

import (
	"os"
	"os/exec"
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
