package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// fleetDB creates an empty database on the test server and returns its
// DSN.
func fleetDB(t *testing.T) string {
	t.Helper()
	return testserver.PostgresDatabase(t, "cli_fleet_")
}

const fleetCheck = `runbook "fleet" {}

check "here" {
  file {
    path = "fleet.hcl"
  }
}
`

// runBin runs the built binary in dir with env, killing it after limit
// (a generous bound: the test fails then). It returns the exit code and
// output.
func runBin(t *testing.T, dir string, env []string, limit time.Duration, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(limit, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	_ = cmd.Wait()
	if !timer.Stop() {
		t.Fatalf("runbook %s did not end by itself within %s\n%s", strings.Join(args, " "), limit, stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// TestCheckWithoutTheState: `runbook check` whose PostgreSQL state froze
// or went down runs its checks, prints them, ends by itself within its
// deadlines, exits 5 and spools the record; the next command stores it.
func TestCheckWithoutTheState(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault func(*testserver.Proxy)
	}{
		{"frozen link", (*testserver.Proxy).Freeze},
		{"database down", (*testserver.Proxy).Down},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dsn := fleetDB(t)
			u, _ := url.Parse(dsn)
			px := testserver.NewProxy(t, u.Host)
			viaProxy := px.DSN(t, dsn)
			dir := writeFiles(t, map[string]string{"fleet.hcl": fleetCheck})
			spool := t.TempDir()
			env := []string{"TMPDIR=" + spool, "RUNBOOK_STATE_TIMEOUT=2s", "RUNBOOK_STATE=" + viaProxy}
			if code, _, stderr := runBin(t, dir, env, time.Minute, "check", "fleet.hcl"); code != 0 {
				t.Fatalf("check with the state up: exit %d\n%s", code, stderr)
			}

			tc.fault(px)
			// --quiet (cron) still says the record is not stored.
			code, stdout, stderr := runBin(t, dir, env, time.Minute, "check", "fleet.hcl", "--quiet")
			if code != 5 {
				t.Errorf("exit %d, want 5 (the record is not stored yet)\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "check.here") {
				t.Errorf("the checks' results were not printed:\n%s", stdout)
			}
			spooled, _ := filepath.Glob(filepath.Join(spool, "runbook-spool", "*.json"))
			if len(spooled) != 1 || !strings.Contains(stderr, spooled[0]) {
				t.Fatalf("spooled %v; stderr:\n%s", spooled, stderr)
			}
			rec, err := record.Read(spooled[0])
			if err != nil || rec.Status != record.Passed {
				t.Fatalf("spooled record: %v %+v", err, rec)
			}

			if err := px.Heal(); err != nil {
				t.Fatal(err)
			}
			code, _, stderr = runBin(t, dir, env, time.Minute, "history", "--state", viaProxy)
			if code != 0 || !strings.Contains(stderr, rec.ID) {
				t.Errorf("the next command: exit %d, want it to store the spooled run %s\n%s", code, rec.ID, stderr)
			}
			p, err := state.OpenPostgres(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			if got, err := p.LoadRun(context.Background(), rec.ID); err != nil || got.Status != record.Passed {
				t.Errorf("the spooled run in PostgreSQL: %v, %v", got, err)
			}
			if left, _ := filepath.Glob(filepath.Join(spool, "runbook-spool", "*")); len(left) != 0 {
				t.Errorf("left in the spool: %v", left)
			}
		})
	}
}

// TestCheckSIGTERMWithFrozenState: SIGTERM ends a check blocked on a
// frozen state promptly (long before the state's deadlines), with its
// record spooled.
func TestCheckSIGTERMWithFrozenState(t *testing.T) {
	dsn := fleetDB(t)
	u, _ := url.Parse(dsn)
	px := testserver.NewProxy(t, u.Host)
	viaProxy := px.DSN(t, dsn)
	dir := writeFiles(t, map[string]string{"fleet.hcl": fleetCheck})
	spool := t.TempDir()
	env := []string{"TMPDIR=" + spool, "RUNBOOK_STATE_TIMEOUT=5m", "RUNBOOK_STATE=" + viaProxy}
	if code, _, stderr := runBin(t, dir, env, time.Minute, "check", "fleet.hcl"); code != 0 {
		t.Fatalf("check with the state up: exit %d\n%s", code, stderr)
	}
	px.Freeze()
	defer px.Heal()
	cmd := exec.Command(binary(t), "check", "fleet.hcl")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond) // blocked connecting through the frozen link
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("SIGTERM did not end the check\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Errorf("exit %d, want 143\n%s", code, stderr.String())
	}
	if spooled, _ := filepath.Glob(filepath.Join(spool, "runbook-spool", "*.json")); len(spooled) != 1 {
		t.Errorf("spooled %v, want the record\n%s", spooled, stderr.String())
	}
}

// TestStateMigrate: `runbook state migrate` run once by the owner role
// creates the schema and grants a least-privilege role what it needs;
// that role then runs checks and the emergency stop. Run again, migrate
// changes nothing; it refuses a state directory.
func TestStateMigrate(t *testing.T) {
	dsn := fleetDB(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	u, _ := url.Parse(dsn)
	db := strings.TrimPrefix(u.Path, "/")
	roles := map[string]string{}
	for _, r := range []string{"owner", "app"} {
		name := db + "_" + r
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw-%s'", name, r)); err != nil {
			t.Fatal(err)
		}
		ru := *u
		ru.User = url.UserPassword(name, "pw-"+r)
		roles[r] = ru.String()
		t.Cleanup(func() {
			c, err := pgx.Connect(context.Background(), dsn)
			if err == nil {
				_, _ = c.Exec(context.Background(), fmt.Sprintf("DROP OWNED BY %s; DROP ROLE %s", name, name))
				c.Close(context.Background())
			}
		})
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("GRANT CREATE ON DATABASE %s TO %s_owner", db, db)); err != nil {
		t.Fatal(err)
	}
	dir := writeFiles(t, map[string]string{"fleet.hcl": fleetCheck})
	env := []string{"TMPDIR=" + t.TempDir()}

	if code, _, stderr := runBin(t, dir, env, time.Minute, "check", "fleet.hcl", "--state", roles["app"]); code != 2 || !strings.Contains(stderr, "runbook state migrate") {
		t.Errorf("check as the app role before the migration: exit %d, want 2 naming runbook state migrate\n%s", code, stderr)
	}
	code, stdout, stderr := runBin(t, dir, env, time.Minute, "state", "migrate", "--state", roles["owner"], "--grant", db+"_app")
	if code != 0 || !strings.Contains(stdout, "from version 0 to "+strconv.Itoa(state.SchemaVersion)) || !strings.Contains(stdout, "granted role") {
		t.Fatalf("first migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"check", "fleet.hcl"},
		{"stop", "enable", "--reason", "drill"},
		{"stop", "disable", "--reason", "drill over"},
		{"stop", "status", "--audit"},
		{"history"},
	} {
		if code, _, stderr := runBin(t, dir, env, time.Minute, append(args, "--state", roles["app"])...); code != 0 {
			t.Errorf("%v as the app role: exit %d\n%s", args, code, stderr)
		}
	}
	code, stdout, stderr = runBin(t, dir, env, time.Minute, "state", "migrate", "--state", roles["owner"])
	if code != 0 || !strings.Contains(stdout, "is current") {
		t.Errorf("second migrate: exit %d\n%s%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, "pw-owner") {
		t.Errorf("the password was printed:\n%s%s", stdout, stderr)
	}
	if code, _, stderr := runBin(t, dir, env, time.Minute, "state", "migrate", "--state", dir); code != 2 || !strings.Contains(stderr, "PostgreSQL") {
		t.Errorf("migrate a directory: exit %d\n%s", code, stderr)
	}
}
