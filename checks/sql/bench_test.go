package sql_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/checks/sql"
	"github.com/runbookhq/runbook/internal/testserver"
)

// benchParallelism is how many checks run at once, in the provider and in
// the plain pgx floor alike.
const benchParallelism = 4

// checksPerOp is how many `SELECT 1` queries one benchmark op runs.
const checksPerOp = 1000

// spread runs fn checksPerOp times over benchParallelism goroutines; each
// goroutine gets its worker number.
func spread(b *testing.B, fn func(worker int) error) {
	jobs := make(chan struct{})
	errs := make(chan error, benchParallelism)
	var wg sync.WaitGroup
	for w := range benchParallelism {
		wg.Go(func() {
			for range jobs {
				if err := fn(w); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for range checksPerOp {
		jobs <- struct{}{}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// BenchmarkSelect1 runs 1000 `SELECT 1` checks through the provider, and
// the same through plain pgx connections (one per worker, the floor).
func BenchmarkSelect1(b *testing.B) {
	dsn := testserver.Postgres(b)
	// The engine always runs a check under its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	b.Run("floor=pgx", func(b *testing.B) {
		conns := make([]*pgx.Conn, benchParallelism)
		for i := range conns {
			conns[i] = connect(b, dsn)
		}
		b.ResetTimer()
		for b.Loop() {
			spread(b, func(w int) error {
				var n int
				return conns[w].QueryRow(ctx, "SELECT 1").Scan(&n)
			})
		}
	})
	for _, mode := range []struct{ name, body string }{
		{"provider/read_only", "dsn = var.dsn\nquery = \"SELECT 1\""},
		{"provider/read_write", "dsn = var.dsn\nquery = \"SELECT 1\"\nread_only = false"},
	} {
		b.Run(mode.name, func(b *testing.B) {
			p := &sql.Provider{PoolSize: benchParallelism}
			defer p.Close()
			cfg := decode(b, p, mode.body, dsn)
			if _, err := p.Run(ctx, cfg); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				spread(b, func(int) error {
					_, err := p.Run(ctx, cfg)
					return err
				})
			}
		})
	}
}

// BenchmarkSelect1Interleaved alternates the floor and the provider batch
// by batch, so load from elsewhere on the machine hits both alike, and
// reports each one's time per 1000 checks and their ratio.
func BenchmarkSelect1Interleaved(b *testing.B) {
	dsn := testserver.Postgres(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	conns := make([]*pgx.Conn, benchParallelism)
	for i := range conns {
		conns[i] = connect(b, dsn)
	}
	p := &sql.Provider{PoolSize: benchParallelism}
	defer p.Close()
	cfg := decode(b, p, "dsn = var.dsn\nquery = \"SELECT 1\"", dsn)
	if _, err := p.Run(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	var floor, provider time.Duration
	for b.Loop() {
		start := time.Now()
		spread(b, func(w int) error {
			var n int
			return conns[w].QueryRow(ctx, "SELECT 1").Scan(&n)
		})
		floor += time.Since(start)
		start = time.Now()
		spread(b, func(int) error {
			_, err := p.Run(ctx, cfg)
			return err
		})
		provider += time.Since(start)
	}
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(provider.Nanoseconds())/float64(b.N), "provider-ns/op")
	b.ReportMetric(float64(provider)/float64(floor), "ratio")
}
