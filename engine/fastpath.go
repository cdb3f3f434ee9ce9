package engine

import (
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

// defaultPasser is implemented by providers that can tell, in Go, that a
// result meets their default assert (checks.DefaultAsserter), so the
// engine need not build an evaluation scope and evaluate the condition as
// HCL for every passing check. It must agree with the condition wherever
// it answers true; false means "evaluate the condition", which also
// renders the failure message. result is the provider's result: `self`
// without the duration_ms and attempts the engine adds, which no
// provider's default assert reads (the engine does not build `self` for
// a check that passes here: docs/performance.md, "round 6: HTTP").
//
// Measured on `BenchmarkRunHTTP1000` (2026-12-01): see
// docs/performance.md, "Default asserts in Go".
type defaultPasser interface {
	DefaultPasses(result cty.Value) bool
}

// passesByDefault reports whether the provider type's Go fast path says
// result meets its default assert: the result's own (checks.DefaultPasser)
// when it is kept in Go, else the provider's on the cty value.
func (b *Bound) passesByDefault(providerType string, o *outcome) bool {
	if o.g != nil && o.v == cty.NilVal {
		if dp, ok := o.g.(checks.DefaultPasser); ok {
			return dp.DefaultPasses()
		}
	}
	result := o.value()
	pt := b.Config.types.get(b.reg, providerType)
	if pt == nil {
		return false
	}
	dp, ok := pt.proto.(defaultPasser)
	return ok && dp.DefaultPasses(result)
}
