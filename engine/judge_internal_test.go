package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

// TestDefaultAssertPassesWithoutSelf: a check its provider's default
// assert passes in Go is judged without building `self` (an object of
// the result's attributes, duration_ms and attempts): judging it
// allocates twice (the provider's own comparison); building `self` for
// it made that 11.
func TestDefaultAssertPassesWithoutSelf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.hcl")
	if err := os.WriteFile(path, []byte("runbook \"r\" {}\ncheck \"h\" {\n  http {\n    url = \"http://127.0.0.1:1/\"\n  }\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := Registry{Providers: builtin.Providers}
	cfg, diags := Load(path, reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := Bind(cfg, reg, Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r := &runner{b: b, providers: map[string]checks.Provider{}}
	it := cfg.Checks["h"]
	n := r.newNode(it, it)
	result := cty.ObjectVal(map[string]cty.Value{
		"status": cty.NumberIntVal(200), "body": cty.StringVal("{}"), "body_truncated": cty.False,
		"headers": cty.MapValEmpty(cty.String), "json": cty.EmptyObjectVal,
	})
	judge := func() {
		n.rec.Status = record.Passed
		s := lazySelf{result: &outcome{v: result}, durMS: 1, attempt: 1}
		r.judgeResult(n, &s)
	}
	judge()
	if n.rec.Status != record.Passed || len(n.rec.Asserts) != 1 || !n.rec.Asserts[0].Passed {
		t.Fatalf("status %s, asserts %+v", n.rec.Status, n.rec.Asserts)
	}
	allocs := testing.AllocsPerRun(100, judge)
	t.Logf("%.0f allocations", allocs)
	if allocs > 5 {
		t.Errorf("judging a passing HTTP result by the default assert allocated %.0f times; more than 5 is building self", allocs)
	}
}
