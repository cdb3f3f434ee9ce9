package redis_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/checks/redis"
	"github.com/runbookhq/runbook/internal/testserver"
)

// benchParallelism is how many checks run at once, in the provider and in
// the plain go-redis floor alike.
const benchParallelism = 4

// checksPerOp is how many PINGs one benchmark op sends.
const checksPerOp = 1000

// spread runs fn checksPerOp times over benchParallelism goroutines.
func spread(b *testing.B, fn func() error) {
	jobs := make(chan struct{})
	errs := make(chan error, benchParallelism)
	var wg sync.WaitGroup
	for range benchParallelism {
		wg.Go(func() {
			for range jobs {
				if err := fn(); err != nil {
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

// BenchmarkPing sends 1000 PINGs through the provider, and the same
// through one plain go-redis client (the floor).
func BenchmarkPing(b *testing.B) {
	raw := testserver.Redis(b)
	// The engine always runs a check under its timeout.
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()

	b.Run("floor=go-redis", func(b *testing.B) {
		c := client(b, raw)
		if err := c.Ping(ctx).Err(); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			spread(b, func() error { return c.Ping(ctx).Err() })
		}
	})
	b.Run("provider", func(b *testing.B) {
		p := redis.New()
		defer p.(interface{ Close() error }).Close()
		cfg := decode(b, p, "url = var.url\ncommand = [\"PING\"]", raw)
		if _, err := p.Run(ctx, cfg); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			spread(b, func() error {
				_, err := p.Run(ctx, cfg)
				return err
			})
		}
	})
}

// BenchmarkPingInterleaved alternates the floor and the provider batch by
// batch, so load from elsewhere on the machine hits both alike, and
// reports each one's time per 1000 PINGs and their ratio.
func BenchmarkPingInterleaved(b *testing.B) {
	raw := testserver.Redis(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	c := client(b, raw)
	p := redis.New()
	defer p.(interface{ Close() error }).Close()
	cfg := decode(b, p, "url = var.url\ncommand = [\"PING\"]", raw)
	if _, err := p.Run(ctx, cfg); err != nil {
		b.Fatal(err)
	}
	if err := c.Ping(ctx).Err(); err != nil {
		b.Fatal(err)
	}
	var floor, provider time.Duration
	for b.Loop() {
		start := time.Now()
		spread(b, func() error { return c.Ping(ctx).Err() })
		floor += time.Since(start)
		start = time.Now()
		spread(b, func() error {
			_, err := p.Run(ctx, cfg)
			return err
		})
		provider += time.Since(start)
	}
	b.ReportMetric(float64(floor.Nanoseconds())/float64(b.N), "floor-ns/op")
	b.ReportMetric(float64(provider.Nanoseconds())/float64(b.N), "provider-ns/op")
	b.ReportMetric(float64(provider)/float64(floor), "ratio")
}
