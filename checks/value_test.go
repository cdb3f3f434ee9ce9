package checks

import (
	"math"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

func TestFromJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     cty.Value
		err      bool
	}{
		{"object", `{"a": 1, "b": "x"}`, cty.ObjectVal(map[string]cty.Value{"a": cty.NumberIntVal(1), "b": cty.StringVal("x")}), false},
		{"mixed array", `[1, "a", null]`, cty.TupleVal([]cty.Value{cty.NumberIntVal(1), cty.StringVal("a"), cty.NullVal(cty.DynamicPseudoType)}), false},
		{"exact big integer", `12345678901234567`, cty.MustParseNumberVal("12345678901234567"), false},
		{"empty object", `{}`, cty.EmptyObjectVal, false},
		{"trailing data", `{} {}`, cty.NilVal, true},
		{"not json", `{"a":`, cty.NilVal, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := FromJSON([]byte(tc.in))
			if (err != nil) != tc.err {
				t.Fatalf("error %v, want error %v", err, tc.err)
			}
			if !tc.err && !got.RawEquals(tc.want) {
				t.Errorf("got %#v want %#v", got, tc.want)
			}
		})
	}
}

func TestStringListWithUnknownElement(t *testing.T) {
	cfg := cty.ObjectVal(map[string]cty.Value{"l": cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.UnknownVal(cty.String)})})
	if _, err := StringList(cfg, "l"); err == nil {
		t.Errorf("got no error for an unknown element")
	}
}

func TestFromGoFloatsEqualTheirLiterals(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{{0.1, "0.1"}, {1e21, "1e21"}, {-2.5, "-2.5"}, {3, "3"}} {
		got := FromGo(tc.in)
		if !got.Equals(cty.MustParseNumberVal(tc.want)).True() {
			t.Errorf("FromGo(%v) = %s, want the number %s", tc.in, got.AsBigFloat().Text('g', 30), tc.want)
		}
	}
	if v := FromGo(math.Inf(1)); !v.IsNull() {
		t.Errorf("FromGo(+Inf) = %#v, want null", v)
	}
}
