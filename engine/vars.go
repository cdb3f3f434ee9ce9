package engine

import (
	"errors"
	"fmt"
	"math/big"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
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
// taken literally, other types are parsed as HCL expressions, returned too
// (nil for strings) so a type error can point into the value.
func rawValue(v *Variable, raw, source string) (cty.Value, hcl.Expression, hcl.Diagnostics) {
	if v.Type.Equals(cty.String) || v.Type.Equals(cty.DynamicPseudoType) {
		return cty.StringVal(raw), nil, nil
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), source, hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		return cty.NilVal, nil, primitiveError(v, source, raw, diags)
	}
	val, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, nil, primitiveError(v, source, raw, diags)
	}
	return val, expr, nil
}

// primitiveError words a number or bool value given as text that is not
// one ("--var pin=98a765"), instead of HCL's syntax message about it:
// "pin: a number is required". Other types keep the parser's diagnostics,
// which say where their syntax goes wrong.
func primitiveError(v *Variable, source, raw string, diags hcl.Diagnostics) hcl.Diagnostics {
	var want string
	switch {
	case v.Type.Equals(cty.Number):
		want = "a number"
	case v.Type.Equals(cty.Bool):
		want = "true or false"
	default:
		return diags
	}
	d := &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable",
		Detail:   fmt.Sprintf("%s: %s is required (from %s).", v.Name, want, source),
	}
	if !v.Sensitive && !strings.Contains(raw, "\n") {
		// The whole value, which flagSource keeps as the snippet.
		d.Subject = &hcl.Range{Filename: source, Start: hcl.InitialPos,
			End: hcl.Pos{Line: 1, Column: utf8.RuneCountInString(raw) + 1, Byte: len(raw)}}
	}
	return hcl.Diagnostics{d}
}

// flagSource keeps the text of a value given as text (--var,
// RUNBOOK_VAR_) among the configuration's files under its source name, so
// a diagnostic about it shows it as a snippet; never a sensitive one's.
func flagSource(cfg *Config, v *Variable, source, raw string) {
	if v.Sensitive || v.Type.Equals(cty.String) || v.Type.Equals(cty.DynamicPseudoType) {
		return
	}
	cfg.Files[source] = &hcl.File{Bytes: []byte(raw)}
}

// valueOrigin is where a variable's value came from, for a type error
// to point at.
type valueOrigin struct {
	// what names the source for people: "--var-file prod.hcl",
	// "--var thresholds=…", "RUNBOOK_VAR_thresholds".
	what string
	// expr is the value's expression; nil for a string taken literally.
	expr hcl.Expression
}

// typeError describes a value that does not convert to its variable's
// type: the detail names the attribute path of the offending part
// (thresholds.disk_percent: a number is required) and the source; the
// subject is that part's range in a --var-file (or in the --var or
// RUNBOOK_VAR_ text), else the variable's declaration.
func typeError(name string, v *Variable, origin *valueOrigin, val cty.Value, err error) *hcl.Diagnostic {
	path, err := locateMismatch(val, v.Type, nil, err)
	msg := err.Error()
	where := name + pathString(path)
	from := ""
	subject := v.DeclRange.Ptr()
	if origin != nil {
		from = " (from " + origin.what + ")"
		if origin.expr != nil {
			subject = exprAt(origin.expr, path).Range().Ptr()
		}
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Invalid value for variable",
		Detail:   fmt.Sprintf("%s: %s.\n\nThe value of %q%s must be of type %s.", where, msg, name, from, typeexpr.TypeString(v.Type)),
		Subject:  subject,
	}
}

// locateMismatch finds the deepest part of val that does not convert to
// ty, err being the error of converting val as a whole: it returns that
// part's path under path and its own error. cty names the path itself
// only when the types agree and a value does not (a string that is no
// number); a shape that cannot convert at all (a list where an object
// goes) is found here by converting the parts one by one.
func locateMismatch(val cty.Value, ty cty.Type, path cty.Path, err error) (cty.Path, error) {
	if err == nil {
		return nil, nil
	}
	var pe cty.PathError
	if errors.As(err, &pe) {
		return append(path.Copy(), pe.Path...), err
	}
	if !val.IsKnown() || val.IsNull() {
		return path, err
	}
	vt := val.Type()
	child := func(step cty.PathStep, v cty.Value, t cty.Type) (cty.Path, error) {
		if _, cerr := convert.Convert(v, t); cerr != nil {
			return locateMismatch(v, t, append(path.Copy(), step), cerr)
		}
		return nil, nil
	}
	switch {
	case ty.IsObjectType() && (vt.IsObjectType() || vt.IsMapType()):
		names := make([]string, 0, len(ty.AttributeTypes()))
		for n := range ty.AttributeTypes() {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			key := cty.StringVal(n)
			present := vt.IsObjectType() && vt.HasAttribute(n)
			if vt.IsMapType() {
				has := val.HasIndex(key)
				present = has.IsKnown() && has.True()
			}
			if !present {
				if !ty.AttributeOptional(n) {
					return path, fmt.Errorf("attribute %q is required", n)
				}
				continue
			}
			var v cty.Value
			if vt.IsObjectType() {
				v = val.GetAttr(n)
			} else {
				v = val.Index(key)
			}
			if p, e := child(cty.GetAttrStep{Name: n}, v, ty.AttributeType(n)); e != nil {
				return p, e
			}
		}
	case (ty.IsListType() || ty.IsSetType() || ty.IsMapType()) && (vt.IsTupleType() || vt.IsListType() || vt.IsSetType() || vt.IsObjectType() || vt.IsMapType()):
		for it := val.ElementIterator(); it.Next(); {
			k, v := it.Element()
			if p, e := child(cty.IndexStep{Key: k}, v, ty.ElementType()); e != nil {
				return p, e
			}
		}
	case ty.IsTupleType() && (vt.IsTupleType() || vt.IsListType()) && val.LengthInt() == len(ty.TupleElementTypes()):
		i := 0
		for it := val.ElementIterator(); it.Next(); i++ {
			k, v := it.Element()
			if p, e := child(cty.IndexStep{Key: k}, v, ty.TupleElementType(i)); e != nil {
				return p, e
			}
		}
	}
	return path, err
}

// pathString writes a cty path as HCL would: .attr, ["key"], [0].
func pathString(path cty.Path) string {
	var b strings.Builder
	for _, step := range path {
		switch s := step.(type) {
		case cty.GetAttrStep:
			b.WriteString("." + s.Name)
		case cty.IndexStep:
			switch {
			case s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull():
				fmt.Fprintf(&b, "[%q]", s.Key.AsString())
			case s.Key.Type() == cty.Number && s.Key.IsKnown() && !s.Key.IsNull():
				b.WriteString("[" + s.Key.AsBigFloat().Text('f', -1) + "]")
			default:
				b.WriteString("[…]")
			}
		}
	}
	return b.String()
}

// exprAt follows path into object and tuple constructors (in HCL and JSON
// alike) as far as they go, and returns the deepest expression reached.
func exprAt(expr hcl.Expression, path cty.Path) hcl.Expression {
	for _, step := range path {
		var key cty.Value
		switch s := step.(type) {
		case cty.GetAttrStep:
			key = cty.StringVal(s.Name)
		case cty.IndexStep:
			key = s.Key
		default:
			return expr
		}
		next := exprChild(expr, key)
		if next == nil {
			return expr
		}
		expr = next
	}
	return expr
}

// exprChild returns the element of an object or tuple constructor at key,
// or nil.
func exprChild(expr hcl.Expression, key cty.Value) hcl.Expression {
	if !key.IsKnown() || key.IsNull() {
		return nil
	}
	if key.Type() == cty.Number {
		items, diags := hcl.ExprList(expr)
		if diags.HasErrors() {
			return nil
		}
		i, acc := key.AsBigFloat().Int64()
		if acc != big.Exact || i < 0 || i >= int64(len(items)) {
			return nil
		}
		return items[i]
	}
	if key.Type() != cty.String {
		return nil
	}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return nil
	}
	for _, p := range pairs {
		k, kdiags := p.Key.Value(nil)
		if kdiags.HasErrors() || k.Type() != cty.String || !k.IsKnown() || k.IsNull() {
			continue
		}
		if k.AsString() == key.AsString() {
			return p.Value
		}
	}
	return nil
}

// variableValues resolves every declared variable's value. Files of var
// files are added to cfg.Files so diagnostics can show their snippets.
func variableValues(cfg *Config, in Inputs) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	vals := map[string]cty.Value{}
	origins := map[string]*valueOrigin{}
	// invalid holds the variables given a value that could not be read:
	// that error is theirs, not "no value".
	invalid := map[string]bool{}
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
			flagSource(cfg, cfg.Variables[name], "RUNBOOK_VAR_"+name, raw)
			val, expr, vdiags := rawValue(cfg.Variables[name], raw, "RUNBOOK_VAR_"+name)
			diags = append(diags, vdiags...)
			invalid[name] = vdiags.HasErrors()
			if !vdiags.HasErrors() {
				vals[name] = val
				origins[name] = &valueOrigin{what: "RUNBOOK_VAR_" + name, expr: expr}
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
			invalid[name] = vdiags.HasErrors()
			if !vdiags.HasErrors() {
				vals[name] = val
				origins[name] = &valueOrigin{what: "--var-file " + path, expr: a.Expr}
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
		flagSource(cfg, v, "--var "+name, raw)
		val, expr, vdiags := rawValue(v, raw, "--var "+name)
		diags = append(diags, vdiags...)
		invalid[name] = vdiags.HasErrors()
		if !vdiags.HasErrors() {
			vals[name] = val
			origins[name] = &valueOrigin{what: "--var " + name + "=…", expr: expr}
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
			if in.AllowMissing || (needed != nil && !needed[name]) || invalid[name] {
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
			diags = append(diags, typeError(name, v, origins[name], val, err))
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
