package engine

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/internal/secret"
	"github.com/zclconf/go-cty/cty"
)

// PlanItem is one line of `runbook plan`: what would run, in which order,
// with what arguments.
type PlanItem struct {
	Order    int    `json:"order"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Title    string `json:"title,omitempty"`
	Provider string `json:"provider"`
	// Target is where the item runs, for an item with `on`: the target's
	// name, its address, and "HOST KEY NOT VERIFIED" when
	// insecure_ignore_host_key is set.
	Target string `json:"target,omitempty"`
	// Action is the provider's one-line description, when its arguments
	// are known before the run.
	Action string `json:"action,omitempty"`
	// Args are the provider block's arguments; values that depend on
	// results are "(known after run)", sensitive ones "(sensitive)".
	Args      map[string]any `json:"args,omitempty"`
	DependsOn []string       `json:"depends_on,omitempty"`
	When      string         `json:"when,omitempty"`
	Confirm   bool           `json:"confirm,omitempty"`
	Manual    bool           `json:"manual,omitempty"`
	// Required marks a manual step that cannot be skipped.
	Required  bool   `json:"required,omitempty"`
	Timeout   string `json:"timeout"`
	Attempts  int    `json:"attempts"`
	OnFailure string `json:"on_failure,omitempty"`
	// Variables are the variables the item uses, with redacted values.
	Variables map[string]any `json:"variables,omitempty"`
	// Selected is false for items --only/--skip leave out.
	Selected   bool   `json:"selected"`
	SkipReason string `json:"skip_reason,omitempty"`
}

// Plan returns what Run would do with the same options, running nothing.
func Plan(b *Bound, opts Options) ([]PlanItem, error) {
	r := &runner{b: b, opts: opts}
	if err := r.plan(); err != nil {
		return nil, err
	}
	ctx := b.unknownScope()
	var out []PlanItem
	for i, n := range r.nodes {
		pi := PlanItem{
			Order:      i + 1,
			Kind:       n.item.Kind,
			Name:       n.rec.Name,
			Title:      b.Redactor.String(n.rec.Title),
			Provider:   n.rec.Provider,
			Confirm:    n.set.Confirm,
			Manual:     n.src.Manual != nil,
			Required:   n.set.Required,
			Timeout:    n.set.Timeout.String(),
			Attempts:   n.set.Attempts,
			Selected:   n.selected,
			SkipReason: n.skipReason,
		}
		if n.item.Kind != "check" {
			pi.OnFailure = n.set.OnFailure
		}
		if n.target != "" {
			pi.Target = b.targetDescription(n.target)
		}
		if len(n.subs) > 0 {
			// A step made of checks runs them: "check.a, check.b".
			pi.Provider, pi.Action = "checks", n.rec.Action
		}
		seen := map[*node]bool{}
		for _, d := range append([]*node{n.prev}, n.deps...) {
			if d != nil && !seen[d] {
				seen[d] = true
				pi.DependsOn = append(pi.DependsOn, d.item.Address())
			}
		}
		if n.item.When != nil {
			pi.When = b.Redactor.String(r.source(n.item.When))
		}
		var exprs []hcl.Traversal
		if n.src.ProviderBody != nil {
			pt := b.Config.types.get(b.reg, n.src.ProviderType)
			spec := pt.spec
			val, diags := hcldec.Decode(n.src.ProviderBody, spec, ctx)
			if !diags.HasErrors() {
				pi.Args = b.planArgs(val)
				plain, _ := unmark(val, b.Redactor)
				if plain.IsWhollyKnown() {
					if d, ok := pt.proto.(checks.Describer); ok {
						pi.Action = secret.MaskText(b.Redactor.String(d.Describe(plain)))
					}
				}
			}
			exprs = append(exprs, hcldec.Variables(n.src.ProviderBody, spec)...)
		}
		if n.item.When != nil {
			exprs = append(exprs, n.item.When.Variables()...)
		}
		for _, a := range n.src.Asserts {
			exprs = append(exprs, a.Condition.Variables()...)
		}
		pi.Variables = b.usedVariables(exprs)
		out = append(out, pi)
	}
	return out, nil
}

// planArgs renders a decoded provider config for plan: unknown values as
// "(known after run)", values derived from sensitive ones as
// "(sensitive)", strings redacted and connection-string passwords masked,
// nulls left out.
func (b *Bound) planArgs(v cty.Value) map[string]any {
	if !v.Type().IsObjectType() || v.IsNull() {
		return nil
	}
	out := map[string]any{}
	for name := range v.Type().AttributeTypes() {
		a := v.GetAttr(name)
		if a.IsNull() {
			continue
		}
		out[name] = b.planValue(a)
	}
	return out
}

func (b *Bound) planValue(v cty.Value) any { return b.shownValue(v, "(known after run)") }

// shownValue renders a value for people and documents: parts derived from
// sensitive values as "(sensitive)", unknown parts as unknown, strings
// redacted and connection-string passwords masked.
func (b *Bound) shownValue(v cty.Value, unknown any) any {
	if v.HasMark(sensitiveMark) {
		unmark(v, b.Redactor)
		return Redacted
	}
	if v.ContainsMarked() && v.IsKnown() && !v.IsNull() && !v.Type().IsPrimitiveType() {
		// Some parts are sensitive: show the others.
		switch {
		case v.Type().IsObjectType() || v.Type().IsMapType():
			out := map[string]any{}
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				k, _ = unmark(k, b.Redactor)
				out[b.Redactor.String(k.AsString())] = b.shownValue(e, unknown)
			}
			return out
		case v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType():
			var out []any
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				out = append(out, b.shownValue(e, unknown))
			}
			return out
		}
	}
	v, _ = unmark(v, b.Redactor)
	if !v.IsWhollyKnown() {
		if v.IsKnown() && (v.Type().IsObjectType() || v.Type().IsMapType()) {
			out := map[string]any{}
			for it := v.ElementIterator(); it.Next(); {
				k, e := it.Element()
				out[k.AsString()] = b.shownValue(e, unknown)
			}
			return out
		}
		if v.IsKnown() && (v.Type().IsListType() || v.Type().IsTupleType()) {
			var out []any
			for it := v.ElementIterator(); it.Next(); {
				_, e := it.Element()
				out = append(out, b.shownValue(e, unknown))
			}
			return out
		}
		return unknown
	}
	return maskJSON(b.Redactor.Value(checks.JSONValue(v)))
}

// usedVariables lists the variables referenced by the traversals, with
// their values as a run record shows them.
func (b *Bound) usedVariables(travs []hcl.Traversal) map[string]any {
	all := b.RecordVariables()
	out := map[string]any{}
	for _, tr := range travs {
		if tr.RootName() != "var" {
			continue
		}
		if name, ok := attrName(tr); ok {
			out[name] = all[name]
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// SortedNames returns the keys of a plan map in order.
func SortedNames(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FormatArg renders a plan argument value on one line.
func FormatArg(v any) string {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "\n", "\\n")
	default:
		return jsonOneLine(v)
	}
}
