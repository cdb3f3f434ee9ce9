package main

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// loadAnswers reads an answers file (HCL or JSON) mapping a manual step's
// name to { status = "passed"|"failed"|"skipped", note = "…" }, with a
// facilitator's score = 1…5 and comment = "…" beside it if need be. An answer
// that skips a required step of b (required = true) is an error, with its
// range, so nothing runs.
func loadAnswers(path string, b *engine.Bound) (map[string]record.Answer, *hcl.File, hcl.Diagnostics) {
	p := hclparse.NewParser()
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSONFile(path)
	} else {
		f, diags = p.ParseHCLFile(path)
	}
	if diags.HasErrors() {
		return nil, f, diags
	}
	attrs, diags := f.Body.JustAttributes()
	out := map[string]record.Answer{}
	for name, a := range attrs {
		v, vd := a.Expr.Value(nil)
		diags = append(diags, vd...)
		if vd.HasErrors() {
			continue
		}
		bad := func(msg string) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid answer",
				Detail:   fmt.Sprintf("The answer for %q %s. Write it as %s = { status = \"passed\", note = \"…\" }.", name, msg, name),
				Subject:  a.Expr.Range().Ptr(),
			})
		}
		if !v.Type().IsObjectType() && !v.Type().IsMapType() {
			bad("is not an object")
			continue
		}
		ans := record.Answer{Surface: record.SurfaceAnswersFile}
		m := v.AsValueMap()
		st, ok := m["status"]
		if !ok || st.Type() != cty.String || st.IsNull() {
			bad("has no status")
			continue
		}
		ans.Status = st.AsString()
		switch ans.Status {
		case record.Passed, record.Failed, record.Skipped:
		default:
			bad(fmt.Sprintf("has status %q; use passed, failed or skipped", ans.Status))
			continue
		}
		if ans.Status == record.Skipped && requiredStep(b, name) {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Required step skipped",
				Detail:   fmt.Sprintf("The step %q is required (required = true): it cannot be skipped. Answer passed or failed, or leave it out of the answers file to keep it pending.", name),
				Subject:  a.Expr.Range().Ptr(),
			})
			continue
		}
		if n, ok := m["note"]; ok && !n.IsNull() {
			if n.Type() != cty.String {
				bad("has a note that is not a string")
				continue
			}
			ans.Note = n.AsString()
		}
		if o, ok := m["operator"]; ok && o.Type() == cty.String && !o.IsNull() {
			ans.Operator = o.AsString()
		}
		if sc, ok := m["score"]; ok && !sc.IsNull() {
			n, err := convert.Convert(sc, cty.Number)
			v, acc := 0, big.Exact
			if err == nil && n.IsKnown() {
				var i int64
				i, acc = n.AsBigFloat().Int64()
				v = int(i)
			}
			if err != nil || acc != big.Exact || v < record.MinScore || v > record.MaxScore {
				bad(fmt.Sprintf("has a score that is not a whole number from %d to %d", record.MinScore, record.MaxScore))
				continue
			}
		}
		if c, ok := m["comment"]; ok && !c.IsNull() && c.Type() != cty.String {
			bad("has a comment that is not a string")
			continue
		}
		for k := range m {
			if k != "status" && k != "note" && k != "operator" && k != "score" && k != "comment" {
				bad(fmt.Sprintf("has an unknown field %q", k))
			}
		}
		out[name] = ans
	}
	return out, f, diags
}

// scoresOf returns the facilitator's scores an answers file gives beside
// its answers (score = 4, comment = "…"), already validated by
// loadAnswers.
func scoresOf(f *hcl.File, answers map[string]record.Answer, operator string) state.ExerciseScores {
	out := state.ExerciseScores{}
	if f == nil {
		return out
	}
	attrs, _ := f.Body.JustAttributes()
	for name, a := range attrs {
		if _, ok := answers[name]; !ok {
			continue
		}
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
			continue
		}
		m := v.AsValueMap()
		sc, ok := m["score"]
		if !ok || sc.IsNull() {
			continue
		}
		n, err := convert.Convert(sc, cty.Number)
		if err != nil {
			continue
		}
		i, _ := n.AsBigFloat().Int64()
		s := record.Score{Value: int(i), By: operator, At: time.Now().UTC(), Surface: record.SurfaceAnswersFile}
		if ans := answers[name]; ans.Operator != "" {
			s.By = ans.Operator
		}
		if c, ok := m["comment"]; ok && !c.IsNull() {
			if cs, err := convert.Convert(c, cty.String); err == nil {
				s.Comment = cs.AsString()
			}
		}
		out[name] = s
	}
	return out
}

// unknownAnswers names the answers that match no manual step of the
// runbook, with a suggestion, so a misspelt name is not silently ignored.
func unknownAnswers(answers map[string]record.Answer, b *engine.Bound) []string {
	var manual []string
	steps := append([]*engine.Item(nil), b.Config.Steps...)
	for _, pb := range b.Config.Playbooks {
		steps = append(steps, pb.Steps...)
	}
	for _, st := range steps {
		if st.Manual != nil {
			manual = append(manual, st.Name)
		}
	}
	var out []string
	for _, name := range checks.SortedKeys(answers) {
		known := false
		for _, m := range manual {
			known = known || m == name
		}
		if !known {
			out = append(out, fmt.Sprintf("--answers names %q, which is not a manual step of this runbook.%s", name, engine.Suggest(name, manual)))
		}
	}
	return out
}

// requiredStep reports whether b has a manual step of that name, at top
// level or in a playbook, that is required.
func requiredStep(b *engine.Bound, name string) bool {
	if b == nil {
		return false
	}
	steps := append([]*engine.Item(nil), b.Config.Steps...)
	for _, pb := range b.Config.Playbooks {
		steps = append(steps, pb.Steps...)
	}
	for _, st := range steps {
		if st.Name == name && st.Manual != nil && b.Required(st) {
			return true
		}
	}
	return false
}
