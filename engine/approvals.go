package engine

// Four eyes: a step with confirm = { approvals = N } runs only once N
// people other than the run's operator approved it, each once. Approvals
// come from an Approver (exec --wait: the console, its API); --yes and
// answers files never give them, and neither does the terminal, where
// the operator sits.

import (
	"context"
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Approver is a Prompter that can gather the approvals of a four-eyes
// step. Approve waits for one person's approval or refusal of the step;
// the item shows the approvals so far (Approvals) and how many it needs
// (ApprovalsNeeded). The engine refuses an approval by the run's
// operator or a second one by the same person, and asks again.
type Approver interface {
	Approve(ctx context.Context, item *record.Item) (*record.Decision, error)
}

// maxApprovals bounds confirm = { approvals = N }.
const maxApprovals = 10

// bindConfirm evaluates confirm: true or false, or { approvals = N }.
func (b *Bound) bindConfirm(it *Item, s *settings) hcl.Diagnostics {
	v, diags := plainValue(it.Confirm, b.base, b.Redactor)
	if diags.HasErrors() || !v.IsKnown() {
		return diags
	}
	want := `true, false, or { approvals = N }`
	if ty := v.Type(); !v.IsNull() && (ty.IsObjectType() || ty.IsMapType()) {
		if ty.IsObjectType() {
			for name := range ty.AttributeTypes() {
				if name != "approvals" {
					return append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Unsupported confirm setting",
						Detail:   fmt.Sprintf("confirm takes { approvals = N } (how many people other than the operator approve the step); %q is not a setting of it.", name),
						Subject:  it.Confirm.Range().Ptr(),
					})
				}
			}
		}
		var a cty.Value
		if ty.IsObjectType() && ty.HasAttribute("approvals") {
			a = v.GetAttr("approvals")
		} else if ty.IsMapType() && v.LengthInt() > 0 && v.HasIndex(cty.StringVal("approvals")).True() {
			a = v.Index(cty.StringVal("approvals"))
		}
		if a == cty.NilVal { // confirm = {}: no approvals given
			return append(diags, typeDiag(it.Confirm, "confirm", want+`, with approvals a whole number`))
		}
		n, err := convert.Convert(a, cty.Number)
		if err != nil || n.IsNull() || !n.IsKnown() {
			return append(diags, typeDiag(it.Confirm, "confirm", want+`, with approvals a whole number`))
		}
		f := n.AsBigFloat()
		if !f.IsInt() || f.Cmp(big.NewFloat(1)) < 0 || f.Cmp(big.NewFloat(maxApprovals)) > 0 {
			return append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid number of approvals",
				Detail:   fmt.Sprintf("approvals must be a whole number from 1 to %d: how many people other than the run's operator approve the step before it runs.", maxApprovals),
				Subject:  it.Confirm.Range().Ptr(),
			})
		}
		i, _ := f.Int64()
		s.Confirm, s.Approvals = true, int(i)
		return diags
	}
	c, err := convert.Convert(v, cty.Bool)
	if err != nil || c.IsNull() {
		return append(diags, typeDiag(it.Confirm, "confirm", want))
	}
	s.Confirm = c.True()
	return diags
}

// approve gathers a four-eyes step's approvals. It returns false when the
// step must not run: declined, interrupted, or no one to approve it.
func (r *runner) approve(ctx context.Context, n *node) bool {
	need := n.set.Approvals
	ap, ok := r.opts.Prompter.(Approver)
	if !ok {
		how := "run it with exec --wait and have them approve it in the console (runbook serve)"
		if r.opts.Yes {
			how = "--yes does not approve it; " + how
		}
		r.fail(n, fmt.Sprintf("this step needs approvals by %d people other than the operator (confirm = { approvals = %d }): %s", need, need, how))
		return false
	}
	for len(n.rec.Approvals) < need {
		shown := r.out(n.rec)
		d, err := ap.Approve(ctx, &shown)
		if ctx.Err() != nil {
			r.skip(n, n.interruption())
			return false
		}
		if err != nil {
			r.fail(n, "approval: "+err.Error())
			return false
		}
		if d == nil {
			continue
		}
		if !d.Confirmed {
			n.rec.Decision = d
			n.rec.Status = record.Declined
			if d.By == "timeout" {
				r.stop(record.KindStep, fmt.Sprintf("step %s was not approved in time (%d of %d approvals)", n.item.Name, len(n.rec.Approvals), need))
				return false
			}
			who := d.Operator
			if who == "" {
				who = "the operator"
			}
			r.stop(record.KindStep, fmt.Sprintf("%s declined step %s", who, n.item.Name))
			return false
		}
		if n.rec.ApprovalRefusal(r.opts.Operator, d.Operator) != "" {
			continue // the Approver has told them; ask again
		}
		n.rec.Approvals = append(n.rec.Approvals, *d)
		r.emit(record.Event{Type: record.EventApproval, Item: n.item.Address(), OccurredAt: d.At, Actor: d.Operator, Surface: d.By})
	}
	last := n.rec.Approvals[len(n.rec.Approvals)-1]
	n.rec.Decision = &last
	start := r.now().UTC()
	n.rec.StartedAt = &start
	return true
}
