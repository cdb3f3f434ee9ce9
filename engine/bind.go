package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/internal/secret"
	"github.com/runbookhq/runbook/remote"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Defaults of the language.
const (
	DefaultTimeout       = 60 * time.Second
	DefaultRetryInterval = 2 * time.Second
)

// Bound is a runbook whose variables, locals and settings have values and
// whose provider blocks were type-checked (stage two). It is ready to Run.
type Bound struct {
	Config *Config
	// Info is the evaluated runbook block.
	Info RunbookInfo
	// Values are the variables' values; Sensitive marks the secret ones.
	Values    map[string]cty.Value
	Sensitive map[string]bool
	Locals    map[string]cty.Value
	// Redactor hides sensitive values in everything printed or stored.
	Redactor *Redactor

	// childEnv is the environment child processes inherit when it
	// differs from the runbook's own: without the RUNBOOK_VAR_ values of
	// sensitive variables. Nil means unchanged.
	childEnv []string

	reg      Registry
	base     *hcl.EvalContext
	settings map[*Item]*settings
	defaults map[string]*defaultAssert
	// results are the items' unknown results as validate sees them.
	results *resultScope

	// Targets are the evaluated targets by name.
	Targets map[string]*remote.Target
	// injects are the evaluated inject blocks by playbook ("" for the
	// top level), in order of delivery.
	injects map[string][]InjectSpec
}

// RunbookInfo is the evaluated `runbook` block.
type RunbookInfo struct {
	Name, Title, Description, Document, Owner string
	Tags                                      []string
	Concurrency                               int
	// Exercise is exercise = true: every run is an exercise.
	Exercise bool
}

// settings are an item's evaluated shared settings.
type settings struct {
	Title, Description, Expected string
	Timeout                      time.Duration
	Attempts                     int
	Interval                     time.Duration
	Confirm                      bool
	// Required is a manual step's required = true.
	Required bool
	// Assignee is who should carry out the step.
	Assignee   string
	OnFailure  string
	Severities []string
	// Approvals is how many people other than the operator must approve
	// the step (confirm = { approvals = N }); 0 for confirm = true.
	Approvals int
	// AckWithin and AnswerWithin are an owned step's deadlines; 0 is none.
	AckWithin, AnswerWithin time.Duration
	// cfg is the provider block's value decoded at bind time, kept when it
	// cannot differ at run time (see typeCheck); not kept otherwise.
	cfg keptConfig
	// Informational is informational = true: the status is evidence only.
	Informational bool
	// until is the retry block's until, over self; nil when none.
	until hcl.Expression
}

// defaultAssert is a provider's default success condition, parsed.
type defaultAssert struct {
	Condition, Message hcl.Expression
	Source             string
}

// Bind resolves variables and locals, evaluates settings and type-checks
// every provider block against its schema.
func Bind(cfg *Config, reg Registry, in Inputs) (*Bound, hcl.Diagnostics) {
	b := &Bound{
		Config:    cfg,
		Sensitive: map[string]bool{},
		Locals:    map[string]cty.Value{},
		reg:       reg,
		settings:  map[*Item]*settings{},
		defaults:  map[string]*defaultAssert{},
	}
	vals, diags := variableValues(cfg, in)
	b.Values = vals
	var secrets []string
	for _, name := range cfg.VariableOrder {
		if cfg.Variables[name].Sensitive {
			b.Sensitive[name] = true
			secrets = append(secrets, secretStrings(vals[name])...)
			if v, ok := vals[name]; ok {
				vals[name] = markSensitive(v)
			}
		}
	}
	b.Redactor = NewRedactor(secrets)
	b.childEnv = childEnviron(in.Environ, b.Sensitive)
	if diags.HasErrors() {
		return b, diags
	}

	cwd := in.Cwd
	if cwd == "" {
		cwd, _ = os.Getwd()
	}
	moduleDir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		moduleDir = cfg.Dir
	}
	envVals := map[string]cty.Value{}
	for k, v := range envMap(in.Environ) {
		envVals[k] = cty.StringVal(v)
	}
	sensitiveEnv(envVals, b.Sensitive)
	envObj := cty.MapValEmpty(cty.String)
	if len(envVals) > 0 {
		envObj = cty.MapVal(envVals)
	}
	b.base = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":  objectOrEmpty(vals),
			"env":  envObj,
			"path": cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal(moduleDir), "cwd": cty.StringVal(cwd)}),
		},
		Functions: Functions(cfg.Dir),
	}
	if len(b.Sensitive) > 0 {
		b.base.Functions = redactingFunctions(b.base.Functions, b.Redactor)
	}
	diags = append(diags, validateVariables(cfg, b.base, b.Redactor)...)
	diags = append(diags, b.evalLocals()...)
	if diags.HasErrors() {
		return b, diags
	}
	b.base.Variables["local"] = objectOrEmpty(b.Locals)
	diags = append(diags, b.evalRunbook()...)
	diags = append(diags, b.bindExercise()...)

	items := append(cfg.checksAndSteps(), cfg.Cleanups...)
	for _, pn := range cfg.PlaybookOrder {
		items = append(items, cfg.Playbooks[pn].Steps...)
		items = append(items, cfg.Playbooks[pn].Cleanups...)
	}
	for _, it := range items {
		if it.ProviderType != "" {
			b.loadDefaultAssert(it.ProviderType)
		}
	}
	b.results = newResultScope(cfg, reg)
	// Items bind independently (the evaluation context is only read):
	// bind on every core, keep the results and diagnostics in order.
	bound := make([]*settings, len(items))
	found := make([]hcl.Diagnostics, len(items))
	forEach(len(items), func(i int) {
		bound[i], found[i] = b.bindItem(items[i])
	})
	// A step that runs a check evaluates the check's settings again; say
	// what is wrong with them once.
	type said struct {
		rng             hcl.Range
		summary, detail string
	}
	seen := map[said]bool{}
	for i, it := range items {
		b.settings[it] = bound[i]
		for _, d := range found[i] {
			k := said{summary: d.Summary, detail: d.Detail}
			if d.Subject != nil {
				k.rng = *d.Subject
			}
			if !seen[k] {
				seen[k] = true
				diags = append(diags, d)
			}
		}
	}
	diags = append(diags, b.bindTargets(items)...)
	return b, diags
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// evalLocals evaluates locals in dependency order.
func (b *Bound) evalLocals() hcl.Diagnostics {
	cfg := b.Config
	var diags hcl.Diagnostics
	pending := append([]string(nil), cfg.LocalOrder...)
	for len(pending) > 0 {
		var next []string
		progressed := false
		for _, name := range pending {
			ready := true
			for _, tr := range cfg.Locals[name].Expr.Variables() {
				if tr.RootName() != "local" {
					continue
				}
				if dep, ok := attrName(tr); ok {
					if _, done := b.Locals[dep]; !done {
						ready = false
					}
				}
			}
			if !ready {
				next = append(next, name)
				continue
			}
			ctx := b.base.NewChild()
			ctx.Variables = map[string]cty.Value{"local": objectOrEmpty(b.Locals)}
			val, vdiags := cfg.Locals[name].Expr.Value(ctx)
			diags = append(diags, vdiags...)
			if vdiags.HasErrors() {
				val = cty.DynamicVal
			}
			b.Locals[name] = val
			progressed = true
		}
		if !progressed {
			l := cfg.Locals[next[0]]
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Dependency cycle in local values",
				Detail:   fmt.Sprintf("These local values refer to each other in a cycle: %v.", next),
				Subject:  l.Expr.Range().Ptr(),
			})
			return diags
		}
		pending = next
	}
	return diags
}

// evalString evaluates an optional string expression in ctx; unknown
// values give "". The values its operators derive from a sensitive value
// are registered with red (which may be nil); the whole string is not, so
// the text around a secret stays readable ("title (sensitive)").
func evalString(e hcl.Expression, ctx *hcl.EvalContext, red *Redactor, what string) (string, hcl.Diagnostics) {
	if e == nil {
		return "", nil
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return "", diags
	}
	if v.ContainsMarked() {
		registerDerived(e, ctx, red)
		v, _ = v.UnmarkDeep()
	}
	if !v.IsWhollyKnown() || v.IsNull() {
		return "", nil
	}
	s, err := convert.Convert(v, cty.String)
	if err != nil {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Incorrect value type",
			Detail:   fmt.Sprintf("%s must be a string: %s.", what, err),
			Subject:  e.Range().Ptr(),
		}}
	}
	return s.AsString(), nil
}

func (b *Bound) evalRunbook() hcl.Diagnostics {
	rb := b.Config.Runbook
	b.Info = RunbookInfo{Name: rb.Name, Concurrency: runtime.NumCPU()}
	var diags hcl.Diagnostics
	str := func(name string, dst *string) {
		if a, ok := rb.Attrs[name]; ok {
			s, d := evalString(a.Expr, b.base, b.Redactor, name)
			diags = append(diags, d...)
			*dst = s
		}
	}
	str("title", &b.Info.Title)
	str("description", &b.Info.Description)
	str("document", &b.Info.Document)
	str("owner", &b.Info.Owner)
	if b.Info.Title == "" {
		b.Info.Title = rb.Name
	}
	if a, ok := rb.Attrs["tags"]; ok {
		v, d := plainValue(a.Expr, b.base, b.Redactor)
		diags = append(diags, d...)
		if !d.HasErrors() && v.IsWhollyKnown() {
			if err := gocty.FromCtyValue(mustConvert(v, cty.List(cty.String)), &b.Info.Tags); err != nil {
				diags = append(diags, typeDiag(a.Expr, "tags", "a list of strings"))
			}
		}
	}
	if a, ok := rb.Attrs["concurrency"]; ok {
		n, d := evalInt(a.Expr, b.base, "concurrency", 1)
		diags = append(diags, d...)
		if n > 0 {
			b.Info.Concurrency = n
		}
	}
	return diags
}

func mustConvert(v cty.Value, ty cty.Type) cty.Value {
	c, err := convert.Convert(v, ty)
	if err != nil {
		return v
	}
	return c
}

func typeDiag(e hcl.Expression, name, want string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Incorrect value type",
		Detail:   fmt.Sprintf("%s must be %s.", name, want),
		Subject:  e.Range().Ptr(),
	}
}

// evalInt evaluates a whole number of at least min; 0 when unknown.
func evalInt(e hcl.Expression, ctx *hcl.EvalContext, name string, min int) (int, hcl.Diagnostics) {
	v, diags := plainValue(e, ctx, nil)
	if diags.HasErrors() || !v.IsKnown() {
		return 0, diags
	}
	var n int
	if v.IsNull() || gocty.FromCtyValue(mustConvert(v, cty.Number), &n) != nil || n < min {
		return 0, hcl.Diagnostics{typeDiag(e, name, fmt.Sprintf("a whole number of at least %d", min))}
	}
	return n, nil
}

// evalDuration evaluates a duration string such as "30s".
func evalDuration(e hcl.Expression, ctx *hcl.EvalContext, name string, def time.Duration) (time.Duration, hcl.Diagnostics) {
	if e == nil {
		return def, nil
	}
	s, diags := evalString(e, ctx, nil, name)
	if diags.HasErrors() || s == "" {
		return def, diags
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return def, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid duration",
			Detail:   fmt.Sprintf("%s must be a positive duration such as \"30s\", \"2m\" or \"1h30m\"; got %q.", name, s),
			Subject:  e.Range().Ptr(),
		}}
	}
	return d, nil
}

// bindItem evaluates an item's settings and type-checks its provider block.
// It only reads b, so items may bind concurrently.
func (b *Bound) bindItem(it *Item) (*settings, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	s := &settings{Attempts: 1, Interval: DefaultRetryInterval, OnFailure: "continue"}
	if it.Playbook != "" && it.Kind == "step" {
		s.OnFailure = "stop"
	}
	// A step that runs a declared check inherits its settings; its own
	// settings override them.
	src := it
	if it.CheckRef != "" {
		src = b.Config.Checks[it.CheckRef]
	}
	var d hcl.Diagnostics
	s.Title, d = evalString(it.Title, b.base, b.Redactor, "title")
	diags = append(diags, d...)
	if s.Title == "" && src != it {
		s.Title, _ = evalString(src.Title, b.base, b.Redactor, "title")
	}
	s.Description, d = evalString(firstExpr(it.Description, src.Description), b.base, b.Redactor, "description")
	diags = append(diags, d...)
	s.Expected, d = evalString(firstExpr(it.Expected, src.Expected), b.base, b.Redactor, "expected")
	diags = append(diags, d...)
	s.Assignee, d = evalString(it.Assignee, b.base, b.Redactor, "assignee")
	diags = append(diags, d...)
	s.Timeout, d = evalDuration(firstExpr(it.Timeout, src.Timeout), b.base, "timeout", DefaultTimeout)
	diags = append(diags, d...)
	if r := firstRetry(it.Retry, src.Retry); r != nil {
		n, d := evalInt(r.Attempts, b.base, "attempts", 1)
		diags = append(diags, d...)
		if n > 0 {
			s.Attempts = n
		}
		s.Interval, d = evalDuration(r.Interval, b.base, "interval", DefaultRetryInterval)
		diags = append(diags, d...)
	}
	if it.Confirm != nil {
		diags = append(diags, b.bindConfirm(it, s)...)
	}
	diags = append(diags, b.bindClocks(it, src, s)...)
	if it.Required != nil {
		v, d := plainValue(it.Required, b.base, b.Redactor)
		diags = append(diags, d...)
		if !d.HasErrors() && v.IsKnown() {
			c, err := convert.Convert(v, cty.Bool)
			if err != nil || c.IsNull() {
				diags = append(diags, typeDiag(it.Required, "required", "true or false"))
			} else {
				s.Required = c.True()
			}
		}
	}
	if it.OnFailure != nil {
		v, d := evalString(it.OnFailure, b.base, b.Redactor, "on_failure")
		diags = append(diags, d...)
		switch v {
		case "continue", "stop":
			s.OnFailure = v
		case "":
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid on_failure",
				Detail:   fmt.Sprintf("on_failure is \"continue\" or \"stop\", not %q.%s", v, suggest(v, []string{"continue", "stop"})),
				Subject:  it.OnFailure.Range().Ptr(),
			})
		}
	}
	// What would fail at run time for its type fails now: a when or a
	// condition that can never be true or false.
	// Results are unknown values of the types providers publish.
	unknown := b.itemScope(it)
	for _, w := range []hcl.Expression{it.When, src.whenIfRef(it)} {
		diags = append(diags, mustBeBool(w, unknown, "when")...)
	}
	for _, a := range it.Asserts {
		diags = append(diags, mustBeBool(a.Condition, unknown, "condition")...)
		diags = append(diags, mustBeString(a.ErrorMessage, unknown, "error_message")...)
	}
	for _, e := range it.expressions() {
		if n, ok := e.(hclsyntax.Node); ok {
			diags = append(diags, templateParts(n, unknown)...)
		}
	}
	for _, a := range append(append([]*Assert(nil), src.assertsIfRef(it)...), it.Asserts...) {
		sev := "critical"
		if a.Severity != nil {
			v, d := evalString(a.Severity, b.base, b.Redactor, "severity")
			diags = append(diags, d...)
			switch v {
			case "critical", "warning":
				sev = v
			case "":
			default:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid severity",
					Detail:   fmt.Sprintf("severity is \"critical\" or \"warning\", not %q.%s", v, suggest(v, []string{"critical", "warning"})),
					Subject:  a.Severity.Range().Ptr(),
				})
			}
		}
		s.Severities = append(s.Severities, sev)
	}
	diags = append(diags, b.bindPolling(it, src, s)...)
	if src.ProviderBody != nil {
		scope := unknown
		if src != it {
			scope = b.itemScope(src)
		}
		cfg, stable, d := b.typeCheck(src, scope)
		diags = append(diags, d...)
		if cfg != cty.NilVal && stable && whollyKnown(cfg) {
			s.cfg = b.Config.types.get(b.reg, src.ProviderType).shape.keep(cfg)
		}
	}
	return s, diags
}

// mustBeBool reports an expression (a when, an assert's condition) whose
// value, as far as it is known before the run, cannot be true or false:
// `when = "yes please"`, `condition = [1]`. Evaluation errors are left to
// the run, which reports them with the results at hand.
func mustBeBool(e hcl.Expression, ctx *hcl.EvalContext, name string) hcl.Diagnostics {
	switch x := e.(type) {
	case nil:
		return nil
	case *hclsyntax.BinaryOpExpr:
		if x.Op.Type == cty.Bool {
			return nil // a comparison or a logical operator: always a bool
		}
	case *hclsyntax.UnaryOpExpr:
		if x.Op == hclsyntax.OpLogicalNot {
			return nil
		}
	}
	v, diags := e.Value(ctx)
	if diags.HasErrors() {
		return nil
	}
	v, _ = v.UnmarkDeep()
	ok := true
	switch {
	case v.IsKnown() && !v.IsNull():
		c, err := convert.Convert(v, cty.Bool)
		ok = err == nil && !c.IsNull()
	case v.Type() != cty.DynamicPseudoType && !v.Type().Equals(cty.Bool):
		ok = convert.GetConversionUnsafe(v.Type(), cty.Bool) != nil
	}
	if ok {
		return nil
	}
	shown := v.Type().FriendlyName()
	if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		shown = fmt.Sprintf("the string %q", v.AsString())
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Incorrect value type",
		Detail:   fmt.Sprintf("%s must be true or false, but this is %s.", name, shown),
		Subject:  e.Range().Ptr(),
	}}
}

// Required reports whether a step is a manual step that may not be
// skipped (required = true): its answer must be passed or failed.
func (b *Bound) Required(step *Item) bool {
	s := b.settings[step]
	return s != nil && s.Required
}

// whollyKnown is cty's IsWhollyKnown without its sorted walk of object
// attributes (an allocation and a sort per object, for every item bound).
func whollyKnown(v cty.Value) bool {
	switch {
	case v.IsMarked():
		return v.IsWhollyKnown()
	case !v.IsKnown():
		return false
	case v.IsNull() || v.Type().IsPrimitiveType():
		return true
	case v.Type().IsObjectType():
		for name := range v.Type().AttributeTypes() {
			if !whollyKnown(v.GetAttr(name)) {
				return false
			}
		}
		return true
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			if !whollyKnown(e) {
				return false
			}
		}
		return true
	}
	return v.IsWhollyKnown()
}

// assertsIfRef returns the check's asserts when it is the source of a step
// that runs it; a step's own asserts come after.
func (it *Item) assertsIfRef(step *Item) []*Assert {
	if it == step {
		return nil
	}
	return it.Asserts
}

// whenIfRef returns the check's when when it is the source of a step that
// runs it.
func (it *Item) whenIfRef(step *Item) hcl.Expression {
	if it == step {
		return nil
	}
	return it.When
}

func firstExpr(a, b hcl.Expression) hcl.Expression {
	if a != nil {
		return a
	}
	return b
}

func firstRetry(a, b *Retry) *Retry {
	if a != nil {
		return a
	}
	return b
}

// scopeForCheck is an evaluation context in which every check and step
// result is unknown: what validate and plan see.
func (b *Bound) unknownScope() *hcl.EvalContext {
	ctx := b.base.NewChild()
	ctx.Variables = map[string]cty.Value{
		"check": cty.DynamicVal,
		"step":  cty.DynamicVal,
		"self":  cty.DynamicVal,
	}
	return ctx
}

// expressions are an item's when and the conditions and messages of its
// asserts.
func (it *Item) expressions() []hcl.Expression {
	out := []hcl.Expression{it.When}
	for _, a := range it.Asserts {
		out = append(out, a.Condition, a.ErrorMessage)
	}
	return out
}

// itemScope is the evaluation context of an item's expressions at
// validate: its results and those of the items it may refer to are
// unknown values of the types their providers publish.
func (b *Bound) itemScope(it *Item) *hcl.EvalContext {
	if b.results == nil {
		return b.unknownScope()
	}
	return b.results.scope(b.base, it)
}

// typeCheck decodes a provider block in ctx, the item's scope (unknown
// results), lets the provider validate what is known, and returns the
// decoded value, and whether the block is stable: it evaluates to the
// same value whenever it is evaluated, being native syntax that calls no
// function (timestamp(), file() …). Its references to var, local, env and
// path are fixed once bound, and references to results make the value
// unknown at bind time, so such bodies are never cached.
func (b *Bound) typeCheck(it *Item, ctx *hcl.EvalContext) (cty.Value, bool, hcl.Diagnostics) {
	pt := b.Config.types.get(b.reg, it.ProviderType)
	if pt == nil {
		return cty.NilVal, false, nil
	}
	val, diags := pt.decode(it.ProviderBody, ctx)
	// One walk of the body for templateParts and stability, in the scope
	// bindItem built (round 7: two walks and a second scope were 6% more
	// CPU loading and binding 1,000 checks in process, 9 alternated
	// rounds; `validate` of 10,000 `shell` checks 4%, of 1,000 the same).
	stable := false
	if body, ok := it.ProviderBody.(*hclsyntax.Body); ok && !diags.HasErrors() {
		stable = true
		_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
			switch x := n.(type) {
			case *hclsyntax.TemplateExpr:
				diags = append(diags, templateDiags(x, ctx)...)
			case *hclsyntax.FunctionCallExpr:
				stable = false
			}
			return nil
		})
	}
	if diags.HasErrors() {
		return cty.NilVal, false, diags
	}
	// Providers see plain values; what was sensitive is now redacted.
	if b.marks() && val.ContainsMarked() {
		registerDerived(it.ProviderBody, ctx, b.Redactor)
		val, _ = unmark(val, b.Redactor)
	}
	if diags = append(diags, requiredNotNull(it, pt, val)...); diags.HasErrors() {
		return cty.NilVal, false, diags
	}
	p := pt.proto
	if v, ok := p.(checks.Validator); ok {
		if err := v.Validate(val); err != nil {
			diags = append(diags, b.argDiags(it, pt, err)...)
		}
	}
	if diags.HasErrors() {
		return cty.NilVal, false, diags
	}
	return val, stable, diags
}

// loadDefaultAssert parses a provider's default assert (its success
// condition when a block has no assert), once per provider type.
func (b *Bound) loadDefaultAssert(name string) {
	if _, ok := b.defaults[name]; ok {
		return
	}
	b.defaults[name] = nil
	pt := b.Config.types.get(b.reg, name)
	if pt == nil {
		return
	}
	if da, ok := pt.proto.(checks.DefaultAsserter); ok {
		cond, msg := da.DefaultAssert()
		ce, cd := hclsyntax.ParseExpression([]byte(cond), name+" default assert", hcl.InitialPos)
		me, md := hclsyntax.ParseTemplate([]byte(msg), name+" default assert", hcl.InitialPos)
		if !cd.HasErrors() && !md.HasErrors() {
			b.defaults[name] = &defaultAssert{Condition: ce, Message: me, Source: cond}
		}
	}
}

// requiredNotNull reports required provider arguments set to null: hcldec
// accepts `command = null` for a required attribute, and the provider
// would only find out at run time.
func requiredNotNull(it *Item, pt *providerType, val cty.Value) hcl.Diagnostics {
	obj, ok := pt.spec.(hcldec.ObjectSpec)
	if !ok || !val.Type().IsObjectType() {
		return nil
	}
	var content *hcl.BodyContent // for the ranges, when there is a null
	var diags hcl.Diagnostics
	for key, sub := range obj {
		as, ok := sub.(*hcldec.AttrSpec)
		if !ok || !as.Required || !val.Type().HasAttribute(key) {
			continue
		}
		v := val.GetAttr(key)
		if !v.IsKnown() || !v.IsNull() {
			continue
		}
		rng := it.ProviderRange
		if content == nil {
			content, _ = it.ProviderBody.Content(pt.implied)
		}
		if a, ok := content.Attributes[as.Name]; ok {
			rng = a.Expr.Range()
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Required argument is null",
			Detail:   fmt.Sprintf("The %s block's %q argument is required and must not be null.", it.ProviderType, as.Name),
			Subject:  rng.Ptr(),
		})
	}
	return diags
}

// argDiags turns a provider's Validate error into diagnostics, each on the
// argument it is about: a checks.ArgError names it; otherwise a message
// that starts with an argument's name is about that argument. Errors
// joined with errors.Join give one diagnostic each.
func (b *Bound) argDiags(it *Item, pt *providerType, err error) hcl.Diagnostics {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var content *hcl.BodyContent
	var diags hcl.Diagnostics
	for _, e := range errs {
		msg := secret.MaskText(b.Redactor.String(e.Error()))
		arg := ""
		var ae *checks.ArgError
		if errors.As(e, &ae) {
			arg = ae.Arg
		} else {
			for _, a := range pt.implied.Attributes {
				if len(a.Name) > len(arg) && strings.HasPrefix(msg, a.Name) && len(msg) > len(a.Name) && strings.ContainsRune(" :", rune(msg[len(a.Name)])) {
					arg = a.Name
				}
			}
		}
		subject := it.ProviderRange
		if arg != "" {
			if content == nil {
				content, _ = it.ProviderBody.Content(pt.implied)
			}
			if content != nil {
				if a, ok := content.Attributes[arg]; ok {
					subject = a.Expr.Range()
				}
			}
		}
		if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") {
			msg += "."
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s block", it.ProviderType),
			Detail:   msg,
			Subject:  subject.Ptr(),
		})
	}
	return diags
}

// bindPolling evaluates informational and checks a retry block's until:
// it must be true or false, over self as the provider publishes it.
func (b *Bound) bindPolling(it, src *Item, s *settings) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if e := firstExpr(it.Informational, src.Informational); e != nil {
		v, d := plainValue(e, b.base, b.Redactor)
		diags = append(diags, d...)
		if !d.HasErrors() && v.IsKnown() {
			c, err := convert.Convert(v, cty.Bool)
			if err != nil || c.IsNull() {
				diags = append(diags, typeDiag(e, "informational", "true or false"))
			} else {
				s.Informational = c.True()
			}
		}
	}
	if r := firstRetry(it.Retry, src.Retry); r != nil && r.Until != nil {
		s.until = r.Until
		scope := b.itemScope(it)
		if src != it {
			scope = b.itemScope(src)
		}
		diags = append(diags, mustBeBool(r.Until, scope, "until")...)
	}
	return diags
}
