package state

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testserver"
)

// helperEnv makes the test binary act as a helper process (see runHelper)
// instead of running tests: tests re-execute it to get real concurrent
// processes.
const helperEnv = "RUNBOOK_STATE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	testserver.Main(m)
}

// runHelper is the helper process:
//
//	toggle: wait for standard input to close, then set the stop of
//	        $DIR $N times, alternating, as user u$ID with reasons "p$ID #j"
//	lead:   try to lead $KEY in $DIR, print "leading" or "standby", and
//	        hold until standard input closes
//	pglead: lead $KEY in the PostgreSQL state $DSN with fastOpts, print
//	        "leading", then "lost" when the lease is lost; hold until
//	        standard input closes
//	acquire: take the procedure lock $KEY in $DIR as operator $OPERATOR,
//	        print "held" or the error, and hold until standard input closes
func runHelper(mode string) error {
	ctx := context.Background()
	d := NewDir(os.Getenv("DIR"))
	defer d.Close()
	switch mode {
	case "toggle":
		id, _ := strconv.Atoi(os.Getenv("ID"))
		n, _ := strconv.Atoi(os.Getenv("N"))
		if _, err := io.Copy(io.Discard, os.Stdin); err != nil {
			return err
		}
		for j := 0; j < n; j++ {
			e := AuditEntry{User: fmt.Sprintf("u%d", id), Host: fmt.Sprintf("h%d", id), Reason: fmt.Sprintf("p%d #%d", id, j)}
			if _, err := d.SetStop(ctx, (id+j)%2 == 0, e); err != nil {
				return err
			}
		}
		return nil
	case "lead":
		l, err := d.Lead(ctx, os.Getenv("KEY"))
		if err != nil {
			return err
		}
		if l != nil {
			defer l.Release()
			fmt.Println("leading")
		} else {
			fmt.Println("standby")
		}
		_, err = io.Copy(io.Discard, os.Stdin)
		return err
	case "pglead":
		p, err := OpenPostgresWith(ctx, os.Getenv("DSN"), fastOpts)
		if err != nil {
			return err
		}
		defer p.Close()
		l, err := p.Lead(ctx, os.Getenv("KEY"))
		if err != nil || l == nil {
			return fmt.Errorf("lead: %v, %v", l, err)
		}
		fmt.Println("leading")
		<-l.Lost()
		fmt.Println("lost")
		_, err = io.Copy(io.Discard, os.Stdin)
		return err
	case "acquire":
		host, _ := os.Hostname()
		l, err := d.Acquire(ctx, os.Getenv("KEY"), Holder{Operator: os.Getenv("OPERATOR"), Host: host, PID: os.Getpid(), Since: time.Now()})
		if err != nil {
			fmt.Println("error:", err)
			return nil
		}
		defer l.Release()
		fmt.Println("held")
		_, err = io.Copy(io.Discard, os.Stdin)
		return err
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// helper is a running helper process.
type helper struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

// startHelper starts the test binary as a helper process with env.
func startHelper(t *testing.T, mode string, env ...string) *helper {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	h := &helper{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	t.Cleanup(func() {
		h.stdin.Close()
		if h.cmd.ProcessState == nil {
			_ = h.cmd.Process.Kill()
			_ = h.cmd.Wait()
		}
	})
	return h
}
