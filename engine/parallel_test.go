package engine

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/checks/builtin"
)

// bigRunbook is a generated runbook large enough for the parallel paths,
// with, unless broken is "", an item broken at that stage (decode, graph,
// bind) every so often, so that diagnostics come from many goroutines.
func bigRunbook(broken string) string {
	var sb strings.Builder
	sb.WriteString("runbook \"big\" {}\nvariable \"host\" {\n  default = \"127.0.0.1\"\n}\n")
	for i := 0; i < 300; i++ {
		switch {
		case broken == "decode" && i%37 == 5:
			fmt.Fprintf(&sb, "check \"c%d\" {\n  http {\n    urll = \"http://${var.host}/%d\"\n  }\n}\n", i, i)
		case broken == "bind" && i%41 == 7:
			fmt.Fprintf(&sb, "check \"c%d\" {\n  timeout = \"soon\"\n  shell {\n    command = [\"true\"]\n  }\n}\n", i)
		case broken == "graph" && i%43 == 9:
			fmt.Fprintf(&sb, "check \"c%d\" {\n  shell {\n    command = [\"echo\", check.nope%d.stdout]\n  }\n}\n", i, i)
		case broken == "decode" && i%47 == 11:
			fmt.Fprintf(&sb, "check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n", i-1)
		default:
			fmt.Fprintf(&sb, "check \"c%d\" {\n  title = \"check ${var.host} %d\"\n  timeout = \"%ds\"\n  http {\n    url = \"http://${var.host}/%d\"\n  }\n  assert {\n    condition = self.status == 200\n    severity  = \"warning\"\n  }\n  retry {\n    attempts = %d\n  }\n}\n", i, i, i%9+1, i, i%3+1)
		}
	}
	for i := 0; i < 100; i++ {
		switch {
		case broken == "bind" && i%29 == 3:
			fmt.Fprintf(&sb, "step \"s%d\" {\n  check = check.c%d\n  on_failure = \"explode\"\n}\n", i, i)
		case broken == "graph" && i%31 == 4:
			fmt.Fprintf(&sb, "step \"s%d\" {\n  shell {\n    command = [\"echo\", step.s%d.status]\n  }\n}\n", i, i+1)
		case i > 0 && i%2 == 0:
			fmt.Fprintf(&sb, "step \"s%d\" {\n  shell {\n    command = [\"echo\", step.s%d.status]\n  }\n}\n", i, i-1)
		default:
			fmt.Fprintf(&sb, "step \"s%d\" {\n  check = check.c%d\n}\n", i, i)
		}
	}
	return sb.String()
}

func loadBind(t *testing.T, src string) (*Bound, string) {
	t.Helper()
	reg := Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := LoadSource("big.hcl", []byte(src), reg)
	var b *Bound
	if !diags.HasErrors() {
		var bdiags hcl.Diagnostics
		b, bdiags = Bind(cfg, reg, Inputs{AllowMissing: true})
		diags = append(diags, bdiags...)
	}
	var sb strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&sb, "%s: %s; %s\n", d.Subject, d.Summary, d.Detail)
	}
	return b, sb.String()
}

// Loading and binding on every core gives what a serial loop gives: the
// same diagnostics in the same order, the same settings for every item.
func TestParallelLoadBindSameAsSerial(t *testing.T) {
	defer func(n int) { parallelMin = n }(parallelMin)
	want := map[string][]string{
		"":       nil,
		"decode": {"Unsupported argument", "Duplicate check"},
		"graph":  {"undeclared check", "Reference to a later step"},
		"bind":   {"Invalid duration", "Invalid on_failure"},
	}
	for broken, summaries := range want {
		src := bigRunbook(broken)
		parallelMin = 1 << 30
		sb, sdiags := loadBind(t, src)
		parallelMin = 1
		pb, pdiags := loadBind(t, src)
		if sdiags != pdiags {
			t.Fatalf("broken=%q: diagnostics differ\nserial:\n%s\nparallel:\n%s", broken, sdiags, pdiags)
		}
		if broken != "" {
			// In this file every item comes after those it could be
			// reported with, so file order is line order.
			last := 0
			for _, line := range strings.Split(strings.TrimSpace(sdiags), "\n") {
				var n int
				fmt.Sscanf(strings.TrimPrefix(line, "big.hcl:"), "%d", &n)
				if n < last {
					t.Fatalf("broken at %s: diagnostics out of file order at %q", broken, line)
				}
				last = n
			}
			for _, w := range summaries {
				if strings.Count(sdiags, w) < 2 {
					t.Errorf("broken at %s: fewer than two %q diagnostics in\n%s", broken, w, sdiags)
				}
			}
			continue
		}
		if sdiags != "" || sb == nil || pb == nil {
			t.Fatalf("valid runbook: %s", sdiags)
		}
		if len(sb.settings) != 400 || len(pb.settings) != len(sb.settings) {
			t.Fatalf("settings for %d and %d items, want 400", len(sb.settings), len(pb.settings))
		}
		for it, s := range sb.settings {
			var p *settings
			for it2, s2 := range pb.settings {
				if it2.Kind == it.Kind && it2.Name == it.Name {
					p = s2
				}
			}
			if p == nil || !reflect.DeepEqual(s, p) {
				t.Fatalf("%s %s: serial %+v, parallel %+v", it.Kind, it.Name, s, p)
			}
		}
	}
}
