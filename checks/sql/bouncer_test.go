package sql_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/checks/sql"
	"github.com/runbookhq/runbook/internal/testserver"
)

// pgBouncer starts PgBouncer in transaction mode in front of the test
// server and returns a DSN through it; it skips the test when PgBouncer
// is not installed (apt-get install pgbouncer).
func pgBouncer(t *testing.T, dsn string) string {
	t.Helper()
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		if _, statErr := os.Stat("/usr/sbin/pgbouncer"); statErr != nil {
			t.Skipf("\n\n*** SKIPPED: pgbouncer is not installed (%v).\n*** This test needs it: apt-get install -y pgbouncer\n", err)
		}
		bin = "/usr/sbin/pgbouncer"
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	pw, _ := u.User.Password()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	// PgBouncer refuses to run as root; as root it runs as postgres,
	// which must read its files.
	dir, err := os.MkdirTemp("", "runbook-pgbouncer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ini := fmt.Sprintf(`[databases]
postgres = host=127.0.0.1 port=%s dbname=postgres
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = plain
auth_file = %s
pool_mode = transaction
`, u.Port(), port, filepath.Join(dir, "users.txt"))
	files := map[string]string{"pgbouncer.ini": ini, "users.txt": fmt.Sprintf("%q %q\n", u.User.Username(), pw)}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{filepath.Join(dir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		args = append([]string{"-u", "postgres"}, args...)
	}
	var out strings.Builder
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start pgbouncer: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer does not listen on %s: %v\n%s", addr, err, out.String())
		}
	}
	// Transaction pooling shares server connections between clients, so
	// statements cannot stay prepared on them.
	through := *u
	through.Host = addr
	q := through.Query()
	q.Set("default_query_exec_mode", "exec")
	through.RawQuery = q.Encode()
	return through.String()
}

// TestBehindPgBouncer runs checks through PgBouncer, which refuses
// default_transaction_read_only in the startup message and does not
// report it: read-only checks must still connect, and run in BEGIN READ
// ONLY … ROLLBACK.
func TestBehindPgBouncer(t *testing.T) {
	dsn := testserver.Postgres(t)
	admin := connect(t, dsn)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := admin.Exec(ctx, "DROP TABLE IF EXISTS bounced; CREATE TABLE bounced (n int)"); err != nil {
		t.Fatalf("set up table: %v", err)
	}
	through := pgBouncer(t, dsn)
	p := &sql.Provider{PoolSize: 2}
	defer p.Close()

	tests := []struct {
		name string
		body string
		want string // the result as JSON, or a substring of the error
	}{
		{"read-only select", `query = "SELECT current_setting('transaction_read_only') AS ro"`,
			`{"columns":["ro"],"row_count":1,"rows":[{"ro":"on"}],"truncated":false}`},
		{"read-only insert fails", `query = "INSERT INTO bounced VALUES (1)"`,
			"cannot execute INSERT in a read-only transaction"},
		{"read-write insert", "read_only = false\nquery = \"INSERT INTO bounced VALUES (2)\"",
			`{"columns":[],"row_count":1,"rows":[],"truncated":false}`},
		{"read-only select again", `query = "SELECT n FROM bounced"`,
			`{"columns":["n"],"row_count":1,"rows":[{"n":2}],"truncated":false}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(ctx, decode(t, p, "dsn = var.dsn\n"+tt.body, through))
			if strings.HasPrefix(tt.want, "{") {
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				if got := toJSON(t, res); got != tt.want {
					t.Errorf("result: got %s want %s", got, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error: got %v want one containing %q", err, tt.want)
			}
		})
	}
}
