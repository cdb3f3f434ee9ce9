package checks

import (
	"reflect"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// jsonDocs are bodies whose record form must not depend on the path taken:
// strings and keys that NFC changes, integers in and beyond int64, floats,
// numbers beyond float64, nesting, nulls, empty containers.
var jsonDocs = []string{
	`{"status":"ok"}`,
	`{"a": 1, "b": "x", "c": null, "d": true, "e": false}`,
	`[1, "a", null, [], {}, [[]], {"k": [1.5, -0, 0.1]}]`,
	`{"cafe\u0301": "cafe\u0301", "Å": "Å", "ﬁ": "ﬁ"}`,
	`"e\u0301"`,
	`12345678901234567`,
	`9223372036854775807`,
	`-9223372036854775808`,
	`9223372036854775808`,
	`123456789012345678901234567890`,
	`1e400`,
	`-1e400`,
	`1e-400`,
	`1.0`,
	`1e2`,
	`-0`,
	`-0.0`,
	`0.1`,
	`3.141592653589793238462643383279502884197`,
	`1.7976931348623157e308`,
	`4.9e-324`,
	`{"nested": {"deeper": {"list": [1, 2, {"x": "\u003c\u0026\u003e"}]}}}`,
	`null`,
	`true`,
	`"\ud83d\ude00 \u0000 \t"`,
}

// TestJSONFromGoAgrees holds JSONFromGo to JSONValue(FromGo(v)) on decoded
// JSON documents: the record holds the same values either way.
func TestJSONFromGoAgrees(t *testing.T) {
	for _, doc := range jsonDocs {
		agreeJSON(t, []byte(doc))
	}
}

func agreeJSON(t *testing.T, doc []byte) {
	t.Helper()
	v, err := DecodeJSON(doc)
	if err != nil {
		return
	}
	if hasNormalizingKeyPair(v) {
		return // cty keeps either of two keys NFC makes equal: no single answer
	}
	want := JSONValue(FromGo(v))
	got := JSONFromGo(v)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: JSONFromGo = %#v, JSONValue(FromGo) = %#v", doc, got, want)
	}
}

// hasNormalizingKeyPair reports whether an object in v has two keys with
// the same NFC form.
func hasNormalizingKeyPair(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			if hasNormalizingKeyPair(e) {
				return true
			}
		}
	case map[string]any:
		seen := map[string]bool{}
		for k, e := range x {
			n := normalize(k)
			if seen[n] || hasNormalizingKeyPair(e) {
				return true
			}
			seen[n] = true
		}
	}
	return false
}

func FuzzJSONFromGo(f *testing.F) {
	for _, doc := range jsonDocs {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		agreeJSON(t, doc)
	})
}

func normalize(s string) string { return cty.NormalizeString(s) }
