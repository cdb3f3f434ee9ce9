package engine

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/remote"
	"github.com/zclconf/go-cty/cty"
)

// TargetBlock is a `target "NAME" { ssh { … } }` block: a host that
// items with `on = target.NAME` run on.
type TargetBlock struct {
	Name string
	// SSH are the ssh block's attributes, evaluated by Bind.
	SSH       hcl.Attributes
	SSHRange  hcl.Range
	DeclRange hcl.Range
}

var targetSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "ssh"}},
}

var sshSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "host", Required: true}, {Name: "port"}, {Name: "user"},
		{Name: "private_key_file"}, {Name: "agent"}, {Name: "known_hosts_file"},
		{Name: "jump_host"}, {Name: "insecure_ignore_host_key"}, {Name: "connect_timeout"},
	},
}

// decodeTarget decodes a target block.
func (d *decoder) decodeTarget(b *hcl.Block) hcl.Diagnostics {
	diags := validName(b)
	name := b.Labels[0]
	if prev, ok := d.cfg.Targets[name]; ok {
		return append(diags, duplicate("target", name, b.DefRange, prev.DeclRange))
	}
	content, cdiags := b.Body.Content(targetSchema)
	diags = append(diags, cdiags...)
	t := &TargetBlock{Name: name, DeclRange: b.DefRange}
	switch len(content.Blocks) {
	case 0:
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing ssh block",
			Detail:   fmt.Sprintf("Target %q says how it is reached in an ssh block: target %q { ssh { host = \"…\" } }.", name, name),
			Subject:  b.DefRange.Ptr(),
		})
	case 1:
	default:
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Duplicate ssh block",
			Detail:   "A target has one ssh block.",
			Subject:  content.Blocks[1].DefRange.Ptr(),
		})
	}
	sc, sdiags := content.Blocks[0].Body.Content(sshSchema)
	diags = append(diags, sdiags...)
	t.SSH, t.SSHRange = sc.Attributes, content.Blocks[0].DefRange
	if d.cfg.Targets == nil {
		d.cfg.Targets = map[string]*TargetBlock{}
	}
	d.cfg.Targets[name] = t
	d.cfg.TargetOrder = append(d.cfg.TargetOrder, name)
	return diags
}

// decodeOn reads `on = target.NAME` or `on = [target.A, target.B]`.
func decodeOn(a *hcl.Attribute) (names []string, list bool, diags hcl.Diagnostics) {
	bad := func(rng hcl.Range) hcl.Diagnostics {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid target reference",
			Detail:   "on names a declared target, like on = target.web-1, or a list of them: on = [target.web-1, target.web-2].",
			Subject:  rng.Ptr(),
		}}
	}
	exprs := []hcl.Expression{a.Expr}
	if es, d := hcl.ExprList(a.Expr); !d.HasErrors() {
		exprs, list = es, true
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		tr, d := hcl.AbsTraversalForExpr(e)
		if d.HasErrors() || len(tr) != 2 || tr.RootName() != "target" {
			diags = append(diags, bad(e.Range())...)
			continue
		}
		at, ok := tr[1].(hcl.TraverseAttr)
		if !ok {
			diags = append(diags, bad(e.Range())...)
			continue
		}
		if seen[at.Name] {
			continue
		}
		seen[at.Name] = true
		names = append(names, at.Name)
	}
	if list && len(exprs) == 0 {
		diags = append(diags, bad(a.Expr.Range())...)
	}
	return names, list, diags
}

// bindTargets evaluates the targets' ssh blocks and checks what refers to
// them: the targets exist, the items' providers can run on a target, and
// no item refers to the result of an item that runs on several.
func (b *Bound) bindTargets(items []*Item) hcl.Diagnostics {
	var diags hcl.Diagnostics
	cfg := b.Config
	b.Targets = map[string]*remote.Target{}
	for _, name := range cfg.TargetOrder {
		t, d := b.evalTarget(cfg.Targets[name])
		diags = append(diags, d...)
		if t != nil {
			b.Targets[name] = t
		}
	}
	fanned := map[string]bool{} // "check.x" → runs on several targets
	for _, it := range items {
		if len(it.On) == 0 {
			continue
		}
		if it.OnList {
			fanned[it.Address()] = true
		}
		for _, name := range it.On {
			if cfg.Targets[name] == nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Undeclared target",
					Detail:   fmt.Sprintf("No target %q is declared.%s", name, suggest(name, cfg.TargetOrder)),
					Subject:  it.OnRange,
				})
			}
		}
		src := it
		if it.CheckRef != "" && cfg.Checks[it.CheckRef] != nil {
			src = cfg.Checks[it.CheckRef]
		}
		switch pt := cfg.types.get(b.reg, src.ProviderType); {
		case src.Manual != nil:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Manual step on a target",
				Detail:   "A manual step is done by a person, not on a target: remove on.",
				Subject:  it.OnRange,
			})
		case pt != nil:
			if _, ok := pt.proto.(checks.Remote); !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Provider cannot run on a target",
					Detail:   fmt.Sprintf("%s runs from the runbook's own host; on applies to %s. To run it from a target, use a shell command there.", src.ProviderType, strings.Join(remoteProviders(b.reg, cfg), ", ")),
					Subject:  it.OnRange,
				})
			}
		}
	}
	for _, it := range items {
		waits := map[string]bool{}
		for _, d := range it.DependsOn {
			waits[d.Address()] = true
		}
		for _, ref := range it.refs {
			if fanned[ref.Address()] && !waits[ref.Address()] {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to an item on several targets",
					Detail:   fmt.Sprintf("%s runs once per target, so it has no one result to refer to. Use depends_on = [%s] to wait for all of them.", ref.Address(), ref.Address()),
					Subject:  it.DeclRange.Ptr(),
				})
			}
		}
	}
	return diags
}

// remoteProviders names the providers that can run on a target.
func remoteProviders(reg Registry, cfg *Config) []string {
	var out []string
	for _, name := range reg.blockTypes() {
		if pt := cfg.types.get(reg, name); pt != nil {
			if _, ok := pt.proto.(checks.Remote); ok {
				out = append(out, name)
			}
		}
	}
	return out
}

// evalTarget evaluates a target's ssh block with the variables.
func (b *Bound) evalTarget(tb *TargetBlock) (*remote.Target, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	t := &remote.Target{Name: tb.Name}
	str := func(name string) string {
		a := tb.SSH[name]
		if a == nil {
			return ""
		}
		s, d := evalString(a.Expr, b.base, b.Redactor, name)
		diags = append(diags, d...)
		return s
	}
	boolean := func(name string) bool {
		a := tb.SSH[name]
		if a == nil {
			return false
		}
		v, d := a.Expr.Value(b.base)
		diags = append(diags, d...)
		if d.HasErrors() {
			return false
		}
		v, _ = v.Unmark()
		if v.IsNull() || !v.IsKnown() || v.Type() != cty.Bool {
			diags = append(diags, typeDiag(a.Expr, name, "a bool"))
			return false
		}
		return v.True()
	}
	t.SSH.Host = str("host")
	t.SSH.User = str("user")
	t.SSH.PrivateKeyFile = str("private_key_file")
	t.SSH.KnownHostsFile = str("known_hosts_file")
	t.SSH.JumpHost = str("jump_host")
	t.SSH.Agent = boolean("agent")
	t.SSH.InsecureIgnoreHostKey = boolean("insecure_ignore_host_key")
	if a := tb.SSH["port"]; a != nil {
		n, d := evalInt(a.Expr, b.base, "port", 1)
		diags = append(diags, d...)
		if n > 65535 {
			diags = append(diags, typeDiag(a.Expr, "port", "a port number between 1 and 65535"))
		}
		t.SSH.Port = n
	}
	if a := tb.SSH["connect_timeout"]; a != nil {
		d, dd := evalDuration(a.Expr, b.base, "connect_timeout", remote.DefaultConnectTimeout)
		diags = append(diags, dd...)
		t.SSH.ConnectTimeout = d
	}
	if !diags.HasErrors() && t.SSH.Host == "" {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing target host",
			Detail:   fmt.Sprintf("Target %q needs a host.", tb.Name),
			Subject:  tb.SSHRange.Ptr(),
		})
	}
	if !diags.HasErrors() && t.SSH.PrivateKeyFile == "" && !t.SSH.Agent {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No way to log in",
			Detail:   fmt.Sprintf("Target %q needs private_key_file or agent = true.", tb.Name),
			Subject:  tb.SSHRange.Ptr(),
		})
	}
	if diags.HasErrors() {
		return nil, diags
	}
	return t, diags
}

// fanOut gives each item with `on` its target, and replaces an item that
// runs on a list of targets by one node per target, named NAME[TARGET]:
// checks run side by side, steps one target after the other.
func (r *runner) fanOut() {
	var out []*node
	clones := map[*node][]*node{}
	for _, n := range r.nodes {
		it := n.item
		if n.src != nil && len(it.On) == 0 && n.src != it {
			// A step that runs a declared check runs it where the check
			// says.
			it = n.src
		}
		if len(it.On) == 0 {
			out = append(out, n)
			continue
		}
		if !it.OnList {
			n.target = it.On[0]
			n.rec.Target = n.target
			out = append(out, n)
			continue
		}
		var prev *node
		for _, t := range it.On {
			c := &node{}
			*c = *n
			c.done = make(chan struct{})
			c.scope = n.scope
			c.target = t
			c.rec.Target = t
			c.rec.Name = n.item.Name + "[" + t + "]"
			if n.item.Kind != record.KindCheck && prev != nil {
				c.prev = prev
			}
			prev = c
			clones[n] = append(clones[n], c)
			out = append(out, c)
		}
	}
	if len(clones) == 0 {
		r.nodes = out
		return
	}
	for _, n := range out {
		var deps []*node
		for _, d := range n.deps {
			if cs, ok := clones[d]; ok {
				deps = append(deps, cs...)
			} else {
				deps = append(deps, d)
			}
		}
		n.deps = deps
		if cs, ok := clones[n.prev]; ok && n.prev != nil {
			n.prev = cs[len(cs)-1]
		}
	}
	r.nodes = out
}

// hostFor returns the target a node runs on, or nil for the runbook's own
// host.
func (r *runner) hostFor(n *node) checks.Host {
	if n.target == "" {
		return nil
	}
	r.poolOnce.Do(func() {
		var ts []*remote.Target
		for _, name := range r.b.Config.TargetOrder {
			if t := r.b.Targets[name]; t != nil {
				ts = append(ts, t)
			}
		}
		r.pool = remote.NewPool(ts)
	})
	return r.pool.Host(n.target)
}

// closePool closes the run's connections to targets.
func (r *runner) closePool() {
	if r.pool != nil {
		_ = r.pool.Close()
	}
}

// InsecureTargets names the targets whose host keys are not verified
// (insecure_ignore_host_key = true), for plan to flag.
func (b *Bound) InsecureTargets() []string {
	var out []string
	for _, name := range b.Config.TargetOrder {
		if t := b.Targets[name]; t != nil && t.SSH.InsecureIgnoreHostKey {
			out = append(out, name)
		}
	}
	return out
}

// targetDescription is how plan shows where an item runs.
func (b *Bound) targetDescription(name string) string {
	t := b.Targets[name]
	if t == nil {
		return name
	}
	s := name + " (ssh " + t.SSH.Addr()
	if t.SSH.JumpHost != "" {
		s += " via " + t.SSH.JumpHost
	}
	if t.SSH.InsecureIgnoreHostKey {
		s += ", HOST KEY NOT VERIFIED"
	}
	return s + ")"
}
