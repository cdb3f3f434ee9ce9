// Package checkstest helps provider tests feed a provider the value the
// engine would: a block body decoded with the provider's own schema.
package checkstest

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

// Decode parses src as the body of a provider block and decodes it with
// p's schema; vars, when given, are available as var.NAME. Parse and
// decode errors fail the test.
func Decode(t testing.TB, p checks.Provider, src string, vars map[string]cty.Value) cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %q: %s", src, diags)
	}
	var ctx *hcl.EvalContext
	if len(vars) > 0 {
		ctx = &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(vars)}}
	}
	v, diags := hcldec.Decode(f.Body, p.Schema(), ctx)
	if diags.HasErrors() {
		t.Fatalf("decode %q: %s", src, diags)
	}
	return v
}
