package checks

import (
	"context"
	"encoding/json"
	"math"
	"math/big"
	"strconv"

	"github.com/zclconf/go-cty/cty"
)

// Result is a provider's result kept in Go until something reads it. The
// engine asks for Value only when an expression reads the result (an
// assert, a retry's until, a reference to the check); otherwise it
// records JSON alone, and no cty value is built.
//
// For an HTTP check nothing reads (the default assert answered in Go),
// building the result as cty and converting it back for the record cost
// 34 of its 195 allocations (BenchmarkRunHTTP1000) and 5–8% of the CPU of
// a run of 10,000 (three sets of 5–9 alternated rounds, load 4.6–8;
// docs/performance.md, "round 7: results").
type Result interface {
	// Value is the result as an object: what `self` holds.
	Value() cty.Value
	// JSON is the result as the run record holds it. It must be exactly
	// JSONValue(Value()): strings in NFC, numbers as JSONValue writes
	// them.
	JSON() map[string]any
}

// ResultRunner is implemented by providers that can hand back their
// result as a Result. The engine calls RunResult instead of Run when the
// check runs locally; the two must observe the same thing. A nil Result
// is "no result", as cty.NilVal is for Run.
type ResultRunner interface {
	RunResult(ctx context.Context, cfg cty.Value) (Result, error)
}

// DefaultPasser is implemented by Results that can answer their
// provider's default assert (DefaultAsserter) in Go: true only where the
// condition is true; false means "evaluate the condition".
type DefaultPasser interface {
	DefaultPasses() bool
}

// JSONValue turns a cty value into plain JSON data: strings, bools,
// json.Number (so precision survives), []any and map[string]any. Unknown
// values, and numbers beyond float64 (which readers of the record decode
// numbers as), become nil. Marks are dropped.
func JSONValue(v cty.Value) any {
	if v == cty.NilVal || v.IsNull() || !v.IsKnown() {
		return nil
	}
	v, _ = v.Unmark()
	ty := v.Type()
	switch {
	case ty == cty.String:
		return v.AsString()
	case ty == cty.Bool:
		return v.True()
	case ty == cty.Number:
		return jsonNumber(v.AsBigFloat())
	case ty.IsListType() || ty.IsSetType() || ty.IsTupleType():
		out := make([]any, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			out = append(out, JSONValue(e))
		}
		return out
	case ty.IsObjectType():
		// By name, not through ElementIterator, which sorts the names
		// and makes a cty string of each: 10 fewer allocations an HTTP
		// check, 2–12% less time in BenchmarkRunHTTP1000 (4 alternated
		// rounds, load 4.5; docs/performance.md, "round 3: HTTP").
		atys := ty.AttributeTypes()
		out := make(map[string]any, len(atys))
		for name := range atys {
			out[name] = JSONValue(v.GetAttr(name))
		}
		return out
	case ty.IsMapType():
		out := make(map[string]any, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			out[k.AsString()] = JSONValue(e)
		}
		return out
	}
	return nil
}

// jsonNumber is a number as JSONValue writes it: an integer that fits
// int64 in full, others in their shortest 'g' form, nil beyond float64.
func jsonNumber(bf *big.Float) any {
	if bf.IsInt() {
		if i, acc := bf.Int64(); acc == big.Exact {
			return json.Number(strconv.FormatInt(i, 10))
		}
	}
	if f, _ := bf.Float64(); bf.IsInf() || math.IsInf(f, 0) {
		// Beyond float64 (1e400 in a response body, which cty keeps):
		// no reader of the record could decode it.
		return nil
	}
	return json.Number(bf.Text('g', -1))
}

// JSONFromGo is JSONValue(FromGo(v)) for what encoding/json decodes into
// an any with UseNumber (nil, bool, string, json.Number, []any,
// map[string]any), built without cty. Other types go through cty.
func JSONFromGo(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		return x
	case string:
		return cty.NormalizeString(x)
	case json.Number:
		// An integer in int64's range is written back in full, as the
		// 512-bit float FromGo makes of it would be.
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		f, _, err := big.ParseFloat(string(x), 10, 512, big.ToNearestEven)
		if err != nil {
			return cty.NormalizeString(string(x))
		}
		return jsonNumber(f)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = JSONFromGo(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if !inNFC(k) {
				// Of keys NFC makes equal, the one FromGo keeps.
				clear(out)
				for nk, k := range nfcKeys(x) {
					out[nk] = JSONFromGo(x[k])
				}
				break
			}
			out[k] = JSONFromGo(e)
		}
		return out
	}
	return JSONValue(FromGo(v))
}

// DecodeJSON decodes one JSON document as FromJSON does, into Go values
// (numbers as json.Number) for FromGo or JSONFromGo.
func DecodeJSON(data []byte) (any, error) {
	var v any
	if err := decodeJSON(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}
