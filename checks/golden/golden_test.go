package golden

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// data is the golden package's fixtures.
const data = "../../golden/testdata"

// config decodes an HCL block body with the provider's schema.
func config(t *testing.T, body string) cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(body), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	v, diags := hcldec.Decode(f.Body, New().Schema(), nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags)
	}
	return v
}

type result struct {
	Files                 int       `cty:"files"`
	Identical             bool      `cty:"identical"`
	IdenticalFiles        int       `cty:"identical_files"`
	Bytes                 int64     `cty:"bytes"`
	Critical              int       `cty:"critical"`
	Violations            int       `cty:"violations"`
	DeterminismViolations int       `cty:"determinism_violations"`
	UnseededRNG           int       `cty:"unseeded_rng"`
	SeedMismatches        int       `cty:"seed_mismatches"`
	VolatileLeaks         int       `cty:"volatile_leaks"`
	ExternalVariations    int       `cty:"external_variations"`
	Missing               int       `cty:"missing"`
	Extra                 int       `cty:"extra"`
	Unreadable            int       `cty:"unreadable"`
	Findings              []finding `cty:"findings"`
	FindingsTruncated     bool      `cty:"findings_truncated"`
}

type finding struct {
	File  string `cty:"file"`
	Path  string `cty:"path"`
	Class string `cty:"class"`
	Left  string `cty:"left"`
	Right string `cty:"right"`
	Hint  string `cty:"hint"`
}

func run(t *testing.T, body string) (result, cty.Value) {
	t.Helper()
	v, err := New().Run(context.Background(), config(t, body))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var r result
	// Findings is a tuple of objects; convert through a list type.
	attrs := v.AsValueMap()
	fs := attrs["findings"]
	attrs["findings"] = cty.ListValEmpty(cty.DynamicPseudoType)
	if err := gocty.FromCtyValue(cty.ObjectVal(attrs), &r); err != nil {
		t.Fatalf("result %#v: %v", v, err)
	}
	for it := fs.ElementIterator(); it.Next(); {
		_, e := it.Element()
		var f finding
		if err := gocty.FromCtyValue(e, &f); err != nil {
			t.Fatalf("finding %#v: %v", e, err)
		}
		r.Findings = append(r.Findings, f)
	}
	return r, v
}

// defaultAssert evaluates the provider's default condition on a result.
func defaultAssert(t *testing.T, v cty.Value) bool {
	t.Helper()
	cond, msg := New().(*Provider).DefaultAssert()
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"self": v}}
	for _, src := range []string{cond, `"` + msg + `"`} {
		expr, diags := hclsyntax.ParseExpression([]byte(src), "assert.hcl", hcl.InitialPos)
		if diags.HasErrors() {
			t.Fatalf("parse %s: %s", src, diags)
		}
		if _, diags := expr.Value(ctx); diags.HasErrors() {
			t.Fatalf("evaluate %s: %s", src, diags)
		}
	}
	expr, _ := hclsyntax.ParseExpression([]byte(cond), "assert.hcl", hcl.InitialPos)
	got, _ := expr.Value(ctx)
	return got.True()
}

func TestRunFiles(t *testing.T) {
	for _, tc := range []struct {
		name   string
		want   result
		passes bool
	}{
		{"identical", result{Files: 1, Identical: true, IdenticalFiles: 1}, true},
		{"volatile", result{Files: 1, VolatileLeaks: 4}, true},
		{"external", result{Files: 1, ExternalVariations: 2}, true},
		{"seed", result{Files: 1, SeedMismatches: 1, Critical: 1}, false},
		{"rng", result{Files: 1, UnseededRNG: 4, Violations: 4, Critical: 4}, false},
		{"violation", result{Files: 1, DeterminismViolations: 7, Violations: 7, Critical: 7}, false},
		{"unreadable", result{Files: 1, Unreadable: 1, Critical: 1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(data, "pairs", tc.name)
			got, v := run(t, `left = "`+filepath.Join(dir, "left.json")+`"
right = "`+filepath.Join(dir, "right.json")+`"`)
			if got.Bytes == 0 {
				t.Errorf("bytes: got 0")
			}
			if len(got.Findings) != tc.want.Critical+tc.want.VolatileLeaks+tc.want.ExternalVariations {
				t.Errorf("got %d findings, want one per counted difference", len(got.Findings))
			}
			got.Bytes, got.Findings = 0, nil
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if pass := defaultAssert(t, v); pass != tc.passes {
				t.Errorf("default assert: got %v want %v", pass, tc.passes)
			}
		})
	}
}

func TestRunFindings(t *testing.T) {
	dir := filepath.Join(data, "pairs", "violation")
	got, _ := run(t, `left = "`+filepath.Join(dir, "left.json")+`"
right = "`+filepath.Join(dir, "right.json")+`"
max_findings = 2`)
	want := []finding{
		{File: filepath.Join(dir, "left.json"), Path: "steps[0].output.count", Class: "DETERMINISM_VIOLATION", Left: "12345678901234567", Right: "12345678901234568"},
		{File: filepath.Join(dir, "left.json"), Path: "steps[0].output.score", Class: "DETERMINISM_VIOLATION", Left: "0.30000000000000004", Right: "0.3",
			Hint: "the values differ only in the last digits: floating-point evaluation order changed (parallel or map-ordered sums)"},
	}
	if diff := cmp.Diff(want, got.Findings); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
	if !got.FindingsTruncated || got.DeterminismViolations != 7 {
		t.Errorf("got truncated %v, %d violations; want true, 7", got.FindingsTruncated, got.DeterminismViolations)
	}
}

func TestRunDirectories(t *testing.T) {
	want := result{Files: 9, IdenticalFiles: 1, VolatileLeaks: 4, SeedMismatches: 1, UnseededRNG: 4, ExternalVariations: 2,
		DeterminismViolations: 7, Violations: 11, Missing: 1, Extra: 1, Unreadable: 1, Critical: 14}
	for _, tc := range []struct{ name, body string }{
		{"two directories", `left = "` + data + `/dirs/left"
right = "` + data + `/dirs/right"`},
		{"one directory with replay suffix", `left = "` + data + `/shadow"`},
		{"one directory with primary and replay", `left = "` + data + `/shadow-subdirs"`},
		{"pair rule", `left = "` + data + `/shadow"
pair = "{id}.json:{id}.replay.json"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, v := run(t, tc.body)
			got.Bytes, got.Findings = 0, nil
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if defaultAssert(t, v) {
				t.Errorf("default assert passed, want it to fail")
			}
		})
	}
}

func TestRunOptions(t *testing.T) {
	dir := filepath.Join(data, "pairs")
	pair := func(name string) string {
		return `left = "` + filepath.Join(dir, name, "left.json") + `"
right = "` + filepath.Join(dir, name, "right.json") + `"
`
	}
	for _, tc := range []struct {
		name, body string
		check      func(r result) bool
	}{
		{"volatile", pair("rng") + `volatile = ["steps[*].output.*"]`, func(r result) bool { return r.VolatileLeaks == 4 && r.Critical == 0 }},
		{"no default volatile", pair("volatile") + `default_volatile = false`, func(r result) bool { return r.VolatileLeaks == 0 && r.DeterminismViolations == 4 }},
		{"no external", pair("external") + `external = []`, func(r result) bool { return r.ExternalVariations == 0 && r.DeterminismViolations == 2 }},
		{"seed field", pair("seed") + `seed_field = "run_seed"`, func(r result) bool { return r.SeedMismatches == 0 && r.DeterminismViolations == 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := run(t, tc.body)
			if !tc.check(got) {
				t.Errorf("unexpected result %+v", got)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	empty := t.TempDir()
	if err := os.WriteFile(filepath.Join(empty, "notes.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"no such path", `left = "` + data + `/nope"`, "no such file"},
		{"file against directory", `left = "` + data + `/pairs/seed/left.json"
right = "` + data + `/dirs/right"`, "not one of each"},
		{"no pairs", `left = "` + empty + `"`, "no golden file pairs"},
		{"bad pair rule", `left = "` + data + `/shadow"
pair = "{id}.json"`, "pair rule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New().Run(context.Background(), config(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
		defer cancel()
		<-ctx.Done()
		_, err := New().Run(ctx, config(t, `left = "`+data+`/shadow"`))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"fine", `left = "a"
volatile = ["trace_id", "steps[*].output.host"]`, ""},
		{"empty left", `left = ""`, "left must not be empty"},
		{"empty volatile pattern", `left = "a"
volatile = [""]`, "empty pattern"},
		{"empty external pattern", `left = "a"
external = [" "]`, "empty pattern"},
		{"empty seed field", `left = "a"
seed_field = ""`, "seed_field"},
		{"bad pair", `left = "a"
pair = "x:y"`, "{id}"},
		{"negative max_findings", `left = "a"
max_findings = -1`, "max_findings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().(*Provider).Validate(config(t, tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error mentioning %q", err, tc.want)
			}
		})
	}
	t.Run("unknown values", func(t *testing.T) {
		cfg := cty.ObjectVal(map[string]cty.Value{
			"left": cty.UnknownVal(cty.String), "right": cty.NullVal(cty.String), "pair": cty.UnknownVal(cty.String),
			"volatile": cty.UnknownVal(cty.List(cty.String)), "default_volatile": cty.NullVal(cty.Bool),
			"seed_field": cty.UnknownVal(cty.String), "external": cty.ListVal([]cty.Value{cty.UnknownVal(cty.String)}),
			"max_findings": cty.UnknownVal(cty.Number),
		})
		if err := New().(*Provider).Validate(cfg); err != nil {
			t.Errorf("got %v, want no error while values are unknown", err)
		}
	})
}

func TestDescribe(t *testing.T) {
	p := New().(*Provider)
	for _, tc := range []struct{ body, want string }{
		{`left = "a.json"
right = "b.json"`, "golden diff a.json b.json"},
		{`left = "/tmp/shadow"`, "golden pairs in /tmp/shadow"},
		{`left = "/tmp/shadow"
pair = "{id}.a:{id}.b"`, "golden pairs in /tmp/shadow ({id}.a:{id}.b)"},
	} {
		if got := p.Describe(config(t, tc.body)); got != tc.want {
			t.Errorf("Describe: got %q want %q", got, tc.want)
		}
	}
}
