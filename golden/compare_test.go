package golden

import (
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fixtureCases lists the file-form fixtures in testdata/pairs and the
// findings each must give, as path and class.
var fixtureCases = []struct {
	name string
	want []PathClass
}{
	{"identical", nil},
	{"volatile", []PathClass{
		{"duration_ms", VolatileLeak},
		{"started_at", VolatileLeak},
		{"steps[0].createdAt", VolatileLeak},
		{"steps[1].output.checkpoint", VolatileLeak},
	}},
	{"seed", []PathClass{{"seed", SeedMismatch}}},
	{"rng", []PathClass{
		{"steps[0].output.jitter", UnseededRNG},
		{"steps[0].output.nonce", UnseededRNG},
		{"steps[0].output.request_id", UnseededRNG},
		{"steps[0].output.token", UnseededRNG},
	}},
	{"external", []PathClass{
		{"steps[0].external.body.rate", ExternalCallVariation},
		{"steps[1].http_response.headers.x-request-id", ExternalCallVariation},
	}},
	{"violation", []PathClass{
		{"steps[0].output.count", DeterminismViolation},
		{"steps[0].output.score", DeterminismViolation},
		{"steps[1].output.order[1]", DeterminismViolation},
		{"steps[1].output.order[2]", DeterminismViolation},
		{"steps[1].output.queue", DeterminismViolation},
		{"steps[1].output.retries", DeterminismViolation},
		{"steps[1].output.status", DeterminismViolation},
	}},
	{"unreadable", []PathClass{{"", Unreadable}}},
}

func fixturePair(name string) Pair {
	dir := filepath.Join("testdata", "pairs", name)
	return Pair{Name: name, Left: filepath.Join(dir, "left.json"), Right: filepath.Join(dir, "right.json")}
}

func pathClasses(fs []Finding) []PathClass {
	var out []PathClass
	for _, f := range fs {
		out = append(out, PathClass{f.Path, f.Class})
	}
	return out
}

func newComparer(t testing.TB, o Options) *Comparer {
	t.Helper()
	c, err := NewComparer(o)
	if err != nil {
		t.Fatalf("NewComparer(%+v): %v", o, err)
	}
	return c
}

func TestCompareFixtures(t *testing.T) {
	c := newComparer(t, Options{})
	for _, tc := range fixtureCases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.CompareFiles(fixturePair(tc.name))
			if diff := cmp.Diff(tc.want, pathClasses(r.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			var want Counts
			for _, pc := range tc.want {
				want.Add(pc.Class, 1)
			}
			if r.Counts != want {
				t.Errorf("counts: got %v want %v", r.Counts, want)
			}
			if got := r.Identical(); got != (len(tc.want) == 0) {
				t.Errorf("Identical: got %v want %v", got, len(tc.want) == 0)
			}
		})
	}
}

func TestCompareSeedMismatchHoldsTheRest(t *testing.T) {
	c := newComparer(t, Options{})
	r := c.CompareFiles(fixturePair("seed"))
	if len(r.Findings) != 1 {
		t.Fatalf("got %d findings, want the one SEED_MISMATCH: %+v", len(r.Findings), r.Findings)
	}
	f := r.Findings[0]
	if f.Left != "1234" || f.Right != "98765" {
		t.Errorf("seed values: got %s → %s want 1234 → 98765", f.Left, f.Right)
	}
	want := []PathClass{
		{"finished_at", VolatileLeak},
		{"steps[0].output.picked[0]", DeterminismViolation},
		{"steps[0].output.picked[1]", DeterminismViolation},
	}
	if diff := cmp.Diff(want, pathClasses(f.Related)); diff != "" {
		t.Errorf("related (-want +got):\n%s", diff)
	}
	if f.RelatedTotal != 3 {
		t.Errorf("RelatedTotal: got %d want 3", f.RelatedTotal)
	}
	if n := r.Counts.Get(DeterminismViolation); n != 0 {
		t.Errorf("DETERMINISM_VIOLATION count under a seed mismatch: got %d want 0", n)
	}
}

func TestCompareValues(t *testing.T) {
	c := newComparer(t, Options{})
	f := c.CompareFiles(fixturePair("violation")).Findings
	want := []struct{ path, left, right, hint string }{
		{"steps[0].output.count", "12345678901234567", "12345678901234568", ""},
		{"steps[1].output.queue", `"fast"`, Absent, ""},
		{"steps[1].output.retries", Absent, "1", ""},
	}
	for _, w := range want {
		t.Run(w.path, func(t *testing.T) {
			for _, g := range f {
				if g.Path == w.path {
					if g.Left != w.left || g.Right != w.right {
						t.Errorf("got %s → %s want %s → %s", g.Left, g.Right, w.left, w.right)
					}
					return
				}
			}
			t.Errorf("no finding at %s", w.path)
		})
	}
	for _, g := range f {
		if g.Path == "steps[0].output.score" && g.Hint == "" {
			t.Errorf("close floats: got no hint, want one about evaluation order")
		}
	}
}

func TestCompareWithItself(t *testing.T) {
	c := newComparer(t, Options{})
	for _, tc := range fixtureCases {
		if tc.name == "unreadable" {
			continue
		}
		for _, side := range []string{"left.json", "right.json"} {
			t.Run(tc.name+"/"+side, func(t *testing.T) {
				p := filepath.Join("testdata", "pairs", tc.name, side)
				r := c.CompareFiles(Pair{Name: p, Left: p, Right: p})
				if !r.Identical() {
					t.Errorf("got findings %+v, want identical", r.Findings)
				}
			})
		}
	}
}

func TestCompareSwapped(t *testing.T) {
	c := newComparer(t, Options{})
	for _, tc := range fixtureCases {
		t.Run(tc.name, func(t *testing.T) {
			p := fixturePair(tc.name)
			ab := c.CompareFiles(p)
			ba := c.CompareFiles(Pair{Name: p.Name, Left: p.Right, Right: p.Left})
			if ab.Counts != ba.Counts {
				t.Errorf("counts: got %v swapped, want %v", ba.Counts, ab.Counts)
			}
			if diff := cmp.Diff(swapSides(ab.Findings), ba.Findings); diff != "" {
				t.Errorf("swapped findings (-want +got):\n%s", diff)
			}
		})
	}
}

// swapSides returns the findings with Left and Right exchanged, related
// findings included.
func swapSides(fs []Finding) []Finding {
	if fs == nil {
		return nil
	}
	out := make([]Finding, len(fs))
	for i, f := range fs {
		f.Left, f.Right = f.Right, f.Left
		f.Related = swapSides(f.Related)
		out[i] = f
	}
	return out
}

func TestCompareUnreadable(t *testing.T) {
	c := newComparer(t, Options{})
	ok := []byte(`{"a": 1}`)
	for _, tc := range []struct {
		name         string
		doc          string
		line, column int
		msg          string
	}{
		{"missing value", `{"a":}`, 1, 6, "line 1, column 6: invalid character '}' looking for beginning of value"},
		{"trailing comma", "{\n  \"a\": [1, 2,]\n}", 2, 14, "line 2, column 14: invalid character ']' looking for beginning of value"},
		{"truncated", `{"a": [1, 2`, 1, 12, "line 1, column 12: unexpected end of JSON input"},
		{"empty", ``, 1, 1, "line 1, column 1: empty document"},
		{"blank", "\n\n", 3, 1, "line 3, column 1: empty document"},
		{"trailing garbage", "{\"a\": 1}\n}", 2, 1, "line 2, column 1: invalid character '}' after top-level value"},
		{"second document", `{"a": 1} {"a": 2}`, 1, 10, "line 1, column 10: invalid character '{' after top-level value"},
		{"columns count characters", `{"é": "ü",,}`, 1, 11, "line 1, column 11: invalid character ',' looking for beginning of object key string"},
		{"not json", "status: ok", 1, 1, "line 1, column 1: invalid character 's' looking for beginning of value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Compare("x.json", ok, []byte(tc.doc))
			want := []Finding{{File: "x.json", Class: Unreadable, Right: tc.msg, Line: tc.line, Column: tc.column,
				Hint: unreadableHint}}
			if diff := cmp.Diff(want, r.Findings); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("both sides", func(t *testing.T) {
		r := c.Compare("x.json", []byte("{"), []byte("["))
		if got := r.Counts.Get(Unreadable); got != 2 {
			t.Errorf("UNREADABLE count: got %d want 2", got)
		}
	})
	t.Run("no such file", func(t *testing.T) {
		r := c.CompareFiles(Pair{Name: "x", Left: "testdata/pairs/identical/left.json", Right: "testdata/nope.json"})
		if len(r.Findings) != 1 || r.Findings[0].Class != Unreadable || r.Findings[0].Right != "read: no such file or directory" {
			t.Errorf("got %+v, want one UNREADABLE with the read error on the right", r.Findings)
		}
	})
}

func TestCompareShapes(t *testing.T) {
	c := newComparer(t, Options{})
	for _, tc := range []struct {
		name, left, right string
		want              []PathClass
	}{
		{"key order", `{"a":1,"b":{"c":2,"d":3}}`, `{"b":{"d":3,"c":2},"a":1}`, nil},
		{"array order matters", `{"a":[1,2]}`, `{"a":[2,1]}`, []PathClass{{"a[0]", DeterminismViolation}, {"a[1]", DeterminismViolation}}},
		{"longer array", `{"a":[1]}`, `{"a":[1,2,3]}`, []PathClass{{"a[1]", DeterminismViolation}, {"a[2]", DeterminismViolation}}},
		{"kind change", `{"a":{"b":1}}`, `{"a":[1]}`, []PathClass{{"a", DeterminismViolation}}},
		{"null against absent", `{"a":null}`, `{}`, []PathClass{{"a", DeterminismViolation}}},
		{"string against number", `{"a":"1"}`, `{"a":1}`, []PathClass{{"a", DeterminismViolation}}},
		{"root", `1`, `2`, []PathClass{{"$", DeterminismViolation}}},
		{"top-level array", `[{"x":1}]`, `[{"x":2}]`, []PathClass{{"[0].x", DeterminismViolation}}},
		{"odd keys are quoted", `{"a.b":1,"":2,"c d":{"e":3}}`, `{"a.b":2,"":3,"c d":{"e":4}}`, []PathClass{
			{`[""]`, DeterminismViolation}, {`["a.b"]`, DeterminismViolation}, {`["c d"].e`, DeterminismViolation}}},
		{"numbers by value", `{"a":1,"b":1e2,"c":-0,"d":0.10,"e":123456789012345678901234567890}`,
			`{"a":1.0,"b":100,"c":0,"d":1e-1,"e":1.23456789012345678901234567890e29}`, nil},
		{"17-digit integers stay exact", `{"a":12345678901234567}`, `{"a":12345678901234568}`, []PathClass{{"a", DeterminismViolation}}},
		{"huge exponents", `{"a":1e999999999999999999999}`, `{"a":10e999999999999999999998}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Compare("x", []byte(tc.left), []byte(tc.right))
			if diff := cmp.Diff(tc.want, pathClasses(r.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompareOptions(t *testing.T) {
	left := `{"seed":1,"run":{"seed":7},"meta":{"host":"a","started_at":"x"},"ext":{"v":1},"external":{"v":1},"createdAt":"2025-01-01T00:00:00Z","id":"2025-01-01T00:00:00Z"}`
	right := `{"seed":1,"run":{"seed":8},"meta":{"host":"b","started_at":"y"},"ext":{"v":2},"external":{"v":2},"createdAt":"2025-01-02T00:00:00Z","id":"2025-01-02T00:00:00Z"}`
	for _, tc := range []struct {
		name string
		opts Options
		want []PathClass
	}{
		{"defaults", Options{}, []PathClass{{"run.seed", SeedMismatch}}},
		{"seed by path", Options{SeedField: "seed"}, []PathClass{{"run.seed", SeedMismatch}}},
		{"top-level seed only", Options{SeedField: "$seed"}, []PathClass{
			{"createdAt", VolatileLeak}, {"ext.v", DeterminismViolation}, {"external.v", ExternalCallVariation},
			{"id", VolatileLeak}, {"meta.host", DeterminismViolation}, {"meta.started_at", VolatileLeak},
			{"run.seed", DeterminismViolation}}},
		{"volatile path and external override", Options{SeedField: "nope", Volatile: []string{"meta.*"}, External: []string{"ext"}}, []PathClass{
			{"createdAt", VolatileLeak}, {"ext.v", ExternalCallVariation}, {"external.v", DeterminismViolation},
			{"id", VolatileLeak}, {"meta.host", VolatileLeak}, {"meta.started_at", VolatileLeak},
			{"run.seed", DeterminismViolation}}},
		{"no defaults", Options{SeedField: "nope", NoDefaultVolatile: true, External: []string{}}, []PathClass{
			{"createdAt", DeterminismViolation}, {"ext.v", DeterminismViolation}, {"external.v", DeterminismViolation},
			{"id", DeterminismViolation}, {"meta.host", DeterminismViolation}, {"meta.started_at", DeterminismViolation},
			{"run.seed", DeterminismViolation}}},
		{"volatile name", Options{SeedField: "nope", NoDefaultVolatile: true, Volatile: []string{"host", "run"}, External: []string{}}, []PathClass{
			{"createdAt", DeterminismViolation}, {"ext.v", DeterminismViolation}, {"external.v", DeterminismViolation},
			{"id", DeterminismViolation}, {"meta.host", VolatileLeak}, {"meta.started_at", DeterminismViolation},
			{"run.seed", VolatileLeak}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newComparer(t, tc.opts)
			r := c.Compare("x", []byte(left), []byte(right))
			if diff := cmp.Diff(tc.want, pathClasses(r.Findings)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("empty pattern", func(t *testing.T) {
		if _, err := NewComparer(Options{Volatile: []string{" "}}); err == nil {
			t.Errorf("got no error for an empty volatile pattern")
		}
	})
	t.Run("max findings", func(t *testing.T) {
		c := newComparer(t, Options{MaxFindings: 2})
		r := c.Compare("x", []byte(`[1,2,3,4,5]`), []byte(`[5,4,3,2,1]`))
		if len(r.Findings) != 2 || r.Dropped != 2 || r.Counts.Get(DeterminismViolation) != 4 {
			t.Errorf("got %d findings, %d dropped, %d counted; want 2, 2, 4", len(r.Findings), r.Dropped, r.Counts.Get(DeterminismViolation))
		}
	})
}
