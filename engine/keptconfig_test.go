package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/runbookhq/runbook/checks/builtin"
)

// TestKeptConfigRoundTrip holds a configuration kept at bind to the value
// it was decoded as: the provider must get the same object either way.
func TestKeptConfigRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name, provider, body string
		set                  int // arguments kept
	}{
		{"shell command only", "shell", `command = ["true"]`, 1},
		{"shell everything", "shell", "command = \"echo hi\"\ndir = \"/tmp\"\nenv = { A = \"1\" }\nstdin = \"x\"\ntimeout = \"5s\"\nmax_output = 100", 6},
		{"shell null argument", "shell", "command = [\"true\"]\ndir = null", 1},
		{"http url only", "http", `url = "http://127.0.0.1/health"`, -1},
		{"http with headers and body", "http", "url = \"http://127.0.0.1/\"\nmethod = \"POST\"\nheaders = { X-A = \"b\" }\nbody = \"{}\"", -1},
		{"tcp", "tcp", `address = "127.0.0.1:22"`, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(tc.body), "t.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			p := builtin.Providers[tc.provider]()
			spec := p.Schema()
			want, diags := hcldec.Decode(f.Body, spec, nil)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			sh := newObjectShape(spec)
			if sh == nil {
				t.Fatalf("no shape for %s", tc.provider)
			}
			k := sh.keep(want)
			if k.shape == nil {
				t.Fatalf("kept whole, want compact")
			}
			if tc.set >= 0 && len(k.set) != tc.set {
				t.Errorf("kept %d arguments, want %d", len(k.set), tc.set)
			}
			if got := k.value(); !got.RawEquals(want) {
				t.Errorf("got %#v\nwant %#v", got, want)
			}
		})
	}
}

// TestReleaseSyntax runs the same runbook with and without its syntax
// released: the same records, and only the provider blocks a run still
// decodes are kept.
func TestReleaseSyntax(t *testing.T) {
	src := `runbook "r" {}
check "kept" {
  shell {
    command = ["echo", "kept"]
  }
}
check "called" {
  shell {
    command = ["echo", upper("called")]
  }
}
step "runs_kept" {
  check = check.kept
}
step "refers" {
  shell {
    command = ["echo", step.runs_kept.status]
  }
}
step "runs_called" {
  check = check.called
}
`
	reg := Registry{Providers: builtin.Providers}
	runOnce := func(release bool) (*Bound, map[string]string) {
		cfg, diags := LoadSource("r.hcl", []byte(src), reg)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		b, diags := Bind(cfg, reg, Inputs{})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if release {
			b.ReleaseSyntax()
		}
		run, err := Run(context.Background(), b, Options{Mode: ModeExec, Yes: true})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, it := range run.Items {
			got[it.Kind+"."+it.Name] = fmt.Sprintf("%s %s %v", it.Status, it.Action, it.Result["stdout"])
		}
		return b, got
	}
	_, want := runOnce(false)
	b, got := runOnce(true)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %d items, want 3: %v", len(got), got)
	}
	cfg := b.Config
	for _, c := range []struct {
		it   *Item
		kept bool
	}{
		{cfg.Checks["kept"], false},
		{cfg.Checks["called"], true}, // calls a function: decoded at run time
		{cfg.Steps[1], true},         // refers to a result
	} {
		if (c.it.ProviderBody != nil) != c.kept {
			t.Errorf("%s: provider block kept = %v, want %v", c.it.Address(), c.it.ProviderBody != nil, c.kept)
		}
	}
	for name, f := range cfg.Files {
		if f.Body != nil || f.Nav != nil || len(f.Bytes) == 0 {
			t.Errorf("%s: syntax tree kept or bytes lost after release", name)
		}
	}
	if _, err := Plan(b, Options{Mode: ModeExec}); err != nil {
		t.Errorf("plan after release: %v", err)
	}
}

// TestResultTypesShared holds validate's scope to one result type per
// provider type, not one per item: after the first item of a type, the
// next costs no allocation.
func TestResultTypesShared(t *testing.T) {
	reg := Registry{Providers: builtin.Providers}
	cfg, diags := LoadSource("r.hcl", []byte(`runbook "r" {}
check "a" {
  shell {
    command = ["true"]
  }
}
check "b" {
  shell {
    command = ["false"]
  }
}
`), reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	rs := newResultScope(cfg, reg)
	a, _ := rs.valueType(cfg.Checks["a"], true)
	if n := testing.AllocsPerRun(10, func() { rs.valueType(cfg.Checks["b"], true) }); n != 0 {
		t.Errorf("%v allocations for the second item's result type, want 0", n)
	}
	if b, _ := rs.valueType(cfg.Checks["b"], true); !b.Equals(a) {
		t.Errorf("got %#v, want %#v", b, a)
	}
}
