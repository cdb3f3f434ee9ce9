package report

import (
	"sort"
	"strings"

	"github.com/runbookhq/runbook/record"
)

// Detail is the one-line reason an item did not simply pass: the first
// failed critical assert's message, else the provider's error, else the
// first failed warning assert's message, else why it was skipped, the
// operator's note on a failed manual step, or "pending manual step". A
// passed item has no detail.
func Detail(it record.Item) string {
	if it.Status == record.Passed {
		return ""
	}
	if a := failedAssert(it, "critical"); a != nil {
		return FirstLine(assertText(*a))
	}
	if it.Error != nil && *it.Error != "" {
		return FirstLine(*it.Error)
	}
	if a := failedAssert(it, "warning"); a != nil {
		return FirstLine(assertText(*a))
	}
	switch it.Status {
	case record.Skipped:
		if it.SkipReason != "" {
			return FirstLine(it.SkipReason)
		}
		if it.Answer != nil && it.Answer.Note != "" {
			return FirstLine(it.Answer.Note)
		}
		return "skipped"
	case record.Pending:
		return "pending manual step"
	case record.Declined:
		return DeclinedText(it)
	case record.Running:
		return "did not finish: the run stopped while it was running"
	}
	if it.Answer != nil && it.Answer.Note != "" {
		return FirstLine(it.Answer.Note)
	}
	// A step made of checks: the first of its checks that did not pass.
	for _, c := range it.Checks {
		if c.Status != record.Passed && c.Status != record.Skipped {
			if d := Detail(c); d != "" {
				return "check." + c.Name + ": " + d
			}
			return "check." + c.Name + " " + c.Status
		}
	}
	return ""
}

// failedAssert returns the first failed assert of a severity ("critical"
// also matches an empty severity), or nil.
func failedAssert(it record.Item, severity string) *record.Assert {
	for i, a := range it.Asserts {
		if a.Passed {
			continue
		}
		sev := a.Severity
		if sev == "" {
			sev = "critical"
		}
		if sev == severity {
			return &it.Asserts[i]
		}
	}
	return nil
}

// assertText is an assert's message, or its condition when it has none.
func assertText(a record.Assert) string {
	if strings.TrimSpace(a.Message) != "" {
		return a.Message
	}
	return "assert failed: " + a.Condition
}

// Output is the captured output an item left: its stdout, else an HTTP
// body, else stderr; empty when the result holds none of them.
func Output(it record.Item) string {
	for _, key := range []string{"stdout", "body", "stderr"} {
		if s, ok := it.Result[key].(string); ok && strings.TrimSpace(s) != "" {
			return s
		}
	}
	return ""
}

// Stderr is an item's captured stderr when Output does not already show it.
func Stderr(it record.Item) string {
	s, ok := it.Result["stderr"].(string)
	if !ok || strings.TrimSpace(s) == "" || s == Output(it) {
		return ""
	}
	return s
}

// Ran reports whether an item ran to the end: skipped, pending and declined
// items did not run, a running item never finished, and their durations
// mean nothing.
func Ran(it record.Item) bool {
	switch it.Status {
	case record.Skipped, record.Pending, record.Declined, record.Running:
		return false
	}
	return it.StartedAt != nil
}

// Evidence is what an item showed, for a report's evidence column: the
// provider's error, else a manual step's note, else its captured output
// (Output), else its result attributes as "key=value" pairs (ResultPairs).
func Evidence(it record.Item) string {
	if it.Error != nil && strings.TrimSpace(*it.Error) != "" {
		return *it.Error
	}
	if it.Answer != nil && strings.TrimSpace(it.Answer.Note) != "" {
		return it.Answer.Note
	}
	if out := Output(it); out != "" {
		return out
	}
	return ResultPairs(it.Result)
}

// DeclinedText says who declined a step's confirmation and when:
// "declined by alice at 2025-12-02 12:12:19 UTC"; "declined" when no
// decision was recorded.
func DeclinedText(it record.Item) string {
	d := it.Decision
	if d == nil || d.Confirmed {
		return "declined"
	}
	return DecisionText(it)
}

// DecisionText says how a mutating step's confirmation was answered:
// "confirmed by alice (--yes) at …" or "declined by bob at …"; empty when
// the step has no recorded decision.
func DecisionText(it record.Item) string {
	d := it.Decision
	if d == nil {
		return ""
	}
	s := "declined"
	if d.Confirmed {
		s = "confirmed"
	}
	// A four-eyes step: its approvers, each where they approved.
	var approvers []string
	for _, a := range it.Approvals {
		who := a.Operator
		if a.By != "" && a.By != "prompt" {
			who += " (" + a.By + ")"
		}
		approvers = append(approvers, who)
	}
	if d.Confirmed && len(approvers) > 0 {
		s = "approved by " + strings.Join(approvers, ", ")
	} else if d.Operator != "" {
		s += " by " + d.Operator
	}
	if d.By != "" && d.By != "prompt" && !(d.Confirmed && len(approvers) > 0) {
		s += " (" + d.By + ")"
	}
	if !d.At.IsZero() {
		s += " at " + DateTime(d.At)
	}
	if !d.Confirmed && len(approvers) > 0 {
		s += ", after approvals by " + strings.Join(approvers, ", ")
	}
	return s
}

// TruncatedCaptures names what a provider cut: every top-level result key
// equal to "truncated" or ending in "_truncated" whose value is true, by
// the name before "_truncated" ("stdout", "body"; "result" for a bare
// "truncated"), sorted.
func TruncatedCaptures(it record.Item) []string {
	var names []string
	for k, v := range it.Result {
		if b, ok := v.(bool); !ok || !b || !isTruncationKey(k) {
			continue
		}
		name := strings.TrimSuffix(k, "_truncated")
		if k == "truncated" || name == "" {
			name = "result"
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// isTruncationKey reports whether a result key is a provider's mark that
// something it captured was cut.
func isTruncationKey(k string) bool {
	return k == "truncated" || strings.HasSuffix(k, "_truncated")
}

// TruncationNote is the mark every view shows when a provider cut what it
// captured: "output truncated (stdout, stderr)"; empty when nothing was cut.
func TruncationNote(it record.Item) string {
	names := TruncatedCaptures(it)
	if len(names) == 0 {
		return ""
	}
	return "output truncated (" + strings.Join(names, ", ") + ")"
}

// IsCleanup reports whether an item is a cleanup block.
func IsCleanup(it record.Item) bool { return it.Kind == record.KindCleanup }

// Procedure returns the items that are not cleanup blocks, in order.
func Procedure(items []record.Item) []record.Item {
	out := make([]record.Item, 0, len(items))
	for _, it := range items {
		if !IsCleanup(it) {
			out = append(out, it)
		}
	}
	return out
}

// Cleanups returns the cleanup items, in order: what ran after the
// procedure ended.
func Cleanups(items []record.Item) []record.Item {
	var out []record.Item
	for _, it := range items {
		if IsCleanup(it) {
			out = append(out, it)
		}
	}
	return out
}
