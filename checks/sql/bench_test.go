package sql_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/runbookhq/runbook/checks/sql"
	"github.com/runbookhq/runbook/internal/testserver"
)

// benchParallelism is how many checks run at once, in the provider and in
// the plain pgxpool floor alike; it is also both pools' size.
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

// floorPool returns a plain pgxpool of benchParallelism connections, all
// open, for the floor: what the queries cost with no provider around them.
func floorPool(ctx context.Context, b *testing.B, dsn string) *pgxpool.Pool {
	b.Helper()
	config, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	config.MaxConns = benchParallelism
	pool, err := pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	spread(b, func(int) error { return floorQuery(ctx, pool, "SELECT 1") })
	return pool
}

// floorQuery runs query, which returns one integer, on pool.
func floorQuery(ctx context.Context, pool *pgxpool.Pool, query string) error {
	var n int64
	return pool.QueryRow(ctx, query).Scan(&n)
}

// BenchmarkSelect1 runs 1000 `SELECT 1` checks through the provider, and
// the same through one plain pgxpool of the same size (the floor).
func BenchmarkSelect1(b *testing.B) {
	dsn := testserver.Postgres(b)
	// The engine always runs a check under its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	b.Run("floor=pgxpool", func(b *testing.B) {
		pool := floorPool(ctx, b, dsn)
		b.ResetTimer()
		for b.Loop() {
			spread(b, func(int) error { return floorQuery(ctx, pool, "SELECT 1") })
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
			spread(b, func(int) error { // open the pool's connections
				_, err := p.Run(ctx, cfg)
				return err
			})
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

// BenchmarkSelect1Interleaved alternates the floor (one plain pgxpool)
// and the provider, 1000 `SELECT 1` each, at the same parallelism, so
// load from elsewhere on the machine hits both alike, and reports each
// one's time per 1000 checks and their ratio. The target is a ratio of at
// most 1.20.
func BenchmarkSelect1Interleaved(b *testing.B) {
	interleaved(b, "SELECT 1")
}

// BenchmarkChangingInterleaved is BenchmarkSelect1Interleaved for a query
// whose answer changes every time, so the provider builds every result
// afresh rather than returning the last one.
func BenchmarkChangingInterleaved(b *testing.B) {
	interleaved(b, "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::int8 AS n")
}

// interleaved alternates 1000 runs of query, which returns one integer,
// on the floor and through the provider.
func interleaved(b *testing.B, query string) {
	dsn := testserver.Postgres(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	pool := floorPool(ctx, b, dsn)
	p := &sql.Provider{PoolSize: benchParallelism}
	defer p.Close()
	cfg := decode(b, p, fmt.Sprintf("dsn = var.dsn\nquery = %q", query), dsn)
	spread(b, func(int) error { // open the provider's connections
		_, err := p.Run(ctx, cfg)
		return err
	})
	var floor, provider time.Duration
	for b.Loop() {
		start := time.Now()
		spread(b, func(int) error { return floorQuery(ctx, pool, query) })
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
