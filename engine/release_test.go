package engine_test

import (
	"context"
	"fmt"
	"math/big"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

// bigResult returns a result whose one number is watched by a finalizer.
type bigResult struct{ freed *atomic.Bool }

func (p bigResult) Schema() hcldec.Spec { return &hcldec.ObjectSpec{} }
func (p bigResult) Run(context.Context, cty.Value) (cty.Value, error) {
	// A number: the record holds it as a string of its own.
	n := new(big.Float).SetInt64(42)
	runtime.SetFinalizer(n, func(*big.Float) { p.freed.Store(true) })
	return cty.ObjectVal(map[string]cty.Value{"out": cty.NumberVal(n)}), nil
}

// freedProbe reports whether bigResult's result was let go by the time it
// runs.
type freedProbe struct{ freed *atomic.Bool }

func (p freedProbe) Schema() hcldec.Spec { return &hcldec.ObjectSpec{} }
func (p freedProbe) Run(context.Context, cty.Value) (cty.Value, error) {
	for i := 0; i < 20 && !p.freed.Load(); i++ {
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
	return cty.ObjectVal(map[string]cty.Value{"freed": cty.BoolVal(p.freed.Load())}), nil
}

// A finished check's result as cty is not kept for the rest of the run
// when nothing refers to it: its record holds it as JSON.
func TestFinishedResultIsNotKept(t *testing.T) {
	src := `runbook "t" {}
check "big" {
  big {}
}
check "probe" {
  probe {}
}
`
	var freed atomic.Bool
	reg := testRegistry()
	providers := map[string]checks.Factory{
		"big":   func() checks.Provider { return bigResult{&freed} },
		"probe": func() checks.Provider { return freedProbe{&freed} },
	}
	for k, v := range reg.Providers {
		providers[k] = v
	}
	reg.Providers = providers
	cfg, diags := engine.LoadSource("runbook.hcl", []byte(src), reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r, err := engine.Run(context.Background(), b, engine.Options{Concurrency: 1}) // in plan order
	if err != nil {
		t.Fatal(err)
	}
	if it := item(t, r, "check", "big"); it.Status != record.Passed || fmt.Sprint(it.Result["out"]) != "42" {
		t.Fatalf("big: %s, result %v; want passed with out = 42", it.Status, it.Result)
	}
	if got := item(t, r, "check", "probe").Result["freed"]; got != true {
		t.Errorf("the finished check's result was still held when the next check ran (freed = %v)", got)
	}
}
