package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestAnAnswerWithoutRowsIsNotUnreachable: an answer that is not a
// PostgreSQL error (pgx.ErrNoRows from Stop when the stop row is gone)
// comes back at once as what it is: the store stays reachable (so
// /healthz does not say otherwise, and a watch does not fail open) and
// the read is not retried until its deadline.
func TestAnAnswerWithoutRowsIsNotUnreachable(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	p := openWith(t, dsn, PostgresOptions{Timeout: 3 * time.Second})
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DELETE FROM runbook.stop`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = p.Stop(ctx)
	took := time.Since(start)
	var damaged *DamagedStopError
	if !errors.As(err, &damaged) {
		t.Errorf("Stop without its row: %v", err)
	}
	if r := p.Reachability(); !r.Reachable {
		t.Errorf("the database answered (no row), yet the store says unreachable: %+v", r)
	}
	if took >= 3*time.Second {
		t.Errorf("Stop took its whole deadline (%v): the answer was retried as a connection failure", took)
	}
}

// TestUnreachable: which errors mean the server was not reached.
func TestUnreachable(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"no rows", pgx.ErrNoRows, false},
		{"no rows, wrapped", fmt.Errorf("read: %w", pgx.ErrNoRows), false},
		{"a value that does not scan", errors.New("can't scan into dest[0]: cannot scan NULL into *string"), false},
		{"permission denied", &pgconn.PgError{Code: "42501"}, false},
		{"schema behind", &SchemaError{Have: 1, Want: 2}, false},
		{"too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"no connection", &connectError{err: errors.New("dial tcp: connection refused")}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"closed mid-answer", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"network", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("broken")}, true},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"conn closed", pgconn.ErrConnClosed, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unreachable(tt.err); got != tt.want {
				t.Errorf("unreachable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// silentServer accepts connections and never answers: a database whose
// link froze. It returns its URL.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return "postgres://u:pw@" + ln.Addr().String() + "/db?sslmode=disable"
}

// TestUnreachableStoreProbesOnce: a lazily opened store whose database
// does not answer gives up on its first contact after the probe timeout,
// not the call deadline, and so does every later call until one gets an
// answer: a single short attempt each.
func TestUnreachableStoreProbesOnce(t *testing.T) {
	ctx := context.Background()
	const deadline = time.Minute
	p, err := OpenPostgresWith(ctx, silentServer(t), PostgresOptions{Lazy: true, Timeout: deadline, ProbeTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if r := p.Reachability(); r.Reachable {
		t.Fatalf("reachability after the first contact: %+v", r)
	}
	for _, call := range []func() error{
		func() error { _, err := p.Stop(ctx); return err },
		func() error { _, err := p.SaveRun(ctx, testRun("20251202T131219Z-0b0e", "passed")); return err },
	} {
		start := time.Now()
		err := call()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("a call on the silent database: %v, want its probe's deadline", err)
		}
		if took := time.Since(start); took >= deadline/2 {
			t.Errorf("a call took %v: it waited for the call deadline", took)
		}
	}
}
