package state_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/watch"
)

// The runbook of the fleet tests: alpha is CRITICAL while dir/alpha is
// missing; every transition goes to the hook.
const fleetRunbook = `runbook "fleet" {}

variable "dir" {
  type = string
}

variable "hook" {
  type = string
}

check "alpha" {
  file {
    path = "${var.dir}/alpha"
  }
  assert {
    condition     = self.exists
    error_message = "alpha is missing"
  }
}

alert "hook" {
  webhook {
    url = var.hook
  }
}
`

// fleetAlert is one alert the hook received.
type fleetAlert struct {
	At               time.Time
	Checks           []string // "alpha CRITICAL"
	LeaseGeneration  int64
	StateUnreachable bool
}

// fleet is a runbook, a webhook receiver and a database, shared by the
// watchers of a test.
type fleet struct {
	t    *testing.T
	dir  string
	dsn  string
	hook *httptest.Server

	mu     sync.Mutex
	alerts []fleetAlert
}

func newFleet(t *testing.T) *fleet {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir()) // the spool
	f := &fleet{t: t, dir: t.TempDir(), dsn: fleetDatabase(t)}
	if err := os.WriteFile(filepath.Join(f.dir, "fleet.hcl"), []byte(fleetRunbook), 0o644); err != nil {
		t.Fatal(err)
	}
	f.set(true)
	f.hook = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var n struct {
			Transitions []struct {
				Check, Event string
			}
			LeaseGeneration  int64 `json:"lease_generation"`
			StateUnreachable bool  `json:"state_unreachable"`
		}
		if err := json.Unmarshal(body, &n); err != nil {
			t.Errorf("alert body: %v", err)
		}
		a := fleetAlert{At: time.Now(), LeaseGeneration: n.LeaseGeneration, StateUnreachable: n.StateUnreachable}
		for _, tr := range n.Transitions {
			a.Checks = append(a.Checks, tr.Check+" "+tr.Event)
		}
		f.mu.Lock()
		f.alerts = append(f.alerts, a)
		f.mu.Unlock()
	}))
	t.Cleanup(f.hook.Close)
	return f
}

// fleetDatabase creates an empty database with its schema and returns
// its DSN.
func fleetDatabase(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(testserver.PostgresDatabase(t, "fleet_"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", strings.TrimPrefix(u.Path, "/"))
	u.RawQuery = q.Encode()
	p, err := state.OpenPostgres(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	return u.String()
}

// set makes alpha healthy (dir/alpha exists) or CRITICAL.
func (f *fleet) set(healthy bool) {
	p := filepath.Join(f.dir, "alpha")
	if healthy {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
	} else if err := os.Remove(p); err != nil {
		f.t.Fatal(err)
	}
}

// proxy returns the fleet's database reached through a new proxy.
func (f *fleet) proxy() (*testserver.Proxy, string) {
	u, _ := url.Parse(f.dsn)
	px := testserver.NewProxy(f.t, u.Host)
	return px, px.DSN(f.t, f.dsn)
}

// fastStore are short deadlines and leases, and the pool of a watch.
var fastStore = state.PostgresOptions{
	Timeout: time.Second, ConnectTimeout: 500 * time.Millisecond,
	LeaseTTL: 1500 * time.Millisecond, LeaseRenew: 300 * time.Millisecond,
	Lazy: true, MinConns: 2,
}

// watcher starts a watcher on dsn, cycling every every until the test
// ends.
func (f *fleet) watcher(dsn string, every, failOpenAfter time.Duration) *watch.Watcher {
	f.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	store, err := state.OpenPostgresWith(ctx, dsn, fastStore)
	if err != nil {
		f.t.Fatal(err)
	}
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.Load(filepath.Join(f.dir, "fleet.hcl"), reg)
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{Vars: []string{"dir=" + f.dir, "hook=" + f.hook.URL}})
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	alerts, diags := alert.Load(b)
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	w, err := watch.New(ctx, watch.Options{
		Bound: b, Store: store, Every: every, Alerts: alerts, FailOpenAfter: failOpenAfter,
		Sender: &alert.Sender{Redactor: b.Redactor},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Host: "test", Operator: "tester",
	})
	if err != nil {
		f.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = w.Run(ctx)
	}()
	f.t.Cleanup(func() {
		cancel()
		<-done
		w.Close()
		store.Close()
	})
	return w
}

// waitAlert waits (within a generous bound) for an alert on check alpha
// turning CRITICAL that matches ok.
func (f *fleet) waitAlert(limit time.Duration, ok func(fleetAlert) bool) fleetAlert {
	f.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		for _, a := range f.alerts {
			for _, c := range a.Checks {
				if c == "alpha CRITICAL" && ok(a) {
					f.mu.Unlock()
					return a
				}
			}
		}
		f.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.t.Fatalf("no matching alpha CRITICAL alert within %s; got %+v", limit, f.alerts)
	return fleetAlert{}
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWatchFrozenLeaderHandsOver: the leading watcher's link to the
// database freezes. It steps down by itself, its /healthz says so, and the
// other watcher leads and alerts a new failure within the lease plus a
// cycle, with a higher fencing token.
func TestWatchFrozenLeaderHandsOver(t *testing.T) {
	f := newFleet(t)
	px, viaProxy := f.proxy()
	const every = 200 * time.Millisecond
	a := f.watcher(viaProxy, every, time.Hour)
	waitFor(t, 10*time.Second, "a leads", func() bool { return a.Status().Leader })
	genA := a.Status().State.Lease.Generation
	b := f.watcher(f.dsn, every, time.Hour)
	waitFor(t, 10*time.Second, "b cycles", func() bool { return b.Status().Cycles > 0 })
	if b.Status().Leader {
		t.Fatal("b leads while a does")
	}

	px.Freeze()
	defer px.Heal()
	f.set(false)
	frozeAt := time.Now()
	got := f.waitAlert(20*time.Second, func(a fleetAlert) bool { return a.LeaseGeneration > genA })
	// A generous bound: the lease (1.5 s) plus a cycle, plus slack for a
	// loaded machine.
	if took := got.At.Sub(frozeAt); took > fastStore.LeaseTTL+every+8*time.Second {
		t.Errorf("the new leader alerted %s after the freeze", took)
	}
	if got.StateUnreachable {
		t.Error("the new leader's alert is marked state unreachable")
	}
	waitFor(t, 10*time.Second, "a's /healthz tells the truth", func() bool {
		s := a.Status()
		return !s.Leader && !s.State.Reachable && s.State.Lease == nil
	})
	// b's status is published at the end of its cycle, which may come
	// after the alert it sent.
	waitFor(t, 10*time.Second, "b's /healthz to show its lease", func() bool {
		s := b.Status()
		return s.Leader && s.State.Reachable && s.State.Lease != nil && s.State.Lease.Generation > genA
	})
}

// TestWatchFailOpen: with the database down for every watcher, a new
// failure is still alerted, marked as state unreachable; /healthz says
// so; once the database is back, the records the watchers spooled are
// stored.
func TestWatchFailOpen(t *testing.T) {
	f := newFleet(t)
	pa, dsnA := f.proxy()
	pb, dsnB := f.proxy()
	const every = 200 * time.Millisecond
	a := f.watcher(dsnA, every, time.Second)
	b := f.watcher(dsnB, every, time.Second)
	waitFor(t, 10*time.Second, "one leads", func() bool { return a.Status().Leader || b.Status().Leader })

	pa.Down()
	pb.Down()
	f.set(false)
	f.waitAlert(20*time.Second, func(a fleetAlert) bool { return a.StateUnreachable })
	waitFor(t, 10*time.Second, "/healthz says the state is unreachable", func() bool {
		s := a.Status()
		return !s.State.Reachable && s.State.FailOpen && !s.Leader && s.State.UnreachableSince != nil
	})

	if err := pa.Heal(); err != nil {
		t.Fatal(err)
	}
	if err := pb.Heal(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "fail-open ends", func() bool {
		return !a.Status().State.FailOpen && !b.Status().State.FailOpen
	})
	// The failing cycles' records, spooled while the database was down,
	// are in it now.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	waitFor(t, 20*time.Second, "spooled records stored", func() bool {
		spooled, _ := filepath.Glob(filepath.Join(state.DefaultSpoolDir(), "*.json"))
		var failed int
		_ = conn.QueryRow(ctx, `SELECT count(*) FROM runbook.runs WHERE status = 'failed'`).Scan(&failed)
		return len(spooled) == 0 && failed >= 2
	})
}

// TestWatchSteadyStateConnections: two watchers at a short cycle open no
// new database connection once they run.
func TestWatchSteadyStateConnections(t *testing.T) {
	f := newFleet(t)
	const every = 300 * time.Millisecond
	a := f.watcher(f.dsn, every, time.Hour)
	b := f.watcher(f.dsn, every, time.Hour)
	waitFor(t, 10*time.Second, "both cycle", func() bool { return a.Status().Cycles >= 3 && b.Status().Cycles >= 3 })

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testserver.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	u, _ := url.Parse(f.dsn)
	app := u.Query().Get("application_name")
	backends := func() map[int]bool {
		rows, _ := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, app)
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			t.Fatal(err)
		}
		out := map[int]bool{}
		for _, p := range pids {
			out[p] = true
		}
		return out
	}
	before := backends()
	cycles := a.Status().Cycles + b.Status().Cycles
	waitFor(t, 30*time.Second, "ten more cycles", func() bool { return a.Status().Cycles+b.Status().Cycles >= cycles+10 })
	after := backends()
	for pid := range after {
		if !before[pid] {
			t.Errorf("new connection (backend pid %d) in steady state; before %v, after %v", pid, before, after)
		}
	}
	if len(before) == 0 || len(before) > 8 {
		t.Errorf("connections of two watchers: %d", len(before))
	}
}
