//go:build !linux

package shell

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runbookhq/runbook/checks"
)

// devNull is /dev/null opened once for reading, the standard input of
// every command that is given none.
var devNull = sync.OnceValues(func() (*os.File, error) { return os.Open(os.DevNull) })

// spawn runs the command through os/exec (see spawn_linux.go for Linux).
func (p *Provider) spawn(ctx context.Context, path string, c *command, env []string, stdout, stderr *checks.CappedBuffer) outcome {
	cmd := &exec.Cmd{Path: path, Args: c.argv, Dir: c.dir, Env: env}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if c.stdin != nil {
		cmd.Stdin = strings.NewReader(*c.stdin)
	} else if null, err := devNull(); err == nil {
		cmd.Stdin = null
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = p.waitDelay
	if err := cmd.Start(); err != nil {
		return outcome{code: -1, err: err}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	out := outcome{started: true, code: -1}
	var waitErr error
	select {
	case waitErr = <-done:
	case <-ctx.Done():
		out.stopped = true
		waitErr = p.killGroup(cmd.Process.Pid, done)
	}
	if cmd.ProcessState != nil {
		out.code = exitCode(cmd.ProcessState.Sys().(syscall.WaitStatus))
	}
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) && !errors.Is(waitErr, exec.ErrWaitDelay) {
		out.err = waitErr
	}
	return out
}

// killGroup stops the process group led by pid: SIGTERM, then SIGKILL
// after the grace period, and returns what Wait returned.
func (p *Provider) killGroup(pid int, done <-chan error) error {
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	grace := time.NewTimer(p.grace)
	defer grace.Stop()
	var err error
	select {
	case err = <-done:
	case <-grace.C:
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		err = <-done
	}
	// Members that ignored SIGTERM and closed their output may remain
	// after the leader has gone.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	return err
}
