package golden

import (
	"encoding/json"
	"math"
	"time"
)

// randomKind says what kind of random-looking value v is ("UUID", "hex",
// "base64", "float"), or "" when it does not look random.
func randomKind(v any) string {
	switch x := v.(type) {
	case string:
		return randomString(x)
	case json.Number:
		if n, frac := significantDigits(string(x)); frac && n >= 12 {
			return "float"
		}
	}
	return ""
}

func randomString(s string) string {
	switch {
	case isUUID(s):
		return "UUID"
	case isRandomHex(s):
		return "hex"
	case isRandomBase64(s):
		return "base64"
	}
	return ""
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch i {
		case 8, 13, 18, 23:
			if s[i] != '-' {
				return false
			}
		default:
			if !isHex(s[i]) {
				return false
			}
		}
	}
	return true
}

// isRandomHex accepts hex strings of 16 characters or more that mix digits
// and letters, as random tokens and hashes do.
func isRandomHex(s string) bool {
	if len(s) < 16 {
		return false
	}
	digits, letters := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case isHex(c):
			letters++
		default:
			return false
		}
	}
	return digits > 0 && letters > 0 && distinct(s) >= 6
}

// isRandomBase64 accepts base64 or base64url strings of 20 characters or
// more that mix character classes the way random bytes do: at least two of
// upper case, lower case and digits, and a class change at least every
// 2.5 characters on average (random text changes class ~64% of the time,
// CamelCaseWords ~35%).
func isRandomBase64(s string) bool {
	body := s
	for len(body) > 0 && body[len(body)-1] == '=' {
		body = body[:len(body)-1]
	}
	if len(body) < 20 {
		return false
	}
	var upper, lower, digit bool
	changes, prev := 0, -1
	for i := 0; i < len(body); i++ {
		c := body[i]
		cls := 0
		switch {
		case c >= 'A' && c <= 'Z':
			upper, cls = true, 1
		case c >= 'a' && c <= 'z':
			lower, cls = true, 2
		case c >= '0' && c <= '9':
			digit, cls = true, 3
		case c == '+' || c == '/' || c == '-' || c == '_':
			cls = 4
		default:
			return false
		}
		if prev >= 0 && cls != prev {
			changes++
		}
		prev = cls
	}
	classes := 0
	for _, b := range []bool{upper, lower, digit} {
		if b {
			classes++
		}
	}
	return classes >= 2 && float64(changes) >= 0.4*float64(len(body)-1) && distinct(body) >= 10
}

func distinct(s string) int {
	var seen [256]bool
	n := 0
	for i := 0; i < len(s); i++ {
		if !seen[s[i]] {
			seen[s[i]] = true
			n++
		}
	}
	return n
}

// isTimestamp reports whether s is an RFC 3339 date-time, or an ISO 8601
// one without offset as Python's isoformat() writes it.
func isTimestamp(s string) bool {
	if len(s) < 19 || len(s) > 40 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// closeFloats reports whether two number literals are unequal non-integers
// within a relative 1e-9 of each other: the trace of a floating-point
// evaluation order that changed, not of a different computation.
func closeFloats(a, b json.Number) bool {
	_, fa := significantDigits(string(a))
	_, fb := significantDigits(string(b))
	if !fa && !fb {
		return false
	}
	d := relativeDifference(string(a), string(b))
	return !math.IsNaN(d) && d > 0 && d <= 1e-9
}
