package testserver_test

import (
	"context"
	"errors"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"

	"github.com/runbookhq/runbook/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

func TestPostgres(t *testing.T) {
	dsn := testserver.Postgres(t)
	if again := testserver.Postgres(t); again != dsn {
		t.Fatalf("second call: got %q want the same DSN %q", again, dsn)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatalf("parse DSN: %v", err)
	}
	if got := u.Hostname(); got != "127.0.0.1" {
		t.Errorf("host: got %q want 127.0.0.1", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("password works", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		defer conn.Close(ctx)
		var fsync string
		if err := conn.QueryRow(ctx, "SHOW fsync").Scan(&fsync); err != nil {
			t.Fatalf("SHOW fsync: %v", err)
		}
		if fsync != "off" {
			t.Errorf("fsync: got %q want off", fsync)
		}
	})
	t.Run("wrong password is refused", func(t *testing.T) {
		bad := *u
		bad.User = url.UserPassword("runbook", "wrong")
		conn, err := pgx.Connect(ctx, bad.String())
		if err == nil {
			conn.Close(ctx)
			t.Fatal("connect with a wrong password: got no error want an authentication failure")
		}
		if !strings.Contains(err.Error(), "password authentication failed") {
			t.Errorf("error: got %q want a password authentication failure", err)
		}
	})
}

func TestRedis(t *testing.T) {
	raw := testserver.Redis(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse URL: %v", err)
	}
	if _, ok := u.User.Password(); !ok {
		t.Fatalf("URL %q has no password", raw)
	}

	t.Run("password works", func(t *testing.T) {
		opts, err := goredis.ParseURL(raw)
		if err != nil {
			t.Fatalf("parse URL: %v", err)
		}
		c := goredis.NewClient(opts)
		defer c.Close()
		got, err := c.ConfigGet(ctx, "save").Result()
		if err != nil {
			t.Fatalf("CONFIG GET save: %v", err)
		}
		if got["save"] != "" {
			t.Errorf("save: got %q want empty (no snapshots)", got["save"])
		}
	})
	t.Run("no password is refused", func(t *testing.T) {
		anon := *u
		anon.User = nil
		opts, err := goredis.ParseURL(anon.String())
		if err != nil {
			t.Fatalf("parse URL: %v", err)
		}
		c := goredis.NewClient(opts)
		defer c.Close()
		if err := c.Set(ctx, "k", "v", 0).Err(); err == nil {
			t.Fatal("SET as the default user: got no error want NOAUTH")
		}
	})
}

func TestSSH(t *testing.T) {
	servers := testserver.SSH(t)
	if len(servers) != 2 || servers[0].Port == servers[1].Port {
		t.Fatalf("got %+v, want two servers on two ports", servers)
	}
	for _, s := range servers {
		out, err := exec.Command("ssh", "-o", "BatchMode=yes", "-o", "UserKnownHostsFile="+s.KnownHosts,
			"-o", "StrictHostKeyChecking=yes", "-i", s.KeyFile, "-p", strconv.Itoa(s.Port), s.User+"@"+s.Host, "echo", "hello").CombinedOutput()
		if err != nil && !errors.Is(err, exec.ErrNotFound) {
			t.Fatalf("ssh to port %d: %v\n%s", s.Port, err, out)
		}
		if err == nil && strings.TrimSpace(string(out)) != "hello" {
			t.Fatalf("ssh to port %d: got %q", s.Port, out)
		}
	}
}
