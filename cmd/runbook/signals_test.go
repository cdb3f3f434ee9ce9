package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// longRunbook's second step starts a background child (not the direct
// child of runbook: only its process group or the guard can reach it),
// writes both pids and waits; a run that finds resume-ok passes at once.
const longRunbook = `runbook "long" {}

step "first" {
  shell {
    command = "true"
  }
}

step "wait" {
  shell {
    command = "if [ -f resume-ok ]; then exit 0; fi; sleep 300 & echo $! > child; echo $$ > leader; touch started; wait"
  }
}

step "later" {
  shell {
    command = "true"
  }
}
`

// startLong starts the built runbook on longRunbook in a new directory and
// returns once the "wait" step's commands are running.
func startLong(t *testing.T, args ...string) (dir string, cmd *exec.Cmd, out *bytes.Buffer) {
	t.Helper()
	bin := binary(t)
	dir = writeFiles(t, map[string]string{"long.hcl": longRunbook})
	cmd = exec.Command(bin, append([]string{"exec", "long.hcl"}, args...)...)
	cmd.Dir = dir
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "the step to start", func() bool {
		_, err := os.Stat(filepath.Join(dir, "started"))
		return err == nil
	})
	return dir, cmd, out
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pidsOf reads the pids the "wait" step wrote.
func pidsOf(t *testing.T, dir string, names ...string) []int {
	t.Helper()
	var pids []int
	for _, name := range names {
		waitFor(t, name+" pid file", func() bool {
			data, err := os.ReadFile(filepath.Join(dir, name))
			return err == nil && strings.HasSuffix(string(data), "\n")
		})
		data, _ := os.ReadFile(filepath.Join(dir, name))
		pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func onlyRecord(t *testing.T, dir string) *record.Run {
	t.Helper()
	runs, _ := filepath.Glob(filepath.Join(dir, ".runbook", "runs", "*.json"))
	if len(runs) != 1 {
		t.Fatalf("want one run record, found %v", runs)
	}
	rec, err := record.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestSignalsStopTheRunAndKeepTheRecord: SIGINT, SIGTERM and SIGHUP (an
// ssh session that drops) each stop the running step's whole process
// group, write the partial record marked interrupted with the signal's
// name, and exit 128 + the signal's number.
func TestSignalsStopTheRunAndKeepTheRecord(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		code int
	}{
		{syscall.SIGINT, "interrupt", 130},
		{syscall.SIGTERM, "terminated", 143},
		{syscall.SIGHUP, "hangup", 129},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir, cmd, out := startLong(t)
			pids := pidsOf(t, dir, "leader", "child")
			// state.ProcessAlive tells these processes from later ones
			// given the same pid (32768 of them go by quickly on a busy
			// machine): those started after seen.
			seen := time.Now()
			_ = cmd.Process.Signal(tc.sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("runbook did not stop after %s:\n%s", tc.name, out)
			}
			if code := cmd.ProcessState.ExitCode(); code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, pid := range pids {
				if state.ProcessAlive(pid, seen) {
					t.Errorf("pid %d of the step's process group outlived the run", pid)
				}
			}
			rec := onlyRecord(t, dir)
			if !rec.Interrupted || rec.Signal != tc.name {
				t.Errorf("record: interrupted=%v signal=%q, want true %q", rec.Interrupted, rec.Signal, tc.name)
			}
			if got := rec.Item("step", "first").Status; got != record.Passed {
				t.Errorf("first: %s, want passed", got)
			}
			if got := rec.Item("step", "later").Status; got != record.Skipped {
				t.Errorf("later: %s, want skipped", got)
			}
		})
	}
}

// TestClosedStdoutDoesNotKillTheRun: `runbook exec x.hcl | head -1`. The
// reader of stdout is gone before the first line; the run goes on,
// finishes and is recorded, and its exit code is the run's.
func TestClosedStdoutDoesNotKillTheRun(t *testing.T) {
	bin := binary(t)
	dir := writeFiles(t, map[string]string{"steps.hcl": `runbook "steps" {}

step "one" {
  shell {
    command = "echo one"
  }
}

step "two" {
  shell {
    command = "touch two-ran"
  }
}
`})
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(bin, "exec", "steps.hcl")
	cmd.Dir = dir
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	w.Close()
	if err != nil {
		t.Fatalf("runbook with a closed stdout: %v (%s)\n%s", err, cmd.ProcessState, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "two-ran")); err != nil {
		t.Errorf("the second step did not run: %v", err)
	}
	if rec := onlyRecord(t, dir); rec.Status != record.Passed || len(rec.Items) != 2 {
		t.Errorf("record: status %s, %d items; want passed, 2", rec.Status, len(rec.Items))
	}
}

// TestKilledRunLeavesNoProcessAndAnAbandonedRecord: kill -9 of runbook in
// the middle of a step. The step's commands do not outlive it (the direct
// child by Pdeathsig, its background child by the guard); the journal left
// a record that reads as abandoned with the step that was running; the
// next run warns about it, once, and --resume picks it up.
func TestKilledRunLeavesNoProcessAndAnAbandonedRecord(t *testing.T) {
	dir, cmd, out := startLong(t, "--operator", "alice")
	pids := pidsOf(t, dir, "leader", "child")

	// While it runs, the journal already holds the record.
	live := onlyRecord(t, dir)
	if live.Status != record.Running || live.PID != cmd.Process.Pid {
		t.Fatalf("journal while running: status %q pid %d, want running %d", live.Status, live.PID, cmd.Process.Pid)
	}
	if got := state.Settle(live).Status; got != record.Running {
		t.Errorf("a live run settles as %q, want running", got)
	}

	seen := time.Now() // (see TestSignalsStopTheRunAndKeepTheRecord)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	for _, pid := range pids {
		pid := pid
		waitFor(t, "pid "+strconv.Itoa(pid)+" to be gone", func() bool { return !state.ProcessAlive(pid, seen) })
	}

	rec := onlyRecord(t, dir)
	if rec.Status != record.Running {
		t.Fatalf("killed run's record: status %q, want running (as the journal left it)\n%s", rec.Status, out)
	}
	if got := state.Settle(rec).Status; got != record.Abandoned {
		t.Fatalf("killed run settles as %q, want abandoned", got)
	}
	if got := rec.Item("step", "first").Status; got != record.Passed {
		t.Errorf("first: %s, want passed", got)
	}
	if got := rec.Item("step", "wait").Status; got != record.Running {
		t.Errorf("wait: %s, want running (the step it was killed in)", got)
	}

	// The next run warns, and --resume picks the run up.
	if err := os.WriteFile(filepath.Join(dir, "resume-ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCLI(t, dir, "exec", "long.hcl", "--resume", rec.ID)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "run "+rec.ID) || !strings.Contains(stderr, "abandoned during step wait") {
		t.Errorf("the next run did not warn about the abandoned run:\n%s", stderr)
	}
	again, err := state.NewDir(filepath.Join(dir, ".runbook")).LoadRun(t.Context(), rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Status != record.Abandoned || again.FinishedAt.IsZero() {
		t.Errorf("the abandoned run was not written back as abandoned: %q finished %v", again.Status, again.FinishedAt)
	}
	// Its journal ends the same way: the record still proves.
	if code, stdout, stderr := runCLI(t, dir, "verify", rec.ID); code != 0 {
		t.Errorf("verify of the abandoned run: exit %d\n%s%s", code, stdout, stderr)
	}
	var resumed *record.Run
	ids, _ := state.NewDir(filepath.Join(dir, ".runbook")).RunIDs(t.Context())
	for _, id := range ids {
		if id != rec.ID {
			resumed, _ = state.NewDir(filepath.Join(dir, ".runbook")).LoadRun(t.Context(), id)
		}
	}
	if resumed == nil {
		t.Fatalf("no resumed run among %v", ids)
	}
	if resumed.ResumedFrom != rec.ID || !resumed.Item("step", "first").CarriedOver || resumed.Status != record.Passed {
		t.Errorf("resumed run: from %q, first carried over %v, status %s", resumed.ResumedFrom, resumed.Item("step", "first").CarriedOver, resumed.Status)
	}
	if _, _, stderr := runCLI(t, dir, "exec", "long.hcl"); strings.Contains(stderr, "abandoned") {
		t.Errorf("a second run warned again about the same abandoned run:\n%s", stderr)
	}
}

// TestSecondSignalAbandonsCleanup: the first SIGTERM stops the procedure
// and its cleanup starts; a second one (a service manager insisting, no
// terminal to ask) abandons the cleanup, and the run still ends with its
// record written, the cleanup marked abandoned.
func TestSecondSignalAbandonsCleanup(t *testing.T) {
	bin := binary(t)
	dir := writeFiles(t, map[string]string{"drill.hcl": `runbook "drill" {}

step "work" {
  shell {
    command = "touch started; sleep 300"
  }
}

cleanup "slow" {
  shell {
    command = "touch cleaning; sleep 300"
  }
}

cleanup "after" {
  shell {
    command = "true"
  }
}
`})
	cmd := exec.Command(bin, "exec", "drill.hcl")
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	exists := func(name string) func() bool {
		return func() bool { _, err := os.Stat(filepath.Join(dir, name)); return err == nil }
	}
	waitFor(t, "the step to start", exists("started"))
	_ = cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "the cleanup to start", exists("cleaning"))
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("runbook did not end after the second SIGTERM:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit %d, want 143:\n%s", code, out.String())
	}
	rec := onlyRecord(t, dir)
	slow, after := rec.Item(record.KindCleanup, "slow"), rec.Item(record.KindCleanup, "after")
	if slow == nil || after == nil {
		t.Fatalf("cleanups missing from the record: %+v", rec.Items)
	}
	if slow.Error == nil || !strings.HasPrefix(*slow.Error, "cleanup abandoned") {
		t.Errorf("slow cleanup: %s %v, want abandoned", slow.Status, slow.Error)
	}
	if after.Status != record.Skipped || after.SkipReason != "cleanup abandoned" {
		t.Errorf("later cleanup: %s %q, want skipped, cleanup abandoned", after.Status, after.SkipReason)
	}
	if !strings.Contains(out.String(), "abandoning the cleanup blocks") {
		t.Errorf("the second signal was not acknowledged:\n%s", out.String())
	}
}

// TestDeclinedConfirmEndsTheProcedure answers "n" at a real terminal (a
// pty, through util-linux's script): the step does not run, nor anything
// after it; the run is incomplete (exit 3) with who declined; --resume
// then runs the declined step and the rest.
func TestDeclinedConfirmEndsTheProcedure(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("util-linux's script (a pty for the prompt) is not installed")
	}
	bin := binary(t)
	dir := writeFiles(t, map[string]string{"d.hcl": `runbook "d" {}

step "flip" {
  shell {
    command = "touch flipped"
  }
  confirm = true
}

step "after" {
  shell {
    command = "touch after"
  }
}
`})
	cmd := exec.Command(scriptBin, "-qec", bin+" exec d.hcl --operator bob", "/dev/null")
	cmd.Dir = dir
	stdin, _ := cmd.StdinPipe()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	waitFor(t, "the confirm prompt", func() bool { return strings.Contains(out.String(), "Run it? [y/N]") })
	_, _ = stdin.Write([]byte("n\n"))
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 3 {
		t.Errorf("exit %d, want 3 (incomplete):\n%s", code, out.String())
	}
	for _, f := range []string{"flipped", "after"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s ran after the confirm was declined", f)
		}
	}
	rec := onlyRecord(t, dir)
	flip := rec.Item("step", "flip")
	if rec.Status != record.Incomplete || flip.Status != record.Declined || flip.Decision == nil || flip.Decision.Operator != "bob" || flip.Decision.Confirmed {
		t.Fatalf("record: run %s, flip %s decision %+v", rec.Status, flip.Status, flip.Decision)
	}
	code, stdout, stderr := runCLI(t, dir, "exec", "d.hcl", "--resume", rec.ID, "--yes")
	if code != 0 {
		t.Fatalf("resume --yes: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, f := range []string{"flipped", "after"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s did not run on resume", f)
		}
	}
}

// TestFullDiskSpoolsTheRecord: the state's disk fills up between two runs.
// The run still runs and prints its results; the journal says once that it
// cannot write; the record goes to $TMPDIR/runbook-spool and the exit code
// is 5, naming where it went.
func TestFullDiskSpoolsTheRecord(t *testing.T) {
	bin := binary(t)
	mnt := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill up (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() })
	dir := writeFiles(t, map[string]string{"steps.hcl": `runbook "steps" {}

step "one" {
  shell {
    command = "touch one-ran"
  }
}
`})
	spool := t.TempDir()
	execRun := func() (int, string, string) {
		cmd := exec.Command(bin, "exec", "steps.hcl", "--state", mnt)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TMPDIR="+spool)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		_ = cmd.Run()
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	if code, _, stderr := execRun(); code != 0 {
		t.Fatalf("first run: exit %d\n%s", code, stderr)
	}
	f, err := os.Create(filepath.Join(mnt, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(bytes.Repeat([]byte("x"), 4096)); err != nil {
			break
		}
	}
	f.Close()
	_ = os.Remove(filepath.Join(dir, "one-ran"))
	code, stdout, stderr := execRun()
	if code != 5 {
		t.Errorf("exit %d, want 5 (the record is not in the state)\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "one-ran")); err != nil {
		t.Errorf("the step did not run on a full disk: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "step.one") {
		t.Errorf("the results were not printed:\n%s", stdout)
	}
	spooled, _ := filepath.Glob(filepath.Join(spool, "runbook-spool", "*.json"))
	if len(spooled) != 1 || !strings.Contains(stderr, spooled[0]) {
		t.Fatalf("spooled %v; stderr:\n%s", spooled, stderr)
	}
	if rec, err := record.Read(spooled[0]); err != nil || rec.Status != record.Passed {
		t.Errorf("spooled record: %v %+v", err, rec)
	}
	if n := strings.Count(stderr, "journal could not be written"); n != 1 {
		t.Errorf("the journal's failure was reported %d times, want once:\n%s", n, stderr)
	}
	// The run's journal is spooled beside its record.
	events, _ := filepath.Glob(filepath.Join(spool, "runbook-spool", "*.events.jsonl"))
	if len(events) != 1 || strings.TrimSuffix(events[0], ".events.jsonl") != strings.TrimSuffix(spooled[0], ".json") {
		t.Errorf("spooled events %v, want beside %s", events, spooled[0])
	} else if data, _ := os.ReadFile(events[0]); !strings.Contains(string(data), `"type":"run.finished"`) || !strings.Contains(string(data), `"item":"step.one"`) {
		t.Errorf("spooled events lack the run's end or its step:\n%s", data)
	}
}

// TestClosedStdoutEndsAPrintingCommandQuietly: `runbook show last | head`
// whose reader is gone ends like a SIGPIPE'd tool: exit 141, no message.
func TestClosedStdoutEndsAPrintingCommandQuietly(t *testing.T) {
	bin := binary(t)
	dir := writeFiles(t, map[string]string{"ok.hcl": passing})
	if code, _, stderr := runCLI(t, dir, "check", "ok.hcl"); code != 0 {
		t.Fatalf("check: %d %s", code, stderr)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	cmd := exec.Command(bin, "show", "last", "--state", filepath.Join(dir, ".runbook"), "--format", "json")
	cmd.Stdout = w
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	_ = cmd.Run()
	w.Close()
	if code := cmd.ProcessState.ExitCode(); code != 141 || stderr.Len() != 0 {
		t.Errorf("exit %d, stderr %q; want 141 and nothing", code, stderr.String())
	}
}

// syncBuffer is a bytes.Buffer a command writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestAbandonedRunFoundBehindManyChecks: many check runs after a killed
// exec do not hide it: the next exec of the same procedure takes over its
// lock, and the lock names the run it was taken from.
func TestAbandonedRunFoundBehindManyChecks(t *testing.T) {
	dir, cmd, _ := startLong(t)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	killed := onlyRecord(t, dir)
	for i := 0; i < abandonedLookback+2; i++ {
		if code, _, stderr := runCLI(t, dir, "check", "long.hcl"); code != 0 {
			t.Fatalf("check: %d %s", code, stderr)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "resume-ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, stderr := runCLI(t, dir, "exec", "long.hcl")
	if !strings.Contains(stderr, "run "+killed.ID) || !strings.Contains(stderr, "was abandoned") {
		t.Errorf("the killed run was not warned about behind %d check runs:\n%s", abandonedLookback+2, stderr)
	}
}
