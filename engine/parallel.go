package engine

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Decoding, reference resolution and binding run per item on every core.
// Measured on `runbook validate` (2026-12-01, 2 cores, interleaved against
// a build with forEach serial, medians of 11–15): 8% less wall time at
// 10,000 http checks and 13% less at 1,000, for 9–29% more CPU. The
// chunked parallel parser that used to sit beside it won nothing (serial
// hclsyntax.ParseConfig was 2% faster by wall time and 2–23% cheaper in
// CPU) and was removed; parsing in pieces came back, one piece after
// another, for memory (parse.go).

// parallelMin is the fewest items worth spreading over goroutines.
var parallelMin = 64

// forEach calls f(i) for every i in [0, n), on up to GOMAXPROCS goroutines
// when n is large enough to pay for them. f must touch only what belongs to
// index i (results go into slices indexed by i); callers merge afterwards,
// in index order, so diagnostics keep the order a serial loop gives.
func forEach(n int, f func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if n < parallelMin || workers < 2 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	const batch = 16
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				lo := int(next.Add(batch)) - batch
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+batch, n); i++ {
					f(i)
				}
			}
		}()
	}
	wg.Wait()
}
