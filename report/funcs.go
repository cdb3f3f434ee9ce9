package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"text/template"
	"time"

	"github.com/runbookhq/runbook/record"
)

// FuncMap returns the functions report templates may call, beside
// text/template's built-ins. They are pure text helpers: none reads the
// environment, a file, the clock or the network. docs/reports.md lists them.
func FuncMap() template.FuncMap {
	return template.FuncMap{
		"md":          func(v any) string { return EscapeCell(Text(v)) },
		"codespan":    func(v any) string { return CodeSpan(Text(v)) },
		"code":        func(lang string, v any) string { return Fence(lang, Text(v)) },
		"excerpt":     func(n int, v any) string { return Excerpt(n, Text(v)) },
		"firstLine":   func(v any) string { return FirstLine(Text(v)) },
		"truncate":    func(n int, v any) string { return Truncate(n, Text(v)) },
		"duration":    durationFunc,
		"datetime":    DateTime,
		"upper":       func(v any) string { return strings.ToUpper(Text(v)) },
		"lower":       func(v any) string { return strings.ToLower(Text(v)) },
		"join":        join,
		"default":     defaultFunc,
		"json":        jsonFunc,
		"statusIcon":  func(v any) string { return StatusIcon(Text(v)) },
		"health":      func(v any) string { return record.Health(Text(v)) },
		"add":         add,
		"detail":      Detail,
		"evidence":    Evidence,
		"output":      Output,
		"stderr":      Stderr,
		"ran":         Ran,
		"truncated":   TruncationNote,
		"decision":    DecisionText,
		"procedure":   Procedure,
		"cleanups":    Cleanups,
		"completion":  CompletionStatus,
		"missing":     Missing,
		"clocks":      Clocks,
		"scored":      Scored,
		"scoreTotals": Totals,
	}
}

// StatusIcon is a status's emoji: ✅ passed, ❌ failed, ⚠️ warning,
// ⏭️ skipped, ⏳ pending or incomplete, 🚫 declined, 🔄 running, ⛔ abandoned,
// ❔ anything else.
func StatusIcon(status string) string {
	switch status {
	case record.Passed:
		return "✅"
	case record.Failed:
		return "❌"
	case record.Warning:
		return "⚠️"
	case record.Skipped:
		return "⏭️"
	case record.Pending, record.Incomplete:
		return "⏳"
	case record.Declined:
		return "🚫"
	case record.Running:
		return "🔄"
	case record.Abandoned:
		return "⛔"
	}
	return "❔"
}

// durationFunc renders milliseconds (any number) or a time.Duration.
func durationFunc(v any) (string, error) {
	switch x := v.(type) {
	case time.Duration:
		return Duration(x.Milliseconds()), nil
	case nil:
		return "", nil
	}
	n, err := number(v)
	if err != nil {
		return "", fmt.Errorf("duration: %w", err)
	}
	return Duration(int64(math.Round(n))), nil
}

// join joins the elements of a list as text.
func join(sep string, list any) (string, error) {
	if list == nil {
		return "", nil
	}
	if ss, ok := list.([]string); ok {
		return strings.Join(ss, sep), nil
	}
	v := reflect.ValueOf(list)
	if v.Kind() != reflect.Slice && v.Kind() != reflect.Array {
		return "", fmt.Errorf("join: want a list, got %T", list)
	}
	parts := make([]string, v.Len())
	for i := range parts {
		parts[i] = Text(v.Index(i).Interface())
	}
	return strings.Join(parts, sep), nil
}

// defaultFunc returns v, or def when v is empty: nil, "", 0, false, a zero
// time, a nil pointer or an empty list or map.
func defaultFunc(def, v any) any {
	if isEmpty(v) {
		return def
	}
	return v
}

// isEmpty reports whether v counts as unset for default.
func isEmpty(v any) bool {
	if v == nil {
		return true
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s) == ""
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Map, reflect.Array:
		return rv.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return rv.IsNil() || isEmpty(rv.Elem().Interface())
	}
	return rv.IsZero()
}

// jsonFunc renders v as indented JSON. A string that already holds JSON is
// re-indented rather than quoted.
func jsonFunc(v any) (string, error) {
	var buf bytes.Buffer
	if s, ok := v.(string); ok && json.Valid([]byte(s)) {
		if err := json.Indent(&buf, []byte(s), "", "  "); err != nil {
			return "", fmt.Errorf("json: %w", err)
		}
		return buf.String(), nil
	}
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return "", fmt.Errorf("json: %w", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// add sums numbers: whole numbers stay whole.
func add(a, b any) (any, error) {
	x, err := number(a)
	if err != nil {
		return nil, fmt.Errorf("add: %w", err)
	}
	y, err := number(b)
	if err != nil {
		return nil, fmt.Errorf("add: %w", err)
	}
	sum := x + y
	if sum == math.Trunc(sum) && math.Abs(sum) < 1<<53 {
		return int64(sum), nil
	}
	return sum, nil
}

// number converts a template number to float64.
func number(v any) (float64, error) {
	switch x := v.(type) {
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case uint:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	}
	return 0, fmt.Errorf("want a number, got %T", v)
}
