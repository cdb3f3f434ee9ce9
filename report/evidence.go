package report

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// evidenceValueMax caps one value of ResultPairs, in characters.
const evidenceValueMax = 80

// ResultPairs renders a result object as "key=value" pairs in key order:
// numbers as written (4321, never 4.321e+03, whether the record holds
// json.Number or float64), bools and null as in JSON, strings bare when
// they are one plain word and JSON-quoted otherwise, lists and objects as
// compact JSON with sorted keys. A value longer than 80 characters is cut
// and ends with "…". duration_ms and attempts (on every result) and the
// providers' truncation marks (shown by TruncationNote) are left out.
func ResultPairs(result map[string]any) string {
	keys := make([]string, 0, len(result))
	for k := range result {
		switch {
		case k == "duration_ms", k == "attempts", isTruncationKey(k):
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+EvidenceValue(result[k]))
	}
	return strings.Join(parts, " ")
}

// EvidenceValue renders one result value as ResultPairs does.
func EvidenceValue(v any) string {
	if s, ok := v.(string); ok && plainWord(s) {
		return Truncate(evidenceValueMax, s)
	}
	var b strings.Builder
	// Lists and objects can be large (SQL rows): stop writing well past
	// the cap, Truncate then cuts at the cap and marks it.
	writeCompact(&b, v, evidenceValueMax*4)
	return Truncate(evidenceValueMax, b.String())
}

// plainWord reports whether a string reads unambiguously unquoted in a
// "key=value" list: not empty, no blanks, quotes, "=" or control characters,
// and not a word JSON would read as another type.
func plainWord(s string) bool {
	if s == "" || s == "null" || s == "true" || s == "false" {
		return false
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return false
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '=' || r == '\\' {
			return false
		}
	}
	return true
}

// writeCompact writes v as compact JSON with sorted object keys and numbers
// in NumberText form, stopping once b holds more than limit bytes.
func writeCompact(b *strings.Builder, v any, limit int) {
	if b.Len() > limit {
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		writeJSONString(b, x, limit)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if b.Len() > limit {
				return
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeCompact(b, e, limit)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if b.Len() > limit {
				return
			}
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k, limit)
			b.WriteByte(':')
			writeCompact(b, x[k], limit)
		}
		b.WriteByte('}')
	default:
		if n, ok := NumberText(v); ok {
			b.WriteString(n)
			return
		}
		data, err := json.Marshal(v)
		if err != nil {
			b.WriteString(Text(v))
			return
		}
		b.Write(data)
	}
}

// writeJSONString writes s as a JSON string, at most about limit bytes of it.
func writeJSONString(b *strings.Builder, s string, limit int) {
	if len(s) > limit {
		s = s[:limit]
	}
	data, _ := json.Marshal(s) // a string always encodes
	b.Write(data)
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// NumberText renders a number from a run record the same way whatever Go
// type holds it: json.Number (a fresh result), float64 (a record read back
// from JSON) or an integer type. Whole numbers have no exponent or fraction
// (4321, not 4.321e+03); reports false when v is not a number.
func NumberText(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return strconv.FormatInt(i, 10), true
		}
		f, err := x.Float64()
		if err != nil {
			return string(x), true
		}
		return floatText(f), true
	case float64:
		return floatText(x), true
	case float32:
		return floatText(float64(x)), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	}
	return "", false
}

// floatText renders a float without an exponent unless it is very large
// or very small.
func floatText(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) || math.IsNaN(f) || math.IsInf(f, 0) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
