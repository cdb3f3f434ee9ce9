package engine

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

// Types known before running. A provider that publishes its result type
// (checks.Typed) has every reference to its results checked at load time:
// self.exit_cod in an assert, step.list.stdout_line in a later step and
// check.db.row elsewhere are errors with the reference's range and a
// suggestion, as Terraform checks aws_instance.x.ami against the
// provider's schema. Parts typed cty.DynamicPseudoType (a JSON body, SQL
// rows) are not checked further.

// valueType is the type of what a reference to an item evaluates to:
// `self` inside its asserts, or check.NAME / step.NAME elsewhere (see
// selfObject and itemObject). ok is false when it is not known.
func (d *decoder) valueType(it *Item, self bool) (cty.Type, bool) {
	src := it
	if it.CheckRef != "" {
		if c := d.cfg.Checks[it.CheckRef]; c != nil {
			src = c
		}
	}
	attrs := map[string]cty.Type{}
	result := cty.EmptyObject
	switch {
	case src.Manual != nil:
		if self {
			return cty.NilType, false
		}
		attrs["note"], attrs["operator"] = cty.String, cty.String
	case src.ProviderType != "":
		pt := d.cfg.types.get(d.reg, src.ProviderType)
		if pt == nil {
			return cty.NilType, false
		}
		typed, ok := pt.proto.(checks.Typed)
		if !ok {
			return cty.NilType, false
		}
		result = typed.Result()
		if !result.IsObjectType() {
			return cty.NilType, false
		}
		for name, t := range result.AttributeTypes() {
			attrs[name] = t
		}
	default:
		return cty.NilType, false
	}
	attrs["duration_ms"], attrs["attempts"] = cty.Number, cty.Number
	if !self {
		attrs["result"], attrs["status"] = result, cty.String
	}
	return cty.Object(attrs), true
}

// checkResultTraversal checks the steps of tr after the first skip ones
// against ty, reporting the first attribute an object type lacks. what
// names the value for the message ("self (a shell result)").
func checkResultTraversal(tr hcl.Traversal, skip int, ty cty.Type, what string) *hcl.Diagnostic {
	if len(tr) <= skip {
		return nil
	}
	for _, step := range tr[skip:] {
		if ty == cty.DynamicPseudoType {
			return nil
		}
		var name string
		isName := false
		switch s := step.(type) {
		case hcl.TraverseAttr:
			name, isName = s.Name, true
		case hcl.TraverseIndex:
			if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() && ty.IsObjectType() {
				name, isName = s.Key.AsString(), true
			}
		default:
			return nil
		}
		switch {
		case ty.IsObjectType() && isName:
			if !ty.HasAttribute(name) {
				var names []string
				for n := range ty.AttributeTypes() {
					names = append(names, n)
				}
				sort.Strings(names)
				return &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unsupported attribute",
					Detail:   fmt.Sprintf("%s has no attribute %q.%s", what, name, suggest(name, names)),
					Subject:  step.SourceRange().Ptr(),
				}
			}
			ty = ty.AttributeType(name)
			what = fmt.Sprintf("%q", name)
		case ty.IsMapType():
			ty = ty.ElementType()
		case ty.IsListType() && !isName:
			ty = ty.ElementType()
		default:
			return nil // the run reports anything else
		}
	}
	return nil
}

// checkResultRefs checks an item's references to results (self, check.X,
// step.X) against the result types providers publish.
func (d *decoder) checkResultRefs(it *Item, travs []hcl.Traversal, siblings []*Item) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, tr := range travs {
		var target *Item
		self := false
		skip := 2
		switch tr.RootName() {
		case "self":
			target, self, skip = it, true, 1
		case "check":
			if name, ok := attrName(tr); ok {
				target = d.cfg.Checks[name]
			}
		case "step":
			if name, ok := attrName(tr); ok {
				for _, s := range siblings {
					if s.Name == name {
						target = s
					}
				}
			}
		}
		if target == nil {
			continue
		}
		ty, ok := d.valueType(target, self)
		if !ok {
			continue
		}
		what := fmt.Sprintf("%s.%s", target.Kind, target.Name)
		if target.Kind == "cleanup" {
			continue
		}
		provider := target.ProviderType
		if target.CheckRef != "" {
			provider = d.cfg.Checks[target.CheckRef].ProviderType
		}
		if provider == "" {
			provider = "manual"
		}
		if self {
			what = fmt.Sprintf("self (a %s result)", provider)
		} else {
			what = fmt.Sprintf("%s (a %s %s)", what, provider, target.Kind)
		}
		if diag := checkResultTraversal(tr, skip, ty, what); diag != nil {
			diags = append(diags, diag)
		}
	}
	return diags
}
