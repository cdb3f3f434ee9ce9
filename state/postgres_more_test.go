package state

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPostgresProcLockLease: the lock is a lease, renewed while held; one
// that expired, or whose holder is a dead process on this host, is taken
// over with a warning, and the old holder's release leaves the new one's
// lock alone.
func TestPostgresProcLockLease(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	a, b := openPostgres(t, dsn), openPostgres(t, dsn)
	a.lockTTL, a.lockRenew = 2*time.Second, 200*time.Millisecond
	host, _ := os.Hostname()
	me := func(op string) Holder { return Holder{Operator: op, Host: host, PID: os.Getpid(), Since: time.Now()} }
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)

	la, err := a.Acquire(ctx, "deploy/", me("alice"))
	if err != nil {
		t.Fatal(err)
	}
	// Held past its TTL: the renewals keep it.
	time.Sleep(3 * time.Second)
	var held *HeldError
	if _, err := b.Acquire(ctx, "deploy/", me("bob")); !errors.As(err, &held) || held.Holder.Operator != "alice" {
		t.Fatalf("Acquire of a lease renewed past its TTL: got %v, want held by alice", err)
	}

	// A lease that expired (a host that vanished) is taken over.
	if _, err := conn.Exec(ctx, `UPDATE runbook.locks SET expires_at = now() - interval '1 second', host = 'gone-host'`); err != nil {
		t.Fatal(err)
	}
	lb, err := b.Acquire(ctx, "deploy/", me("bob"))
	if err != nil {
		t.Fatalf("Acquire of an expired lease: %v", err)
	}
	if lb.Stale == nil || lb.Stale.Operator != "alice" || lb.Stale.Host != "gone-host" || !strings.Contains(lb.StaleWhy, "expired") {
		t.Errorf("takeover of an expired lease: got %+v (%s)", lb.Stale, lb.StaleWhy)
	}
	la.Release() // the old holder lets go late: bob keeps the lock
	if _, err := a.Acquire(ctx, "deploy/", me("carol")); !errors.As(err, &held) || held.Holder.Operator != "bob" {
		t.Errorf("Acquire after the old holder's late release: got %v, want held by bob", err)
	}

	// A live lease whose holder is a dead process on this host.
	if _, err := conn.Exec(ctx, `UPDATE runbook.locks SET pid = $1`, deadPID(t)); err != nil {
		t.Fatal(err)
	}
	lc, err := a.Acquire(ctx, "deploy/", me("carol"))
	if err != nil {
		t.Fatalf("Acquire of a dead process's lease: %v", err)
	}
	if lc.Stale == nil || lc.Stale.Operator != "bob" || !strings.Contains(lc.StaleWhy, "is gone") {
		t.Errorf("takeover of a dead process's lease: got %+v (%s)", lc.Stale, lc.StaleWhy)
	}
	lb.Release()
	lc.Release()
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM runbook.locks WHERE token <> ''`).Scan(&n); err != nil || n != 0 {
		t.Errorf("locks held in runbook.locks after every release: %d (%v)", n, err)
	}
}

// TestPostgresStopRowMissing: without the stop's row nothing can tell
// whether the stop is on; a forced change puts it back, audited.
func TestPostgresStopRowMissing(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	p := openPostgres(t, dsn)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DELETE FROM runbook.stop`); err != nil {
		t.Fatal(err)
	}
	var damaged *DamagedStopError
	if _, err := p.Stop(ctx); !errors.As(err, &damaged) {
		t.Errorf("Stop without its row: got %v, want a *DamagedStopError", err)
	}
	req := StopRequest{On: true, Entry: AuditEntry{User: "alice", Host: "ops-1", Reason: "r"}}
	if _, err := p.ChangeStop(ctx, req); !errors.As(err, &damaged) {
		t.Errorf("ChangeStop without its row: got %v, want a *DamagedStopError", err)
	}
	req.Force = true
	c, err := p.ChangeStop(ctx, req)
	if err != nil || !c.After.On || c.Entry.Repair == "" {
		t.Fatalf("forced ChangeStop: got %+v, %v", c, err)
	}
	trail, err := p.Audit(ctx)
	if err != nil || len(trail) != 1 || trail[0].Repair != c.Entry.Repair {
		t.Errorf("Audit: got %+v, %v; want the forced entry with its repair", trail, err)
	}
	if st, err := p.Stop(ctx); err != nil || !st.On {
		t.Errorf("Stop after the repair: got %+v, %v", st, err)
	}
}

// TestPostgresCorruptRun: a record that does not decode is listed, not
// hidden, and passed over by Last.
func TestPostgresCorruptRun(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	p := openPostgres(t, dsn)
	good := runAt(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), "deploy", "exec", "", "failed")
	if _, err := p.SaveRun(ctx, good); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO runbook.runs (id, runbook, status, started_at, record)
VALUES ('20261130T110000.000000Z-bad', 'deploy', 'failed', '2026-11-30T11:00:00Z', '{"id": 5, "mode": "exec"}')`); err != nil {
		t.Fatal(err)
	}
	var got []RunEntry
	if err := p.Runs(ctx, Filter{}, func(e RunEntry) bool { got = append(got, e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Err == nil || got[0].ID != "20261130T110000.000000Z-bad" || got[1].Run == nil {
		t.Errorf("Runs: got %+v, want the corrupt record first, then the good one", got)
	}
	if last, err := Last(ctx, p, Filter{Mode: "exec", Resumable: true}); err != nil || last.ID != good.ID {
		t.Errorf("Last: got %v, %v; want %s", last, err, good.ID)
	}
}
