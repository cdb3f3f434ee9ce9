//go:build !linux

package process

// clockTicks returns Linux's usual clock tick rate; without /proc, Run
// returns an error before it matters.
func clockTicks() float64 { return 100 }
