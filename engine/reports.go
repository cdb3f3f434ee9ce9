package engine

import (
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/checks"
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
			// The checks a step is made of: the first result of each.
			for j := range it.Checks {
				if _, ok := checksObj[it.Checks[j].Name]; !ok {
					checksObj[it.Checks[j].Name] = valueFromRecord(&it.Checks[j])
				}
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
		spec.Template, d = evalString(r.Template, ctx, b.Redactor, "template")
		diags = append(diags, d...)
		spec.Output, d = evalString(r.Output, ctx, b.Redactor, "output")
		diags = append(diags, d...)
		spec.Data = map[string]any{}
		if r.Data != nil {
			v, d := r.Data.Value(ctx)
			diags = append(diags, d...)
			if !d.HasErrors() {
				if !v.IsNull() && v.IsKnown() && !(v.Type().IsObjectType() || v.Type().IsMapType()) {
					diags = append(diags, typeDiag(r.Data, "data", "an object, like { milestone = \"M4\" }"))
				} else if m, ok := b.shownValue(v, nil).(map[string]any); ok {
					// Sensitive data shows as "(sensitive)", as in plan.
					spec.Data = m
				}
			}
		}
		for _, s := range r.Signoffs {
			var so SignoffSpec
			so.Role, d = evalString(s.Role, ctx, b.Redactor, "role")
			diags = append(diags, d...)
			so.Statement, d = evalString(s.Statement, ctx, b.Redactor, "statement")
			diags = append(diags, d...)
			so.Name, d = evalString(s.Name, ctx, b.Redactor, "name")
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

// SampleRuns are synthetic run records of the runbook, for checking report
// templates before any run: one where every item passed (manual steps
// answered, confirmations given), one where every item failed. Their
// items are the runbook's checks, steps, playbook steps and cleanups, with
// titles and the result attributes their providers document (as empty
// strings).
func (b *Bound) SampleRuns() []*record.Run {
	cfg := b.Config
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	items := append(append([]*Item(nil), cfg.checksAndSteps()...), cfg.Cleanups...)
	for _, pn := range cfg.PlaybookOrder {
		items = append(items, cfg.Playbooks[pn].Steps...)
		items = append(items, cfg.Playbooks[pn].Cleanups...)
	}
	var runs []*record.Run
	for _, status := range []string{record.Passed, record.Failed} {
		run := &record.Run{
			ID: "20260102T030405Z-0000", Runbook: b.Info.Name, Title: b.Info.Title,
			Description: b.Info.Description, Document: b.Info.Document, Owner: b.Info.Owner,
			Tags: b.Info.Tags, Source: cfg.Path, Mode: ModeExec, Operator: "operator", Host: "host",
			EngineVersion: Version, StartedAt: at, FinishedAt: at.Add(time.Minute), DurationMS: 60000,
			Variables: b.RecordVariables(),
		}
		for _, it := range items {
			src := it
			if it.CheckRef != "" {
				src = cfg.Checks[it.CheckRef]
			}
			s := b.settings[it]
			if s == nil {
				s = &settings{}
			}
			started := at
			ri := record.Item{
				Kind: it.Kind, Name: it.Name, Title: s.Title, Description: s.Description,
				Expected: s.Expected, Check: it.CheckRef, Provider: src.ProviderType, Status: status,
				StartedAt: &started, DurationMS: 1000, Attempts: 1, Confirm: s.Confirm, Required: s.Required,
				Result: map[string]any{}, Asserts: []record.Assert{{Condition: "true", Passed: status == record.Passed, Severity: "critical"}},
			}
			if pt := cfg.types.get(b.reg, src.ProviderType); pt != nil {
				if d, ok := pt.proto.(checks.Documented); ok {
					for k := range d.Doc().Result {
						ri.Result[k] = ""
					}
				}
			}
			if src.Manual != nil {
				ri.Provider, ri.Manual = "manual", true
				ri.Answer = &record.Answer{Status: status, Note: "note", Operator: "operator", AnsweredAt: at}
			}
			if s.Confirm {
				ri.Decision = &record.Decision{Confirmed: true, Operator: "operator", At: at, By: "prompt"}
			}
			if status == record.Failed {
				msg := "failed"
				ri.Error = &msg
				ri.Asserts[0].Message = "condition is false"
			}
			run.Items = append(run.Items, ri)
		}
		run.Tally()
		runs = append(runs, run)
	}
	return runs
}
