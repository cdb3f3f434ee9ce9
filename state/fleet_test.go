package state

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
)

const sigStop, sigCont = syscall.SIGSTOP, syscall.SIGCONT

// fastOpts are short leases and deadlines, so that tests of faults take
// seconds.
var fastOpts = PostgresOptions{Timeout: time.Second, ConnectTimeout: 500 * time.Millisecond, LeaseTTL: 1500 * time.Millisecond, LeaseRenew: 300 * time.Millisecond}

// proxied returns dsn reached through a new proxy that the test can
// freeze or take down.
func proxied(t *testing.T, dsn string) (*testserver.Proxy, string) {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	px := testserver.NewProxy(t, u.Host)
	return px, px.DSN(t, dsn)
}

func openWith(t *testing.T, dsn string, opts PostgresOptions) *Postgres {
	t.Helper()
	// The schema first, with the default timeouts: short ones are for
	// the faults a test makes, and creating the schema of a fresh
	// database can take longer than they allow on a busy machine.
	openPostgres(t, dsn).Close()
	p, err := OpenPostgresWith(context.Background(), dsn, opts)
	if err != nil {
		t.Fatalf("OpenPostgresWith: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// within waits up to limit (a generous bound) for cond.
func within(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPostgresLeaseFrozenLink: the leader's link freezes. It steps down by
// itself before its lease expires (Lost, Valid), the other instance takes
// the lead with a higher generation, and the old leader, its link back,
// does not take it back.
func TestPostgresLeaseFrozenLink(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	px, viaProxy := proxied(t, dsn)
	a, b := openWith(t, viaProxy, fastOpts), openWith(t, dsn, fastOpts)
	la, err := a.Lead(ctx, "shadow")
	if err != nil || la == nil {
		t.Fatalf("a.Lead: %v, %v", la, err)
	}
	// Renewals keep it: well past one lease, it still holds.
	time.Sleep(2 * fastOpts.LeaseTTL)
	if !la.Valid() {
		t.Fatal("a lease that is renewed expired")
	}
	if l, err := b.Lead(ctx, "shadow"); err != nil || l != nil {
		t.Fatalf("b.Lead while a leads: %v, %v", l, err)
	}

	px.Freeze()
	select {
	case <-la.Lost():
	case <-time.After(10 * fastOpts.LeaseTTL):
		t.Fatal("the leader whose link froze did not step down")
	}
	if la.Valid() {
		t.Error("a lost lease is valid")
	}
	var lb *Lease
	within(t, 10*fastOpts.LeaseTTL, "b takes over", func() bool {
		lb, err = b.Lead(ctx, "shadow")
		return err == nil && lb != nil
	})
	if lb.Generation() <= la.Generation() {
		t.Errorf("generation: got %d after %d", lb.Generation(), la.Generation())
	}
	if r := a.Reachability(); r.Reachable || r.Since.IsZero() || r.Err == "" {
		t.Errorf("a's reachability with a frozen link: %+v", r)
	}

	if err := px.Heal(); err != nil {
		t.Fatal(err)
	}
	if l, err := a.Lead(ctx, "shadow"); err != nil || l != nil {
		t.Errorf("the old leader's Lead once its link is back: got %v, %v; want nil", l, err)
	}
	if r := a.Reachability(); !r.Reachable {
		t.Errorf("a's reachability once healed: %+v", r)
	}
}

// TestPostgresLeaseProcessPaused: a leader process paused by SIGSTOP (its
// session idle, its connection open) loses the lead to another process
// within the lease; resumed, its lease is no longer valid.
func TestPostgresLeaseProcessPaused(t *testing.T) {
	dsn := newDatabase(t)
	ctx := context.Background()
	// The schema is created here, with the default timeouts: the helper's
	// 1 s ones are for the lease, and creating the schema of a fresh
	// database can take longer on a busy machine.
	openPostgres(t, dsn).Close()
	h := startHelper(t, "pglead", "DSN="+dsn, "KEY=shadow")
	line, err := h.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "leading") {
		t.Fatalf("helper: %q, %v", line, err)
	}
	b := openWith(t, dsn, fastOpts)
	if l, err := b.Lead(ctx, "shadow"); err != nil || l != nil {
		t.Fatalf("b.Lead while the helper leads: %v, %v", l, err)
	}
	if err := h.cmd.Process.Signal(sigStop); err != nil {
		t.Fatal(err)
	}
	defer h.cmd.Process.Signal(sigCont)
	var lb *Lease
	within(t, 10*fastOpts.LeaseTTL, "b takes over from the paused leader", func() bool {
		lb, err = b.Lead(ctx, "shadow")
		return err == nil && lb != nil
	})
	if err := h.cmd.Process.Signal(sigCont); err != nil {
		t.Fatal(err)
	}
	// Resumed, the helper reports its lease no longer valid.
	line, err = h.out.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "lost") {
		t.Errorf("the resumed leader says %q (%v), want lost", line, err)
	}
}

// TestPostgresFrozenLinkDeadline: every call on a frozen link returns by
// itself, within its deadline, and the store says it is unreachable.
func TestPostgresFrozenLinkDeadline(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	px, viaProxy := proxied(t, dsn)
	p := openWith(t, viaProxy, fastOpts)
	if _, err := p.SaveRun(ctx, testRun("20261130T232034.123456Z-0000000000000001", "passed")); err != nil {
		t.Fatal(err)
	}
	px.Freeze()
	defer px.Heal()
	for name, call := range map[string]func() error{
		"SaveRun": func() error {
			_, err := p.SaveRun(ctx, testRun("20261130T232034.123456Z-0000000000000002", "passed"))
			return err
		},
		"Stop":  func() error { _, err := p.Stop(ctx); return err },
		"Lead":  func() error { _, err := p.Lead(ctx, "shadow"); return err },
		"Audit": func() error { _, err := p.Audit(ctx); return err },
		"ChangeStop": func() error {
			_, err := p.ChangeStop(ctx, StopRequest{On: true, Entry: AuditEntry{User: "u", Host: "h", Reason: "r"}})
			return err
		},
	} {
		done := make(chan error, 1)
		go func() { done <- call() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s on a frozen link: no error", name)
			}
		case <-time.After(20 * fastOpts.Timeout):
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("%s on a frozen link did not return\n%s", name, buf[:n])
		}
	}
	if r := p.Reachability(); r.Reachable {
		t.Errorf("reachability on a frozen link: %+v", r)
	}
}

// TestPostgresRetriesTooManyConnections: a call refused with 53300 (no
// connection slot for the role) is retried until a slot frees up.
func TestPostgresRetriesTooManyConnections(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	openPostgres(t, dsn).Close() // the schema
	limited := withRole(t, dsn, "rb_limited", "CONNECTION LIMIT 1")
	grantApp(t, dsn, "rb_limited")
	hog, err := pgx.Connect(ctx, limited)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pgx.Connect(ctx, limited); err == nil || !strings.Contains(err.Error(), "53300") {
		t.Fatalf("a second connection of the role: %v, want 53300", err)
	}
	go func() {
		time.Sleep(500 * time.Millisecond)
		hog.Close(ctx)
	}()
	p, err := OpenPostgresWith(ctx, limited, PostgresOptions{Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("open while the role's only slot is taken: %v", err)
	}
	defer p.Close()
	if _, err := p.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// withRole creates a login role with a password (and more attributes)
// and returns dsn as that role.
func withRole(t *testing.T, dsn, role, attrs string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DROP ROLE IF EXISTS %s`, role)); err != nil {
		// Left by an earlier test in another database: use a new name.
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD 'pw-%s' %s`, role, role, attrs)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err == nil {
			_, _ = c.Exec(context.Background(), fmt.Sprintf(`DROP OWNED BY %s; DROP ROLE IF EXISTS %s`, role, role))
			c.Close(context.Background())
		}
	})
	u, _ := url.Parse(dsn)
	u.User = url.UserPassword(role, "pw-"+role)
	return u.String()
}

func grantApp(t *testing.T, dsn, role string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(AppGrants, role)); err != nil {
		t.Fatalf("grant: %v", err)
	}
}

// TestPostgresLeastPrivilege: an owner role migrates the schema once;
// then a role with only the documented table privileges does everything
// ordinary commands do, and cannot change or disable the audit trail.
// Before the migration, that role is told to run `runbook state migrate`.
func TestPostgresLeastPrivilege(t *testing.T) {
	ctx := context.Background()
	admin := newDatabase(t)
	u, _ := url.Parse(admin)
	db := strings.TrimPrefix(u.Path, "/")
	owner := withRole(t, admin, "rb_owner", "")
	app := withRole(t, admin, "rb_app", "")
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, fmt.Sprintf(`GRANT CREATE ON DATABASE %s TO rb_owner`, db)); err != nil {
		t.Fatal(err)
	}

	var se *SchemaError
	if _, err := OpenPostgres(ctx, app); !errors.As(err, &se) || !strings.Contains(err.Error(), "runbook state migrate") {
		t.Fatalf("open as the app role before any migration: %v, want a SchemaError naming runbook state migrate", err)
	}

	p, err := OpenPostgresWith(ctx, owner, PostgresOptions{ForMigration: true})
	if err != nil {
		t.Fatal(err)
	}
	if from, to, err := p.Migrate(ctx); err != nil || from != 0 || to != SchemaVersion {
		t.Fatalf("Migrate: %d → %d, %v", from, to, err)
	}
	if from, to, err := p.Migrate(ctx); err != nil || from != to {
		t.Errorf("Migrate again: %d → %d, %v; want nothing to do", from, to, err)
	}
	if err := p.Grant(ctx, "rb_app"); err != nil {
		t.Fatal(err)
	}
	p.Close()

	s := openWith(t, app, PostgresOptions{})
	run := testRun("20261130T232034.123456Z-00000000000000aa", "passed")
	if _, err := s.SaveRun(ctx, run); err != nil {
		t.Errorf("SaveRun: %v", err)
	}
	if _, err := s.SaveRun(ctx, run); err != nil {
		t.Errorf("SaveRun again (an update): %v", err)
	}
	if _, err := s.LoadRun(ctx, "last"); err != nil {
		t.Errorf("LoadRun: %v", err)
	}
	if err := s.Runs(ctx, Filter{}, func(RunEntry) bool { return true }); err != nil {
		t.Errorf("Runs: %v", err)
	}
	for _, on := range []bool{true, false} {
		if _, err := s.ChangeStop(ctx, StopRequest{On: on, Entry: AuditEntry{User: "u", Host: "h", Reason: "drill"}}); err != nil {
			t.Errorf("ChangeStop(%v): %v", on, err)
		}
	}
	if entries, err := s.Audit(ctx); err != nil || len(entries) != 2 {
		t.Errorf("Audit: %d entries, %v", len(entries), err)
	}
	if err := s.SaveWatch(ctx, "shadow", []byte("{}")); err != nil {
		t.Errorf("SaveWatch: %v", err)
	}
	if _, err := s.LoadWatch(ctx, "shadow"); err != nil {
		t.Errorf("LoadWatch: %v", err)
	}
	if l, err := s.Lead(ctx, "shadow"); err != nil || l == nil {
		t.Errorf("Lead: %v, %v", l, err)
	} else {
		l.Release()
	}
	sil, err := s.AddSilence(ctx, Silence{Reason: "drill", By: "u", Host: "h", Start: time.Now(), End: time.Now().Add(time.Hour)})
	if err != nil {
		t.Errorf("AddSilence: %v", err)
	} else if _, err := s.RemoveSilence(ctx, sil.ID, AuditEntry{User: "u", Host: "h", Reason: "done"}); err != nil {
		t.Errorf("RemoveSilence: %v", err)
	}
	if _, err := s.Silences(ctx); err != nil {
		t.Errorf("Silences: %v", err)
	}
	if l, err := s.Acquire(ctx, "deploy/", Holder{Operator: "u", Host: "h", PID: os.Getpid(), Since: time.Now()}); err != nil {
		t.Errorf("Acquire: %v", err)
	} else {
		l.Release()
	}

	if _, err := s.AppendEvents(ctx, run.ID, []record.Event{{Type: record.EventRunStarted}, {Type: record.EventRunFinished}}); err != nil {
		t.Errorf("AppendEvents: %v", err)
	}
	if evs, err := s.Events(ctx, run.ID); err != nil || len(evs) != 2 {
		t.Errorf("Events: %d, %v", len(evs), err)
	}

	ac, err := pgx.Connect(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	defer ac.Close(ctx)
	for _, sql := range []string{
		`UPDATE runbook.run_events SET event = '{}'`,
		`DELETE FROM runbook.run_events`,
		`TRUNCATE runbook.run_events`,
		`ALTER TABLE runbook.run_events DISABLE TRIGGER ALL`,
		`UPDATE runbook.audit SET reason = 'forged'`,
		`DELETE FROM runbook.audit`,
		`TRUNCATE runbook.audit`,
		`ALTER TABLE runbook.audit DISABLE TRIGGER ALL`,
		`DROP TRIGGER audit_append_only ON runbook.audit`,
		`CREATE TABLE runbook.x (a int)`,
	} {
		if _, err := ac.Exec(ctx, sql); err == nil {
			t.Errorf("the app role could: %s", sql)
		}
	}
	if entries, err := s.Audit(ctx); err != nil || len(entries) != 4 || entries[0].Reason != "drill" {
		t.Errorf("the audit trail after the attempts: %+v, %v", entries, err)
	}

	// A schema behind this build is refused, naming the migration.
	if _, err := conn.Exec(ctx, `DELETE FROM runbook.schema_version WHERE version = $1`, SchemaVersion); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(ctx, app); !errors.As(err, &se) || se.Have != SchemaVersion-1 || !strings.Contains(err.Error(), "runbook state migrate") {
		t.Errorf("open a schema behind this build: %v", err)
	}
}

// TestSpoolFlush: a record the database could not take is spooled, and
// stored by the first save that gets through; a spooled copy older than
// what its run stored meanwhile does not replace it.
func TestSpoolFlush(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	openPostgres(t, dsn).Close()
	px, viaProxy := proxied(t, dsn)
	p := openWith(t, viaProxy, fastOpts)
	sp := Spool{Dir: t.TempDir()}
	px.Down()
	first := testRun("20261130T232034.123456Z-0000000000000011", "failed")
	_, err := SaveOrSpool(ctx, p, sp, first)
	var spooled *SpooledError
	if !errors.As(err, &spooled) || filepath.Dir(spooled.Path) != sp.Dir {
		t.Fatalf("SaveOrSpool with the database down: %v", err)
	}
	if got := sp.Pending(p); len(got) != 1 || got[0] != first.ID {
		t.Fatalf("pending: %v", got)
	}
	other := openWith(t, dsn, PostgresOptions{})
	if got := sp.Pending(NewDir(t.TempDir())); len(got) != 0 {
		t.Errorf("pending for another store: %v", got)
	}
	// A running run's journal, spooled; its final record is stored later
	// by the run itself.
	running := testRun("20261130T232034.123456Z-0000000000000012", record.Running)
	running.FinishedAt = time.Time{}
	if _, err := sp.Put(p, running); err != nil {
		t.Fatal(err)
	}
	if err := px.Heal(); err != nil {
		t.Fatal(err)
	}
	final := testRun(running.ID, "passed")
	final.FinishedAt = final.StartedAt.Add(time.Second)
	if _, err := other.SaveRun(ctx, final); err != nil {
		t.Fatal(err)
	}
	second := testRun("20261130T232034.123456Z-0000000000000013", "passed")
	if _, err := SaveOrSpool(ctx, p, sp, second); err != nil {
		t.Fatalf("SaveOrSpool once healed: %v", err)
	}
	if got := sp.Pending(p); len(got) != 0 {
		t.Errorf("still pending after a save got through: %v", got)
	}
	if r, err := other.LoadRun(ctx, first.ID); err != nil || r.Status != "failed" {
		t.Errorf("the spooled record in the database: %+v, %v", r, err)
	}
	if r, err := other.LoadRun(ctx, running.ID); err != nil || r.Status != "passed" {
		t.Errorf("the run's own final record was replaced by its spooled journal: %+v, %v", r, err)
	}
}

// TestSpoolNotShared: a spool directory that others may write to is
// neither written nor flushed: its records could be anyone's.
func TestSpoolNotShared(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	store := NewDir(t.TempDir())
	sp := Spool{Dir: dir}
	run := testRun("20261130T232034.123456Z-0000000000000021", "passed")
	if _, err := sp.Put(store, run); err != nil {
		t.Fatal(err)
	}
	if got := sp.Pending(store); len(got) != 1 {
		t.Fatalf("pending in a private spool: %v", got)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	if got := sp.Pending(store); len(got) != 0 {
		t.Errorf("pending in a world-writable spool: %v", got)
	}
	if _, err := sp.Put(store, run); err == nil {
		t.Error("Put into a world-writable spool: no error")
	}
}

// TestPostgresSessionSettings: the store's sessions carry the server-side
// timeouts that free a vanished client's session and locks.
func TestPostgresSessionSettings(t *testing.T) {
	ctx := context.Background()
	p := openWith(t, newDatabase(t), PostgresOptions{Timeout: 7 * time.Second})
	var idle, inTx string
	err := p.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT current_setting('tcp_keepalives_idle'), current_setting('idle_in_transaction_session_timeout')`).Scan(&idle, &inTx)
	})
	if err != nil || idle != "15" || inTx != "7s" {
		t.Errorf("session settings: tcp_keepalives_idle %q, idle_in_transaction_session_timeout %q, %v", idle, inTx, err)
	}
}
