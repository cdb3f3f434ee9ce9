package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

// decider answers confirm prompts with a function of the step, and manual
// steps with a fixed answer: a stand-in for the person at the terminal.
type decider struct {
	confirm func(ctx context.Context, it *record.Item) (bool, error)
	answer  *record.Answer
}

func (d *decider) Confirm(ctx context.Context, it *record.Item) (bool, error) {
	return d.confirm(ctx, it)
}

func (d *decider) Answer(context.Context, *record.Item) (*record.Answer, error) {
	if d.answer == nil {
		return nil, os.ErrClosed
	}
	a := *d.answer
	return &a, nil
}

// kinds lists the run's items as kind.name, in record order.
func kinds(r *record.Run) []string {
	var out []string
	for _, it := range r.Items {
		out = append(out, it.Kind+"."+it.Name)
	}
	return out
}

// cleanupRunbook has a procedure whose second step can be made to pass,
// fail (on_failure = "stop"), ask for confirmation or hang, and a cleanup
// that leaves a marker.
func cleanupRunbook(marker, second string) string {
	return `runbook "t" {}
step "first" {
  shell { command = "true" }
}
step "second" {
` + second + `
}
step "third" {
  shell { command = "true" }
}
cleanup "tidy" {
  shell { command = "echo ran > ` + marker + `" }
}
`
}

func TestCleanupRunsHoweverTheProcedureEnds(t *testing.T) {
	tests := []struct {
		name, second string
		opts         func(cancel func()) engine.Options
		wantRun      string
		wantSecond   string
		interrupted  bool
	}{
		{"passed", `shell { command = "true" }`, nil, record.Passed, record.Passed, false},
		{"failed", `shell { command = "false" }`, nil, record.Failed, record.Failed, false},
		{"stopped by on_failure", `shell { command = "false" }
  on_failure = "stop"`, nil, record.Failed, record.Failed, false},
		{"declined", `shell { command = "true" }
  confirm = true`, func(func()) engine.Options {
			return engine.Options{Prompter: &decider{confirm: func(context.Context, *record.Item) (bool, error) { return false, nil }}}
		}, record.Incomplete, record.Declined, false},
		{"interrupted", `shell { command = "sleep 30" }`, func(cancel func()) engine.Options {
			return engine.Options{Observer: &cancelOn{name: "second", cancel: cancel}}
		}, record.Failed, record.Failed, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "cleaned")
			b := bind(t, cleanupRunbook(marker, tc.second), engine.Inputs{})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := engine.Options{}
			if tc.opts != nil {
				opts = tc.opts(cancel)
			}
			opts.Mode = engine.ModeExec
			r, err := engine.Run(ctx, b, opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(marker); err != nil {
				t.Errorf("the cleanup did not run: %v", err)
			}
			want := []string{"step.first", "step.second", "step.third", "cleanup.tidy"}
			if diff := cmp.Diff(want, kinds(r)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			if got := item(t, r, "cleanup", "tidy").Status; got != record.Passed {
				t.Errorf("cleanup %s, want passed", got)
			}
			if got := item(t, r, "step", "second").Status; got != tc.wantSecond {
				t.Errorf("step second %s, want %s", got, tc.wantSecond)
			}
			if r.Status != tc.wantRun || r.Interrupted != tc.interrupted {
				t.Errorf("run %s interrupted=%v, want %s interrupted=%v", r.Status, r.Interrupted, tc.wantRun, tc.interrupted)
			}
		})
	}
}

func TestCleanupWhenSeesStepResults(t *testing.T) {
	src := `runbook "t" {}
variable "disable" {
  default = "true"
}
step "enable" {
  shell { command = "echo ENABLED" }
}
step "disable" {
  shell { command = var.disable }
}
cleanup "switch_off" {
  when = step.enable.status == "passed" && step.disable.status != "passed"
  shell { command = ["echo", "was ${trimspace(step.enable.stdout)}"] }
}
`
	for _, tc := range []struct {
		disable, want string
	}{{"true", record.Skipped}, {"false", record.Passed}} {
		b := bind(t, src, engine.Inputs{Vars: []string{"disable=" + tc.disable}})
		r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec})
		if err != nil {
			t.Fatal(err)
		}
		c := item(t, r, "cleanup", "switch_off")
		if c.Status != tc.want {
			t.Errorf("disable=%s: cleanup %s (%s), want %s", tc.disable, c.Status, c.SkipReason, tc.want)
		}
		if tc.want == record.Passed && c.Result["stdout"] != "was ENABLED\n" {
			t.Errorf("the cleanup read %q", c.Result["stdout"])
		}
	}
}

func TestFailedCleanupFailsTheRun(t *testing.T) {
	r := run(t, `runbook "t" {}
step "s" {
  shell { command = "true" }
}
cleanup "c" {
  shell { command = "exit 4" }
}
`, engine.Options{})
	if r.Status != record.Failed || item(t, r, "cleanup", "c").Status != record.Failed {
		t.Errorf("run %s, cleanup %s; want both failed", r.Status, item(t, r, "cleanup", "c").Status)
	}
}

func TestCleanupSettings(t *testing.T) {
	r := run(t, `runbook "t" {}
step "s" {
  shell { command = "true" }
}
cleanup "slow" {
  timeout = "200ms"
  shell { command = "sleep 30" }
  on_failure = "stop"
}
cleanup "after_slow" {
  shell { command = "true" }
}
`, engine.Options{})
	slow := item(t, r, "cleanup", "slow")
	if slow.Status != record.Failed || slow.Error == nil || !strings.Contains(*slow.Error, "timed out after 200ms") {
		t.Errorf("slow: %s %v, want failed by its timeout", slow.Status, slow.Error)
	}
	after := item(t, r, "cleanup", "after_slow")
	if after.Status != record.Skipped || !strings.Contains(after.SkipReason, "cleanup slow failed") {
		t.Errorf("after_slow: %s (%s), want skipped after slow stopped the cleanup", after.Status, after.SkipReason)
	}
}

func TestAbandonCleanup(t *testing.T) {
	b := bind(t, `runbook "t" {}
step "s" {
  shell { command = "true" }
}
cleanup "long" {
  shell { command = "sleep 30" }
}
cleanup "next" {
  shell { command = "true" }
}
`, engine.Inputs{})
	cctx, abandon := context.WithCancel(context.Background())
	defer abandon()
	r, err := engine.Run(context.Background(), b, engine.Options{
		Mode:       engine.ModeExec,
		CleanupCtx: cctx,
		Observer:   &cancelOn{name: "long", cancel: abandon},
	})
	if err != nil {
		t.Fatal(err)
	}
	long := item(t, r, "cleanup", "long")
	if long.Status != record.Failed || long.Error == nil || !strings.HasPrefix(*long.Error, "cleanup abandoned") {
		t.Errorf("long: %s %v, want failed, abandoned", long.Status, long.Error)
	}
	if next := item(t, r, "cleanup", "next"); next.Status != record.Skipped || next.SkipReason != "cleanup abandoned" {
		t.Errorf("next: %s (%s), want skipped, abandoned", next.Status, next.SkipReason)
	}
}

func TestCleanupsBelongToTheirProcedure(t *testing.T) {
	src := `runbook "t" {}
check "ok" {
  shell { command = "true" }
}
step "top" {
  shell { command = "true" }
}
cleanup "top_cleanup" {
  shell { command = "true" }
}
playbook "p" {
  step "inner" {
    shell { command = "false" }
  }
  step "never" {
    shell { command = "true" }
  }
  cleanup "inner_cleanup" {
    when = step.inner.status == "failed"
    shell { command = "true" }
  }
}
`
	tests := []struct {
		name string
		opts engine.Options
		want []string
	}{
		{"top level", engine.Options{}, []string{"step.top", "cleanup.top_cleanup"}},
		{"playbook", engine.Options{Playbook: "p"}, []string{"step.inner", "step.never", "cleanup.inner_cleanup"}},
		{"check mode", engine.Options{Mode: engine.ModeCheck}, []string{"check.ok"}},
		{"--only", engine.Options{Only: []string{"never"}, Playbook: "p"}, []string{"step.inner", "step.never", "cleanup.inner_cleanup"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, src, tc.opts)
			if diff := cmp.Diff(tc.want, kinds(r)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
		})
	}
	r := run(t, src, engine.Options{Playbook: "p"})
	if got := item(t, r, "cleanup", "inner_cleanup").Status; got != record.Passed {
		t.Errorf("the playbook's cleanup %s after its step failed, want passed", got)
	}
	if _, err := engine.Run(context.Background(), bind(t, src, engine.Inputs{}), engine.Options{Mode: engine.ModeExec, Skip: []string{"top_cleanup"}}); err == nil {
		t.Errorf("--skip accepted a cleanup's name; cleanups always run")
	}
}

func TestResumeRunsCleanupsAgain(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	src := `runbook "t" {}
variable "second" {
  default = "false"
}
step "first" {
  shell { command = "true" }
}
step "second" {
  shell { command = var.second }
}
cleanup "count" {
  shell { command = "echo x >> ` + count + `" }
}
`
	first, err := engine.Run(context.Background(), bind(t, src, engine.Inputs{}), engine.Options{Mode: engine.ModeExec})
	if err != nil {
		t.Fatal(err)
	}
	r, err := engine.Run(context.Background(), bind(t, src, engine.Inputs{Vars: []string{"second=true"}}), engine.Options{Mode: engine.ModeExec, Resume: first})
	if err != nil {
		t.Fatal(err)
	}
	if c := item(t, r, "cleanup", "count"); c.Status != record.Passed || c.CarriedOver {
		t.Errorf("cleanup %s carried_over=%v on resume, want run again", c.Status, c.CarriedOver)
	}
	if data, _ := os.ReadFile(count); string(data) != "x\nx\n" {
		t.Errorf("the cleanup ran %q times, want twice", data)
	}
}

func TestDeclinedConfirmEndsTheProcedure(t *testing.T) {
	src := `runbook "t" {}
step "safe" {
  shell { command = "true" }
  confirm = true
}
step "risky" {
  shell { command = "true" }
  confirm = true
}
step "after" {
  shell { command = "true" }
}
cleanup "c" {
  shell { command = "true" }
}
`
	b := bind(t, src, engine.Inputs{})
	p := &decider{confirm: func(_ context.Context, it *record.Item) (bool, error) { return it.Name != "risky", nil }}
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Prompter: p, Operator: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"step.safe": "passed", "step.risky": "declined", "step.after": "skipped", "cleanup.c": "passed"}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if r.Status != record.Incomplete || r.Summary.Declined != 1 {
		t.Errorf("run %s (declined %d), want incomplete with one declined", r.Status, r.Summary.Declined)
	}
	if got := item(t, r, "step", "after").SkipReason; !strings.Contains(got, "risky") {
		t.Errorf("skip reason %q does not name the declined step", got)
	}
	for name, confirmed := range map[string]bool{"safe": true, "risky": false} {
		d := item(t, r, "step", name).Decision
		if d == nil || d.Confirmed != confirmed || d.Operator != "alice" || d.By != "prompt" || d.At.IsZero() {
			t.Errorf("%s: decision %+v, want confirmed=%v by alice at the prompt", name, d, confirmed)
		}
	}
	if d := item(t, r, "step", "after").Decision; d != nil {
		t.Errorf("after: decision %+v for a step without confirm", d)
	}

	// --resume runs the declined step and those after it again.
	again, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Yes: true, Resume: r, Operator: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"step.safe": "passed", "step.risky": "passed", "step.after": "passed", "cleanup.c": "passed"}
	if diff := cmp.Diff(want, statuses(again)); diff != "" {
		t.Errorf("resumed statuses (-want +got):\n%s", diff)
	}
	if !item(t, again, "step", "safe").CarriedOver {
		t.Errorf("the confirmed step was not carried over")
	}
	if d := item(t, again, "step", "risky").Decision; d == nil || !d.Confirmed || d.By != "--yes" || d.Operator != "bob" {
		t.Errorf("risky on resume: decision %+v, want confirmed by --yes as bob", d)
	}
}

// TestInterruptAtConfirmPrompt: Ctrl-C while the prompt waits interrupts
// the run; it is neither a failure of the step nor a refusal.
func TestInterruptAtConfirmPrompt(t *testing.T) {
	b := bind(t, `runbook "t" {}
step "risky" {
  shell { command = "true" }
  confirm = true
}
step "after" {
  shell { command = "true" }
}
`, engine.Inputs{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &decider{confirm: func(ctx context.Context, _ *record.Item) (bool, error) {
		cancel() // the operator presses Ctrl-C
		<-ctx.Done()
		return false, ctx.Err()
	}}
	r, err := engine.Run(ctx, b, engine.Options{Mode: engine.ModeExec, Prompter: p})
	if err != nil {
		t.Fatal(err)
	}
	risky := item(t, r, "step", "risky")
	if risky.Status != record.Skipped || risky.SkipReason != "interrupted" || risky.Decision != nil {
		t.Errorf("risky: %s (%s) decision %+v, want skipped, interrupted, no decision", risky.Status, risky.SkipReason, risky.Decision)
	}
	if !r.Interrupted || r.Status == record.Failed {
		t.Errorf("run %s interrupted=%v, want interrupted and not failed", r.Status, r.Interrupted)
	}
}

func TestRequiredManualStep(t *testing.T) {
	src := `runbook "t" {}
step "review" {
  manual { instructions = "Review the findings." }
  required = true
}
step "optional" {
  manual { instructions = "Nice to have." }
}
`
	b := bind(t, src, engine.Inputs{})
	if !b.Required(b.Config.Steps[0]) || b.Required(b.Config.Steps[1]) {
		t.Errorf("Required: review %v, optional %v", b.Required(b.Config.Steps[0]), b.Required(b.Config.Steps[1]))
	}
	skip := map[string]record.Answer{"review": {Status: record.Skipped}}
	if _, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Answers: skip}); err == nil || !strings.Contains(err.Error(), "required") {
		t.Errorf("answers skipping a required step: err %v, want a refusal before running", err)
	}
	// A prompt answered "skipped" cannot skip it either: it stays pending.
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Prompter: &decider{answer: &record.Answer{Status: record.Skipped}}})
	if err != nil {
		t.Fatal(err)
	}
	review, optional := item(t, r, "step", "review"), item(t, r, "step", "optional")
	if review.Status != record.Pending || !review.Required || optional.Status != record.Skipped || optional.Required {
		t.Errorf("review %s required=%v, optional %s required=%v; want pending/true, skipped/false", review.Status, review.Required, optional.Status, optional.Required)
	}
	r, _ = engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Answers: map[string]record.Answer{"review": {Status: record.Passed}, "optional": {Status: record.Skipped}}})
	if r.Status != record.Passed {
		t.Errorf("answered: run %s, want passed", r.Status)
	}
}

func TestReportsBelongToTheirProcedure(t *testing.T) {
	b := bind(t, `runbook "t" {}
step "s" {
  shell { command = "true" }
}
report "top" {
  template = "tabletop"
}
playbook "p" {
  step "inner" {
    shell { command = "true" }
  }
  report "inner_report" {
    template = "tabletop"
    data     = { result = step.inner.status }
  }
}
`, engine.Inputs{})
	names := func(run *record.Run) []string {
		specs, diags := b.Reports(run)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		var out []string
		for _, s := range specs {
			out = append(out, s.Name)
		}
		return out
	}
	pb := "p"
	top, _ := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec})
	inner, _ := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Playbook: pb})
	checkRun, _ := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	for _, tc := range []struct {
		name string
		run  *record.Run
		want []string
	}{
		{"top level", top, []string{"top"}},
		{"playbook", inner, []string{"inner_report"}},
		{"check", checkRun, nil},
		{"validate", nil, []string{"top", "inner_report"}},
	} {
		if diff := cmp.Diff(tc.want, names(tc.run)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	specs, _ := b.Reports(inner)
	if got := specs[0].Data["result"]; got != "passed" {
		t.Errorf("the playbook's report read step.inner.status as %v", got)
	}
}

func TestPlanShowsCleanups(t *testing.T) {
	b := bind(t, `runbook "t" {}
step "s" {
  shell { command = "true" }
}
cleanup "c" {
  when = step.s.status == "passed"
  shell { command = "true" }
}
`, engine.Inputs{})
	items, err := engine.Plan(b, engine.Options{Mode: engine.ModeExec})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || items[1].Kind != "cleanup" || items[1].Name != "c" || items[1].When == "" || items[1].Timeout != "1m0s" {
		t.Errorf("plan: %+v", items)
	}
}

// TestCleanupRunsTheChecksItNeeds: a check only a cleanup uses runs in the
// cleanup phase, after the steps and despite the interruption, and again
// on resume.
func TestCleanupRunsTheChecksItNeeds(t *testing.T) {
	dir := t.TempDir()
	flag := filepath.Join(dir, "flag")
	src := `runbook "t" {}
check "flag" {
  file { path = "` + flag + `" }
}
step "on" {
  shell { command = "touch ` + flag + `" }
}
step "hang" {
  shell { command = "sleep 30" }
}
cleanup "off" {
  when = check.flag.exists
  shell { command = "rm ` + flag + `" }
}
`
	b := bind(t, src, engine.Inputs{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := engine.Run(ctx, b, engine.Options{Mode: engine.ModeExec, Observer: &cancelOn{name: "hang", cancel: cancel}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"step.on", "step.hang", "check.flag", "cleanup.off"}
	if diff := cmp.Diff(want, kinds(r)); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	if c := item(t, r, "cleanup", "off"); c.Status != record.Passed {
		t.Errorf("cleanup %s (%s), want passed", c.Status, c.SkipReason)
	}
	if _, err := os.Stat(flag); err == nil {
		t.Errorf("the flag is still there")
	}
	// On resume the check observes the system again: no flag, nothing to
	// clean up.
	again, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Resume: r, Skip: []string{"hang", "on"}})
	if err != nil {
		t.Fatal(err)
	}
	if c := item(t, again, "check", "flag"); c.CarriedOver || c.Result["exists"] != false {
		t.Errorf("check on resume: carried_over=%v result %v, want observed again", c.CarriedOver, c.Result)
	}
	if c := item(t, again, "cleanup", "off"); c.Status != record.Skipped {
		t.Errorf("cleanup on resume %s, want skipped (no flag)", c.Status)
	}
}
