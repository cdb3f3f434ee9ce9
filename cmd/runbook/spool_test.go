package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// blackHole accepts connections and never answers: a PostgreSQL whose
// link froze. It returns the state's URL.
func blackHole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "postgres://u:pw@" + ln.Addr().String() + "/db?sslmode=disable"
}

const okRunbook = "runbook \"ok\" {}\ncheck \"c\" {\n  shell { command = [\"true\"] }\n}\n"

// TestSigtermIsPromptWithRecordsSpooled: the records spooled earlier for
// a state that does not answer are not flushed once SIGTERM cancelled the
// command, so it ends within its documented deadlines (the journal's 2 s
// and the final save's 3 s), whatever the state's own deadline.
func TestSigtermIsPromptWithRecordsSpooled(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.hcl": okRunbook})
	tmp := t.TempDir()
	dsn := blackHole(t)
	env := append(os.Environ(), "TMPDIR="+tmp, "RUNBOOK_STATE_TIMEOUT=10s")
	// One record spooled for this state: a check while it was frozen.
	first := exec.Command(binary(t), "check", "ok.hcl", "--state", dsn)
	first.Dir, first.Env = dir, env
	_ = first.Run()
	if spooled, _ := filepath.Glob(filepath.Join(tmp, "runbook-spool", "*.json")); len(spooled) != 1 {
		t.Fatalf("spooled: %v", spooled)
	}

	var out bytes.Buffer
	cmd := exec.Command(binary(t), "check", "ok.hcl", "--state", dsn)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	sent := time.Now()
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(8 * time.Second):
		t.Errorf("still running 8 s after SIGTERM (2 s journal + 3 s final save are documented):\n%s", out.String())
		<-done
	}
	t.Logf("exited %v after SIGTERM:\n%s", time.Since(sent).Round(100*time.Millisecond), out.String())
	if spooled, _ := filepath.Glob(filepath.Join(tmp, "runbook-spool", "*.json")); len(spooled) != 2 {
		t.Errorf("spooled after the second check: %v, want both records", spooled)
	}
}

// TestCheckWithStateDownAnswersWithinNRPETimeout: `runbook check` against
// a PostgreSQL that does not answer, with the default deadlines, prints
// its results and spools its record well within the 10 s a monitoring
// agent such as NRPE gives a check: after one short attempt, the state
// counts as unreachable and each later call is a single short attempt.
func TestCheckWithStateDownAnswersWithinNRPETimeout(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ok.hcl": okRunbook})
	tmp := t.TempDir()
	dsn := blackHole(t)
	var out bytes.Buffer
	cmd := exec.Command(binary(t), "check", "ok.hcl", "--state", dsn)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &out, &out
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "RUNBOOK_STATE_TIMEOUT=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Logf("exited (%v):\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running after 10 s:\n%s", out.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 5 {
		t.Errorf("exit code %d, want 5 (checks passed, record only spooled):\n%s", code, out.String())
	}
	if spooled, _ := filepath.Glob(filepath.Join(tmp, "runbook-spool", "*.json")); len(spooled) != 1 {
		t.Errorf("spooled: %v", spooled)
	}
}
