package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// waitRunbook has a confirm step and a manual step, for exec --wait.
const waitRunbook = `runbook "waiting" {
  title = "Waits for the console"
}

step "restart" {
  title   = "Restart the thing"
  confirm = true
  shell {
    command = ["true"]
  }
}

step "review" {
  title    = "Review"
  assignee = "sre"
  manual {
    instructions = "Look at it."
  }
}
`

// waitForQuestion polls the state until the run's step has an open
// question, and returns the run's id.
func waitForQuestion(t *testing.T, c state.Console, s state.Store, step string) string {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if run, err := s.LoadRun(ctx, "last"); err == nil {
			qs, _ := c.Questions(ctx, run.ID)
			for _, q := range qs {
				if q.Step == step && q.State == state.QuestionOpen {
					if it := run.Item(record.KindStep, step); step == "review" && (it == nil || it.Status != record.Pending) {
						t.Errorf("the journal shows step %s as %+v while it waits, want pending", step, it)
					}
					return run.ID
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no open question for step %s", step)
	return ""
}

func TestExecWaitTakesTheConsolesAnswers(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rb.hcl": waitRunbook})
	stateDir := filepath.Join(dir, "state")
	cmd := exec.Command(binary(t), "exec", "rb.hcl", "--state", stateDir, "--wait", "60s", "--operator", "alice", "--no-report")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := state.NewDir(stateDir)
	ctx := context.Background()
	yes := true
	id := waitForQuestion(t, d, d, "restart")
	if _, err := d.Reply(ctx, id, "restart", state.Reply{Confirm: &yes, By: "bob", Surface: record.SurfaceConsole}); err != nil {
		t.Fatal(err)
	}
	waitForQuestion(t, d, d, "review")
	if _, err := d.Reply(ctx, id, "review", state.Reply{Status: record.Passed, Note: "looks fine", By: "carol", Surface: record.SurfaceConsole}); err != nil {
		t.Fatal(err)
	}
	// A second answer loses.
	if _, err := d.Reply(ctx, id, "review", state.Reply{Status: record.Failed, By: "dave", Surface: record.SurfaceConsole}); !errors.Is(err, state.ErrNotWaiting) {
		t.Errorf("a second answer: got %v, want ErrNotWaiting", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exec: %v\n%s", err, out.String())
	}
	run, err := d.LoadRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != record.Passed {
		t.Errorf("status: got %s, want passed\n%s", run.Status, out.String())
	}
	dec := run.Item(record.KindStep, "restart").Decision
	if dec == nil || !dec.Confirmed || dec.Operator != "bob" || dec.By != record.SurfaceConsole {
		t.Errorf("decision: got %+v, want confirmed by bob in the console", dec)
	}
	if got := run.Item(record.KindStep, "review").Assignee; got != "sre" {
		t.Errorf("review's assignee: got %q, want sre", got)
	}
	ans := run.Item(record.KindStep, "review").Answer
	if ans == nil || ans.Status != record.Passed || ans.Operator != "carol" || ans.Surface != record.SurfaceConsole || ans.Note != "looks fine" {
		t.Errorf("answer: got %+v, want passed by carol in the console", ans)
	}
}

func TestExecWaitEndsPendingWithoutAnswer(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rb.hcl": strings.Replace(waitRunbook, "confirm = true", "confirm = false", 1)})
	stateDir := filepath.Join(dir, "state")
	code, stdout, stderr := runCLI(t, dir, "exec", "rb.hcl", "--state", stateDir, "--wait", "300ms", "--no-report")
	if code != 3 {
		t.Fatalf("exit code: got %d, want 3 (incomplete)\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "no answer for step review within 300ms") {
		t.Errorf("stderr: got %q, want a note that nobody answered", stderr)
	}
	d := state.NewDir(stateDir)
	run, err := d.LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	if st := run.Item(record.KindStep, "review").Status; st != record.Pending {
		t.Errorf("review: got %s, want pending", st)
	}
	// Too late: the question is closed.
	if _, err := d.Reply(context.Background(), run.ID, "review", state.Reply{Status: record.Passed, By: "bob"}); !errors.Is(err, state.ErrNotWaiting) {
		t.Errorf("a late answer: got %v, want ErrNotWaiting", err)
	}
}

// TestExecWaitRacesTheTerminalAndTheConsole: at a real terminal (a pty,
// through util-linux's script), the terminal answers the confirm prompt
// (and the console then gets "not waiting"), and the console answers the
// manual step while the terminal still asks.
func TestExecWaitRacesTheTerminalAndTheConsole(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("util-linux's script (a pty for the prompt) is not installed")
	}
	bin := binary(t)
	dir := writeFiles(t, map[string]string{"rb.hcl": waitRunbook})
	stateDir := filepath.Join(dir, "state")
	cmd := exec.Command(scriptBin, "-qec", bin+" exec rb.hcl --no-report --operator bob --wait 60s --state "+stateDir, "/dev/null")
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	d := state.NewDir(stateDir)
	ctx := context.Background()
	id := waitForQuestion(t, d, d, "restart")
	waitFor(t, "the confirm prompt", func() bool { return strings.Contains(out.String(), "Run it? [y/N]") })
	_, _ = stdin.Write([]byte("y\n"))
	waitForQuestion(t, d, d, "review")
	waitFor(t, "the manual step's question", func() bool { return strings.Contains(out.String(), "Result?") })
	yes := true
	if _, err := d.Reply(ctx, id, "restart", state.Reply{Confirm: &yes, By: "carol"}); !errors.Is(err, state.ErrNotWaiting) {
		t.Errorf("the console after the terminal answered: got %v, want ErrNotWaiting", err)
	}
	if _, err := d.Reply(ctx, id, "review", state.Reply{Status: record.Failed, Note: "broken", By: "carol", Surface: record.SurfaceConsole}); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("exit %d, want 1 (the review failed):\n%s", code, out.String())
	}
	run, err := d.LoadRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if dec := run.Item(record.KindStep, "restart").Decision; dec == nil || !dec.Confirmed || dec.Operator != "bob" || dec.By != "prompt" {
		t.Errorf("decision: got %+v, want confirmed by bob at the prompt", dec)
	}
	if ans := run.Item(record.KindStep, "review").Answer; ans == nil || ans.Status != record.Failed || ans.Operator != "carol" || ans.Surface != record.SurfaceConsole {
		t.Errorf("answer: got %+v, want failed by carol in the console", ans)
	}
}

func TestAnswersFromAFileSayWhereTheyCameFrom(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rb.hcl":      strings.Replace(waitRunbook, "confirm = true", "confirm = false", 1),
		"answers.hcl": `review = { status = "passed", note = "ok" }`,
	})
	stateDir := filepath.Join(dir, "state")
	code, stdout, stderr := runCLI(t, dir, "exec", "rb.hcl", "--state", stateDir, "--answers", "answers.hcl", "--no-report")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}
	run, err := state.NewDir(stateDir).LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	if ans := run.Item(record.KindStep, "review").Answer; ans == nil || ans.Surface != record.SurfaceAnswersFile {
		t.Errorf("answer: got %+v, want surface answers-file", ans)
	}
}

func TestExecWaitInterruptedWithdrawsTheQuestion(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rb.hcl": strings.Replace(waitRunbook, "confirm = true", "confirm = false", 1)})
	stateDir := filepath.Join(dir, "state")
	cmd := exec.Command(binary(t), "exec", "rb.hcl", "--state", stateDir, "--wait", "60s", "--no-report")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := state.NewDir(stateDir)
	id := waitForQuestion(t, d, d, "review")
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d, want 130:\n%s", code, out.String())
	}
	if _, err := d.Reply(context.Background(), id, "review", state.Reply{Status: record.Passed, By: "bob"}); !errors.Is(err, state.ErrNotWaiting) {
		t.Errorf("an answer after Ctrl-C: got %v, want ErrNotWaiting", err)
	}
}
