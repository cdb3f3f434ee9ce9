package engine

import (
	"encoding/json"
	"github.com/runbookhq/runbook/checks"
	"math/big"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

func TestToJSONValueKeepsPrecision(t *testing.T) {
	huge, _, _ := big.ParseFloat("12345678901234567", 10, 512, big.ToNearestEven)
	dec, _, _ := big.ParseFloat("0.1", 10, 512, big.ToNearestEven)
	v := cty.ObjectVal(map[string]cty.Value{
		"huge":  cty.NumberVal(huge),
		"dec":   cty.NumberVal(dec),
		"int":   cty.NumberIntVal(-42),
		"str":   cty.StringVal("x"),
		"bool":  cty.True,
		"null":  cty.NullVal(cty.String),
		"list":  cty.ListVal([]cty.Value{cty.StringVal("a")}),
		"tuple": cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("b")}),
		"map":   cty.MapVal(map[string]cty.Value{"k": cty.StringVal("v")}),
		"unk":   cty.UnknownVal(cty.String),
	})
	got := checks.JSONValue(v)
	want := map[string]any{
		"huge": json.Number("12345678901234567"), "dec": json.Number("0.1"), "int": json.Number("-42"),
		"str": "x", "bool": true, "null": nil, "list": []any{"a"},
		"tuple": []any{json.Number("1"), "b"}, "map": map[string]any{"k": "v"}, "unk": nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	data, _ := json.Marshal(got)
	if want := `"huge":12345678901234567`; !strings.Contains(string(data), want) {
		t.Errorf("JSON %s lacks %s", data, want)
	}
}

func TestWhollyKnown(t *testing.T) {
	for _, v := range []cty.Value{
		cty.StringVal("x"),
		cty.NullVal(cty.String),
		cty.UnknownVal(cty.String),
		cty.DynamicVal,
		cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.ListVal([]cty.Value{cty.StringVal("y")})}),
		cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("x"), "b": cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)})}),
		cty.ObjectVal(map[string]cty.Value{"m": cty.MapVal(map[string]cty.Value{"k": cty.UnknownVal(cty.Number)})}),
		cty.ObjectVal(map[string]cty.Value{"o": cty.ObjectVal(map[string]cty.Value{"deep": cty.UnknownVal(cty.Bool)})}),
		cty.TupleVal([]cty.Value{cty.True, cty.UnknownVal(cty.Bool)}),
		cty.SetVal([]cty.Value{cty.StringVal("a")}),
		cty.StringVal("secret").Mark("sensitive"),
		cty.ObjectVal(map[string]cty.Value{"s": cty.UnknownVal(cty.String).Mark("sensitive")}),
		cty.EmptyObjectVal,
		cty.ListValEmpty(cty.String),
	} {
		if got, want := whollyKnown(v), v.IsWhollyKnown(); got != want {
			t.Errorf("whollyKnown(%#v) = %v, cty says %v", v, got, want)
		}
	}
}

// TestToJSONValueBeyondFloat64: a number no float64 holds (1e400 in a
// response body: cty keeps it) must not make the record unreadable; it
// is recorded as null, like an infinity, and smaller ones as they are.
func TestToJSONValueBeyondFloat64(t *testing.T) {
	for _, tc := range []struct {
		num  string
		null bool
	}{
		{"1e400", true},
		{"-1e400", true},
		{"1e308", false},
		{"1e-400", false},
		{"123456789012345678901234567890", false},
	} {
		t.Run(tc.num, func(t *testing.T) {
			n, err := cty.ParseNumberVal(tc.num)
			if err != nil {
				t.Fatal(err)
			}
			got := checks.JSONValue(cty.ObjectVal(map[string]cty.Value{"v": n})).(map[string]any)
			data, err := json.Marshal(record.Item{Result: got})
			if err != nil {
				t.Fatal(err)
			}
			var back record.Item
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("the record of %s cannot be read back: %v", tc.num, err)
			}
			if (got["v"] == nil) != tc.null {
				t.Errorf("got %v, want null: %v", got["v"], tc.null)
			}
		})
	}
}
