package state

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// TestProcessAlive: this process is alive; a process that ended (reaped,
// or killed and not yet reaped: a zombie) is not; a live process that
// started after the run did is another one reusing the pid.
func TestProcessAlive(t *testing.T) {
	if !ProcessAlive(os.Getpid(), time.Now()) {
		t.Errorf("this process reads as dead")
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	if ProcessAlive(cmd.Process.Pid, started.Add(-time.Hour)) {
		t.Errorf("a process started after the run reads as the run's")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for ProcessAlive(cmd.Process.Pid, started) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d (killed, not reaped: a zombie) still reads as alive", cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Wait()
	if ProcessAlive(cmd.Process.Pid, started) {
		t.Errorf("a reaped process reads as alive")
	}
	run := &record.Run{Status: record.Running, PID: cmd.Process.Pid, StartedAt: started, Items: []record.Item{
		{Kind: "step", Name: "done", Status: record.Passed, StartedAt: &started},
		{Kind: "step", Name: "asked", Status: record.Pending, Manual: true, StartedAt: &started},
		{Kind: "step", Name: "dying", Status: record.Running, StartedAt: &started},
		{Kind: "step", Name: "later", Status: record.Pending},
		{Kind: "cleanup", Name: "undo", Status: record.Pending},
	}}
	run.Host, _ = os.Hostname()
	if got := Settle(run).Status; got != record.Abandoned {
		t.Errorf("Settle: %s, want abandoned", got)
	}
	// What it never reached is skipped, not a pending answer; a manual
	// step left unanswered stays pending.
	want := []string{record.Passed, record.Pending, record.Running, record.Skipped, record.Skipped}
	for i, it := range run.Items {
		if it.Status != want[i] {
			t.Errorf("%s: %s, want %s", it.Name, it.Status, want[i])
		}
	}
	if run.Summary.Skipped != 2 || run.Summary.Pending != 2 {
		t.Errorf("summary %+v, want 2 skipped and 2 pending (the answer and the running step)", run.Summary)
	}
}

// TestSettleARunOfAnotherHost: its process cannot be looked for here; it
// is abandoned once its journal has not been heard of for StaleAfter.
func TestSettleARunOfAnotherHost(t *testing.T) {
	for _, tc := range []struct {
		name    string
		updated time.Time
		want    string
	}{
		{"heard of just now", time.Now().Add(-Heartbeat), record.Running},
		{"unheard of for longer than StaleAfter", time.Now().Add(-StaleAfter - time.Minute), record.Abandoned},
		{"two days ago", time.Now().Add(-48 * time.Hour), record.Abandoned},
		{"never said when", time.Time{}, record.Running},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := &record.Run{Status: record.Running, Host: "another-host", PID: 999999, StartedAt: time.Now().Add(-72 * time.Hour), UpdatedAt: tc.updated,
				Items: []record.Item{{Kind: "step", Name: "later", Status: record.Pending}}}
			if got := Settle(run).Status; got != tc.want {
				t.Errorf("Settle: %s, want %s", got, tc.want)
			}
		})
	}
}
