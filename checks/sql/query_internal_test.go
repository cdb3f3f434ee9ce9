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
		res, err := query(ctx, conn, config{query: "SELECT $1::int + 1 AS n", args: []any{int64(41)}, readOnly: true, maxRows: 10})
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
		_, err := query(ctx, conn, config{query: "INSERT INTO fallback VALUES (1)", readOnly: true, maxRows: 10})
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
