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
	run := &record.Run{Status: record.Running, PID: cmd.Process.Pid, StartedAt: started}
	run.Host, _ = os.Hostname()
	if got := Settle(run).Status; got != record.Abandoned {
		t.Errorf("Settle: %s, want abandoned", got)
	}
}
