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
	}
	if it.Answer != nil && it.Answer.Note != "" {
		return FirstLine(it.Answer.Note)
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

// Ran reports whether an item ran: skipped and pending items did not, and
// their durations mean nothing.
func Ran(it record.Item) bool {
	return it.StartedAt != nil && it.Status != record.Skipped && it.Status != record.Pending
}

// Evidence is what an item showed, for a report's evidence column: the
// provider's error, else a manual step's note, else its captured output
// (Output), else its scalar result attributes as "key=value" pairs.
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
	keys := make([]string, 0, len(it.Result))
	for k, v := range it.Result {
		switch k {
		case "duration_ms", "attempts":
			continue
		}
		switch v.(type) {
		case string, float64, int, int64, bool:
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+Text(it.Result[k]))
	}
	return strings.Join(parts, " ")
}
