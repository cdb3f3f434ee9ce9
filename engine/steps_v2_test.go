package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

const threeChecks = `runbook "t" {}
check "a" {
  shell {
    command = "echo alive"
  }
}
check "b" {
  shell {
    command = "echo 95"
  }
  assert {
    condition     = tonumber(trimspace(self.stdout)) < %LIMIT%
    error_message = "disk ${trimspace(self.stdout)}% full"
    severity      = "warning"
  }
}
check "c" {
  shell {
    command = "echo %C%; exit %C%"
  }
}
`

func TestStepMadeOfChecks(t *testing.T) {
	tests := []struct {
		name, limit, c, want string
		nested               []string
	}{
		{"all pass", "99", "0", record.Passed, []string{"passed", "passed", "passed"}},
		{"a warning", "90", "0", record.Warning, []string{"passed", "warning", "passed"}},
		{"the worst wins", "90", "3", record.Failed, []string{"passed", "warning", "failed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.NewReplacer("%LIMIT%", tc.limit, "%C%", tc.c).Replace(threeChecks) + `
step "sanity" {
  checks = [check.a, check.b, check.c]
  assert {
    condition     = check.a.stdout == "alive\n"
    error_message = "a said ${check.a.stdout}"
  }
}
step "later" {
  shell {
    command = "echo ${trimspace(check.a.stdout)} ${check.c.exit_code}"
  }
}
`
			r := run(t, src, engine.Options{})
			var rows []string
			for _, it := range r.Items {
				rows = append(rows, it.Kind+"."+it.Name)
			}
			if diff := cmp.Diff([]string{"step.sanity", "step.later"}, rows); diff != "" {
				t.Fatalf("rows (-want +got):\n%s", diff)
			}
			s := item(t, r, "step", "sanity")
			var nested []string
			for _, c := range s.Checks {
				nested = append(nested, c.Status)
			}
			if s.Status != tc.want || !cmp.Equal(nested, tc.nested) || len(s.Asserts) != 1 || !s.Asserts[0].Passed {
				t.Errorf("sanity %s with checks %v and asserts %+v; want %s with %v", s.Status, nested, s.Asserts, tc.want, tc.nested)
			}
			if s.Checks[1].Name != "b" || s.Checks[1].Result["stdout"] != "95\n" {
				t.Errorf("nested check b: %+v", s.Checks[1])
			}
			// A later step sees the results the step got: the checks ran once.
			if got := item(t, r, "step", "later").Result["stdout"]; got != "alive "+tc.c+"\n" {
				t.Errorf("later step saw %q", got)
			}
		})
	}
}

func TestStepMadeOfChecksThatDoesNotRunRunsNoneOfThem(t *testing.T) {
	touched := filepath.Join(t.TempDir(), "ran")
	src := `runbook "t" {}
check "a" {
  shell {
    command = "touch ` + touched + `"
  }
}
step "first" {
  shell {
    command = "false"
  }
  on_failure = "stop"
}
step "sanity" {
  checks = [check.a]
}
`
	r := run(t, src, engine.Options{})
	s := item(t, r, "step", "sanity")
	if s.Status != record.Skipped || len(s.Checks) != 1 || s.Checks[0].Status != record.Skipped {
		t.Errorf("sanity %s, checks %+v; want skipped with its check skipped", s.Status, s.Checks)
	}
	if _, err := os.Stat(touched); err == nil {
		t.Errorf("the check of a step that did not run ran")
	}
}

func TestCheckDependingOnACheckAnEarlierStepRanDoesNotRunItAgain(t *testing.T) {
	count := filepath.Join(t.TempDir(), "count")
	src := `runbook "t" {}
check "a" {
  shell {
    command = "echo ran >> ` + count + `; echo A"
  }
}
check "b" {
  depends_on = [check.a]
  shell {
    command = "echo B"
  }
}
step "one" {
  %ONE%
}
step "two" {
  checks = [check.b]
}
`
	for _, tt := range []struct {
		name, one string
		opts      engine.Options
	}{
		{"all", "checks = [check.a]", engine.Options{}},
		{"--only the later step", "checks = [check.a]", engine.Options{Only: []string{"step.two"}}},
		{"run by check =", "check = check.a", engine.Options{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_ = os.Remove(count)
			r := run(t, strings.Replace(src, "%ONE%", tt.one, 1), tt.opts)
			var rows []string
			for _, it := range r.Items {
				rows = append(rows, it.Kind+"."+it.Name+" "+it.Status)
			}
			if diff := cmp.Diff([]string{"step.one passed", "step.two passed"}, rows); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if data, _ := os.ReadFile(count); string(data) != "ran\n" {
				t.Errorf("check.a ran %d times, want once", strings.Count(string(data), "ran"))
			}
		})
	}
}

// interrupter is a provider whose observation succeeds and, as it ends,
// interrupts the run (as a Ctrl-C would).
type interrupter struct{ cancel func() }

func (p interrupter) Schema() hcldec.Spec { return &hcldec.ObjectSpec{} }
func (p interrupter) Run(context.Context, cty.Value) (cty.Value, error) {
	p.cancel()
	return cty.EmptyObjectVal, nil
}

func TestStepMadeOfChecksInterruptedBeforeItsLastCheckIsNotPassed(t *testing.T) {
	src := `runbook "t" {}
check "first" {
  interrupt {}
}
check "second" {
  shell {
    command = "true"
  }
}
step "sanity" {
  checks = [check.first, check.second]
}
`
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reg := testRegistry()
	providers := map[string]checks.Factory{"interrupt": func() checks.Provider { return interrupter{cancel} }}
	for k, v := range reg.Providers {
		providers[k] = v
	}
	reg.Providers = providers
	cfg, diags := engine.LoadSource("runbook.hcl", []byte(src), reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r, err := engine.Run(ctx, b, engine.Options{Mode: engine.ModeExec})
	if err != nil {
		t.Fatal(err)
	}
	s := item(t, r, "step", "sanity")
	if len(s.Checks) != 2 || s.Checks[1].Status != record.Skipped || s.Checks[1].SkipReason != record.SkipInterrupted {
		t.Fatalf("checks %+v; want the second skipped, interrupted", s.Checks)
	}
	if s.Status != record.Skipped || s.SkipReason != record.SkipInterrupted || r.Status != record.Incomplete {
		t.Errorf("sanity %s (%q), run %s; want the step skipped, interrupted, and the run incomplete", s.Status, s.SkipReason, r.Status)
	}
}

func TestInformationalStepsNeverGateTheRun(t *testing.T) {
	src := `runbook "t" {}
playbook "p" {
  step "biggest" {
    informational = true
    shell {
      command = "echo 'big table 9 GB'; exit 1"
    }
  }
  step "after" {
    shell {
      command = "true"
    }
  }
}
`
	r := run(t, src, engine.Options{Playbook: "p"})
	b := item(t, r, "step", "biggest")
	if b.Status != record.Failed || !b.Informational || b.Result["stdout"] != "big table 9 GB\n" {
		t.Errorf("biggest: %s informational=%t result %v; want failed, informational, with its output", b.Status, b.Informational, b.Result)
	}
	if st := item(t, r, "step", "after").Status; st != record.Passed {
		t.Errorf("the step after an informational failure is %s; want passed (the playbook goes on)", st)
	}
	want := record.Summary{Passed: 1, Informational: 1}
	if r.Status != record.Passed || r.Summary != want {
		t.Errorf("run %s %+v; want passed %+v", r.Status, r.Summary, want)
	}
}

func TestRetryUntil(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	src := `runbook "t" {}
check "usage" {
  shell {
    command = "n=$(cat ` + counter + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + counter + `; echo $((100 - n * 10))"
  }
  retry {
    until    = tonumber(trimspace(self.stdout)) <= 70
    attempts = %N%
    interval = "10ms"
  }
}
`
	for _, tc := range []struct {
		attempts, wantAttempts string
		want, stdout           string
	}{
		{"5", "3", record.Passed, "70\n"},
		{"2", "2", record.Failed, "80\n"},
	} {
		os.Remove(counter)
		r := run(t, strings.Replace(src, "%N%", tc.attempts, 1), engine.Options{Mode: engine.ModeCheck})
		it := item(t, r, "check", "usage")
		if it.Status != tc.want || it.Result["stdout"] != tc.stdout || it.Attempts != atoi(tc.wantAttempts) {
			t.Errorf("attempts=%s: %s after %d attempts with %q; want %s after %s with %q", tc.attempts, it.Status, it.Attempts, it.Result["stdout"], tc.want, tc.wantAttempts, tc.stdout)
		}
		if tc.want == record.Failed {
			last := it.Asserts[len(it.Asserts)-1]
			if last.Passed || !strings.Contains(last.Message, "still false after 2 attempts") {
				t.Errorf("the until assert is %+v; want it failed, saying so", last)
			}
		}
	}
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

func TestOptionalAttributesTakeTheirDefaults(t *testing.T) {
	src := `runbook "t" {}
variable "thresholds" {
  type = object({
    disk_percent  = optional(number, 90)
    inode_percent = optional(number, 80)
    name          = string
  })
  default = { name = "default" }
}
check "show" {
  shell {
    command = "echo ${var.thresholds.name} ${var.thresholds.disk_percent} ${var.thresholds.inode_percent}"
  }
}
`
	for _, tc := range []struct {
		vars []string
		want string
	}{
		{nil, "default 90 80\n"},
		{[]string{`thresholds={ name = "given", inode_percent = 50 }`}, "given 90 50\n"},
	} {
		b := bind(t, src, engine.Inputs{Vars: tc.vars})
		r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
		if err != nil {
			t.Fatal(err)
		}
		if got := item(t, r, "check", "show").Result["stdout"]; got != tc.want {
			t.Errorf("vars %v: %q, want %q", tc.vars, got, tc.want)
		}
	}
}

func TestPlanShowsTheChecksOfAStep(t *testing.T) {
	src := strings.NewReplacer("%LIMIT%", "99", "%C%", "0").Replace(threeChecks) + `
step "sanity" {
  checks = [check.a, check.c]
}
`
	plan, err := engine.Plan(bind(t, src, engine.Inputs{}), engine.Options{Mode: engine.ModeExec})
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 1 || plan[0].Provider != "checks" || plan[0].Action != "check.a, check.c" {
		t.Errorf("plan %+v; want one step running check.a, check.c", plan)
	}
}

func TestResumeCarriesAStepMadeOfChecksOver(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "ok")
	src := strings.NewReplacer("%LIMIT%", "99", "%C%", "0").Replace(threeChecks) + `
step "sanity" {
  checks = [check.a, check.c]
}
step "after" {
  shell {
    command = "test -f ` + flag + ` && echo ${trimspace(check.a.stdout)}"
  }
}
`
	b := bind(t, src, engine.Inputs{})
	first, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec})
	if err != nil {
		t.Fatal(err)
	}
	if st := statuses(first); st["step.sanity"] != record.Passed || st["step.after"] != record.Failed {
		t.Fatalf("first run: %v", st)
	}
	os.WriteFile(flag, nil, 0o644)
	second, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Resume: first})
	if err != nil {
		t.Fatal(err)
	}
	s := item(t, second, "step", "sanity")
	after := item(t, second, "step", "after")
	if !s.CarriedOver || len(s.Checks) != 2 || after.Status != record.Passed || after.Result["stdout"] != "alive\n" {
		t.Errorf("resumed: sanity carried=%t checks=%d, after %s %v", s.CarriedOver, len(s.Checks), after.Status, after.Result["stdout"])
	}
}

func TestOnlyBringsTheStepThatRanACheck(t *testing.T) {
	src := strings.NewReplacer("%LIMIT%", "99", "%C%", "0").Replace(threeChecks) + `
step "sanity" {
  checks = [check.a]
}
step "unrelated" {
  shell {
    command = "true"
  }
}
step "after" {
  shell {
    command = "echo ${trimspace(check.a.stdout)}"
  }
}
`
	r := run(t, src, engine.Options{Only: []string{"after"}})
	want := map[string]string{"step.sanity": "passed", "step.unrelated": "skipped", "step.after": "passed"}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}
