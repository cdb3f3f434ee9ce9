package golden

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// numbersEqual reports whether two JSON number literals denote the same
// value, exactly: 1 equals 1.0 and 1e0, -0 equals 0, and 17-digit integers
// compare digit by digit. It works on the decimal text, so neither float
// rounding nor a huge exponent (1e999999999) can get in the way.
func numbersEqual(a, b string) bool {
	if a == b {
		return true
	}
	return canonicalNumber(a) == canonicalNumber(b)
}

// canonicalNumber rewrites a JSON number literal as "0" or as
// "[-]DIGITSeEXP" with no leading or trailing zeros in DIGITS, so that two
// literals are equal in value exactly when their canonical forms are equal.
// A malformed literal comes back unchanged.
func canonicalNumber(s string) string {
	t := s
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	}
	mant, exp, hasExp := t, "", false
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		mant, exp, hasExp = t[:i], t[i+1:], true
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) {
		return s
	}
	digits := intPart + frac
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0"
	}
	trimmed := strings.TrimRight(digits, "0")
	shift := int64(len(digits)-len(trimmed)) - int64(len(frac))

	var e string
	switch {
	case !hasExp:
		e = strconv.FormatInt(shift, 10)
	default:
		sign := ""
		if exp != "" && (exp[0] == '+' || exp[0] == '-') {
			sign, exp = exp[:1], exp[1:]
		}
		if exp == "" || !allDigits(exp) {
			return s
		}
		if len(exp) <= 15 {
			v, _ := strconv.ParseInt(exp, 10, 64)
			if sign == "-" {
				v = -v
			}
			e = strconv.FormatInt(v+shift, 10)
		} else {
			v, _ := new(big.Int).SetString(exp, 10)
			if sign == "-" {
				v.Neg(v)
			}
			e = v.Add(v, big.NewInt(shift)).String()
		}
	}
	out := trimmed + "e" + e
	if neg {
		out = "-" + out
	}
	return out
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// significantDigits counts the significant digits of a number literal and
// reports whether it has a fraction or an exponent.
func significantDigits(s string) (n int, fractional bool) {
	s = strings.TrimPrefix(s, "-")
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s, fractional = s[:i], true
	}
	intPart, frac, dot := strings.Cut(s, ".")
	if dot {
		fractional = true
	}
	d := strings.Trim(intPart+frac, "0")
	return len(d), fractional
}

// relativeDifference returns |a-b| / max(|a|,|b|) for two number
// literals, or NaN when either is not a finite float64.
func relativeDifference(a, b string) float64 {
	x, err1 := strconv.ParseFloat(a, 64)
	y, err2 := strconv.ParseFloat(b, 64)
	if err1 != nil || err2 != nil || math.IsInf(x, 0) || math.IsInf(y, 0) {
		return math.NaN()
	}
	m := math.Max(math.Abs(x), math.Abs(y))
	if m == 0 {
		return 0
	}
	return math.Abs(x-y) / m
}
