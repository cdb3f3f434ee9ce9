package shell

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// DefaultPasses must agree with the default assert's condition: true for
// exactly the real commands the condition passes, and never true for what
// the condition cannot judge.
func TestDefaultPassesAgreesWithCondition(t *testing.T) {
	p := New().(*Provider)
	cond, _ := p.DefaultAssert()
	expr, diags := hclsyntax.ParseExpression([]byte(cond), "default", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	byCondition := func(self cty.Value) bool {
		v, diags := expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"self": self}})
		return !diags.HasErrors() && v.IsKnown() && !v.IsNull() && v.True()
	}
	for _, code := range []int{0, 1, 2, 127, 255} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			cfg := decode(t, p, fmt.Sprintf("command = [\"sh\", \"-c\", \"exit %d\"]\n", code))
			res, err := p.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := p.DefaultPasses(res), byCondition(res); got != want || want != (code == 0) {
				t.Errorf("exit %d: DefaultPasses = %v, condition says %v", code, got, want)
			}
		})
	}
	for name, self := range map[string]cty.Value{
		"nil":               cty.NilVal,
		"null exit_code":    cty.ObjectVal(map[string]cty.Value{"exit_code": cty.NullVal(cty.Number)}),
		"unknown exit_code": cty.ObjectVal(map[string]cty.Value{"exit_code": cty.UnknownVal(cty.Number)}),
		"marked":            cty.ObjectVal(map[string]cty.Value{"exit_code": cty.Zero}).Mark("sensitive"),
		"no exit_code":      cty.EmptyObjectVal,
	} {
		t.Run(name, func(t *testing.T) {
			if p.DefaultPasses(self) {
				t.Errorf("DefaultPasses(%s) = true, want false (the condition decides)", name)
			}
		})
	}
}
