package checks

import (
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// String returns cfg's attribute name as a Go string, or def when the
// attribute is absent, null or unknown.
func String(cfg cty.Value, name, def string) string {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.String) {
		return def
	}
	return v.AsString()
}

// Bool returns cfg's attribute name as a Go bool, or def.
func Bool(cfg cty.Value, name string, def bool) bool {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.Bool) {
		return def
	}
	return v.True()
}

// Int returns cfg's attribute name as an int64, or def.
func Int(cfg cty.Value, name string, def int64) int64 {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.Number) {
		return def
	}
	var n int64
	if err := gocty.FromCtyValue(v, &n); err != nil {
		return def
	}
	return n
}

// Duration returns cfg's attribute name parsed as a Go duration ("5s",
// "1m30s"), def when absent. A malformed duration is an error naming the
// attribute.
func Duration(cfg cty.Value, name string, def time.Duration) (time.Duration, error) {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() {
		return def, nil
	}
	if !v.Type().Equals(cty.String) {
		return 0, fmt.Errorf("%s must be a duration string such as \"5s\"", name)
	}
	d, err := time.ParseDuration(v.AsString())
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration such as \"5s\" or \"2m\"", name, v.AsString())
	}
	if d < 0 {
		return 0, fmt.Errorf("%s must not be negative", name)
	}
	return d, nil
}

// StringMap returns cfg's attribute name (a map or object of strings) as a
// Go map; nil when absent.
func StringMap(cfg cty.Value, name string) map[string]string {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() || !(v.Type().IsMapType() || v.Type().IsObjectType()) {
		return nil
	}
	out := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if e.IsNull() || !e.IsKnown() {
			continue
		}
		if s, err := toString(e); err == nil {
			out[k.AsString()] = s
		}
	}
	return out
}

// StringList returns cfg's attribute name (a list or tuple of strings,
// numbers or bools) as a Go slice; nil when absent.
func StringList(cfg cty.Value, name string) ([]string, error) {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() {
		return nil, nil
	}
	if !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		return nil, fmt.Errorf("%s must be a list of strings", name)
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		s, err := toString(e)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, s)
	}
	return out, nil
}

func toString(v cty.Value) (string, error) {
	if !v.IsKnown() {
		return "", fmt.Errorf("element is not known yet")
	}
	if v.IsNull() {
		return "", fmt.Errorf("null element")
	}
	switch v.Type() {
	case cty.String:
		return v.AsString(), nil
	case cty.Number:
		return v.AsBigFloat().Text('f', -1), nil
	case cty.Bool:
		if v.True() {
			return "true", nil
		}
		return "false", nil
	}
	return "", fmt.Errorf("element of type %s is not a string", v.Type().FriendlyName())
}

// Attr returns cfg's attribute name, or a null value when cfg is not a
// known object or has no such attribute.
func Attr(cfg cty.Value, name string) cty.Value { return attr(cfg, name) }

// Set reports whether cfg sets the attribute name to something other than
// null; the value may still be unknown (validate, plan).
func Set(cfg cty.Value, name string) bool { return !attr(cfg, name).IsNull() }

// KnownAttr returns cfg's attribute name when it is set and known.
func KnownAttr(cfg cty.Value, name string) (cty.Value, bool) {
	v := attr(cfg, name)
	if v.IsNull() || !v.IsKnown() {
		return cty.NilVal, false
	}
	return v, true
}

// attr returns the attribute or a null value when cfg has no such attribute.
func attr(cfg cty.Value, name string) cty.Value {
	if cfg == cty.NilVal || cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute(name) {
		return cty.NullVal(cty.DynamicPseudoType)
	}
	return cfg.GetAttr(name)
}
