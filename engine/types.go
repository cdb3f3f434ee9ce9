package engine

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
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
// selfObject and itemObject). ok is false when it is not known. Answers
// are memoized by what they depend on; safe for concurrent use.
func (d *decoder) valueType(it *Item, self bool) (cty.Type, bool) {
	src := it
	if it.CheckRef != "" {
		if c := d.cfg.Checks[it.CheckRef]; c != nil {
			src = c
		}
	}
	k := valueTypeKey{provider: src.ProviderType, manual: src.Manual != nil, self: self}
	d.typesMu.Lock()
	defer d.typesMu.Unlock()
	if v, ok := d.types[k]; ok {
		return v.ty, v.ok
	}
	ty, ok := d.computeValueType(src, self)
	if d.types == nil {
		d.types = map[valueTypeKey]valueTypeOf{}
	}
	d.types[k] = valueTypeOf{ty, ok}
	return ty, ok
}

// computeValueType is valueType of src (an item that names no check of
// its own), not memoized.
func (d *decoder) computeValueType(src *Item, self bool) (cty.Type, bool) {
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
// names the value for the message ("self (a shell result)"); it is called
// only for a diagnostic, so that a reference that checks costs no text.
func checkResultTraversal(tr hcl.Traversal, skip int, ty cty.Type, what func() string) *hcl.Diagnostic {
	if len(tr) <= skip {
		return nil
	}
	prev := "" // the attribute whose value ty is, once past the root
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
				of := fmt.Sprintf("%q", prev)
				if prev == "" {
					of = what()
				}
				return &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Unsupported attribute",
					Detail:   fmt.Sprintf("%s has no attribute %q.%s", of, name, suggest(name, names)),
					Subject:  step.SourceRange().Ptr(),
				}
			}
			ty = ty.AttributeType(name)
			prev = name
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
		if target.Kind == "cleanup" {
			continue
		}
		what := func() string {
			provider := target.ProviderType
			if target.CheckRef != "" {
				provider = d.cfg.Checks[target.CheckRef].ProviderType
			}
			if provider == "" {
				provider = "manual"
			}
			if self {
				return fmt.Sprintf("self (a %s result)", provider)
			}
			return fmt.Sprintf("%s.%s (a %s %s)", target.Kind, target.Name, provider, target.Kind)
		}
		if diag := checkResultTraversal(tr, skip, ty, what); diag != nil {
			diags = append(diags, diag)
		}
	}
	return diags
}

// resultScope holds what validate knows of every item's results before
// anything runs: unknown values of the types providers publish, so that
// a condition, a message or a template that can only fail with them
// fails at validate (`condition = self.exit_code` is a number,
// "${check.c.stdout_lines}" a list). What is not published stays dynamic.
type resultScope struct {
	d      *decoder
	checks cty.Value
	steps  map[string]cty.Value // by playbook; "" for the top-level steps
}

// valueTypeKey is what valueType's answer depends on. The types are
// shared by every item of a provider type: at 10,000 checks one type
// each (a map of the result's attributes) was 11.8 MB kept for the life
// of the bound runbook (docs/performance.md, round 3), and building one
// per reference while loading allocated 2.2 MB for 1,000 checks with an
// assert each (BenchmarkLoadBind1000's profile; round 7, with the
// references found once: 16% fewer allocations a load).
type valueTypeKey struct {
	provider     string
	manual, self bool
}

// valueTypeOf is a valueType answer.
type valueTypeOf struct {
	ty cty.Type
	ok bool
}

// valueType is d.valueType.
func (rs *resultScope) valueType(it *Item, self bool) (cty.Type, bool) {
	return rs.d.valueType(it, self)
}

// newResultScope computes the unknown results of cfg's checks and steps.
func newResultScope(cfg *Config, reg Registry) *resultScope {
	d := &decoder{cfg: cfg, reg: reg}
	rs := &resultScope{d: d, steps: map[string]cty.Value{}}
	unknown := func(it *Item) cty.Value {
		if ty, ok := rs.valueType(it, false); ok {
			return cty.UnknownVal(ty)
		}
		return cty.DynamicVal
	}
	checksObj := map[string]cty.Value{}
	for name, c := range cfg.Checks {
		checksObj[name] = unknown(c)
	}
	rs.checks = objectOrEmpty(checksObj)
	procs := map[string][]*Item{"": cfg.Steps}
	for name, pb := range cfg.Playbooks {
		procs[name] = pb.Steps
	}
	for name, steps := range procs {
		obj := map[string]cty.Value{}
		for _, s := range steps {
			obj[s.Name] = unknown(s)
		}
		rs.steps[name] = objectOrEmpty(obj)
	}
	return rs
}

// scope returns the evaluation context an item's expressions see at
// validate: base plus check, step and self as unknown results.
func (rs *resultScope) scope(base *hcl.EvalContext, it *Item) *hcl.EvalContext {
	self := cty.DynamicVal
	if ty, ok := rs.valueType(it, true); ok {
		self = cty.UnknownVal(ty)
	}
	steps, ok := rs.steps[it.Playbook]
	if !ok {
		steps = cty.DynamicVal
	}
	ctx := base.NewChild()
	ctx.Variables = map[string]cty.Value{"check": rs.checks, "step": steps, "self": self}
	return ctx
}

// mustBeString reports an expression (an assert's error_message) whose
// value, as far as it is known before the run, cannot be a string.
// Evaluation errors are left to the run.
func mustBeString(e hcl.Expression, ctx *hcl.EvalContext, name string) hcl.Diagnostics {
	if e == nil {
		return nil
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return nil
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || stringable(v) {
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Incorrect value type",
		Detail:   fmt.Sprintf("%s must be a string, but this is %s.", name, v.Type().FriendlyName()),
		Subject:  e.Range().Ptr(),
	}}
}

// stringable reports whether v (unmarked) converts to a string, as far as
// is known: an unknown value of a known type converts when its type does.
func stringable(v cty.Value) bool {
	ty := v.Type()
	if ty == cty.DynamicPseudoType || ty.Equals(cty.String) {
		return true
	}
	if !v.IsKnown() {
		return convert.GetConversionUnsafe(ty, cty.String) != nil
	}
	_, err := convert.Convert(v, cty.String)
	return err == nil
}

// templateParts reports the interpolations of the templates inside node
// (an expression or a native body) whose value cannot be included in a
// string: HCL checks that only once the value is known, so
// "${check.c.stdout_lines}" would pass validate and fail at run time.
func templateParts(node hclsyntax.Node, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		if tmpl, ok := n.(*hclsyntax.TemplateExpr); ok {
			diags = append(diags, templateDiags(tmpl, ctx)...)
		}
		return nil
	})
	return diags
}

// templateDiags is templateParts of one template.
func templateDiags(tmpl *hclsyntax.TemplateExpr, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, part := range tmpl.Parts {
		switch part.(type) {
		case *hclsyntax.LiteralValueExpr, *hclsyntax.TemplateJoinExpr, *hclsyntax.ConditionalExpr:
			continue // text, and %{for}/%{if} directives (checked inside)
		}
		v, d := part.Value(ctx)
		if d.HasErrors() {
			continue
		}
		v, _ = v.UnmarkDeep()
		if v.IsKnown() || stringable(v) {
			continue // a known value is converted, with HCL's own error
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid template interpolation value",
			Detail:   fmt.Sprintf("Cannot include %s in a string template; use a function such as join or jsonencode to make it a string.", v.Type().FriendlyName()),
			Subject:  part.Range().Ptr(),
			Context:  tmpl.SrcRange.Ptr(),
		})
	}
	return diags
}
