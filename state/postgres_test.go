package state

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
)

// newDatabase creates an empty database on the test server and returns
// its DSN.
func newDatabase(t *testing.T) string {
	t.Helper()
	return testserver.PostgresDatabase(t, "state_")
}

func openPostgres(t *testing.T, dsn string) *Postgres {
	t.Helper()
	p, err := OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func freshPostgres(t *testing.T) opener {
	dsn := newDatabase(t)
	return func(t *testing.T) Store { return openPostgres(t, dsn) }
}

func TestPostgresStore(t *testing.T) { testStore(t, freshPostgres) }

// TestPostgresMigrations: opening twice, or from many hosts at once, leaves
// one schema at the current version.
func TestPostgresMigrations(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	const hosts = 8
	var wg sync.WaitGroup
	errs := make([]error, hosts)
	for i := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := OpenPostgres(ctx, dsn)
			if err == nil {
				p.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("concurrent open %d: %v", i, err)
		}
	}
	p := openPostgres(t, dsn) // and once more, later
	if _, err := p.SetStop(ctx, true, AuditEntry{User: "alice", Host: "ops-1", Reason: "kept"}); err != nil {
		t.Fatal(err)
	}
	p2 := openPostgres(t, dsn)
	if st, err := p2.Stop(ctx); err != nil || !st.On || st.Reason != "kept" {
		t.Errorf("Stop after opening again: got %+v, %v; want the stop kept", st, err)
	}

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, _ := conn.Query(ctx, `SELECT version FROM runbook.schema_version ORDER BY version`)
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	var want []int
	for v := 1; v <= SchemaVersion; v++ {
		want = append(want, v)
	}
	if diff := cmp.Diff(want, versions); diff != "" {
		t.Errorf("schema_version (-want +got):\n%s", diff)
	}
	var stopRows int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM runbook.stop`).Scan(&stopRows); err != nil || stopRows != 1 {
		t.Errorf("runbook.stop: got %d rows (%v), want 1", stopRows, err)
	}

	// A schema newer than this build is refused, not downgraded.
	if _, err := conn.Exec(ctx, `INSERT INTO runbook.schema_version (version) VALUES ($1)`, SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenPostgres(ctx, dsn); err == nil || !strings.Contains(err.Error(), "upgrade runbook") {
		t.Errorf("open a newer schema: got %v, want an \"upgrade runbook\" error", err)
	}
}

// TestPostgresConcurrentTogglers: togglers on separate connections leave
// a complete trail, ordered as the changes were made, and the flag of the
// last one.
func TestPostgresConcurrentTogglers(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	const hosts, each = 10, 10
	stores := make([]*Postgres, hosts)
	for i := range stores {
		stores[i] = openPostgres(t, dsn)
	}
	var wg sync.WaitGroup
	errs := make(chan error, hosts*each)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				e := AuditEntry{User: fmt.Sprintf("u%d", i), Host: fmt.Sprintf("h%d", i), Reason: fmt.Sprintf("p%d #%d", i, j)}
				if _, err := s.SetStop(ctx, (i+j)%2 == 0, e); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	trail, err := stores[0].Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != hosts*each {
		t.Fatalf("audit: got %d entries, want %d", len(trail), hosts*each)
	}
	next := map[string]int{}
	for n, e := range trail {
		var id, j int
		if _, err := fmt.Sscanf(e.Reason, "p%d #%d", &id, &j); err != nil {
			t.Fatalf("entry %d: reason %q: %v", n+1, e.Reason, err)
		}
		if next[e.User] != j {
			t.Errorf("entry %d: %s's change #%d, want #%d", n+1, e.User, j, next[e.User])
		}
		next[e.User] = j + 1
		if n > 0 && e.Time.Before(trail[n-1].Time) {
			t.Errorf("entry %d at %v is before entry %d at %v", n+1, e.Time, n, trail[n-1].Time)
		}
	}
	st, err := stores[hosts-1].Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(trail[len(trail)-1].state(), st); diff != "" {
		t.Errorf("final stop against the trail's last entry (-want +got):\n%s", diff)
	}
}

// TestPostgresAuditAppendOnly: the database itself refuses to rewrite the
// trail.
func TestPostgresAuditAppendOnly(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	p := openPostgres(t, dsn)
	if _, err := p.SetStop(ctx, true, AuditEntry{User: "alice", Host: "ops-1", Reason: "drill"}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		`UPDATE runbook.audit SET "user" = 'mallory'`,
		`DELETE FROM runbook.audit`,
		`TRUNCATE runbook.audit`,
	} {
		t.Run(sql, func(t *testing.T) {
			_, err := conn.Exec(ctx, sql)
			if err == nil || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("got %v, want an append-only error", err)
			}
		})
	}
	if trail, err := p.Audit(ctx); err != nil || len(trail) != 1 || trail[0].User != "alice" {
		t.Errorf("audit after the attempts: got %+v, %v", trail, err)
	}
}

// TestPostgresRunNUL: jsonb cannot hold U+0000; it becomes U+FFFD, and an
// escaped backslash before "u0000" is left alone.
func TestPostgresRunNUL(t *testing.T) {
	ctx := context.Background()
	p := openPostgres(t, newDatabase(t))
	run := testRun("20251202T131219Z-0000", record.Passed)
	run.Items[0].Result["stdout"] = "bin\x00ary"
	if _, err := p.SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	got, err := p.LoadRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	res := got.Items[0].Result
	if res["stdout"] != "bin\ufffdary" || res["escaped"] != `a\u0000b` {
		t.Errorf("got stdout %q escaped %q, want %q and %q", res["stdout"], res["escaped"], "bin\ufffdary", `a\u0000b`)
	}
}

// TestPostgresNoPassword: neither Location nor an error shows the password.
func TestPostgresNoPassword(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	u, _ := url.Parse(dsn)
	password, _ := u.User.Password()
	p := openPostgres(t, dsn)
	if loc := p.Location(); strings.Contains(loc, password) || !strings.HasPrefix(loc, "postgres://runbook@127.0.0.1:") {
		t.Errorf("Location: got %q, want postgres://runbook@127.0.0.1:PORT/… without the password", loc)
	}

	wrong := *u
	wrong.User = url.UserPassword("runbook", "not-the-"+password)
	refused := *u
	refused.Host = "127.0.0.1:1"
	for _, tc := range []struct{ name, dsn, secret string }{
		{"wrong password", wrong.String(), "not-the-" + password},
		{"connection refused", refused.String(), password},
		{"unparsable URL", "postgres://runbook:" + password + "@127.0.0.1:notaport/db", password},
		{"unparsable key=value", "host=127.0.0.1 password=" + password + " port=notaport", password},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OpenPostgres(ctx, tc.dsn)
			if err == nil {
				t.Fatalf("OpenPostgres(%s): got no error", tc.name)
			}
			if strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestPGLocation(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://ops:s3cret@db.internal/runbook", "postgres://ops@db.internal/runbook"},
		{"postgresql://ops:s3cret@db.internal:6432/runbook?sslmode=require", "postgres://ops@db.internal:6432/runbook"},
		{"host=db.internal user=ops password=s3cret dbname=runbook", "postgres://ops@db.internal/runbook"},
		{"postgres://ops@/runbook?host=/var/run/postgresql", "postgres://ops@/runbook?host=%2Fvar%2Frun%2Fpostgresql"},
		// Two servers' sockets in one directory differ by port.
		{"postgres://ops@/runbook?host=/var/run/postgresql&port=5433", "postgres://ops@/runbook?host=%2Fvar%2Frun%2Fpostgresql&port=5433"},
		{"host=/tmp port=6000 user=ops dbname=runbook", "postgres://ops@/runbook?host=%2Ftmp&port=6000"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			cfg, err := pgx.ParseConfig(tc.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if got := pgLocation(cfg); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct{ dsn, msg, want string }{
		{"postgres://u:p%40ss@h/db", "bad p@ss and p%40ss", "bad xxxxx and xxxxx"},
		{"postgres://u:hunter2@h:x/db", "cannot parse postgres://u:hunter2@h:x/db", "cannot parse postgres://u:xxxxx@h:x/db"},
		{"host=h password='a b' port=x", "password='a b' here", "password=xxxxx here"},
		{"postgres://u@h/db?password=qq", "qq", "xxxxx"},
	} {
		t.Run(tc.dsn, func(t *testing.T) {
			if got := redactDSN(tc.dsn, tc.msg); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestJSONBSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a":"x"}`, `{"a":"x"}`},
		{`{"a":"\u0000"}`, `{"a":"\ufffd"}`},
		{`{"a":"\\u0000"}`, `{"a":"\\u0000"}`},
		{`{"a":"\\\u0000"}`, `{"a":"\\\ufffd"}`},
		{`{"a":"\u00001"}`, `{"a":"\ufffd1"}`},
	} {
		t.Run(tc.in, func(t *testing.T) {
			if got := string(jsonbSafe([]byte(tc.in))); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// BenchmarkPostgresStop measures reading the stop over one connection.
func BenchmarkPostgresStop(b *testing.B) {
	ctx := context.Background()
	p, err := OpenPostgres(ctx, testserver.Postgres(b))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for b.Loop() {
		if _, err := p.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
