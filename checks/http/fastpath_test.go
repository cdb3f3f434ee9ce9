package http

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

// DefaultPasses must agree with the default assert's condition: true for
// exactly the results the condition passes, on real responses, and never
// true for what the condition cannot judge.
func TestDefaultPassesAgreesWithCondition(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	}))
	defer srv.Close()
	p := New().(*Provider)
	defer p.Close()
	cond, _ := p.DefaultAssert()
	expr, diags := hclsyntax.ParseExpression([]byte(cond), "default", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	byCondition := func(self cty.Value) bool {
		v, diags := expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"self": self}})
		return !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.True()
	}
	withSelf := func(res cty.Value) cty.Value {
		attrs := res.AsValueMap()
		attrs["duration_ms"] = cty.NumberIntVal(3)
		attrs["attempts"] = cty.NumberIntVal(1)
		return cty.ObjectVal(attrs)
	}
	for _, code := range []int{200, 204, 301, 399, 400, 404, 500, 503} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			res, err := p.Run(context.Background(), decode(t, p, fmt.Sprintf("url = %q\nfollow_redirects = false\n", fmt.Sprintf("%s/?code=%d", srv.URL, code))))
			if err != nil {
				t.Fatal(err)
			}
			self := withSelf(res)
			if got, want := p.DefaultPasses(self), byCondition(self); got != want {
				t.Errorf("status %d: DefaultPasses = %v, condition says %v", code, got, want)
			}
			// The result kept in Go answers the same.
			gres, err := p.RunResult(context.Background(), decode(t, p, fmt.Sprintf("url = %q\nfollow_redirects = false\n", fmt.Sprintf("%s/?code=%d", srv.URL, code))))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := gres.(checks.DefaultPasser).DefaultPasses(), byCondition(withSelf(gres.Value())); got != want {
				t.Errorf("status %d: the Go result's DefaultPasses = %v, condition says %v", code, got, want)
			}
		})
	}
	for name, self := range map[string]cty.Value{
		"nil":            cty.NilVal,
		"null status":    cty.ObjectVal(map[string]cty.Value{"status": cty.NullVal(cty.Number)}),
		"unknown status": cty.ObjectVal(map[string]cty.Value{"status": cty.UnknownVal(cty.Number)}),
		"string status":  cty.ObjectVal(map[string]cty.Value{"status": cty.StringVal("200")}),
		"marked":         cty.ObjectVal(map[string]cty.Value{"status": cty.NumberIntVal(200)}).Mark("sensitive"),
		"no status":      cty.EmptyObjectVal,
	} {
		t.Run(name, func(t *testing.T) {
			if p.DefaultPasses(self) {
				t.Errorf("DefaultPasses(%s) = true, want false (the condition decides)", name)
			}
		})
	}
}
