package engine

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Sensitivity is a mark on values, as in Terraform: the value of a
// sensitive variable carries the mark, and cty carries it through every
// operator, template and function to whatever is derived from it. At the
// edges, where the engine turns values into Go strings (a provider's
// arguments, an assert's message, a title), the mark is taken off and the
// string is registered with the run's Redactor, so the derived form is
// replaced in everything printed or stored, not just the variable's own
// text.

// valueMark is the type of the engine's marks.
type valueMark string

// sensitiveMark marks a value derived from a sensitive variable.
const sensitiveMark = valueMark("sensitive")

// markSensitive marks v (and so everything derived from it) sensitive.
func markSensitive(v cty.Value) cty.Value {
	if v == cty.NilVal {
		return v
	}
	return v.Mark(sensitiveMark)
}

// unmark takes every mark off v, registering the strings inside each
// marked part with red. It returns the plain value and the paths of the
// marked parts (nil when nothing was marked, without allocating).
func unmark(v cty.Value, red *Redactor) (cty.Value, []cty.PathValueMarks) {
	if v == cty.NilVal || !v.ContainsMarked() {
		return v, nil
	}
	plain, pvm := v.UnmarkDeepWithPaths()
	for _, pm := range pvm {
		if _, ok := pm.Marks[sensitiveMark]; !ok {
			continue
		}
		if part, err := pm.Path.Apply(plain); err == nil {
			red.Add(secretStrings(part)...)
		}
	}
	return plain, pvm
}

// sensitivePath reports whether the value at path is marked sensitive, or
// lies inside a part that is.
func sensitivePath(pvm []cty.PathValueMarks, path cty.Path) bool {
	for _, pm := range pvm {
		if _, ok := pm.Marks[sensitiveMark]; !ok {
			continue
		}
		if len(pm.Path) <= len(path) && path[:len(pm.Path)].Equals(pm.Path) {
			return true
		}
	}
	return false
}

// redactingFunctions wraps each function so that a result derived from a
// sensitive argument is registered with red as soon as it is computed:
// upper(var.token), base64encode("u:${var.token}") and jsonencode({t =
// var.token}) are then redacted wherever they appear, in a command line
// or in what the command prints. The wrapper lets the original function
// handle marks, unknowns and nulls exactly as before. Runbooks without
// sensitive variables keep the plain functions.
func redactingFunctions(fns map[string]function.Function, red *Redactor) map[string]function.Function {
	out := make(map[string]function.Function, len(fns))
	for name, f := range fns {
		switch name {
		case "try", "can":
			out[name] = f // they take expressions, and only pass values on
			continue
		}
		out[name] = redactingFunction(f, red)
	}
	return out
}

func redactingFunction(f function.Function, red *Redactor) function.Function {
	open := func(p function.Parameter) function.Parameter {
		p.AllowMarked, p.AllowUnknown, p.AllowNull, p.AllowDynamicType = true, true, true, true
		return p
	}
	spec := &function.Spec{Description: f.Description()}
	for _, p := range f.Params() {
		spec.Params = append(spec.Params, open(p))
	}
	if vp := f.VarParam(); vp != nil {
		p := open(*vp)
		spec.VarParam = &p
	}
	spec.Type = func(args []cty.Value) (cty.Type, error) { return f.ReturnTypeForValues(args) }
	spec.Impl = func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		v, err := f.Call(args)
		if err == nil && v.IsWhollyKnown() && v.ContainsMarked() {
			plain, _ := v.UnmarkDeep()
			red.Add(secretStrings(plain)...)
		}
		return v, err
	}
	return function.New(spec)
}

// sensitiveEnv marks the RUNBOOK_VAR_ entries of sensitive variables in
// the env.* map.
func sensitiveEnv(env map[string]cty.Value, sensitive map[string]bool) {
	for name := range sensitive {
		if v, ok := env["RUNBOOK_VAR_"+name]; ok {
			env["RUNBOOK_VAR_"+name] = markSensitive(v)
		}
	}
}

// plainValue evaluates e in ctx and takes the marks off the result,
// registering what was marked with red: for settings the engine reads as
// Go values (a title, a when condition, a timeout).
func plainValue(e hcl.Expression, ctx *hcl.EvalContext, red *Redactor) (cty.Value, hcl.Diagnostics) {
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return v, diags
	}
	if red != nil && v.ContainsMarked() {
		registerDerived(e, ctx, red)
	}
	v, _ = unmark(v, red)
	return v, diags
}

// registerDerived registers with red the value of every sensitive part
// of node (an expression or a provider block's body) evaluated in ctx.
// Functions register what they derive from a secret themselves, but
// operators are not functions: in "echo ${var.pin + 1}" only the whole
// string would be known, and the command's output of 73520 would not be
// redacted. Each operator, conditional, index and reference is evaluated
// on its own; those whose value is marked and known are registered (a
// template is not: the text around a secret in a message stays). It
// costs an evaluation per sub-expression, and only runs for values that
// carry the mark.
func registerDerived(node any, ctx *hcl.EvalContext, red *Redactor) {
	n, ok := node.(hclsyntax.Node)
	if !ok || red == nil {
		return
	}
	_ = hclsyntax.VisitAll(n, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.BinaryOpExpr, *hclsyntax.UnaryOpExpr, *hclsyntax.ConditionalExpr,
			*hclsyntax.IndexExpr, *hclsyntax.RelativeTraversalExpr, *hclsyntax.ScopeTraversalExpr,
			*hclsyntax.SplatExpr, *hclsyntax.ForExpr, *hclsyntax.TemplateWrapExpr:
			v, diags := e.(hclsyntax.Expression).Value(ctx)
			if !diags.HasErrors() && v.ContainsMarked() && v.IsWhollyKnown() {
				unmark(v, red)
			}
		}
		return nil
	})
}

// childEnviron is environ without the RUNBOOK_VAR_ entries of sensitive
// variables, or nil when there are none: a child process gets such a
// value only when a step passes it in env.
func childEnviron(environ []string, sensitive map[string]bool) []string {
	if len(sensitive) == 0 {
		return nil
	}
	out := make([]string, 0, len(environ))
	dropped := false
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "RUNBOOK_VAR_"); ok && sensitive[name] {
			dropped = true
			continue
		}
		out = append(out, kv)
	}
	if !dropped {
		return nil
	}
	return out
}

// marks reports whether values may carry the sensitive mark: whether the
// runbook declares a sensitive variable. Without one, the engine skips
// every walk looking for marks.
func (b *Bound) marks() bool { return len(b.Sensitive) > 0 }
