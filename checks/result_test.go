package checks

import (
	"encoding/json"
	"reflect"
	"testing"
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
	// Keys NFC makes equal: one attribute, the same one either way.
	`{"\u00e9": 1, "e\u0301": 2}`,
	`{"e\u0301": 2, "\u00e9": 1, "x": {"A\u030a": 3, "\u212b": 4}}`,
	`[{"\u212b": 1, "A\u030a": 2, "\u00c5": 3}]`,
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
	want := JSONValue(FromGo(v))
	got := JSONFromGo(v)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: JSONFromGo = %#v, JSONValue(FromGo) = %#v", doc, got, want)
	}
}

// TestNFCKeyKept holds which of two keys NFC makes equal an object keeps,
// on both paths, every time (maps are walked in a random order): the key
// already in NFC, else the least. Had either path kept one at random, an
// assert could read one value and the record show the other.
func TestNFCKeyKept(t *testing.T) {
	tests := []struct {
		doc  string
		want string // the value kept, as JSON
	}{
		{`{"\u00e9": 1, "e\u0301": 2}`, "1"},
		{`{"e\u0301": 2, "\u00e9": 1}`, "1"},
		// U+212B ANGSTROM SIGN and A + ring: neither is NFC (U+00C5).
		{`{"\u212b": 1, "A\u030a": 2}`, "2"},
		{`{"\u212b": 1, "A\u030a": 2, "\u00c5": 3}`, "3"},
	}
	for _, tt := range tests {
		v, err := DecodeJSON([]byte(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		for range 50 {
			got := JSONFromGo(v).(map[string]any)
			viaCty := JSONValue(FromGo(v)).(map[string]any)
			if len(got) != 1 || len(viaCty) != 1 {
				t.Fatalf("%s: %v, %v: want one attribute", tt.doc, got, viaCty)
			}
			for _, m := range []map[string]any{got, viaCty} {
				for _, e := range m {
					if e != json.Number(tt.want) {
						t.Fatalf("%s: JSONFromGo %v, JSONValue(FromGo) %v; want the value %s kept", tt.doc, got, viaCty, tt.want)
					}
				}
			}
		}
	}
}

func FuzzJSONFromGo(f *testing.F) {
	for _, doc := range jsonDocs {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		agreeJSON(t, doc)
	})
}
