package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// drillRunbook flips a switch (a file), waits, and turns it off again; a
// cleanup turns it off when the run ended with it on. wait is the middle
// step's command.
func drillRunbook(wait string) string {
	return `runbook "drill" {}

step "enable" {
  shell {
    command = "touch switch"
  }
}

step "wait" {
  shell {
    command = "` + wait + `"
  }
  on_failure = "stop"
}

step "disable" {
  shell {
    command = "rm -f switch"
  }
}

cleanup "switch_off" {
  when = step.enable.status == "passed" && step.disable.status != "passed"
  shell {
    command = "rm -f switch; echo cleaned > cleaned"
  }
}

report "drill" {
  template = "tabletop"
  output   = "drill.md"
}
`
}

// TestInterruptRunsCleanupAndRendersNoReport sends the real process SIGINT
// during the procedure: the cleanup still turns the switch off, the
// record says so, and no report is rendered for the interrupted run.
func TestInterruptRunsCleanupAndRendersNoReport(t *testing.T) {
	bin := binary(t)
	dir := writeFiles(t, map[string]string{"drill.hcl": drillRunbook("echo started > started; sleep 60")})
	cmd := exec.Command(bin, "exec", "drill.hcl")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the step never started:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("runbook did not stop after SIGINT:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130:\n%s", code, out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "switch")); err == nil {
		t.Errorf("the switch is still on after the interrupted drill:\n%s", out.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "drill.md")); err == nil {
		t.Errorf("a report was rendered for the interrupted run")
	}
	runs, _ := filepath.Glob(filepath.Join(dir, ".runbook", "runs", "*.json"))
	if len(runs) != 1 {
		t.Fatalf("want one run record, found %v", runs)
	}
	rec, err := record.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	c := rec.Item(record.KindCleanup, "switch_off")
	if !rec.Interrupted || c == nil || c.Status != record.Passed || len(rec.Reports) != 0 {
		t.Errorf("record: interrupted=%v cleanup=%+v reports=%v", rec.Interrupted, c, rec.Reports)
	}
	// Explicitly, the report can still be rendered.
	code, stdout, stderr := runCLI(t, dir, "report", "last")
	if code != 0 || !strings.Contains(stdout, "drill.md") {
		t.Errorf("runbook report last: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestCleanupOutcomeInRecordAndExitCode(t *testing.T) {
	tests := []struct {
		name, wait, cleanup string
		code                int
		status              string
	}{
		// The procedure turned the switch off itself: the cleanup's when
		// is false.
		{"procedure passed", "true", record.Skipped, 0, record.Passed},
		// The procedure stopped before turning it off: the cleanup does.
		{"procedure stopped", "false", record.Passed, 1, record.Failed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"drill.hcl": drillRunbook(tc.wait)})
			code, stdout, stderr := runCLI(t, dir, "exec", "drill.hcl", "--format", "json")
			var run record.Run
			if err := json.Unmarshal([]byte(stdout), &run); err != nil {
				t.Fatalf("exit %d: %v\n%s%s", code, err, stdout, stderr)
			}
			last := run.Items[len(run.Items)-1]
			if last.Kind != record.KindCleanup || last.Name != "switch_off" || last.Status != tc.cleanup {
				t.Errorf("last item %s.%s %s, want cleanup.switch_off %s", last.Kind, last.Name, last.Status, tc.cleanup)
			}
			if code != tc.code || run.Status != tc.status {
				t.Errorf("exit %d, run %s; want %d, %s", code, run.Status, tc.code, tc.status)
			}
			if _, err := os.Stat(filepath.Join(dir, "switch")); err == nil {
				t.Errorf("the switch is still on")
			}
			if _, err := os.Stat(filepath.Join(dir, "drill.md")); err != nil {
				t.Errorf("the finished run's report was not rendered: %v", err)
			}
		})
	}
}

func TestFailedCleanupFailsTheRunAndShows(t *testing.T) {
	dir := writeFiles(t, map[string]string{"drill.hcl": `runbook "drill" {}

step "enable" {
  shell {
    command = "true"
  }
}

cleanup "switch_off" {
  shell {
    command = "echo the switch is stuck >&2; exit 3"
  }
}
`})
	code, stdout, stderr := runCLI(t, dir, "exec", "drill.hcl")
	if code != 1 || !strings.Contains(stdout, "switch_off") {
		t.Errorf("exit %d, want 1 with the failed cleanup shown:\n%s%s", code, stdout, stderr)
	}
}

func TestRequiredStepSkippedByAnswersIsAConfigurationError(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"review.hcl": `runbook "review" {}

step "touch" {
  shell {
    command = "touch ran"
  }
}

step "ic_review" {
  manual {
    instructions = "The incident commander reviews the findings."
  }
  required = true
}
`,
		"review.answers.hcl": "ic_review = { status = \"skipped\" }\n",
	})
	code, stdout, stderr := runCLI(t, dir, "exec", "review.hcl", "--answers", "review.answers.hcl")
	if code != 2 || !strings.Contains(stderr, "Required step skipped") || !strings.Contains(stderr, "review.answers.hcl line 1") {
		t.Errorf("exit %d, want 2 pointing at the answer:\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Errorf("a step ran although the answers were refused")
	}
	os.WriteFile(filepath.Join(dir, "review.answers.hcl"), []byte("ic_review = { status = \"passed\" }\n"), 0o644)
	if code, stdout, stderr := runCLI(t, dir, "exec", "review.hcl", "--answers", "review.answers.hcl"); code != 0 {
		t.Errorf("answered passed: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestPlaybookRendersItsOwnReports(t *testing.T) {
	dir := writeFiles(t, map[string]string{"p.hcl": `runbook "p" {}

step "top" {
  shell {
    command = "true"
  }
}

report "top" {
  template = "tabletop"
  output   = "top.md"
}

playbook "incident" {
  step "inner" {
    shell {
      command = "true"
    }
  }

  report "incident" {
    template = "tabletop"
    output   = "incident.md"
  }
}
`})
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	if code, stdout, stderr := runCLI(t, dir, "exec", "p.hcl", "--playbook", "incident"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if !exists("incident.md") || exists("top.md") {
		t.Errorf("playbook run: incident.md %v, top.md %v; want only the playbook's report", exists("incident.md"), exists("top.md"))
	}
	os.Remove(filepath.Join(dir, "incident.md"))
	if code, stdout, stderr := runCLI(t, dir, "exec", "p.hcl"); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	if exists("incident.md") || !exists("top.md") {
		t.Errorf("top-level run: incident.md %v, top.md %v; want only the top-level report", exists("incident.md"), exists("top.md"))
	}
}

func TestPlanAndValidateShowCleanups(t *testing.T) {
	dir := writeFiles(t, map[string]string{"drill.hcl": drillRunbook("true")})
	code, stdout, stderr := runCLI(t, dir, "plan", "drill.hcl")
	if code != 0 || !strings.Contains(stdout, "cleanup.switch_off") || !strings.Contains(stdout, "however it ends") {
		t.Errorf("plan: exit %d\n%s%s", code, stdout, stderr)
	}
	broken := strings.Replace(drillRunbook("true"), "cleanup \"switch_off\" {", "cleanup \"switch_off\" {\n  confirm = true", 1)
	os.WriteFile(filepath.Join(dir, "drill.hcl"), []byte(broken), 0o644)
	code, stdout, stderr = runCLI(t, dir, "validate", "drill.hcl")
	if code != 2 || !strings.Contains(stderr, "Confirm in a cleanup") {
		t.Errorf("validate: exit %d, want 2 with the confirm refused\n%s%s", code, stdout, stderr)
	}
}
