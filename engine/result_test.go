package engine_test

import (
	"context"
	"encoding/json"
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

// goResultProvider hands back its result in Go (checks.ResultRunner) and
// counts how often the engine asks for it as cty.
type goResultProvider struct{ built *atomic.Int64 }

func (p goResultProvider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{"status": &hcldec.AttrSpec{Name: "status", Type: cty.Number}}
}

func (p goResultProvider) DefaultAssert() (string, string) {
	return "self.status < 400", "status ${self.status}"
}

func (p goResultProvider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	res, err := p.RunResult(ctx, cfg)
	return res.Value(), err
}

func (p goResultProvider) RunResult(_ context.Context, cfg cty.Value) (checks.Result, error) {
	return &countedResult{status: checks.Int(cfg, "status", 200), built: p.built}, nil
}

// countedResult is a Go result that counts its conversions to cty.
type countedResult struct {
	status int64
	built  *atomic.Int64
}

func (r *countedResult) DefaultPasses() bool { return r.status < 400 }

func (r *countedResult) Value() cty.Value {
	r.built.Add(1)
	return cty.ObjectVal(map[string]cty.Value{"status": cty.NumberIntVal(r.status), "out": cty.StringVal("x")})
}

func (r *countedResult) JSON() map[string]any {
	return checks.JSONValue(cty.ObjectVal(map[string]cty.Value{"status": cty.NumberIntVal(r.status), "out": cty.StringVal("x")})).(map[string]any)
}

// A result a provider keeps in Go is built as cty only when an expression
// reads it (an assert, a failing default assert's message, a reference to
// the check), and the record holds its JSON either way.
func TestGoResultBuiltOnlyWhenRead(t *testing.T) {
	tests := []struct {
		name, body string
		status     string
		wantBuilt  int64
	}{
		{"default assert passes", `check "a" {
  gores {}
}`, record.Passed, 0},
		{"default assert fails", `check "a" {
  gores { status = 503 }
}`, record.Failed, 1},
		{"assert reads self", `check "a" {
  gores {}
  assert { condition = self.out == "x" }
}`, record.Passed, 1},
		{"another check refers to it", `check "a" {
  gores {}
}
check "b" {
  depends_on = [check.a]
  shell { command = ["true"] }
  assert { condition = check.a.out == "x" }
}`, record.Passed, 1},
		{"retry until reads self", `check "a" {
  gores {}
  retry {
    attempts = 2
    until    = self.out == "x"
  }
}`, record.Passed, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var built atomic.Int64
			reg := testRegistry()
			providers := map[string]checks.Factory{"gores": func() checks.Provider { return goResultProvider{&built} }}
			for k, v := range reg.Providers {
				providers[k] = v
			}
			reg.Providers = providers
			cfg, diags := engine.LoadSource("runbook.hcl", []byte("runbook \"t\" {}\n"+tc.body+"\n"), reg)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			b, diags := engine.Bind(cfg, reg, engine.Inputs{})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			r, err := engine.Run(context.Background(), b, engine.Options{Concurrency: 1})
			if err != nil {
				t.Fatal(err)
			}
			it := item(t, r, "check", "a")
			if it.Status != tc.status {
				t.Errorf("status %s, want %s (%+v)", it.Status, tc.status, it.Asserts)
			}
			if b := r.Item("check", "b"); b != nil && b.Status != record.Passed {
				t.Errorf("check b: %s %+v", b.Status, b.Asserts)
			}
			if got := built.Load(); got != tc.wantBuilt {
				t.Errorf("the result was built as cty %d times, want %d", got, tc.wantBuilt)
			}
			wantStatus := json.Number("200")
			if tc.status == record.Failed {
				wantStatus = "503"
			}
			if want := map[string]any{"status": wantStatus, "out": "x"}; !reflect.DeepEqual(it.Result, want) {
				t.Errorf("record's result %#v, want %#v", it.Result, want)
			}
		})
	}
}
