package engine

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

// ReportSpec is an evaluated report block, ready for a report renderer.
type ReportSpec struct {
	Name     string
	Template string
	// Output is the document's path as written in the runbook; empty when
	// the block names none.
	Output   string
	Data     map[string]any
	Signoffs []SignoffSpec
	// Range is the report block's position, for messages.
	Range hcl.Range
}

// SignoffSpec is one evaluated signoff block.
type SignoffSpec struct {
	Role, Statement, Name string
}

// Reports evaluates the report blocks of a run's procedure: a playbook's
// run renders the report blocks declared in that playbook, a run of the
// top-level steps the top-level ones, and a check run none. Data may use
// the run's results (step.capture.stdout, check.golden.violations). With
// a nil run, every report block of the runbook is evaluated with unknown
// results, as validate sees them. Sensitive values are redacted from data.
func (b *Bound) Reports(run *record.Run) ([]ReportSpec, hcl.Diagnostics) {
	ctx := b.unknownScope()
	if run != nil {
		checksObj, stepsObj := map[string]cty.Value{}, map[string]cty.Value{}
		for i := range run.Items {
			it := &run.Items[i]
			if it.Kind == record.KindCleanup {
				continue
			}
			if it.Kind == record.KindCheck {
				checksObj[it.Name] = valueFromRecord(it)
			} else {
				stepsObj[it.Name] = valueFromRecord(it)
			}
		}
		ctx = b.base.NewChild()
		ctx.Variables = map[string]cty.Value{"check": objectOrEmpty(checksObj), "step": objectOrEmpty(stepsObj)}
	}
	var diags hcl.Diagnostics
	var out []ReportSpec
	for _, r := range b.reportBlocks(run) {
		spec := ReportSpec{Name: r.Name, Range: r.DeclRange}
		var d hcl.Diagnostics
		spec.Template, d = evalString(r.Template, ctx, "template")
		diags = append(diags, d...)
		spec.Output, d = evalString(r.Output, ctx, "output")
		diags = append(diags, d...)
		spec.Data = map[string]any{}
		if r.Data != nil {
			v, d := r.Data.Value(ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if !v.IsNull() && v.IsKnown() && !(v.Type().IsObjectType() || v.Type().IsMapType()) {
					diags = append(diags, typeDiag(r.Data, "data", "an object, like { milestone = \"M4\" }"))
				} else if m, ok := b.planValue(v).(map[string]any); ok {
					// Sensitive data shows as "(sensitive)", as in plan.
					spec.Data = m
				}
			}
		}
		for _, s := range r.Signoffs {
			var so SignoffSpec
			so.Role, d = evalString(s.Role, ctx, "role")
			diags = append(diags, d...)
			so.Statement, d = evalString(s.Statement, ctx, "statement")
			diags = append(diags, d...)
			so.Name, d = evalString(s.Name, ctx, "name")
			diags = append(diags, d...)
			spec.Signoffs = append(spec.Signoffs, so)
		}
		out = append(out, spec)
	}
	return out, diags
}

// reportBlocks are the report blocks of a run's procedure, or all of them
// for a nil run.
func (b *Bound) reportBlocks(run *record.Run) []*Report {
	cfg := b.Config
	switch {
	case run == nil:
		all := append([]*Report(nil), cfg.Reports...)
		for _, pn := range cfg.PlaybookOrder {
			all = append(all, cfg.Playbooks[pn].Reports...)
		}
		return all
	case run.Mode == ModeCheck:
		return nil
	case run.Playbook != nil:
		if pb := cfg.Playbooks[*run.Playbook]; pb != nil {
			return pb.Reports
		}
		return nil
	}
	return cfg.Reports
}
