package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/robfig/cron/v3"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

// scheduleAttrs are the settings only a check has: how often `runbook
// watch` runs it.
var scheduleAttrs = []hcl.AttributeSchema{{Name: "every"}, {Name: "cron"}}

// Schedule is a check's `every` or `cron`: how often a watch runs it.
// Between its runs the watch keeps its last result; every other command
// runs the check each time.
type Schedule struct {
	// Every is the least time between two runs; zero with a Cron.
	Every time.Duration
	// Cron is the cron expression as written; empty with an Every.
	Cron string
	cron cron.Schedule
	// Range is the attribute's range, for diagnostics.
	Range hcl.Range
}

// scheduleParser reads the five standard cron fields, descriptors such as
// @daily, and a leading CRON_TZ=Area/City; without one, times are UTC.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Due reports whether a check that last ran at last is due again at now.
// A check that never ran is due.
func (s *Schedule) Due(last, now time.Time) bool {
	if s == nil || last.IsZero() {
		return true
	}
	next := s.Next(last)
	return !next.IsZero() && !now.Before(next)
}

// Next is the first time after last the check is due; zero when it never
// is again.
func (s *Schedule) Next(last time.Time) time.Time {
	if s.cron != nil {
		return s.cron.Next(last)
	}
	return last.Add(s.Every)
}

// String is the schedule as written: "every 4h" or "cron 0 */4 * * *".
func (s *Schedule) String() string {
	if s.cron != nil {
		return "cron " + s.Cron
	}
	return "every " + s.Every.String()
}

// decodeSchedule reads a check's every and cron: literal strings, at most
// one of them.
func decodeSchedule(content *hcl.BodyContent) (*Schedule, hcl.Diagnostics) {
	every, hasEvery := content.Attributes["every"]
	cr, hasCron := content.Attributes["cron"]
	if !hasEvery && !hasCron {
		return nil, nil
	}
	if hasEvery && hasCron {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Conflicting schedules",
			Detail:   "A check runs either every interval or on a cron schedule: set every or cron, not both.",
			Subject:  cr.NameRange.Ptr(),
		}}
	}
	a := every
	if hasCron {
		a = cr
	}
	v, diags := a.Expr.Value(nil)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() || v.Type() != cty.String {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s", a.Name),
			Detail:   fmt.Sprintf("%s must be a literal string such as %s: a schedule is read before variables are.", a.Name, scheduleExample(a.Name)),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	s := &Schedule{Range: a.Expr.Range()}
	text := strings.TrimSpace(v.AsString())
	if hasEvery {
		d, err := time.ParseDuration(text)
		if err != nil || d < time.Second {
			return nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid every",
				Detail:   fmt.Sprintf("every must be a duration of at least one second such as \"15m\" or \"4h\"; got %q.", text),
				Subject:  a.Expr.Range().Ptr(),
			}}
		}
		s.Every = d
		return s, nil
	}
	if strings.HasPrefix(strings.TrimSpace(cronText(text)), "@every") {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid cron",
			Detail:   fmt.Sprintf("cron %q: for an interval use every = %q instead.", text, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(cronText(text)), "@every"))),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	sched, err := scheduleParser.Parse(text)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid cron",
			Detail:   fmt.Sprintf("cron %q: %s. Use five fields (minute hour day-of-month month day-of-week) such as \"0 */4 * * *\", optionally after CRON_TZ=Area/City; times are UTC otherwise.", text, err),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	if sched.Next(time.Now()).IsZero() {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid cron",
			Detail:   fmt.Sprintf("cron %q never fires: no time matches it (a day that month does not have?).", text),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	s.Cron, s.cron = text, sched
	return s, nil
}

func scheduleExample(name string) string {
	if name == "cron" {
		return `"0 */4 * * *"`
	}
	return `"4h"`
}

// cronText is expr without its leading CRON_TZ= or TZ= setting.
func cronText(expr string) string {
	if strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=") {
		if _, rest, ok := strings.Cut(expr, " "); ok {
			return rest
		}
	}
	return expr
}

// standFor carries over the results that Options.Standing keeps: a
// watch's scheduled checks between their runs.
func (r *runner) standFor() {
	if len(r.opts.Standing) == 0 {
		return
	}
	for _, n := range r.nodes {
		if n.item.Kind != record.KindCheck || n.late || !n.selected {
			continue
		}
		prev := r.opts.Standing[n.rec.Name]
		if prev == nil {
			continue
		}
		n.rec = *prev
		n.rec.CarriedOver = true
		n.selected = false
		n.skipReason = ""
		n.value = valueFromRecord(prev)
	}
}
