package engine

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// roots are the names an expression may start with.
var roots = []string{"var", "local", "env", "path", "check", "step", "self"}

// pathAttrs are the attributes of the path object.
var pathAttrs = []string{"module", "cwd"}

// resolveGraph finds every item's references, checks that each names
// something declared and reachable, and rejects cycles.
func (d *decoder) resolveGraph() hcl.Diagnostics {
	cfg := d.cfg
	var diags hcl.Diagnostics
	// Each check's and top-level step's references are its own business:
	// find them on every core, report them in order.
	items := cfg.checksAndSteps()
	found := make([]hcl.Diagnostics, len(items))
	forEach(len(items), func(i int) {
		var siblings []*Item
		if items[i].Kind == "step" {
			siblings = cfg.Steps
		}
		found[i] = d.itemRefs(items[i], siblings)
	})
	for _, ds := range found {
		diags = append(diags, ds...)
	}
	for _, c := range cfg.Cleanups {
		diags = append(diags, d.itemRefs(c, cfg.Steps)...)
	}
	reports := append([]*Report(nil), cfg.Reports...)
	for _, pn := range cfg.PlaybookOrder {
		pb := cfg.Playbooks[pn]
		for _, s := range pb.Steps {
			diags = append(diags, d.itemRefs(s, pb.Steps)...)
		}
		for _, c := range pb.Cleanups {
			diags = append(diags, d.itemRefs(c, pb.Steps)...)
		}
		reports = append(reports, pb.Reports...)
		if pb.Trigger != "" {
			if _, ok := cfg.Checks[pb.Trigger]; !ok {
				diags = append(diags, undeclared(Ref{Kind: "check", Name: pb.Trigger, Range: pb.TriggerRange}, cfg.CheckOrder))
			}
		}
		for _, e := range []hcl.Expression{pb.Title, pb.Description, pb.Auto} {
			diags = append(diags, d.rootRefs(e, false, false)...)
		}
	}
	for _, r := range reports {
		for _, e := range []hcl.Expression{r.Template, r.Output} {
			diags = append(diags, d.rootRefs(e, false, false)...)
		}
		// data may use results: check and step references are checked at
		// render time against what ran.
		diags = append(diags, d.rootRefs(r.Data, true, false)...)
	}
	if cfg.Runbook != nil {
		for _, a := range cfg.Runbook.Attrs {
			diags = append(diags, d.rootRefs(a.Expr, false, false)...)
		}
	}
	for _, n := range cfg.LocalOrder {
		diags = append(diags, d.rootRefs(cfg.Locals[n].Expr, false, false)...)
	}
	if !diags.HasErrors() {
		diags = append(diags, checkCycles(cfg)...)
	}
	return diags
}

// rootRefs checks the roots of an expression's references and that var.*
// and local.* name declared values.
func (d *decoder) rootRefs(e hcl.Expression, results, self bool) hcl.Diagnostics {
	if e == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, tr := range e.Variables() {
		diags = append(diags, d.checkTraversal(tr, results, self)...)
	}
	return diags
}

// checkTraversal checks one reference's root and, for var, local and path,
// that it names something declared.
func (d *decoder) checkTraversal(tr hcl.Traversal, results, self bool) hcl.Diagnostics {
	var diags hcl.Diagnostics
	{
		root := tr.RootName()
		switch root {
		case "var", "local", "path":
			name, ok := attrName(tr)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Invalid %s reference", root),
					Detail:   fmt.Sprintf("A reference to %s needs an attribute name, like %s.name.", root, root),
					Subject:  tr.SourceRange().Ptr(),
				})
				return diags
			}
			var names []string
			switch root {
			case "var":
				names = d.cfg.VariableOrder
			case "local":
				names = d.cfg.LocalOrder
			default:
				names = pathAttrs
			}
			if !contains(names, name) {
				kind := map[string]string{"var": "input variable", "local": "local value", "path": "path attribute"}[root]
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Reference to undeclared %s", kind),
					Detail:   fmt.Sprintf("No %s named %q is declared.%s", kind, name, suggest(name, names)),
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		case "env":
		case "check", "step":
			if !results {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference",
					Detail:   fmt.Sprintf("Results of %ss are not available here: this value is computed before anything runs.", root),
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		case "self":
			if !self {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid self reference",
					Detail:   "self, the provider's result, is available only inside assert blocks.",
					Subject:  tr.SourceRange().Ptr(),
				})
			}
		default:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown variable",
				Detail:   fmt.Sprintf("There is no variable named %q. References start with var, local, env, path, check, step or self.%s", root, suggest(root, roots)),
				Subject:  tr.SourceRange().Ptr(),
			})
		}
	}
	return diags
}

func attrName(tr hcl.Traversal) (string, bool) {
	if len(tr) < 2 {
		return "", false
	}
	a, ok := tr[1].(hcl.TraverseAttr)
	if !ok {
		return "", false
	}
	return a.Name, true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// itemRefs collects the references of one check, step or cleanup. siblings
// are the steps a step may see (top-level or its playbook's), in order; a
// cleanup sees them all, since it runs after them.
func (d *decoder) itemRefs(it *Item, siblings []*Item) hcl.Diagnostics {
	var diags hcl.Diagnostics
	type expr struct {
		e    hcl.Expression
		self bool
	}
	var exprs []expr
	// Settings are evaluated before anything runs: no results in them.
	static := []hcl.Expression{it.Title, it.Description, it.Expected, it.Timeout, it.Confirm, it.OnFailure, it.Required, it.Assignee, it.AckWithin, it.AnswerWithin}
	if it.Retry != nil {
		static = append(static, it.Retry.Attempts, it.Retry.Interval)
	}
	for _, a := range it.Asserts {
		static = append(static, a.Severity)
	}
	static = append(static, it.Informational)
	var travs []hcl.Traversal
	// Each expression's references are found once (Variables walks the
	// expression and allocates its traversals).
	for _, e := range static {
		if e == nil {
			continue
		}
		vs := e.Variables()
		for _, tr := range vs {
			diags = append(diags, d.checkTraversal(tr, false, false)...)
		}
		travs = append(travs, vs...)
	}
	if it.When != nil {
		exprs = append(exprs, expr{it.When, false})
	}
	for _, a := range it.Asserts {
		for _, e := range []hcl.Expression{a.Condition, a.ErrorMessage} {
			if e != nil {
				exprs = append(exprs, expr{e, true})
			}
		}
	}
	if it.Manual != nil {
		exprs = append(exprs, expr{it.Manual.Instructions, false})
	}
	if it.Retry != nil && it.Retry.Until != nil {
		exprs = append(exprs, expr{it.Retry.Until, true})
	}
	for _, x := range exprs {
		vs := x.e.Variables()
		for _, tr := range vs {
			diags = append(diags, d.checkTraversal(tr, true, x.self)...)
		}
		travs = append(travs, vs...)
	}
	if it.ProviderBody != nil {
		if pt := d.cfg.types.get(d.reg, it.ProviderType); pt != nil {
			for _, tr := range pt.variables(it.ProviderBody) {
				diags = append(diags, d.checkTraversal(tr, true, false)...)
				travs = append(travs, tr)
			}
		}
	}
	seen := map[string]bool{}
	add := func(r Ref) {
		if !seen[r.Address()] {
			seen[r.Address()] = true
			it.refs = append(it.refs, r)
		}
	}
	for _, tr := range travs {
		root := tr.RootName()
		if root == "var" || root == "local" {
			if name, ok := attrName(tr); ok {
				it.uses = append(it.uses, root+"."+name)
			}
			continue
		}
		if root != "check" && root != "step" {
			continue
		}
		name, ok := attrName(tr)
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference",
				Detail:   fmt.Sprintf("A reference to %s needs a name, like %s.NAME.status.", root, root),
				Subject:  tr.SourceRange().Ptr(),
			})
			continue
		}
		add(Ref{Kind: root, Name: name, Range: tr.SourceRange()})
	}
	diags = append(diags, d.checkResultRefs(it, travs, siblings)...)
	for _, r := range it.DependsOn {
		add(r)
	}
	if it.CheckRef != "" {
		add(Ref{Kind: "check", Name: it.CheckRef, Range: *it.CheckRefRange})
	}
	for _, name := range it.CheckRefs {
		add(Ref{Kind: "check", Name: name, Range: *it.CheckRefsRange})
		if c := d.cfg.Checks[name]; c != nil && c.OnList {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Fan-out check in checks",
				Detail:   fmt.Sprintf("check.%s runs on a list of targets, so it is several results; a step's checks = […] takes checks that give one result each.", name),
				Subject:  it.CheckRefsRange,
			})
		}
	}

	for _, r := range it.refs {
		switch r.Kind {
		case "check":
			if _, ok := d.cfg.Checks[r.Name]; !ok {
				diags = append(diags, undeclared(r, d.cfg.CheckOrder))
			} else if it.Kind == "check" && r.Name == it.Name {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Self-referential check",
					Detail:   fmt.Sprintf("check.%s refers to itself; use self for its own result inside assert blocks.", it.Name),
					Subject:  r.Range.Ptr(),
				})
			}
		case "step":
			if it.Kind == "check" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid reference to a step",
					Detail:   "A check runs on its own (runbook check, watch), so it may refer to other checks but not to steps.",
					Subject:  r.Range.Ptr(),
				})
				continue
			}
			idx, self := -1, -1
			if it.Kind == "cleanup" {
				self = len(siblings)
			}
			var names []string
			for i, s := range siblings {
				names = append(names, s.Name)
				if s.Name == r.Name {
					idx = i
				}
				if s == it {
					self = i
				}
			}
			switch {
			case idx < 0:
				diags = append(diags, undeclared(r, names))
			case idx >= self:
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to a later step",
					Detail:   fmt.Sprintf("Steps run in file order, so step %q can use results of earlier steps only; step.%s comes at or after it.", it.Name, r.Name),
					Subject:  r.Range.Ptr(),
				})
			}
		}
	}
	return diags
}

func undeclared(r Ref, names []string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Reference to undeclared %s", r.Kind),
		Detail:   fmt.Sprintf("No %s named %q is declared here.%s", r.Kind, r.Name, suggest(r.Name, names)),
		Subject:  r.Range.Ptr(),
	}
}

// checkCycles rejects cycles among checks, naming the cycle.
func checkCycles(cfg *Config) hcl.Diagnostics {
	const (
		white = iota
		grey
		black
	)
	color := map[string]int{}
	var stack []string
	var diags hcl.Diagnostics
	var visit func(name string) bool
	visit = func(name string) bool {
		color[name] = grey
		stack = append(stack, name)
		it := cfg.Checks[name]
		for _, r := range it.refs {
			if r.Kind != "check" {
				continue
			}
			switch color[r.Name] {
			case grey:
				start := 0
				for i, n := range stack {
					if n == r.Name {
						start = i
					}
				}
				cycle := append([]string{}, stack[start:]...)
				cycle = append(cycle, r.Name)
				for i := range cycle {
					cycle[i] = "check." + cycle[i]
				}
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Dependency cycle",
					Detail:   fmt.Sprintf("These checks depend on each other in a cycle: %s. Remove one of the references or depends_on entries.", strings.Join(cycle, " → ")),
					Subject:  r.Range.Ptr(),
				})
				return true
			case white:
				if visit(r.Name) {
					return true
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[name] = black
		return false
	}
	for _, n := range cfg.CheckOrder {
		if color[n] == white && visit(n) {
			break
		}
	}
	return diags
}
