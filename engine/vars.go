package engine

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Inputs are the sources of variable values, in rising precedence:
// defaults, RUNBOOK_VAR_<name> in Environ, VarFiles, Vars.
type Inputs struct {
	// Environ is the process environment as KEY=value strings; env.* and
	// RUNBOOK_VAR_* read it.
	Environ []string
	// VarFiles are HCL (or .json) files of name = value.
	VarFiles []string
	// Vars are --var name=value strings.
	Vars []string
	// AllowMissing makes variables without a value unknown instead of an
	// error, for validate.
	AllowMissing bool
	// Cwd is the working directory (path.cwd); empty means os.Getwd.
	Cwd string
	// AllowUndeclared turns a value for an undeclared variable in a
	// variables file into a warning, and ignores RUNBOOK_VAR_ entries
	// the runbook does not declare: for variable files shared by several
	// runbooks. Without it both are errors, like --var.
	AllowUndeclared bool
	// ChecksOnly is for runs of the checks alone (`runbook check`,
	// `watch`): a variable that only steps, cleanups or reports use may
	// go without a value, and is then unknown.
	ChecksOnly bool
}

// envMap turns KEY=value strings into a map; later entries win.
func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

// rawValue parses a value given as text (--var, RUNBOOK_VAR_): strings are
// taken literally, other types are parsed as HCL expressions.
func rawValue(v *Variable, raw, source string) (cty.Value, hcl.Diagnostics) {
	if v.Type.Equals(cty.String) || v.Type.Equals(cty.DynamicPseudoType) {
		return cty.StringVal(raw), nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return val, nil
}

// variableValues resolves every declared variable's value. Files of var
// files are added to cfg.Files so diagnostics can show their snippets.
func variableValues(cfg *Config, in Inputs) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]cty.Value{}
	ranges := map[string]*hcl.Range{}
	for _, name := range cfg.VariableOrder {
		if v := cfg.Variables[name]; v.Default != cty.NilVal {
			vals[name] = v.Default
		}
	}
	env := envMap(in.Environ)
	if !in.AllowUndeclared {
		var undeclared []string
		for k := range env {
			if name, ok := strings.CutPrefix(k, "RUNBOOK_VAR_"); ok {
				if _, declared := cfg.Variables[name]; !declared {
					undeclared = append(undeclared, name)
				}
			}
		}
		sort.Strings(undeclared)
		for _, name := range undeclared {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("The environment sets RUNBOOK_VAR_%s, but the runbook declares no variable %q.%s Unset it, or pass --allow-undeclared when the environment serves several runbooks.",
					name, name, suggest(name, cfg.VariableOrder)),
			})
		}
	}
	for _, name := range cfg.VariableOrder {
		if raw, ok := env["RUNBOOK_VAR_"+name]; ok {
			val, vdiags := rawValue(cfg.Variables[name], raw, "RUNBOOK_VAR_"+name)
			diags = append(diags, vdiags...)
			if !vdiags.HasErrors() {
				vals[name] = val
			}
		}
	}
	parser := hclparse.NewParser()
	for _, path := range in.VarFiles {
		src, err := os.ReadFile(path)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read variables file",
				Detail:   err.Error(),
			})
			continue
		}
		if d := CheckText(path, src); d != nil {
			diags = append(diags, d...)
			continue
		}
		var f *hcl.File
		var fdiags hcl.Diagnostics
		if strings.HasSuffix(path, ".json") {
			f, fdiags = parser.ParseJSON(src, path)
		} else {
			f, fdiags = parser.ParseHCL(src, path)
		}
		diags = append(diags, fdiags...)
		if f == nil || fdiags.HasErrors() {
			continue
		}
		cfg.Files[path] = f
		attrs, adiags := f.Body.JustAttributes()
		diags = append(diags, adiags...)
		for name, a := range attrs {
			if _, ok := cfg.Variables[name]; !ok {
				d := &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Value for undeclared variable",
					Detail:   fmt.Sprintf("The variables file sets %q, but the runbook declares no such variable.%s Pass --allow-undeclared when the file serves several runbooks.", name, suggest(name, cfg.VariableOrder)),
					Subject:  a.NameRange.Ptr(),
				}
				if in.AllowUndeclared {
					d.Severity = hcl.DiagWarning
					d.Detail = fmt.Sprintf("The variables file sets %q, but the runbook declares no such variable.%s", name, suggest(name, cfg.VariableOrder))
				}
				diags = append(diags, d)
				continue
			}
			val, vdiags := a.Expr.Value(nil)
			diags = append(diags, vdiags...)
			if !vdiags.HasErrors() {
				vals[name] = val
				ranges[name] = a.Expr.Range().Ptr()
			}
		}
	}
	for _, kv := range in.Vars {
		name, raw, ok := strings.Cut(kv, "=")
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid --var option",
				Detail:   fmt.Sprintf("The --var option %q is not of the form name=value.", kv),
			})
			continue
		}
		v, ok := cfg.Variables[name]
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("--var sets %q, but the runbook declares no such variable.%s", name, suggest(name, cfg.VariableOrder)),
			})
			continue
		}
		val, vdiags := rawValue(v, raw, "--var "+name)
		diags = append(diags, vdiags...)
		if !vdiags.HasErrors() {
			vals[name] = val
		}
	}

	var needed map[string]bool
	if in.ChecksOnly {
		needed = checkVariables(cfg)
	}
	for _, name := range cfg.VariableOrder {
		v := cfg.Variables[name]
		val, ok := vals[name]
		if !ok {
			if in.AllowMissing || (needed != nil && !needed[name]) {
				vals[name] = cty.UnknownVal(v.Type)
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "No value for required variable",
				Detail:   fmt.Sprintf("The variable %q has no default, so it needs a value: --var %s=…, a --var-file, or RUNBOOK_VAR_%s in the environment.", name, name, name),
				Subject:  v.DeclRange.Ptr(),
			})
			continue
		}
		conv, err := convert.Convert(v.WithDefaults(val), v.Type)
		if err != nil {
			subject := ranges[name]
			if subject == nil {
				subject = v.DeclRange.Ptr()
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The value given for %q is not a %s: %s.", name, v.Type.FriendlyNameForConstraint(), err),
				Subject:  subject,
			})
			continue
		}
		if conv.IsNull() && !v.Nullable {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("The variable %q is not nullable, but its value is null.", name),
				Subject:  v.DeclRange.Ptr(),
			})
			continue
		}
		vals[name] = conv
	}
	return vals, diags
}

// validateVariables runs every validation block against the values.
func validateVariables(cfg *Config, ctx *hcl.EvalContext, red *Redactor) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range cfg.VariableOrder {
		v := cfg.Variables[name]
		for _, val := range v.Validations {
			res, cdiags := plainValue(val.Condition, ctx, red)
			if cdiags.HasErrors() {
				diags = append(diags, cdiags...)
				continue
			}
			if !res.IsKnown() {
				continue
			}
			res, err := convert.Convert(res, cty.Bool)
			if err != nil || res.IsNull() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid validation condition",
					Detail:   "A validation condition must be true or false.",
					Subject:  val.Condition.Range().Ptr(),
				})
				continue
			}
			if res.True() {
				continue
			}
			msg := "the value is not valid"
			if m, mdiags := plainValue(val.ErrorMessage, ctx, nil); !mdiags.HasErrors() && m.Type() == cty.String && m.IsKnown() && !m.IsNull() {
				msg = m.AsString()
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", red.String(msg), val.DeclRange),
				Subject:  val.Condition.Range().Ptr(),
			})
		}
	}
	return diags
}

// secretStrings returns the text forms of sensitive values: strings as they
// are, other values as JSON, and the strings nested inside collections.
func secretStrings(v cty.Value) []string {
	if v == cty.NilVal {
		return nil
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	switch {
	case v.Type() == cty.String:
		return []string{v.AsString()}
	case v.Type() == cty.Number:
		return []string{v.AsBigFloat().Text('f', -1)}
	case v.Type().IsCollectionType() || v.Type().IsObjectType() || v.Type().IsTupleType():
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, secretStrings(e)...)
		}
		return out
	}
	return nil
}

// checkVariables returns the variables a run of the checks alone needs
// (`runbook check`, `watch`): those the checks, the runbook block, the
// alerts and the locals these use refer to, and those their validation
// blocks refer to. Nil means every variable (a body that cannot be walked).
func checkVariables(cfg *Config) map[string]bool {
	need := map[string]bool{}
	locals := map[string]bool{}
	var pending []string
	use := func(ref string) {
		root, name, _ := strings.Cut(ref, ".")
		switch {
		case root == "var" && !need[name]:
			need[name] = true
			pending = append(pending, ref)
		case root == "local" && !locals[name]:
			locals[name] = true
			pending = append(pending, ref)
		}
	}
	useTraversals := func(travs []hcl.Traversal) {
		for _, tr := range travs {
			if root := tr.RootName(); root == "var" || root == "local" {
				if name, ok := attrName(tr); ok {
					use(root + "." + name)
				}
			}
		}
	}
	for _, name := range cfg.CheckOrder {
		for _, ref := range cfg.Checks[name].uses {
			use(ref)
		}
	}
	if cfg.Runbook != nil {
		for _, a := range cfg.Runbook.Attrs {
			useTraversals(a.Expr.Variables())
		}
	}
	for _, a := range cfg.Alerts {
		useTraversals(exprTraversals(a.On))
		body, ok := a.ChannelBody.(*hclsyntax.Body)
		if !ok {
			if a.ChannelBody != nil {
				return nil
			}
			continue
		}
		_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			if e, ok := n.(hclsyntax.Expression); ok {
				useTraversals(e.Variables())
			}
			return nil
		})
	}
	for len(pending) > 0 {
		ref := pending[len(pending)-1]
		pending = pending[:len(pending)-1]
		root, name, _ := strings.Cut(ref, ".")
		switch root {
		case "local":
			if l := cfg.Locals[name]; l != nil {
				useTraversals(l.Expr.Variables())
			}
		case "var":
			if v := cfg.Variables[name]; v != nil {
				for _, val := range v.Validations {
					useTraversals(exprTraversals(val.Condition))
					useTraversals(exprTraversals(val.ErrorMessage))
				}
			}
		}
	}
	return need
}

func exprTraversals(e hcl.Expression) []hcl.Traversal {
	if e == nil {
		return nil
	}
	return e.Variables()
}

// WithDefaults fills in the attributes a value leaves out that the
// variable's type gives defaults for (optional(type, default)); a value
// of any other shape is returned as it is, for the type check to judge.
func (v *Variable) WithDefaults(val cty.Value) cty.Value {
	if v.Defaults == nil || val == cty.NilVal || !val.IsWhollyKnown() {
		return val
	}
	return v.Defaults.Apply(val)
}
