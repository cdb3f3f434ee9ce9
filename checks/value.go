package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// FromGo converts a value made of Go's plain data types (nil, bool, string,
// integers, floats, *big.Int, *big.Float, json.Number, time.Time, []any,
// map[string]any, []byte) into a cty value a runbook can reference.
// Lists become tuples and maps become objects, so mixed element types are
// fine; nil becomes a null of dynamic type. Numbers keep their precision.
// Types it does not know are rendered with fmt's %v.
func FromGo(v any) cty.Value {
	switch x := v.(type) {
	case nil:
		return cty.NullVal(cty.DynamicPseudoType)
	case cty.Value:
		return x
	case bool:
		return cty.BoolVal(x)
	case string:
		return cty.StringVal(x)
	case []byte:
		return cty.StringVal(string(x))
	case int:
		return cty.NumberIntVal(int64(x))
	case int8:
		return cty.NumberIntVal(int64(x))
	case int16:
		return cty.NumberIntVal(int64(x))
	case int32:
		return cty.NumberIntVal(int64(x))
	case int64:
		return cty.NumberIntVal(x)
	case uint:
		return cty.NumberUIntVal(uint64(x))
	case uint8:
		return cty.NumberUIntVal(uint64(x))
	case uint16:
		return cty.NumberUIntVal(uint64(x))
	case uint32:
		return cty.NumberUIntVal(uint64(x))
	case uint64:
		return cty.NumberUIntVal(x)
	case float32:
		return floatVal(float64(x), 32)
	case float64:
		return floatVal(x, 64)
	case *big.Int:
		return cty.NumberVal(new(big.Float).SetInt(x))
	case *big.Float:
		return cty.NumberVal(x)
	case json.Number:
		f, _, err := big.ParseFloat(string(x), 10, 512, big.ToNearestEven)
		if err != nil {
			return cty.StringVal(string(x))
		}
		return cty.NumberVal(f)
	case time.Time:
		return cty.StringVal(x.UTC().Format(time.RFC3339Nano))
	case time.Duration:
		return cty.StringVal(x.String())
	case []any:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			elems[i] = FromGo(e)
		}
		return cty.TupleVal(elems)
	case []string:
		if len(x) == 0 {
			return cty.EmptyTupleVal
		}
		elems := make([]cty.Value, len(x))
		for i, e := range x {
			elems[i] = cty.StringVal(e)
		}
		return cty.TupleVal(elems)
	case map[string]any:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			if !inNFC(k) {
				// (Rare: start again, choosing among keys NFC makes equal.)
				clear(attrs)
				for nk, k := range nfcKeys(x) {
					attrs[nk] = FromGo(x[k])
				}
				break
			}
			attrs[k] = FromGo(e)
		}
		return cty.ObjectVal(attrs)
	case map[string]string:
		if len(x) == 0 {
			return cty.EmptyObjectVal
		}
		attrs := make(map[string]cty.Value, len(x))
		for k, e := range x {
			attrs[k] = cty.StringVal(e)
		}
		return cty.ObjectVal(attrs)
	case fmt.Stringer:
		return cty.StringVal(x.String())
	default:
		return cty.StringVal(fmt.Sprintf("%v", v))
	}
}

// nfcKeys returns, by NFC form, the key of m an object keeps. An
// object's attribute names are in NFC (cty normalizes them), so two keys
// NFC makes equal ({"é": 1, "e\u0301": 2} in a response body) name one
// attribute: the key already in NFC keeps it, else the least key. Without
// a rule cty kept either at random, and a result read as cty (an assert)
// and the same result recorded without cty (JSONFromGo) could each keep a
// different one.
func nfcKeys(m map[string]any) map[string]string {
	keys := make(map[string]string, len(m))
	for k := range m {
		nk := cty.NormalizeString(k)
		if prev, ok := keys[nk]; !ok || nk == k || (prev != nk && k < prev) {
			keys[nk] = k
		}
	}
	return keys
}

// inNFC reports whether s is in NFC (as ASCII always is).
func inNFC(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return cty.NormalizeString(s) == s
		}
	}
	return true
}

// floatVal converts a float through its shortest decimal form, so 0.1
// becomes the same number as the HCL literal 0.1 (cty.NumberFloatVal would
// keep the binary approximation 0.1000000000000000055…). NaN and the
// infinities, which JSON cannot carry, become null.
func floatVal(f float64, bits int) cty.Value {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return cty.NullVal(cty.Number)
	}
	v, err := cty.ParseNumberVal(strconv.FormatFloat(f, 'g', -1, bits))
	if err != nil {
		return cty.NumberFloatVal(f)
	}
	return v
}

// FromJSON decodes a JSON document into a cty value (objects, tuples,
// numbers with full precision). It is what `self.json` and the like hold.
// It decodes with encoding/json and converts with FromGo, which is several
// times cheaper than go-cty's type-inferring JSON decoder on large bodies.
func FromJSON(data []byte) (cty.Value, error) {
	var v any
	if err := decodeJSON(data, &v); err != nil {
		return cty.NilVal, err
	}
	return FromGo(v), nil
}

// decodeJSON decodes one JSON document into v, numbers as json.Number.
func decodeJSON(data []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("invalid JSON: data after the top-level value")
	}
	return nil
}

// SortedKeys returns the keys of m in order, for deterministic output.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
