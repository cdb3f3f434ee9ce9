package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// straceRun runs the built runbook with args in dir under strace,
// following its children, and returns the trace's lines (fsync,
// fdatasync and execve, with the paths of file descriptors). It skips the
// test where strace is missing or may not trace.
func straceRun(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("strace is not installed")
	}
	if out, err := exec.Command(strace, "-o", os.DevNull, "true").CombinedOutput(); err != nil {
		t.Skipf("strace cannot trace here: %v: %s", err, out)
	}
	trace := filepath.Join(dir, "trace.txt")
	cmd := exec.Command(strace, append([]string{"-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,execve", "-o", trace, binary(t)}, args...)...)
	cmd.Dir = dir
	// The spool of records the state did not take is the test's own.
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

// syncsOf returns the positions in lines of the fsyncs and fdatasyncs of
// files whose path contains part.
func syncsOf(lines []string, part string) []int {
	var at []int
	for i, l := range lines {
		if (strings.Contains(l, " fsync(") || strings.Contains(l, " fdatasync(")) && strings.Contains(l, part) {
			at = append(at, i)
		}
	}
	return at
}

// lastExecOf returns the position in lines of the last execve whose line
// contains marker, or -1.
func lastExecOf(lines []string, marker string) int {
	at := -1
	for i, l := range lines {
		if strings.Contains(l, "execve(") && strings.Contains(l, marker) {
			at = i
		}
	}
	return at
}

// A run of checks writes its progress without waiting for the disk and
// makes its record and journal durable once, at its end; a step's record
// and journal are durable before its command runs (docs/state.md).
func TestJournalSyncsStepsBeforeTheyRunAndChecksAtTheEnd(t *testing.T) {
	t.Run("check", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"c.hcl": `runbook "c" {}

check "a" {
  shell {
    command = ["true", "check-a"]
  }
}

check "b" {
  shell {
    command = ["true", "check-b"]
  }
}
`})
		lines := straceRun(t, dir, "check", "c.hcl", "--state", "st")
		last := max(lastExecOf(lines, `"check-a"`), lastExecOf(lines, `"check-b"`))
		if last < 0 {
			t.Fatalf("no check's command in the trace:\n%s", strings.Join(lines, "\n"))
		}
		record, events := syncsOf(lines, "/st/runs/."), syncsOf(lines, ".events.jsonl")
		if len(record) == 0 || len(events) == 0 {
			t.Fatalf("got %d syncs of the record and %d of the journal, want both synced at the end:\n%s", len(record), len(events), strings.Join(lines, "\n"))
		}
		for _, at := range append(record, events...) {
			if at < last {
				t.Errorf("got a sync before the last check ran, want none until the run ends: %s", lines[at])
			}
		}
	})
	t.Run("step", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"s.hcl": `runbook "s" {}

check "a" {
  shell {
    command = ["true", "check-a"]
  }
}

step "b" {
  depends_on = [check.a]
  shell {
    command = ["true", "step-b"]
  }
}
`})
		lines := straceRun(t, dir, "exec", "s.hcl", "--state", "st")
		step := lastExecOf(lines, `"step-b"`)
		if step < 0 {
			t.Fatalf("no step's command in the trace:\n%s", strings.Join(lines, "\n"))
		}
		for _, what := range []string{"/st/runs/.", ".events.jsonl"} {
			before := 0
			for _, at := range syncsOf(lines, what) {
				if at < step {
					before++
				}
			}
			if before == 0 {
				t.Errorf("got no sync of %s before the step ran, want its start durable first:\n%s", what, strings.Join(lines, "\n"))
			}
		}
	})
}
