package golden

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"testing"
	"unicode/utf8"
)

// decodeStd decodes with encoding/json, the reference parse must agree with.
func decodeStd(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		switch {
		case errors.As(err, &se):
			return nil, position(data, int(se.Offset)-1, se.Error())
		case errors.Is(err, io.EOF):
			return nil, position(data, len(data), "empty document")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, position(data, len(data), "unexpected end of JSON input")
		default:
			return nil, position(data, 0, err.Error())
		}
	}
	off := int(dec.InputOffset())
	for i := off; i < len(data); i++ {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return nil, position(data, i, fmt.Sprintf("invalid character %s after top-level value", quoteChar(data[i:])))
	}
	return v, nil
}

func quoteChar(b []byte) string {
	r, _ := utf8.DecodeRune(b)
	return strconv.QuoteRune(r)
}

// FuzzParse checks parse against encoding/json: the same documents are
// valid, they decode to the same values, and errors point at the same place.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,2.5e3,-0,true,false,null,"x"]}`, `"\u00e9\ud83d\ude00\ud800\u0041\udc00"`, "\"\xff\xfe ok\"",
		`{"a":}`, `[1,]`, `01`, `1.`, `1e`, `-`, `tru`, `nul`, `"\x"`, `"\u12g4"`, "\"a\x01\"", `{"a" 1}`, `{"a":1 "b":2}`,
		`[1 2]`, `{} {}`, ` `, `{"a":{"a":{"a":[[[]]]}}}`, `"\/\b\f\n\r\t\\\""`, `1E+2`, `-0.0e-0`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, gerr := parse(data)
		want, werr := decodeStd(data)
		if (gerr == nil) != (werr == nil) {
			t.Fatalf("parse(%q): error %v, encoding/json: %v", data, gerr, werr)
		}
		if gerr != nil {
			var g, w *SyntaxError
			if errors.As(gerr, &g) && errors.As(werr, &w) && (g.Line != w.Line || g.Column != w.Column) {
				t.Errorf("parse(%q): error at %d:%d (%v), encoding/json at %d:%d (%v)", data, g.Line, g.Column, gerr, w.Line, w.Column, werr)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("parse(%q):\n got %#v\nwant %#v", data, got, want)
		}
	})
}
