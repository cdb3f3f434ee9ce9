package golden

import (
	"context"
	"runtime"
	"sync"
)

// Scan compares every pair with at most workers goroutines (GOMAXPROCS
// when workers <= 0) and calls emit with each result in the order of pairs,
// from the calling goroutine. At most a few results per worker wait to be
// emitted, so memory does not grow with the number of pairs. Scan stops
// at the first error emit returns, or when ctx is done, and returns it.
func (c *Comparer) Scan(ctx context.Context, pairs []Pair, workers int, emit func(*PairResult) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)

	type job struct {
		pair Pair
		out  chan PairResult
	}
	jobs := make(chan job)
	// order holds each job's result channel in pair order; its capacity
	// bounds how far the workers may run ahead of emit.
	order := make(chan chan PairResult, 4*workers)

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				j.out <- c.CompareFiles(j.pair)
			}
		})
	}
	go func() {
		defer close(order)
		defer close(jobs)
		for _, p := range pairs {
			out := make(chan PairResult, 1)
			select {
			case order <- out:
			case <-ctx.Done():
				return
			}
			select {
			case jobs <- job{pair: p, out: out}:
			case <-ctx.Done():
				return
			}
		}
	}()
	// Stop the producer before waiting for the workers it feeds.
	defer func() {
		cancel()
		wg.Wait()
	}()

	for out := range order {
		var r PairResult
		select {
		case r = <-out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := emit(&r); err != nil {
			return err
		}
	}
	return ctx.Err()
}
