package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/engine"
)

// FuzzLoad feeds arbitrary bytes through loading, binding and planning:
// whatever the input, the engine answers with diagnostics, never a panic
// or a stack overflow (the seeds include nesting past MaxNesting).
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/errors/*.hcl")
	valid, _ := filepath.Glob("../runbooks/*.hcl")
	for _, p := range append(seeds, valid...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src, false)
		}
	}
	f.Add([]byte(`{"runbook": {"j": {}}, "check": {"c": {"shell": {"command": ["true"]}}}}`), true)
	f.Add([]byte("runbook \"x\" {}\ncheck \"c\" {\n  shell { command = \"${\" }\n}\n"), false)
	// Deep nesting of every kind, just past the limit: the fuzzer mutates
	// these into nesting the depth scan must still bound.
	for name, src := range deepInputs(engine.MaxNesting + 5) {
		f.Add([]byte(src), strings.HasSuffix(name, ".json"))
	}
	// Chains of operators and nested template directives, which nest
	// without brackets.
	n := engine.MaxNesting + 5
	head := "runbook \"x\" {}\nlocals {\n  a = "
	for _, src := range []string{
		head + strings.Repeat("1 + ", n) + "0\n}\n",
		head + strings.Repeat("true ? 1 : ", n) + "0\n}\n",
		head + "local.a" + strings.Repeat("[local.a]", n) + "\n}\n",
		head + `"` + strings.Repeat("%{for x in [1]}", n) + "x" + strings.Repeat("%{endfor}", n) + "\"\n}\n",
		head + "<<EOT\n" + strings.Repeat("%{if true}\n", n) + "x\n" + strings.Repeat("%{endif}\n", n) + "EOT\n}\n",
	} {
		f.Add([]byte(src), false)
	}
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, src []byte, asJSON bool) {
		name := "fuzz.hcl"
		if asJSON {
			name = "fuzz.hcl.json"
		}
		cfg, diags := engine.LoadSource(name, src, reg)
		if cfg == nil {
			t.Fatal("Load returned no config")
		}
		if diags.HasErrors() {
			return
		}
		b, diags := engine.Bind(cfg, reg, engine.Inputs{AllowMissing: true})
		if diags.HasErrors() || b == nil {
			return
		}
		_, _ = engine.Plan(b, engine.Options{Mode: engine.ModeExec})
	})
}
