package http

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

// bodies the agreement tests serve: JSON and not, strings NFC changes,
// numbers in and beyond int64 and float64, empty.
var bodies = []string{
	`{"status":"ok"}`,
	``,
	`not json`,
	`{} {}`,
	`null`,
	`[1, 2.50, -0, 1e400, 9223372036854775808, "cafe\u0301", {"Å": ["ﬁ", null, true]}]`,
	"caf\u0065\u0301 plain text",
	`{"big": 123456789012345678901234567890, "small": 1e-400, "pi": 3.14159265358979323846264338327950288}`,
	"\xff\xfe invalid utf-8",
	`"<script>&</script>"`,
}

// TestResultJSONAgrees holds the record's form of an HTTP result built in
// Go (JSON) to the cty path's (checks.JSONValue of Value), on real
// responses: every body above, headers repeated and with non-NFC values,
// error statuses, bodies cut at max_body.
func TestResultJSONAgrees(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var i, code int
		fmt.Sscan(r.URL.Query().Get("i"), &i)
		fmt.Sscan(r.URL.Query().Get("code"), &code)
		w.Header().Add("X-Repeated", "one")
		w.Header().Add("X-Repeated", "two")
		w.Header().Set("X-Accent", "cafe\u0301")
		w.WriteHeader(code)
		fmt.Fprint(w, bodies[i])
	}))
	defer srv.Close()
	p := New().(*Provider)
	defer p.Close()
	for i := range bodies {
		for _, code := range []int{200, 503} {
			for _, maxBody := range []int{1 << 20, 4} {
				t.Run(fmt.Sprintf("body%d/%d/max%d", i, code, maxBody), func(t *testing.T) {
					cfg := decode(t, p, fmt.Sprintf("url = %q\nmax_body = %d\n", fmt.Sprintf("%s/?i=%d&code=%d", srv.URL, i, code), maxBody))
					res, err := p.RunResult(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					agree(t, res)
					// Value first, then JSON: the same either way round.
					res2, err := p.RunResult(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					want := checks.JSONValue(res2.Value())
					if got := res2.JSON(); !reflect.DeepEqual(got, want) {
						t.Errorf("after Value, JSON = %#v, want %#v", got, want)
					}
				})
			}
		}
	}
}

func agree(t *testing.T, res checks.Result) {
	t.Helper()
	got := res.JSON()
	want := checks.JSONValue(res.(*result).clone().Value())
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON = %#v,\nthe cty path records %#v", got, want)
	}
	// Run (the cty path) sees the same result as RunResult.
	if v := res.(*result).clone().Value(); !v.Type().Equals(cty.Object(map[string]cty.Type{
		"status": cty.Number, "body": cty.String, "body_truncated": cty.Bool,
		"headers": cty.Map(cty.String), "json": v.GetAttr("json").Type(),
	})) {
		t.Errorf("Value's type %#v", v.Type())
	}
}

// clone is a copy that has decoded nothing yet.
func (res *result) clone() *result {
	return &result{status: res.status, header: res.header, body: res.body, truncated: res.truncated}
}

func FuzzResultJSON(f *testing.F) {
	for _, b := range bodies {
		f.Add(200, []byte(b), "text/plain", false)
	}
	f.Add(404, []byte(`{"a":"e\u0301"}`), "cafe\u0301", true)
	f.Fuzz(func(t *testing.T, status int, body []byte, header string, truncated bool) {
		if strings.ContainsAny(header, "\r\n") {
			return
		}
		res := &result{status: status, header: http.Header{"X-H": {header, header}, "Content-Type": {"a"}}, body: body, truncated: truncated}
		agree(t, res)
	})
}
