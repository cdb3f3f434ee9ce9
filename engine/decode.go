package engine

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/customdecode"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "runbook", LabelNames: []string{"name"}},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "check", LabelNames: []string{"name"}},
		{Type: "step", LabelNames: []string{"name"}},
		{Type: "playbook", LabelNames: []string{"name"}},
		{Type: "report", LabelNames: []string{"name"}},
		{Type: "alert", LabelNames: []string{"name"}},
		{Type: "cleanup", LabelNames: []string{"name"}},
		{Type: "target", LabelNames: []string{"name"}},
		{Type: "inject", LabelNames: []string{"name"}},
	},
}

var runbookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "title"}, {Name: "description"}, {Name: "document"},
		{Name: "owner"}, {Name: "tags"}, {Name: "concurrency"},
		{Name: "exercise"},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"},
		{Name: "sensitive"}, {Name: "nullable"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

var assertSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message"},
		{Name: "severity"},
	},
}

var retrySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "attempts", Required: true},
		{Name: "interval"},
		{Name: "until"},
	},
}

var manualSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "instructions", Required: true}},
}

var playbookSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "title"}, {Name: "description"}, {Name: "trigger"}, {Name: "auto"},
	},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "step", LabelNames: []string{"name"}},
		{Type: "cleanup", LabelNames: []string{"name"}},
		{Type: "report", LabelNames: []string{"name"}},
		{Type: "inject", LabelNames: []string{"name"}},
	},
}

var reportSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "template", Required: true}, {Name: "output"}, {Name: "data"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "signoff"}},
}

var signoffSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "role", Required: true}, {Name: "statement"}, {Name: "name"},
	},
}

// alertChannels are the channel blocks an alert may carry.
var alertChannels = []string{"webhook", "slack", "pagerduty"}

var alertSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "on"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "webhook"}, {Type: "slack"}, {Type: "pagerduty"},
	},
}

// itemAttrs are the shared settings of checks and steps.
var itemAttrs = []hcl.AttributeSchema{
	{Name: "title"}, {Name: "description"}, {Name: "expected"},
	{Name: "timeout"}, {Name: "depends_on"}, {Name: "when"}, {Name: "on"},
}

// stepOnlyAttrs are settings a step (and a cleanup) has and a check has
// not. A cleanup is decoded with them so that confirm and required, which
// it may not use, are reported with their ranges and a reason.
var stepOnlyAttrs = []hcl.AttributeSchema{
	{Name: "check"}, {Name: "confirm"}, {Name: "on_failure"}, {Name: "required"},
	{Name: "assignee"}, {Name: "ack_within"}, {Name: "answer_within"},
}

// decoder decodes files into a Config (stage one).
type decoder struct {
	cfg         *Config
	reg         Registry
	itemSchemas map[string]*schemaIndex

	// types memoizes valueType.
	typesMu sync.Mutex
	types   map[valueTypeKey]valueTypeOf
}

// itemSchema is the schema of a check or step body: its settings and every
// provider block type.
func (d *decoder) itemSchema(kind string) *schemaIndex {
	if s, ok := d.itemSchemas[kind]; ok {
		return s
	}
	s := &hcl.BodySchema{Attributes: append([]hcl.AttributeSchema(nil), itemAttrs...)}
	if kind == "check" {
		s.Attributes = append(s.Attributes, scheduleAttrs...)
	}
	s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: "informational"})
	if kind == "step" {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: "checks"})
	}
	if kind != "check" {
		s.Attributes = append(s.Attributes, stepOnlyAttrs...)
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "manual"})
	}
	s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: "assert"}, hcl.BlockHeaderSchema{Type: "retry"})
	for _, n := range d.reg.blockTypes() {
		s.Blocks = append(s.Blocks, hcl.BlockHeaderSchema{Type: n})
	}
	if d.itemSchemas == nil {
		d.itemSchemas = map[string]*schemaIndex{}
	}
	idx := newSchemaIndex(s)
	d.itemSchemas[kind] = idx
	return idx
}

// schemaIndex is a body schema with its names looked up once, for
// content.
type schemaIndex struct {
	schema   *hcl.BodySchema
	attrs    map[string]bool // by name: required
	blocks   map[string]int  // by type: how many labels
	required int
}

func newSchemaIndex(s *hcl.BodySchema) *schemaIndex {
	idx := &schemaIndex{schema: s, attrs: map[string]bool{}, blocks: map[string]int{}}
	for _, a := range s.Attributes {
		idx.attrs[a.Name] = a.Required
		if a.Required {
			idx.required++
		}
	}
	for _, b := range s.Blocks {
		idx.blocks[b.Type] = len(b.LabelNames)
	}
	return idx
}

// Indexes of the fixed schemas of an item's blocks, built when first used.
var (
	assertIndex = sync.OnceValue(func() *schemaIndex { return newSchemaIndex(assertSchema) })
	retryIndex  = sync.OnceValue(func() *schemaIndex { return newSchemaIndex(retrySchema) })
	manualIndex = sync.OnceValue(func() *schemaIndex { return newSchemaIndex(manualSchema) })
)

// content is body.Content(idx.schema). A native-syntax body that holds
// only what the schema names, each block with its labels, and every
// required argument, cannot have a diagnostic: its content is built
// directly, without the three maps and the body of what remains that
// hclsyntax builds for every call (round 7: BenchmarkLoadBind1000, 1,000
// checks with an assert and a retry, 4,000 calls, 68.1 → 61.4 MB and
// 449,750 → 420,800 allocations a load; `validate` of those −20–28% CPU
// with the change before it).
// Anything else, and the body is asked, so every diagnostic is hcl's own.
// Bodies must be as the parser made them (not what remains of a
// PartialContent), as every block body of a Config is.
func (idx *schemaIndex) content(body hcl.Body) (*hcl.BodyContent, hcl.Diagnostics) {
	b, ok := body.(*hclsyntax.Body)
	if !ok || !idx.fits(b) {
		return body.Content(idx.schema)
	}
	attrs := make(hcl.Attributes, len(b.Attributes))
	for name, a := range b.Attributes {
		attrs[name] = a.AsHCLAttribute()
	}
	var blocks hcl.Blocks
	if len(b.Blocks) > 0 {
		blocks = make(hcl.Blocks, len(b.Blocks))
		for i, blk := range b.Blocks {
			blocks[i] = blk.AsHCLBlock()
		}
	}
	return &hcl.BodyContent{Attributes: attrs, Blocks: blocks, MissingItemRange: b.MissingItemRange()}, nil
}

// fits reports whether b holds only what the schema names, each block
// with as many labels as its type has, and every required argument.
func (idx *schemaIndex) fits(b *hclsyntax.Body) bool {
	required := 0
	for name := range b.Attributes {
		req, ok := idx.attrs[name]
		if !ok {
			return false
		}
		if req {
			required++
		}
	}
	if required != idx.required {
		return false
	}
	for _, blk := range b.Blocks {
		if n, ok := idx.blocks[blk.Type]; !ok || n != len(blk.Labels) {
			return false
		}
	}
	return true
}

func (d *decoder) decodeFile(f *hcl.File) hcl.Diagnostics {
	content, diags := f.Body.Content(rootSchema)
	// Checks and steps are most of a large runbook and decode on their own:
	// decode them first, on every core, then register everything in file
	// order (duplicates and diagnostics come out as a serial loop gives).
	type decoded struct {
		it    *Item
		diags hcl.Diagnostics
	}
	items := make([]decoded, len(content.Blocks))
	d.itemSchema("check")
	d.itemSchema("step")
	d.itemSchema("cleanup")
	forEach(len(content.Blocks), func(i int) {
		if b := content.Blocks[i]; b.Type == "check" || b.Type == "step" {
			items[i].it, items[i].diags = d.decodeItem(b, b.Type, "")
		}
	})
	for i, b := range content.Blocks {
		switch b.Type {
		case "runbook":
			diags = append(diags, d.decodeRunbook(b)...)
		case "variable":
			diags = append(diags, d.decodeVariable(b)...)
		case "locals":
			diags = append(diags, d.decodeLocals(b)...)
		case "check":
			it, ds := items[i].it, items[i].diags
			diags = append(diags, ds...)
			if it != nil {
				if prev, ok := d.cfg.Checks[it.Name]; ok {
					diags = append(diags, duplicate("check", it.Name, b.DefRange, prev.DeclRange))
					continue
				}
				d.cfg.Checks[it.Name] = it
				d.cfg.CheckOrder = append(d.cfg.CheckOrder, it.Name)
			}
		case "step":
			it, ds := items[i].it, items[i].diags
			diags = append(diags, ds...)
			if it != nil {
				if prev := findStep(d.cfg.Steps, it.Name); prev != nil {
					diags = append(diags, duplicate("step", it.Name, b.DefRange, prev.DeclRange))
					continue
				}
				d.cfg.Steps = append(d.cfg.Steps, it)
			}
		case "playbook":
			diags = append(diags, d.decodePlaybook(b)...)
		case "cleanup":
			var ds hcl.Diagnostics
			d.cfg.Cleanups, ds = d.addCleanup(d.cfg.Cleanups, b, "")
			diags = append(diags, ds...)
		case "report":
			var ds hcl.Diagnostics
			d.cfg.Reports, ds = addReport(d.cfg.Reports, b)
			diags = append(diags, ds...)
		case "alert":
			diags = append(diags, d.decodeAlert(b)...)
		case "target":
			diags = append(diags, d.decodeTarget(b)...)
		case "inject":
			var ds hcl.Diagnostics
			d.cfg.Injects, ds = addInject(d.cfg.Injects, b)
			diags = append(diags, ds...)
		}
	}
	return diags
}

func findStep(steps []*Item, name string) *Item {
	for _, s := range steps {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func duplicate(kind, name string, at, prev hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s %q", kind, name),
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within a runbook.", kind, name, prev),
		Subject:  at.Ptr(),
	}
}

func validName(b *hcl.Block) hcl.Diagnostics {
	if len(b.Labels) == 0 {
		return nil
	}
	name := b.Labels[0]
	if !hclIdent(name) {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid name",
			Detail:   fmt.Sprintf("%q is not a valid %s name: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name, b.Type),
			Subject:  b.LabelRanges[0].Ptr(),
		}}
	}
	return nil
}

func hclIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && (r == '-' || (r >= '0' && r <= '9')):
		default:
			return false
		}
	}
	return true
}

func (d *decoder) decodeRunbook(b *hcl.Block) hcl.Diagnostics {
	if d.cfg.Runbook != nil {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Duplicate runbook block",
			Detail:   fmt.Sprintf("A runbook has exactly one runbook block; another was declared at %s.", d.cfg.Runbook.DeclRange),
			Subject:  b.DefRange.Ptr(),
		}}
	}
	content, diags := b.Body.Content(runbookSchema)
	diags = append(diags, validName(b)...)
	d.cfg.Runbook = &RunbookBlock{Name: b.Labels[0], Attrs: content.Attributes, DeclRange: b.DefRange}
	return diags
}

func (d *decoder) decodeVariable(b *hcl.Block) hcl.Diagnostics {
	name := b.Labels[0]
	diags := validName(b)
	if prev, ok := d.cfg.Variables[name]; ok {
		return append(diags, duplicate("variable", name, b.DefRange, prev.DeclRange))
	}
	content, cdiags := b.Body.Content(variableSchema)
	diags = append(diags, cdiags...)
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, Nullable: true, DeclRange: b.DefRange}
	if a, ok := content.Attributes["type"]; ok {
		ty, defaults, tdiags := typeexpr.TypeConstraintWithDefaults(a.Expr)
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() {
			v.Type, v.Defaults = ty, defaults
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, decodeLiteral(a, cty.String, func(val cty.Value) { v.Description = val.AsString() })...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Bool, func(val cty.Value) { v.Sensitive = val.True() })...)
	}
	if a, ok := content.Attributes["nullable"]; ok {
		diags = append(diags, decodeLiteral(a, cty.Bool, func(val cty.Value) { v.Nullable = val.True() })...)
	}
	if a, ok := content.Attributes["default"]; ok {
		val, vdiags := a.Expr.Value(nil)
		if vdiags.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Variables not allowed",
				Detail:   "A variable's default must be a literal value: it may not refer to other variables, locals or functions.",
				Subject:  a.Expr.Range().Ptr(),
			})
		} else {
			conv, err := convert.Convert(v.WithDefaults(val), v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", err),
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				v.Default = conv
			}
		}
	}
	for _, vb := range content.Blocks {
		vc, vdiags := vb.Body.Content(validationSchema)
		diags = append(diags, vdiags...)
		if vdiags.HasErrors() {
			continue
		}
		val := &Validation{Condition: vc.Attributes["condition"].Expr, ErrorMessage: vc.Attributes["error_message"].Expr, DeclRange: vb.DefRange}
		for _, tr := range val.Condition.Variables() {
			if tr.RootName() != "var" && tr.RootName() != "env" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference in variable validation",
					Detail:   fmt.Sprintf("The condition of a variable validation may refer only to var.%s (and env), not to %s.", name, tr.RootName()),
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		}
		v.Validations = append(v.Validations, val)
	}
	d.cfg.Variables[name] = v
	d.cfg.VariableOrder = append(d.cfg.VariableOrder, name)
	return diags
}

// decodeLiteral evaluates a constant attribute of the given type.
func decodeLiteral(a *hcl.Attribute, ty cty.Type, set func(cty.Value)) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	conv, err := convert.Convert(val, ty)
	if err != nil || conv.IsNull() {
		msg := "must not be null"
		if err != nil {
			msg = err.Error()
		}
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid value for %q", a.Name),
			Detail:   fmt.Sprintf("%s: a %s is required, %s.", a.Name, ty.FriendlyName(), msg),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	set(conv)
	return nil
}

func (d *decoder) decodeLocals(b *hcl.Block) hcl.Diagnostics {
	attrs, diags := b.Body.JustAttributes()
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte
	})
	for _, n := range names {
		a := attrs[n]
		if _, ok := d.cfg.Locals[n]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate local value %q", n),
				Detail:   "Each local value may be defined only once across all locals blocks.",
				Subject:  a.NameRange.Ptr(),
			})
			continue
		}
		for _, tr := range a.Expr.Variables() {
			if r := tr.RootName(); r == "check" || r == "step" || r == "self" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference in local value",
					Detail:   fmt.Sprintf("Local values are computed before anything runs, so they may use var, local, env and path, but not %s results.", r),
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		}
		d.cfg.Locals[n] = &Local{Name: n, Expr: a.Expr}
		d.cfg.LocalOrder = append(d.cfg.LocalOrder, n)
	}
	return diags
}

// decodeItem decodes a check or step block's shared settings and keeps its
// provider block's body for stage two.
func (d *decoder) decodeItem(b *hcl.Block, kind, playbook string) (*Item, hcl.Diagnostics) {
	diags := validName(b)
	content, cdiags := d.itemSchema(kind).content(b.Body)
	diags = append(diags, cdiags...)
	it := &Item{Kind: kind, Name: b.Labels[0], Playbook: playbook, DeclRange: b.DefRange}
	attr := func(n string) hcl.Expression {
		if a, ok := content.Attributes[n]; ok {
			return a.Expr
		}
		return nil
	}
	it.Title, it.Description, it.Expected = attr("title"), attr("description"), attr("expected")
	it.Timeout, it.When, it.Confirm, it.OnFailure = attr("timeout"), attr("when"), attr("confirm"), attr("on_failure")
	it.Required, it.Assignee = attr("required"), attr("assignee")
	it.Informational = attr("informational")
	diags = append(diags, decodeCheckList(it, content)...)
	it.AckWithin, it.AnswerWithin = attr("ack_within"), attr("answer_within")
	if kind == "check" {
		sched, sdiags := decodeSchedule(content)
		diags = append(diags, sdiags...)
		it.Schedule = sched
	}

	if a, ok := content.Attributes["on"]; ok {
		names, list, odiags := decodeOn(a)
		diags = append(diags, odiags...)
		it.On, it.OnList, it.OnRange = names, list, a.Expr.Range().Ptr()
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		refs, rdiags := decodeRefList(a.Expr)
		diags = append(diags, rdiags...)
		it.DependsOn = refs
	}
	if a, ok := content.Attributes["check"]; ok {
		name, rdiags := decodeCheckRef(a.Expr, "Invalid check reference",
			"The check argument names a declared check, like check = check.service_health.")
		diags = append(diags, rdiags...)
		it.CheckRef, it.CheckRefRange = name, a.Expr.Range().Ptr()
	}

	var providers []*hcl.Block
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "assert":
			ac, adiags := assertIndex().content(blk.Body)
			diags = append(diags, adiags...)
			if adiags.HasErrors() {
				continue
			}
			as := &Assert{Condition: ac.Attributes["condition"].Expr, DeclRange: blk.DefRange}
			if a, ok := ac.Attributes["error_message"]; ok {
				as.ErrorMessage = a.Expr
			}
			if a, ok := ac.Attributes["severity"]; ok {
				as.Severity = a.Expr
			}
			it.Asserts = append(it.Asserts, as)
		case "retry":
			if it.Retry != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Duplicate retry block",
					Detail:   fmt.Sprintf("A %s has at most one retry block.", kind),
					Subject:  blk.DefRange.Ptr(),
				})
				continue
			}
			rc, rdiags := retryIndex().content(blk.Body)
			diags = append(diags, rdiags...)
			if rdiags.HasErrors() {
				continue
			}
			it.Retry = &Retry{Attempts: rc.Attributes["attempts"].Expr, DeclRange: blk.DefRange}
			if a, ok := rc.Attributes["interval"]; ok {
				it.Retry.Interval = a.Expr
			}
			if a, ok := rc.Attributes["until"]; ok {
				it.Retry.Until = a.Expr
			}
		case "manual":
			mc, mdiags := manualIndex().content(blk.Body)
			diags = append(diags, mdiags...)
			if mdiags.HasErrors() {
				continue
			}
			it.Manual = &Manual{Instructions: mc.Attributes["instructions"].Expr, DeclRange: blk.DefRange}
			providers = append(providers, blk)
		default:
			providers = append(providers, blk)
		}
	}

	switch {
	case len(providers) > 1:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Multiple provider blocks",
			Detail:   fmt.Sprintf("A %s carries exactly one provider block; this one has %q and %q. Split it into two %ss.", kind, providers[0].Type, providers[1].Type, kind),
			Subject:  providers[1].DefRange.Ptr(),
		})
	case len(providers) == 1 && it.CheckRef != "":
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Conflicting check and provider block",
			Detail:   fmt.Sprintf("This step runs check.%s and also carries a %q block; use one or the other.", it.CheckRef, providers[0].Type),
			Subject:  providers[0].DefRange.Ptr(),
		})
	case len(providers) == 0 && it.CheckRef == "" && !cdiags.HasErrors() && content.Attributes["check"] == nil && content.Attributes["checks"] == nil:
		what := "one provider block, such as http { … } or shell { … }"
		switch kind {
		case "step":
			what = "one provider block (http { … }, shell { … } …), a manual { … } block, check = check.NAME or checks = [check.NAME, …]"
		case "cleanup":
			what = "one provider block (http { … }, shell { … } …) or check = check.NAME"
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing provider block",
			Detail:   fmt.Sprintf("The %s %q has nothing to run: it needs %s.", kind, it.Name, what),
			Subject:  b.DefRange.Ptr(),
		})
	case len(providers) == 1 && providers[0].Type != "manual":
		p := providers[0]
		it.ProviderType, it.ProviderBody, it.ProviderRange = p.Type, p.Body, p.DefRange
		pt := d.cfg.types.get(d.reg, p.Type)
		if pt == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Provider not available yet",
				Detail:   fmt.Sprintf("The %q provider (%s) is part of the runbook language but this build of runbook does not include it yet.", p.Type, d.reg.Planned[p.Type]),
				Subject:  p.DefRange.Ptr(),
			})
		} else {
			// Stage one: the body's shape against the provider's schema, so
			// a misspelt argument is reported now, with a suggestion.
			_, sdiags := pt.index.content(p.Body)
			diags = append(diags, sdiags...)
		}
	}
	if it.Manual != nil && (it.Retry != nil || len(it.Asserts) > 0) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Unsupported block in manual step",
			Detail:   "A manual step is answered by a person; it takes no assert or retry blocks.",
			Subject:  it.Manual.DeclRange.Ptr(),
		})
	}
	diags = append(diags, compositeConflicts(it, content)...)
	diags = append(diags, compositeWhen(it)...)
	if it.Required != nil && it.Manual == nil && kind == "step" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Required on an automated step",
			Detail:   "required = true makes a manual step impossible to skip; it applies only to steps with a manual { … } block.",
			Subject:  it.Required.Range().Ptr(),
		})
	}
	return it, diags
}

func (d *decoder) decodePlaybook(b *hcl.Block) hcl.Diagnostics {
	diags := validName(b)
	name := b.Labels[0]
	if prev, ok := d.cfg.Playbooks[name]; ok {
		return append(diags, duplicate("playbook", name, b.DefRange, prev.DeclRange))
	}
	content, cdiags := b.Body.Content(playbookSchema)
	diags = append(diags, cdiags...)
	pb := &Playbook{Name: name, DeclRange: b.DefRange}
	if a, ok := content.Attributes["title"]; ok {
		pb.Title = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		pb.Description = a.Expr
	}
	if a, ok := content.Attributes["auto"]; ok {
		pb.Auto = a.Expr
	}
	if a, ok := content.Attributes["trigger"]; ok {
		name, rdiags := decodeCheckRef(a.Expr, "Invalid trigger",
			"A playbook's trigger names a declared check, like trigger = check.golden.")
		diags = append(diags, rdiags...)
		pb.Trigger, pb.TriggerRange = name, a.Expr.Range()
	}
	for _, sb := range content.Blocks {
		var ds hcl.Diagnostics
		switch sb.Type {
		case "cleanup":
			pb.Cleanups, ds = d.addCleanup(pb.Cleanups, sb, name)
		case "report":
			pb.Reports, ds = addReport(pb.Reports, sb)
		case "inject":
			pb.Injects, ds = addInject(pb.Injects, sb)
		default:
			it, sdiags := d.decodeItem(sb, "step", name)
			ds = sdiags
			if prev := findStep(pb.Steps, it.Name); prev != nil {
				ds = append(ds, duplicate("step", it.Name, sb.DefRange, prev.DeclRange))
				break
			}
			pb.Steps = append(pb.Steps, it)
		}
		diags = append(diags, ds...)
	}
	if len(pb.Steps) == 0 && !cdiags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty playbook",
			Detail:   fmt.Sprintf("The playbook %q has no steps.", name),
			Subject:  b.DefRange.Ptr(),
		})
	}
	d.cfg.Playbooks[name] = pb
	d.cfg.PlaybookOrder = append(d.cfg.PlaybookOrder, name)
	return diags
}

// addReport decodes a report block and appends it to the reports of its
// procedure (the top level's or a playbook's), where its name is unique.
func addReport(reports []*Report, b *hcl.Block) ([]*Report, hcl.Diagnostics) {
	diags := validName(b)
	content, cdiags := b.Body.Content(reportSchema)
	diags = append(diags, cdiags...)
	if cdiags.HasErrors() {
		return reports, diags
	}
	for _, prev := range reports {
		if prev.Name == b.Labels[0] {
			return reports, append(diags, duplicate("report", prev.Name, b.DefRange, prev.DeclRange))
		}
	}
	r := &Report{Name: b.Labels[0], Template: content.Attributes["template"].Expr, DeclRange: b.DefRange}
	if a, ok := content.Attributes["output"]; ok {
		r.Output = a.Expr
	}
	if a, ok := content.Attributes["data"]; ok {
		r.Data = a.Expr
	}
	for _, sb := range content.Blocks {
		sc, sdiags := sb.Body.Content(signoffSchema)
		diags = append(diags, sdiags...)
		if sdiags.HasErrors() {
			continue
		}
		s := &Signoff{Role: sc.Attributes["role"].Expr, DeclRange: sb.DefRange}
		if a, ok := sc.Attributes["statement"]; ok {
			s.Statement = a.Expr
		}
		if a, ok := sc.Attributes["name"]; ok {
			s.Name = a.Expr
		}
		r.Signoffs = append(r.Signoffs, s)
	}
	return append(reports, r), diags
}

func (d *decoder) decodeAlert(b *hcl.Block) hcl.Diagnostics {
	diags := validName(b)
	content, cdiags := b.Body.Content(alertSchema)
	diags = append(diags, cdiags...)
	if cdiags.HasErrors() {
		return diags
	}
	a := &Alert{Name: b.Labels[0], DeclRange: b.DefRange}
	if at, ok := content.Attributes["on"]; ok {
		a.On = at.Expr
	}
	switch len(content.Blocks) {
	case 0:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing alert channel",
			Detail:   fmt.Sprintf("An alert needs one channel block: %s.", strings.Join(alertChannels, ", ")),
			Subject:  b.DefRange.Ptr(),
		})
	case 1:
		a.Channel, a.ChannelBody = content.Blocks[0].Type, content.Blocks[0].Body
	default:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Multiple alert channels",
			Detail:   "An alert has exactly one channel block; declare one alert per channel.",
			Subject:  content.Blocks[1].DefRange.Ptr(),
		})
	}
	d.cfg.Alerts = append(d.cfg.Alerts, a)
	return diags
}

// decodeRef decodes a bare reference such as check.database.
func decodeRef(expr hcl.Expression) (Ref, hcl.Diagnostics) {
	tr, diags := hcl.AbsTraversalForExpr(expr)
	if diags.HasErrors() || len(tr) < 2 {
		return Ref{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   "A reference here names a check or step, like check.database or step.capture, without quotes.",
			Subject:  expr.Range().Ptr(),
		}}
	}
	root := tr.RootName()
	attr, ok := tr[1].(hcl.TraverseAttr)
	if !ok || (root != "check" && root != "step") {
		return Ref{}, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   fmt.Sprintf("Expected check.NAME or step.NAME, got a reference to %q.", root),
			Subject:  expr.Range().Ptr(),
		}}
	}
	return Ref{Kind: root, Name: attr.Name, Range: expr.Range()}, nil
}

// decodeCheckRef decodes a reference that must name a check (check =,
// trigger =) and returns the check's name, "" on error.
func decodeCheckRef(expr hcl.Expression, summary, detail string) (string, hcl.Diagnostics) {
	ref, diags := decodeRef(expr)
	if diags.HasErrors() {
		return "", diags
	}
	if ref.Kind != "check" {
		return "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  summary,
			Detail:   detail,
			Subject:  expr.Range().Ptr(),
		}}
	}
	return ref.Name, nil
}

// decodeRefList decodes depends_on = [check.a, step.b].
func decodeRefList(expr hcl.Expression) ([]Ref, hcl.Diagnostics) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		return nil, diags
	}
	var refs []Ref
	for _, e := range exprs {
		r, rdiags := decodeRef(e)
		diags = append(diags, rdiags...)
		if !rdiags.HasErrors() {
			refs = append(refs, r)
		}
	}
	return refs, diags
}

// Suggest returns " Did you mean "x"?" for the name closest to given, or
// "" when none is close; commands use it for their own messages.
func Suggest(given string, names []string) string { return suggest(given, names) }

// suggest returns " Did you mean "x"?" for the closest of names, or "".
func suggest(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(given, n, nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// decodeCheckList decodes a step's checks = [check.a, check.b]: the checks
// the step is made of.
func decodeCheckList(it *Item, content *hcl.BodyContent) hcl.Diagnostics {
	a, ok := content.Attributes["checks"]
	if !ok {
		return nil
	}
	it.CheckRefsRange = a.Expr.Range().Ptr()
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid checks list",
			Detail:   "checks is a list of declared checks, like checks = [check.process, check.disk].",
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		name, rdiags := decodeCheckRef(e, "Invalid check reference",
			"Each element of checks names a declared check, like checks = [check.process, check.disk].")
		diags = append(diags, rdiags...)
		if name == "" {
			continue
		}
		if seen[name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate check in checks",
				Detail:   fmt.Sprintf("check.%s is listed twice; each check of a step runs once.", name),
				Subject:  e.Range().Ptr(),
			})
			continue
		}
		seen[name] = true
		it.CheckRefs = append(it.CheckRefs, name)
	}
	if len(exprs) == 0 {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Empty checks list",
			Detail:   "checks names at least one declared check, like checks = [check.process].",
			Subject:  a.Expr.Range().Ptr(),
		})
	}
	return diags
}

// compositeConflicts reports what a step made of checks (checks = […])
// cannot also have: a provider block, a manual block, check =, confirm, a
// retry block or a timeout (each check keeps its own) or on (each check
// runs where it says).
func compositeConflicts(it *Item, content *hcl.BodyContent) hcl.Diagnostics {
	if _, ok := content.Attributes["checks"]; !ok {
		return nil
	}
	var clash string
	var at hcl.Range
	switch {
	case it.ProviderType != "":
		clash, at = fmt.Sprintf("a %q block", it.ProviderType), it.ProviderRange
	case it.Manual != nil:
		clash, at = "a manual block", it.Manual.DeclRange
	case it.CheckRef != "":
		clash, at = "check =", *it.CheckRefRange
	case it.Confirm != nil:
		clash, at = "confirm (its checks only observe)", it.Confirm.Range()
	case it.Retry != nil:
		clash, at = "a retry block (each check keeps its own retry)", it.Retry.DeclRange
	case it.Timeout != nil:
		clash, at = "timeout (each check keeps its own timeout)", it.Timeout.Range()
	case content.Attributes["on"] != nil:
		clash, at = "on (each check runs where it says)", content.Attributes["on"].Expr.Range()
	default:
		return nil
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError,
		Summary:  "Conflicting arguments with checks",
		Detail:   fmt.Sprintf("The step %q is made of checks (checks = […]) and also has %s; use one or the other.", it.Name, clash),
		Subject:  at.Ptr(),
	}}
}

// compositeWhen refuses a when of a step made of checks that reads one of
// those checks: when is decided before they run.
func compositeWhen(it *Item) hcl.Diagnostics {
	if it.When == nil || len(it.CheckRefs) == 0 {
		return nil
	}
	for _, tr := range it.When.Variables() {
		if tr.RootName() != "check" || len(tr) < 2 {
			continue
		}
		if a, ok := tr[1].(hcl.TraverseAttr); ok && contains(it.CheckRefs, a.Name) {
			return hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Step reads its own checks in when",
				Detail:   fmt.Sprintf("The step %q is made of check.%s, which runs only once the step's when lets it: when cannot read it. Use an assert on the step to judge its checks' results.", it.Name, a.Name),
				Subject:  tr.SourceRange().Ptr(),
			}}
		}
	}
	return nil
}

// attrObjectSpec is a provider schema that is an object of attributes, as
// every provider's is: decoded and searched for references here, over the
// content of the provider type's schema index, as hcldec.Decode and
// hcldec.Variables would (the same values and diagnostics), without
// deriving the schema from the spec again for every block. Validating
// 10,000 `shell` checks spent a fifth of its CPU in those two; without
// them it takes 10% less CPU, 10,000 `http` checks 15% less (round 7).
type attrObjectSpec struct {
	keys  []string // the object's attribute names, sorted
	attrs []*hcldec.AttrSpec
}

// newAttrObjectSpec returns spec as an attrObjectSpec, or nil when it is
// anything else (then hcldec decodes it).
func newAttrObjectSpec(spec hcldec.Spec) *attrObjectSpec {
	obj, ok := spec.(hcldec.ObjectSpec)
	if !ok {
		return nil
	}
	s := &attrObjectSpec{}
	for k := range obj {
		s.keys = append(s.keys, k)
	}
	sort.Strings(s.keys)
	for _, k := range s.keys {
		a, ok := obj[k].(*hcldec.AttrSpec)
		if !ok {
			return nil
		}
		s.attrs = append(s.attrs, a)
	}
	return s
}

// decode is hcldec.Decode of content's body: AttrSpec's decoding, each
// attribute converted to its type or reported, null when absent.
func (s *attrObjectSpec) decode(content *hcl.BodyContent, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	vals := make(map[string]cty.Value, len(s.keys))
	var diags hcl.Diagnostics
	for i, k := range s.keys {
		as := s.attrs[i]
		attr, ok := content.Attributes[as.Name]
		if !ok {
			vals[k] = cty.NullVal(as.Type.WithoutOptionalAttributesDeep())
			continue
		}
		if decodeFn := customdecode.CustomExpressionDecoderForType(as.Type); decodeFn != nil {
			v, d := decodeFn(attr.Expr, ctx)
			if v == cty.NilVal {
				v = cty.UnknownVal(as.Type.WithoutOptionalAttributesDeep())
			}
			vals[k] = v
			diags = append(diags, d...)
			continue
		}
		v, d := attr.Expr.Value(ctx)
		diags = append(diags, d...)
		conv, err := convert.Convert(v, as.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity:    hcl.DiagError,
				Summary:     "Incorrect attribute value type",
				Detail:      fmt.Sprintf("Inappropriate value for attribute %q: %s.", as.Name, err.Error()),
				Subject:     attr.Expr.Range().Ptr(),
				Context:     hcl.RangeBetween(attr.NameRange, attr.Expr.Range()).Ptr(),
				Expression:  attr.Expr,
				EvalContext: ctx,
			})
			conv = cty.UnknownVal(as.Type.WithoutOptionalAttributesDeep())
		}
		vals[k] = conv
	}
	return cty.ObjectVal(vals), diags
}

// variables is hcldec.Variables of content's body, in the order of the
// object's attribute names.
func (s *attrObjectSpec) variables(content *hcl.BodyContent) []hcl.Traversal {
	var vars []hcl.Traversal
	for _, as := range s.attrs {
		if attr, ok := content.Attributes[as.Name]; ok {
			vars = append(vars, attr.Expr.Variables()...)
		}
	}
	return vars
}

// decode is hcldec.Decode(body, pt.spec, ctx).
func (pt *providerType) decode(body hcl.Body, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if pt.attrs == nil {
		return hcldec.Decode(body, pt.spec, ctx)
	}
	content, diags := pt.index.content(body)
	v, d := pt.attrs.decode(content, ctx)
	return v, append(diags, d...)
}

// variables is hcldec.Variables(body, pt.spec).
func (pt *providerType) variables(body hcl.Body) []hcl.Traversal {
	if pt.attrs == nil {
		return hcldec.Variables(body, pt.spec)
	}
	var content *hcl.BodyContent
	if b, ok := body.(*hclsyntax.Body); ok && pt.index.fits(b) {
		content, _ = pt.index.content(b)
	} else {
		content, _, _ = body.PartialContent(pt.implied)
	}
	return pt.attrs.variables(content)
}
