package sql_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/runbookhq/runbook/checks/sql"
	"github.com/runbookhq/runbook/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// decode decodes an `sql` block body with the provider's schema, as the
// engine does; var.dsn is dsn.
func decode(t testing.TB, p checks.Provider, body, dsn string) cty.Value {
	return checkstest.Decode(t, p, body, map[string]cty.Value{"dsn": cty.StringVal(dsn)})
}

// run runs one block body against a fresh provider.
func run(t testing.TB, body, dsn string) (cty.Value, error) {
	t.Helper()
	p := sql.New()
	defer p.(interface{ Close() error }).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return p.Run(ctx, decode(t, p, body, dsn))
}

func toJSON(t testing.TB, v cty.Value) string {
	t.Helper()
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	return string(b)
}

func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// withParam returns dsn with one more query parameter.
func withParam(t testing.TB, dsn, key, value string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

func password(t testing.TB, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		t.Fatalf("dsn has no password")
	}
	return pw
}

func TestTypes(t *testing.T) {
	dsn := testserver.Postgres(t)
	tests := []struct {
		name string
		expr string
		want string
	}{
		{"int2", "7::int2", `7`},
		{"int4", "'-2147483648'::int4", `-2147483648`},
		{"int8 exact", "9223372036854775807::int8", `9223372036854775807`},
		{"numeric exact", "123456789012345678901234567890.123456789::numeric", `123456789012345678901234567890.123456789`},
		{"numeric small", "0.1::numeric", `0.1`},
		{"numeric NaN", "'NaN'::numeric", `"NaN"`},
		{"float8 shortest", "0.1::float8", `0.1`},
		{"float4", "1.5::float4", `1.5`},
		{"float8 infinity", "'Infinity'::float8", `"Infinity"`},
		{"text", "'héllo'::text", `"héllo"`},
		{"varchar", "'v'::varchar(3)", `"v"`},
		{"bool", "true", `true`},
		{"null", "NULL", `null`},
		{"null int", "NULL::int", `null`},
		{"timestamptz", "'2025-12-02 13:12:19.5+02'::timestamptz", `"2025-12-02T11:12:19.5Z"`},
		{"timestamp", "'2025-12-02 13:12:19'::timestamp", `"2025-12-02T13:12:19Z"`},
		{"timestamp infinity", "'infinity'::timestamptz", `"infinity"`},
		{"date", "'2025-12-02'::date", `"2025-12-02"`},
		{"json keeps precision", `'{"a": [1, 12345678901234567890, 0.1], "b": null}'::json`, `{"a":[1,12345678901234567890,0.1],"b":null}`},
		{"jsonb", `'{"n": 1.5, "s": "x"}'::jsonb`, `{"n":1.5,"s":"x"}`},
		{"int array", "ARRAY[1, 2, NULL]::int[]", `[1,2,null]`},
		{"text array", "ARRAY['a', 'b']", `["a","b"]`},
		{"2-D array", "ARRAY[[1, 2], [3, 4]]", `[[1,2],[3,4]]`},
		{"date array", "ARRAY['2025-01-02'::date]", `["2025-01-02"]`},
		{"empty array", "'{}'::int[]", `[]`},
		{"uuid", "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"bytea", `'\x00ff41'::bytea`, `"\\x00ff41"`},
		{"interval", "'1 day 02:03:04'::interval", `"1 day 02:03:04"`},
		{"time", "'13:14:15'::time", `"13:14:15"`},
		{"inet", "'10.0.0.1'::inet", `"10.0.0.1"`},
		{"money", "12.5::money", `"$12.50"`},
		{"point", "point(1, 2)", `"(1,2)"`},
		{"record", "ROW(1, 'a')", `[1,"a"]`},
		{"interval array", "ARRAY['1 day'::interval]", `["1 day"]`},
		{"int4range", "int4range(1, 5)", `"[1,5)"`},
		{"tstzrange", "tstzrange('2025-01-01 00:00+00', NULL)", `"[\"2025-01-01 00:00:00+00\",)"`},
		{"cidr", "'10.0.0.0/8'::cidr", `"10.0.0.0/8"`},
		{"bit", "B'101'", `"101"`},
		{"xml", "'<a>1</a>'::xml", `"\u003ca\u003e1\u003c/a\u003e"`},
		{"timetz", "'13:14:15+02'::timetz", `"13:14:15+02"`},
		{"enum-like unknown", "'x'::name", `"x"`},
		{"char", "'y'::char", `"y"`},
		{"json array", `ARRAY['{"a": 0.1}'::json]`, `[{"a":0.1}]`},
		{"oid", "'pg_class'::regclass::oid", `1259`},
		{"type pgx does not know", "'0/16B3748'::pg_lsn", `"0/16B3748"`},
		{"array of a type pgx does not know", "ARRAY['0/1'::pg_lsn]", `"{0/1}"`},
		{"smallint min", "'-32768'::int2", `-32768`},
		{"int8 min", "'-9223372036854775808'::int8", `-9223372036854775808`},
		{"false", "false", `false`},
		{"float4 shortest", "0.1::float4", `0.1`},
		{"float8 NaN", "'NaN'::float8", `"NaN"`},
		{"name", "'pg_class'::name", `"pg_class"`},
	}
	p := sql.New()
	defer p.(interface{ Close() error }).Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(ctx, decode(t, p, fmt.Sprintf("dsn = var.dsn\nquery = %q", "SELECT "+tt.expr+" AS v"), dsn))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			got := toJSON(t, res.GetAttr("rows").Index(cty.NumberIntVal(0)).GetAttr("v"))
			if got != tt.want {
				t.Errorf("SELECT %s: got %s want %s", tt.expr, got, tt.want)
			}
		})
	}
}

func TestResult(t *testing.T) {
	dsn := testserver.Postgres(t)
	setup := connect(t, dsn)
	ctx := context.Background()
	if _, err := setup.Exec(ctx, `
		DROP TABLE IF EXISTS checkpoints;
		CREATE TABLE checkpoints (id int PRIMARY KEY, name text, taken_at timestamptz);
		INSERT INTO checkpoints SELECT g, 'cp-' || g, '2025-01-01 00:00:00+00'::timestamptz + g * interval '1 hour' FROM generate_series(1, 30) g;
	`); err != nil {
		t.Fatalf("set up table: %v", err)
	}

	tests := []struct {
		name string
		body string
		want string // the result as JSON
	}{
		{
			name: "count",
			body: `query = "SELECT COUNT(*) AS n FROM checkpoints"`,
			want: `{"columns":["n"],"row_count":1,"rows":[{"n":30}],"truncated":false}`,
		},
		{
			name: "rows and columns in order",
			body: `query = "SELECT name, id, taken_at FROM checkpoints WHERE id <= 2 ORDER BY id"`,
			want: `{"columns":["name","id","taken_at"],"row_count":2,"rows":[` +
				`{"id":1,"name":"cp-1","taken_at":"2025-01-01T01:00:00Z"},` +
				`{"id":2,"name":"cp-2","taken_at":"2025-01-01T02:00:00Z"}],"truncated":false}`,
		},
		{
			name: "no rows",
			body: `query = "SELECT id FROM checkpoints WHERE id < 0"`,
			want: `{"columns":["id"],"row_count":0,"rows":[],"truncated":false}`,
		},
		{
			name: "max_rows truncates but counts",
			body: "query = \"SELECT id FROM checkpoints ORDER BY id\"\nmax_rows = 2",
			want: `{"columns":["id"],"row_count":30,"rows":[{"id":1},{"id":2}],"truncated":true}`,
		},
		{
			name: "args are bound",
			body: "query = \"SELECT name FROM checkpoints WHERE id = $1 AND name = $2\"\nargs = [3, \"cp-3\"]",
			want: `{"columns":["name"],"row_count":1,"rows":[{"name":"cp-3"}],"truncated":false}`,
		},
		{
			name: "args are never spliced",
			body: "query = \"SELECT COUNT(*) AS n FROM checkpoints WHERE name = $1\"\nargs = [\"x' OR '1'='1\"]",
			want: `{"columns":["n"],"row_count":1,"rows":[{"n":0}],"truncated":false}`,
		},
		{
			name: "list arg binds an array",
			body: "query = \"SELECT COUNT(*) AS n FROM checkpoints WHERE id = ANY($1)\"\nargs = [[1, 2, 99]]",
			want: `{"columns":["n"],"row_count":1,"rows":[{"n":2}],"truncated":false}`,
		},
		{
			name: "typed args",
			body: "query = \"SELECT $1::numeric * 2 AS d, $2::bool AS b, $3::int IS NULL AS z, $4::jsonb->>'k' AS j\"\nargs = [0.1, true, null, { k = \"v\" }]",
			want: `{"columns":["d","b","z","j"],"row_count":1,"rows":[{"b":true,"d":0.2,"j":"v","z":true}],"truncated":false}`,
		},
		{
			name: "untyped arg",
			body: "query = \"SELECT $1 AS s\"\nargs = [\"text\"]",
			want: `{"columns":["s"],"row_count":1,"rows":[{"s":"text"}],"truncated":false}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := run(t, "dsn = var.dsn\n"+tt.body, dsn)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			if diff := cmp.Diff(tt.want, toJSON(t, res)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

// TestResultFollowsData runs one query again and again on a pool of one
// connection while the data under it changes: every answer must be the
// current one, whatever the connection keeps from the last.
func TestResultFollowsData(t *testing.T) {
	dsn := testserver.Postgres(t)
	admin := connect(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := &sql.Provider{PoolSize: 1}
	defer p.Close()
	const query = "query = \"SELECT id, s FROM follows ORDER BY id\""
	steps := []struct {
		name   string
		change string // SQL run first, on another connection
		body   string
		want   string
	}{
		{"first", "DROP TABLE IF EXISTS follows; CREATE TABLE follows (id int, s text); INSERT INTO follows VALUES (1, 'a'), (2, 'b')", query,
			`{"columns":["id","s"],"row_count":2,"rows":[{"id":1,"s":"a"},{"id":2,"s":"b"}],"truncated":false}`},
		{"unchanged", "", query,
			`{"columns":["id","s"],"row_count":2,"rows":[{"id":1,"s":"a"},{"id":2,"s":"b"}],"truncated":false}`},
		{"last row changed", "UPDATE follows SET s = 'B' WHERE id = 2", query,
			`{"columns":["id","s"],"row_count":2,"rows":[{"id":1,"s":"a"},{"id":2,"s":"B"}],"truncated":false}`},
		{"first row changed", "UPDATE follows SET s = 'A' WHERE id = 1", query,
			`{"columns":["id","s"],"row_count":2,"rows":[{"id":1,"s":"A"},{"id":2,"s":"B"}],"truncated":false}`},
		{"fewer rows", "DELETE FROM follows WHERE id = 2", query,
			`{"columns":["id","s"],"row_count":1,"rows":[{"id":1,"s":"A"}],"truncated":false}`},
		{"more rows", "INSERT INTO follows VALUES (2, 'b'), (3, 'c')", query,
			`{"columns":["id","s"],"row_count":3,"rows":[{"id":1,"s":"A"},{"id":2,"s":"b"},{"id":3,"s":"c"}],"truncated":false}`},
		{"max_rows", "", query + "\nmax_rows = 2",
			`{"columns":["id","s"],"row_count":3,"rows":[{"id":1,"s":"A"},{"id":2,"s":"b"}],"truncated":true}`},
		{"max_rows again", "", query + "\nmax_rows = 2",
			`{"columns":["id","s"],"row_count":3,"rows":[{"id":1,"s":"A"},{"id":2,"s":"b"}],"truncated":true}`},
		{"default max_rows", "", query,
			`{"columns":["id","s"],"row_count":3,"rows":[{"id":1,"s":"A"},{"id":2,"s":"b"},{"id":3,"s":"c"}],"truncated":false}`},
		{"empty text", "UPDATE follows SET s = '' WHERE id = 1", query,
			`{"columns":["id","s"],"row_count":3,"rows":[{"id":1,"s":""},{"id":2,"s":"b"},{"id":3,"s":"c"}],"truncated":false}`},
		{"NULL after empty text", "UPDATE follows SET s = NULL WHERE id = 1", query,
			`{"columns":["id","s"],"row_count":3,"rows":[{"id":1,"s":null},{"id":2,"s":"b"},{"id":3,"s":"c"}],"truncated":false}`},
		{"many rows", "INSERT INTO follows SELECT g, repeat('x', 300) FROM generate_series(4, 40) g", query + "\nmax_rows = 1",
			`{"columns":["id","s"],"row_count":40,"rows":[{"id":1,"s":null}],"truncated":true}`},
		{"no rows", "DELETE FROM follows", query,
			`{"columns":["id","s"],"row_count":0,"rows":[],"truncated":false}`},
		{"no rows again", "", query,
			`{"columns":["id","s"],"row_count":0,"rows":[],"truncated":false}`},
		{"a row again", "INSERT INTO follows VALUES (7, 'g')", query,
			`{"columns":["id","s"],"row_count":1,"rows":[{"id":7,"s":"g"}],"truncated":false}`},
		{"column type changed", "ALTER TABLE follows ALTER COLUMN s TYPE int USING length(s)", query,
			`{"columns":["id","s"],"row_count":1,"rows":[{"id":7,"s":1}],"truncated":false}`},
	}
	for _, st := range steps {
		if st.change != "" {
			if _, err := admin.Exec(ctx, st.change); err != nil {
				t.Fatalf("%s: change: %v", st.name, err)
			}
		}
		cfg := decode(t, p, "dsn = var.dsn\n"+st.body, dsn)
		res, err := p.Run(ctx, cfg)
		if err != nil && strings.Contains(err.Error(), "cached plan must not change result type") {
			res, err = p.Run(ctx, cfg) // PostgreSQL's answer to a prepared statement whose table changed; pgx prepares it again
		}
		if err != nil {
			t.Fatalf("%s: run: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, toJSON(t, res)); diff != "" {
			t.Errorf("%s: result (-want +got):\n%s", st.name, diff)
		}
	}
}

func TestReadOnly(t *testing.T) {
	dsn := testserver.Postgres(t)
	setup := connect(t, dsn)
	ctx := context.Background()
	if _, err := setup.Exec(ctx, `DROP TABLE IF EXISTS ro; CREATE TABLE ro (n int); INSERT INTO ro VALUES (1)`); err != nil {
		t.Fatalf("set up table: %v", err)
	}
	rowCount := func(t *testing.T) int {
		t.Helper()
		var n int
		if err := setup.QueryRow(ctx, "SELECT COUNT(*) FROM ro").Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		return n
	}

	for _, tt := range []struct{ query, want string }{
		{"INSERT INTO ro VALUES (2)", "cannot execute INSERT in a read-only transaction"},
		{"UPDATE ro SET n = 5", "cannot execute UPDATE in a read-only transaction"},
		{"DELETE FROM ro", "cannot execute DELETE in a read-only transaction"},
		{"DROP TABLE ro", "cannot execute DROP TABLE in a read-only transaction"},
		{"CREATE TABLE ro2 (n int)", "cannot execute CREATE TABLE in a read-only transaction"},
		{"SELECT set_config('transaction_read_only', 'off', true)", "read-write mode must be set before any query"},
		{"WITH d AS (DELETE FROM ro RETURNING n) SELECT * FROM d", "read-only transaction"},
	} {
		t.Run(tt.query, func(t *testing.T) {
			_, err := run(t, fmt.Sprintf("dsn = var.dsn\nquery = %q", tt.query), dsn)
			if err == nil {
				t.Fatalf("got no error want a read-only failure")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error: got %q want it to contain %q", err, tt.want)
			}
			if n := rowCount(t); n != 1 {
				t.Errorf("rows in ro after the failed write: got %d want 1", n)
			}
		})
	}

	t.Run("read_only = false writes", func(t *testing.T) {
		res, err := run(t, "dsn = var.dsn\nread_only = false\nquery = \"INSERT INTO ro VALUES (7), (8)\"", dsn)
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if got, want := toJSON(t, res), `{"columns":[],"row_count":2,"rows":[],"truncated":false}`; got != want {
			t.Errorf("result: got %s want %s", got, want)
		}
		if n := rowCount(t); n != 3 {
			t.Errorf("rows in ro: got %d want 3", n)
		}
	})

	t.Run("a query may not switch read-only off", func(t *testing.T) {
		p := sql.New()
		defer p.(interface{ Close() error }).Close()
		p.(*sql.Provider).PoolSize = 1
		_, err := p.Run(ctx, decode(t, p, `
			dsn = var.dsn
			query = "SELECT set_config('default_transaction_read_only', 'off', false)"`, dsn))
		if err == nil || !strings.Contains(err.Error(), "default_transaction_read_only") {
			t.Fatalf("error: got %v want one about default_transaction_read_only", err)
		}
		// The next check on the same pool must be read-only again.
		_, err = p.Run(ctx, decode(t, p, `
			dsn = var.dsn
			query = "INSERT INTO ro VALUES (9)"`, dsn))
		if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
			t.Errorf("insert after the switch: got %v want a read-only failure", err)
		}
		if n := rowCount(t); n != 3 {
			t.Errorf("rows in ro: got %d want 3", n)
		}
	})
}

func TestErrors(t *testing.T) {
	dsn := testserver.Postgres(t)
	pw := password(t, dsn)
	u, _ := url.Parse(dsn)
	const canary = "canary-Pa55w0rd"

	// A port nothing listens on, and a server that accepts and never answers.
	closed := "postgres://runbook:" + canary + "@127.0.0.1:1/postgres?sslmode=disable"
	silent := testserver.Silent(t)
	wrongPW := *u
	wrongPW.User = url.UserPassword("runbook", canary)

	tests := []struct {
		name    string
		dsn     string
		query   string
		timeout string
		want    []string // substrings of the error
		secret  string
	}{
		{"refused names host and port", closed, "SELECT 1", "", []string{"127.0.0.1:1", "connect"}, canary},
		{"refused key=value", "host=127.0.0.1 port=1 user=runbook password=" + canary + " dbname=postgres sslmode=disable", "SELECT 1", "", []string{"127.0.0.1:1"}, canary},
		{"silent server within timeout", "postgres://runbook:" + canary + "@" + silent + "/postgres?sslmode=disable", "SELECT 1", "1s", []string{silent, "timed out"}, canary},
		{"wrong password", wrongPW.String(), "SELECT 1", "", []string{"password authentication failed"}, canary},
		{"bad dsn", "postgres://runbook:" + canary + "@127.0.0.1:notaport/x", "SELECT 1", "", []string{"dsn"}, canary},
		{"syntax error", dsn, "SELEC 1", "", []string{"syntax error", "42601"}, pw},
		{"missing table", dsn, "SELECT * FROM no_such_table", "", []string{"no_such_table", "42P01"}, pw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := fmt.Sprintf("dsn = %q\nquery = %q", tt.dsn, tt.query)
			if tt.timeout != "" {
				body += fmt.Sprintf("\ntimeout = %q", tt.timeout)
			}
			start := time.Now()
			_, err := run(t, body, dsn)
			if err == nil {
				t.Fatal("got no error want one")
			}
			if tt.timeout != "" {
				if el := time.Since(start); el > 5*time.Second {
					t.Errorf("returned after %s want within about the 1s timeout", el)
				}
			}
			t.Logf("error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestTimeoutCancelsOnServer(t *testing.T) {
	dsn := withParam(t, testserver.Postgres(t), "application_name", "runbook-sleep-test")
	admin := connect(t, dsn)
	ctx := context.Background()

	start := time.Now()
	_, err := run(t, "dsn = var.dsn\nquery = \"SELECT pg_sleep(30)\"\ntimeout = \"1s\"", dsn)
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("got no error want a timeout")
	}
	if !strings.Contains(err.Error(), "timed out") {
		t.Errorf("error: got %q want it to say it timed out", err)
	}
	if elapsed > 3*time.Second {
		t.Errorf("returned after %s want within about 1s", elapsed)
	}

	// The backend that ran pg_sleep must be gone, not sleeping on.
	var n int
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := admin.QueryRow(ctx, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()`).Scan(&n)
		if err != nil {
			t.Fatalf("read pg_stat_activity: %v", err)
		}
		if n == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != 0 {
		t.Errorf("backends still running pg_sleep(30): got %d want 0", n)
	}

	t.Run("engine deadline", func(t *testing.T) {
		p := sql.New()
		defer p.(interface{ Close() error }).Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := p.Run(ctx, decode(t, p, "dsn = var.dsn\nquery = \"SELECT pg_sleep(30)\"", dsn))
		if !errors.Is(err, context.DeadlineExceeded) && (err == nil || !strings.Contains(err.Error(), "timed out")) {
			t.Errorf("error: got %v want a timeout", err)
		}
	})
}

func TestPoolIsShared(t *testing.T) {
	for _, tt := range []struct {
		name     string
		poolSize int // Provider.PoolSize
		max      int // connections the pool may open
	}{
		{"default size", 0, max(4, runtime.NumCPU())},
		{"PoolSize 2", 2, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := "runbook-pool-test-" + strconv.Itoa(tt.poolSize)
			dsn := withParam(t, testserver.Postgres(t), "application_name", app)
			admin := connect(t, testserver.Postgres(t))
			p := &sql.Provider{PoolSize: tt.poolSize}
			defer p.Close()
			cfg := decode(t, p, "dsn = var.dsn\nquery = \"SELECT 1 AS one\"", dsn)
			ctx := context.Background()

			var wg sync.WaitGroup
			var mu sync.Mutex
			var failures []error
			jobs := make(chan int)
			for range 16 {
				wg.Go(func() {
					for range jobs {
						if _, err := p.Run(ctx, cfg); err != nil {
							mu.Lock()
							failures = append(failures, err)
							mu.Unlock()
						}
					}
				})
			}
			for i := range 1000 {
				jobs <- i
			}
			close(jobs)
			wg.Wait()
			if len(failures) > 0 {
				t.Fatalf("%d of 1000 checks failed, first: %v", len(failures), failures[0])
			}

			var n int
			if err := admin.QueryRow(ctx, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
				t.Fatalf("read pg_stat_activity: %v", err)
			}
			if n < 1 || n > tt.max {
				t.Errorf("connections after 1000 checks by 16 workers: got %d want between 1 and %d", n, tt.max)
			}

			if err := p.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
				if err := admin.QueryRow(ctx, "SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n); err != nil {
					t.Fatalf("read pg_stat_activity: %v", err)
				}
				if n == 0 || time.Now().After(deadline) {
					break
				}
			}
			if n != 0 {
				t.Errorf("connections after Close: got %d want 0", n)
			}
		})
	}
}

// TestUnknownStateNotReused runs, on a pool of one connection, a check
// that leaves its connection in a state later checks must not inherit,
// then one that shows whether it got that connection.
func TestUnknownStateNotReused(t *testing.T) {
	dsn := testserver.Postgres(t)
	tests := []struct {
		name     string
		readOnly bool   // of both checks
		first    string // a check whose connection must be dropped
		want     string // error of the first check, "" for none
	}{
		{"left in a transaction", false, `query = "BEGIN"`, ""},
		{"timed out", true, "query = \"SELECT pg_sleep(30)\"\ntimeout = \"500ms\"", "timed out"},
		{"switched read-only off", true, `query = "SELECT set_config('default_transaction_read_only', 'off', false)"`, "default_transaction_read_only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &sql.Provider{PoolSize: 1}
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			mode := fmt.Sprintf("dsn = var.dsn\nread_only = %t\n", tt.readOnly)
			pid := func() int64 {
				t.Helper()
				res, err := p.Run(ctx, decode(t, p, mode+`query = "SELECT pg_backend_pid() AS pid"`, dsn))
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				n, _ := res.GetAttr("rows").Index(cty.NumberIntVal(0)).GetAttr("pid").AsBigFloat().Int64()
				return n
			}
			before := pid()
			_, err := p.Run(ctx, decode(t, p, mode+tt.first, dsn))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("first check: got %v want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("first check: got %v want an error about %q", err, tt.want)
			}
			if after := pid(); after == before {
				t.Errorf("backend of the next check: got %d again want a new connection", after)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	const canary = "canary-Pa55w0rd"
	tests := []struct {
		name string
		body string
		want string
	}{
		{"url", `dsn = "postgres://app:` + canary + `@db.internal:5433/orders"
			query = "SELECT COUNT(*) AS n FROM checkpoints"`,
			"SELECT COUNT(*) AS n FROM checkpoints (db.internal:5433/orders)"},
		{"key=value, multi-line", `dsn = "host=db port=5432 user=app password=` + canary + ` dbname=app"
			query = "\n  SELECT id\n  FROM jobs\n"`,
			"SELECT id … (db:5432/app)"},
		{"read-write", `dsn = "postgres://app@db/app"
			query = "UPDATE jobs SET done = true"
			read_only = false`,
			"UPDATE jobs SET done = true (db:5432/app) [read-write]"},
	}
	p := sql.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.(checks.Describer).Describe(decode(t, p, tt.body, ""))
			if got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
			if strings.Contains(got, canary) {
				t.Errorf("%q contains the password", got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	const canary = "canary-Pa55w0rd"
	tests := []struct {
		name string
		body string
		want string // "" for valid
	}{
		{"valid", `dsn = "postgres://u@h/db"
			query = "SELECT 1"
			timeout = "2s"
			max_rows = 5
			args = [1, "a"]`, ""},
		{"bad timeout", `dsn = "postgres://u@h/db"
			query = "SELECT 1"
			timeout = "soon"`, "timeout"},
		{"max_rows zero", `dsn = "postgres://u@h/db"
			query = "SELECT 1"
			max_rows = 0`, "max_rows"},
		{"args not a list", `dsn = "postgres://u@h/db"
			query = "SELECT 1"
			args = "a"`, "args must be a list"},
		{"bad dsn hides password", `dsn = "postgres://u:` + canary + `@h:port/db"
			query = "SELECT 1"`, "dsn"},
	}
	p := sql.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.(checks.Validator).Validate(decode(t, p, tt.body, ""))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v want no error", err)
			case tt.want != "" && err == nil:
				t.Fatalf("got no error want one about %s", tt.want)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Errorf("got %q want it to mention %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), canary) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestResultTextIsBounded: a result keeps at most max_bytes of text (1 MiB
// by default), like shell and http output: rows past it are dropped and a
// single huge cell is cut, both marked truncated.
func TestResultTextIsBounded(t *testing.T) {
	dsn := testserver.Postgres(t)
	tests := []struct {
		name, body string
		rows       int
		cellLen    int
	}{
		{"one huge cell", `dsn = var.dsn
query = "SELECT repeat('x', 3000000) AS big"`, 1, 1 << 20},
		{"many rows", `dsn = var.dsn
query = "SELECT g, repeat('y', 1000) AS pad FROM generate_series(1, 5000) g"
max_bytes = 100000`, 99, 1000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(t, tc.body, dsn)
			if err != nil {
				t.Fatal(err)
			}
			rows := res.GetAttr("rows")
			if got := rows.LengthInt(); got < tc.rows-1 || got > tc.rows {
				t.Errorf("kept %d rows, want about %d", got, tc.rows)
			}
			if !res.GetAttr("truncated").True() {
				t.Errorf("not marked truncated")
			}
			first := rows.Index(cty.NumberIntVal(0))
			for name, v := range first.AsValueMap() {
				if v.Type() == cty.String && len(v.AsString()) > tc.cellLen {
					t.Errorf("cell %s holds %d bytes, want at most %d", name, len(v.AsString()), tc.cellLen)
				}
			}
		})
	}
	// Within the budget nothing is cut.
	res, err := run(t, `dsn = var.dsn
query = "SELECT repeat('z', 1000) AS small"`, dsn)
	if err != nil || res.GetAttr("truncated").True() {
		t.Errorf("a small result: err %v truncated %v", err, res.GetAttr("truncated").True())
	}
}
