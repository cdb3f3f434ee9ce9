package engine

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Alert events: what an alert block's `on` list may name. A check that
// turns WARNING, CRITICAL or UNKNOWN sends that event; one that turns
// HEALTHY again after an alert sends RECOVERED.
const (
	EventWarning   = "WARNING"
	EventCritical  = "CRITICAL"
	EventUnknown   = "UNKNOWN"
	EventRecovered = "RECOVERED"
)

// AlertEvents lists the events in the order the docs give them.
var AlertEvents = []string{EventCritical, EventWarning, EventUnknown, EventRecovered}

// AlertSpec is an evaluated alert block: its channel's arguments decoded
// with the channel's spec in the runbook's base scope (variables, locals,
// env, path), and its `on` list.
type AlertSpec struct {
	Name    string
	Channel string
	// Config is the channel block's value; with validate's unknown
	// variables some attributes may be unknown.
	Config cty.Value
	// On lists the events this alert wants; empty means every event.
	On []string
	// Sensitive is true when the channel block uses a sensitive variable
	// (a webhook URL with a token in it, a routing key).
	Sensitive bool
	// Range is the alert block's position, for messages.
	Range hcl.Range
}

// Wants reports whether the alert is sent for an event.
func (s AlertSpec) Wants(event string) bool {
	if len(s.On) == 0 {
		return true
	}
	for _, e := range s.On {
		if e == event {
			return true
		}
	}
	return false
}

// Alerts evaluates the runbook's alert blocks. specs gives the decode spec
// of each channel type (the alert package owns them, as providers own
// theirs); a channel without a spec is an error. References to check or
// step results are errors: an alert's settings cannot depend on a run.
func (b *Bound) Alerts(specs map[string]hcldec.Spec) ([]AlertSpec, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []AlertSpec
	names := map[string]hcl.Range{}
	for _, a := range b.Config.Alerts {
		if prev, ok := names[a.Name]; ok {
			diags = append(diags, duplicate("alert", a.Name, a.DeclRange, prev))
			continue
		}
		names[a.Name] = a.DeclRange
		if a.ChannelBody == nil {
			continue // decode already reported the missing channel
		}
		spec := AlertSpec{Name: a.Name, Channel: a.Channel, Range: a.DeclRange}
		chSpec, ok := specs[a.Channel]
		if !ok {
			var known []string
			for n := range specs {
				known = append(known, n)
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported alert channel",
				Detail:   fmt.Sprintf("This build cannot send %q alerts.%s", a.Channel, suggest(a.Channel, known)),
				Subject:  a.DeclRange.Ptr(),
			})
			continue
		}
		for _, tr := range hcldec.Variables(a.ChannelBody, chSpec) {
			if root := tr.RootName(); root == "var" {
				if name, ok := attrName(tr); ok && b.Sensitive[name] {
					spec.Sensitive = true
				}
			}
		}
		val, d := hcldec.Decode(a.ChannelBody, chSpec, b.base)
		if val.ContainsMarked() {
			// Channels get plain values; what was derived from a
			// sensitive variable is redacted from payloads and errors.
			val, _ = unmark(val, b.Redactor)
			spec.Sensitive = true
		}
		on, od := b.alertOn(a.On)
		diags = append(append(diags, d...), od...)
		if d.HasErrors() || od.HasErrors() {
			continue
		}
		spec.Config = val
		spec.On = on
		out = append(out, spec)
	}
	return out, diags
}

// alertOn evaluates an alert's `on` list.
func (b *Bound) alertOn(e hcl.Expression) ([]string, hcl.Diagnostics) {
	if e == nil {
		return nil, nil
	}
	v, diags := plainValue(e, b.base, b.Redactor)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return nil, diags
	}
	lv, err := convert.Convert(v, cty.List(cty.String))
	if err != nil || lv.IsNull() {
		return nil, hcl.Diagnostics{typeDiag(e, "on", fmt.Sprintf("a list of events: %s", strings.Join(quoteAll(AlertEvents), ", ")))}
	}
	var on []string
	for it := lv.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			continue
		}
		s := ev.AsString()
		known := false
		for _, k := range AlertEvents {
			known = known || s == k
		}
		if !known {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown alert event",
				Detail: fmt.Sprintf("%q is not an event; on lists some of %s.%s",
					s, strings.Join(quoteAll(AlertEvents), ", "), suggest(strings.ToUpper(s), AlertEvents)),
				Subject: e.Range().Ptr(),
			})
			continue
		}
		on = append(on, s)
	}
	return on, diags
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// TriggerSpec is a playbook that a check's failure starts or offers.
type TriggerSpec struct {
	Playbook string
	Title    string
	// Trigger names the check whose turning CRITICAL names the playbook.
	Trigger string
	// Auto is true when `watch` may run the playbook by itself.
	Auto bool
}

// Triggers evaluates the playbooks' trigger and auto settings, in
// declaration order; playbooks without a trigger are left out.
func (b *Bound) Triggers() ([]TriggerSpec, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	var out []TriggerSpec
	for _, name := range b.Config.PlaybookOrder {
		pb := b.Config.Playbooks[name]
		if pb.Trigger == "" {
			continue
		}
		t := TriggerSpec{Playbook: name, Trigger: pb.Trigger}
		var d hcl.Diagnostics
		t.Title, d = evalString(pb.Title, b.base, b.Redactor, "title")
		diags = append(diags, d...)
		if t.Title == "" {
			t.Title = name
		}
		if pb.Auto != nil {
			v, d := plainValue(pb.Auto, b.base, b.Redactor)
			diags = append(diags, d...)
			if !d.HasErrors() && v.IsKnown() {
				c, err := convert.Convert(v, cty.Bool)
				if err != nil || c.IsNull() {
					diags = append(diags, typeDiag(pb.Auto, "auto", "true or false"))
				} else {
					t.Auto = c.True()
				}
			}
		}
		out = append(out, t)
	}
	return out, diags
}
