package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// TestCtrlCAtAPromptSaysInterrupted presses Ctrl-C at a real terminal (a
// pty, through util-linux's script) while a confirm or a manual step asks:
// the step is "interrupted" on the terminal and in the record, never an
// error such as "confirmation: context canceled", and the run exits 130.
func TestCtrlCAtAPromptSaysInterrupted(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("util-linux's script (a pty for the prompt) is not installed")
	}
	bin := binary(t)
	for _, tc := range []struct {
		name, step, prompt, flags string
	}{
		{"confirm", "flip", "Run it? [y/N]", ""},
		{"confirm with --wait", "flip", "Run it? [y/N]", " --wait 60s"},
		{"manual", "review", "Result?", " --skip flip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"c.hcl": `runbook "c" {}

step "flip" {
  shell {
    command = "touch flipped"
  }
  confirm = true
}

step "review" {
  manual {
    instructions = "Look at the dashboard."
  }
}
`})
			cmd := exec.Command(scriptBin, "-qec", bin+" exec c.hcl --no-report --operator bob"+tc.flags, "/dev/null")
			cmd.Dir = dir
			stdin, _ := cmd.StdinPipe()
			out := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = out, out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill() })
			waitFor(t, "the prompt", func() bool { return strings.Contains(out.String(), tc.prompt) })
			_, _ = stdin.Write([]byte{3}) // Ctrl-C, as the terminal sends it
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("the run did not end after Ctrl-C:\n%s", out.String())
			}
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d, want 130:\n%s", code, out.String())
			}
			if s := out.String(); strings.Contains(s, "context canceled") || !strings.Contains(s, "interrupted") {
				t.Errorf("terminal output does not say interrupted:\n%s", s)
			}
			rec := onlyRecord(t, dir)
			it := rec.Item(record.KindStep, tc.step)
			if it == nil || it.Status != record.Skipped || it.SkipReason != "interrupted" || it.Error != nil {
				t.Fatalf("record: step %s %+v, want skipped, interrupted, no error", tc.step, it)
			}
			if !rec.Interrupted {
				t.Errorf("the record does not say the run was interrupted")
			}
		})
	}
}
