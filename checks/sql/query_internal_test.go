package sql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/runbookhq/runbook/internal/testserver"
)

// TestReadOnlyFallback runs read-only queries on a connection whose
// session is not read-only, as behind a pooler or on PostgreSQL before 14:
// they must go through BEGIN READ ONLY … ROLLBACK.
func TestReadOnlyFallback(t *testing.T) {
	dsn := testserver.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS fallback; CREATE TABLE fallback (n int)"); err != nil {
		t.Fatalf("set up table: %v", err)
	}
	if got := conn.PgConn().ParameterStatus("default_transaction_read_only"); got == "on" {
		t.Fatalf("default_transaction_read_only: got %q want a writable session", got)
	}

	t.Run("select", func(t *testing.T) {
		res, err := query(ctx, conn, config{query: "SELECT $1::int + 1 AS n", args: []any{int64(41)}, readOnly: true, maxRows: 10, maxBytes: 1 << 20})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		got, _ := ctyjson.SimpleJSONValue{Value: res.GetAttr("rows")}.MarshalJSON()
		if string(got) != `[{"n":42}]` {
			t.Errorf("rows: got %s want [{\"n\":42}]", got)
		}
		if st := conn.PgConn().TxStatus(); st != 'I' {
			t.Errorf("transaction status after: got %q want I", st)
		}
	})
	t.Run("insert fails", func(t *testing.T) {
		_, err := query(ctx, conn, config{query: "INSERT INTO fallback VALUES (1)", readOnly: true, maxRows: 10, maxBytes: 1 << 20})
		if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
			t.Fatalf("got %v want a read-only failure", err)
		}
		if _, err := conn.Exec(ctx, "rollback"); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		var n int
		if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM fallback").Scan(&n); err != nil {
			t.Fatalf("count: %v", err)
		}
		if n != 0 {
			t.Errorf("rows in fallback: got %d want 0", n)
		}
	})
}

// TestReadOnlySession checks that a read-only pool's connections start
// with default_transaction_read_only on, sent in the startup message, so
// read-only queries take the one-round-trip path, and that read-write
// pools' connections do not.
func TestReadOnlySession(t *testing.T) {
	dsn := testserver.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := &Provider{}
	defer p.Close()
	for _, tt := range []struct {
		name     string
		readOnly bool
		want     string
	}{
		{"read-only", true, "on"},
		{"read-write", false, "off"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := p.pool(ctx, poolKey{dsn: dsn, readOnly: tt.readOnly})
			if err != nil {
				t.Fatalf("pool: %v", err)
			}
			conn, err := pl.conns.Acquire(ctx)
			if err != nil {
				t.Fatalf("acquire: %v", err)
			}
			defer conn.Release()
			if got := conn.Conn().PgConn().ParameterStatus(readOnlyParam); got != tt.want {
				t.Errorf("%s reported at startup: got %q want %q", readOnlyParam, got, tt.want)
			}
			var setting string
			if err := conn.QueryRow(ctx, "SHOW "+readOnlyParam).Scan(&setting); err != nil {
				t.Fatalf("show: %v", err)
			}
			if setting != tt.want {
				t.Errorf("SHOW %s: got %q want %q", readOnlyParam, setting, tt.want)
			}
		})
	}
}

func TestMemoWire(t *testing.T) {
	rows := [][][]byte{
		{[]byte("1"), nil, []byte("")},
		{[]byte(""), []byte("ab"), nil},
		{},
	}
	m := &memo{}
	for _, r := range rows {
		if !m.add(r) {
			t.Fatalf("add %q: got false want true", r)
		}
	}
	for i, r := range rows {
		if !holds(m.row(i), r) {
			t.Errorf("row %d: holds(%q): got false want true", i, r)
		}
	}
	for _, tt := range []struct {
		name string
		row  int
		raws [][]byte
	}{
		{"NULL for empty", 0, [][]byte{[]byte("1"), nil, nil}},
		{"empty for NULL", 0, [][]byte{[]byte("1"), []byte(""), []byte("")}},
		{"other bytes", 1, [][]byte{[]byte(""), []byte("ac"), nil}},
		{"longer value", 1, [][]byte{[]byte(""), []byte("abc"), nil}},
		{"fewer values", 1, [][]byte{[]byte(""), []byte("ab")}},
		{"more values", 2, [][]byte{nil}},
	} {
		if holds(m.row(tt.row), tt.raws) {
			t.Errorf("%s: holds(row %d, %q): got true want false", tt.name, tt.row, tt.raws)
		}
	}
	m.truncate(1)
	if len(m.ends) != 1 || !holds(m.row(0), rows[0]) {
		t.Errorf("after truncate(1): got %d rows want 1 holding %q", len(m.ends), rows[0])
	}
	if m.add([][]byte{make([]byte, memoBytes)}) {
		t.Errorf("add of %d bytes: got true want false", memoBytes)
	}
	if len(m.ends) != 1 {
		t.Errorf("rows after a refused add: got %d want 1", len(m.ends))
	}
}

// TestMemoKept runs one query on one connection while its answer changes
// and checks what the connection keeps: one memo, reused, whose wire
// values are the last answer's rows.
func TestMemoKept(t *testing.T) {
	dsn := testserver.Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS kept; CREATE TABLE kept (n int); INSERT INTO kept VALUES (1), (2)"); err != nil {
		t.Fatalf("set up table: %v", err)
	}
	c := config{query: "SELECT n FROM kept ORDER BY n", maxRows: 10, maxBytes: 1 << 20}
	var first *memo
	for _, step := range []struct {
		change string
		rows   int
	}{
		{"", 2},
		{"", 2},
		{"UPDATE kept SET n = 3 WHERE n = 2", 2},
		{"DELETE FROM kept WHERE n = 3", 1},
		{"INSERT INTO kept VALUES (5), (6)", 3},
		{"", 3},
	} {
		if step.change != "" {
			if _, err := conn.Exec(ctx, step.change); err != nil {
				t.Fatalf("%s: %v", step.change, err)
			}
		}
		if _, err := query(ctx, conn, c); err != nil {
			t.Fatalf("query: %v", err)
		}
		cols := conn.PgConn().CustomData()[columnsKey].(map[string]*columns)[c.query]
		m := cols.last
		if first == nil {
			first = m
		}
		switch {
		case m == nil:
			t.Fatalf("after %q: no memo", step.change)
		case m != first:
			t.Errorf("after %q: a new memo want the first one reused", step.change)
		case len(m.ends) != step.rows || len(m.rows) != step.rows:
			t.Errorf("after %q: memo of %d wire rows and %d rows want %d", step.change, len(m.ends), len(m.rows), step.rows)
		}
	}
}
