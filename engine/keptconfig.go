package engine

import (
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
)

// keptConfig is a provider block's configuration decoded at bind time and
// kept for the run in as few bytes as it takes: the arguments that differ
// from the schema's null default, without the object type cty builds for
// every decoded object (a map of every argument's type). At 10,000
// checks that type was 15 MB of the 17.5 MB the kept configurations took
// (docs/performance.md, round 3). value rebuilds the object the provider
// gets, equal to the one decoded.
type keptConfig struct {
	// shape is the provider type's object shape; nil when whole is kept
	// as decoded (a schema that is not an object of attributes).
	shape *objectShape
	set   []keptArg
	whole cty.Value
}

// keptArg is one argument of a kept configuration: its index in the
// shape and its value.
type keptArg struct {
	i int
	v cty.Value
}

// objectShape is what every configuration of one provider type shares:
// its arguments' names, sorted, and the null each takes when unset.
type objectShape struct {
	names []string
	nulls []cty.Value
}

// newObjectShape returns the shape of an object spec's values, or nil
// when the spec does not decode to an object.
func newObjectShape(spec hcldec.Spec) *objectShape {
	if _, ok := spec.(hcldec.ObjectSpec); !ok {
		return nil
	}
	ty := hcldec.ImpliedType(spec)
	if !ty.IsObjectType() {
		return nil
	}
	sh := &objectShape{}
	for name := range ty.AttributeTypes() {
		sh.names = append(sh.names, name)
	}
	sort.Strings(sh.names)
	for _, name := range sh.names {
		sh.nulls = append(sh.nulls, cty.NullVal(ty.AttributeType(name)))
	}
	return sh
}

// keep returns v, decoded with the shape's spec, in its kept form.
func (sh *objectShape) keep(v cty.Value) keptConfig {
	if sh == nil || v.IsMarked() || !v.IsKnown() || v.IsNull() || !v.Type().IsObjectType() ||
		len(v.Type().AttributeTypes()) != len(sh.names) {
		return keptConfig{whole: v}
	}
	k := keptConfig{shape: sh}
	for i, name := range sh.names {
		if !v.Type().HasAttribute(name) {
			return keptConfig{whole: v}
		}
		a := v.GetAttr(name)
		if a.IsNull() && !a.IsMarked() && a.Type().Equals(sh.nulls[i].Type()) {
			continue
		}
		k.set = append(k.set, keptArg{i, a})
	}
	return k
}

// kept reports whether there is a configuration.
func (k keptConfig) kept() bool { return k.shape != nil || k.whole != cty.NilVal }

// value rebuilds the configuration as decoded.
func (k keptConfig) value() cty.Value {
	if k.shape == nil {
		return k.whole
	}
	attrs := make(map[string]cty.Value, len(k.shape.names))
	for i, name := range k.shape.names {
		attrs[name] = k.shape.nulls[i]
	}
	for _, a := range k.set {
		attrs[k.shape.names[a.i]] = a.v
	}
	return cty.ObjectVal(attrs)
}

// ReleaseSyntax lets go of what only validation and planning read once a
// runbook is bound and about to run: the syntax tree of its files (their
// bytes stay, for the snippets of diagnostics, which then leave out the
// "in check …" context) and the provider blocks whose configuration
// binding decoded and kept (see typeCheck). Plan leaves those blocks'
// arguments out afterwards; Run needs nothing released. At 10,000 checks
// this is 11–15 MB of the live heap (docs/performance.md, round 3).
func (b *Bound) ReleaseSyntax() {
	cfg := b.Config
	items := append(cfg.checksAndSteps(), cfg.Cleanups...)
	for _, pn := range cfg.PlaybookOrder {
		items = append(items, cfg.Playbooks[pn].Steps...)
		items = append(items, cfg.Playbooks[pn].Cleanups...)
	}
	// A provider block stays while an item that runs it decodes it at run
	// time: its own, or a step's that runs the declared check.
	needed := map[*Item]bool{}
	for _, it := range items {
		src := it
		if it.CheckRef != "" {
			src = cfg.Checks[it.CheckRef]
		}
		if src == nil || src.ProviderBody == nil {
			continue
		}
		if s := b.settings[it]; s == nil || !s.cfg.kept() {
			needed[src] = true
		}
	}
	for _, it := range items {
		if it.ProviderBody != nil && !needed[it] {
			it.ProviderBody = nil
		}
	}
	for name, f := range cfg.Files {
		if f != nil {
			cfg.Files[name] = &hcl.File{Bytes: f.Bytes}
		}
	}
}
