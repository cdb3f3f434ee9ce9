package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

// bind writes src as a runbook in a temp dir and loads and binds it.
func bind(t *testing.T, src string, in engine.Inputs) *engine.Bound {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "runbook.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry()
	cfg, diags := engine.Load(path, reg)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, in)
	if diags.HasErrors() {
		t.Fatalf("bind: %s", diags.Error())
	}
	return b
}

// run loads, binds and runs src.
func run(t *testing.T, src string, opts engine.Options) *record.Run {
	t.Helper()
	b := bind(t, src, engine.Inputs{})
	if opts.Mode == "" {
		opts.Mode = engine.ModeExec
	}
	r, err := engine.Run(context.Background(), b, opts)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return r
}

func statuses(r *record.Run) map[string]string {
	out := map[string]string{}
	for _, it := range r.Items {
		out[it.Kind+"."+it.Name] = it.Status
	}
	return out
}

func item(t *testing.T, r *record.Run, kind, name string) *record.Item {
	t.Helper()
	it := r.Item(kind, name)
	if it == nil {
		t.Fatalf("no %s.%s in run", kind, name)
	}
	return it
}

func TestItemStatuses(t *testing.T) {
	tests := []struct {
		name, body, want, message string
	}{
		{"assert passes", `shell { command = "echo ok" }
			assert { condition = self.stdout == "ok\n" }`, record.Passed, ""},
		{"critical assert fails", `shell { command = "echo ok" }
			assert {
				condition = self.stdout == "nope"
				error_message = "got ${trimspace(self.stdout)}"
			}`, record.Failed, "got ok"},
		{"warning assert fails", `shell { command = "echo ok" }
			assert {
				condition = self.exit_code == 0
			}
			assert {
				condition = length(self.stdout) > 100
				error_message = "short"
				severity = "warning"
			}`, record.Warning, "short"},
		{"default assert on exit code", `shell { command = "exit 3" }`, record.Failed, "3"},
		{"default assert passes", `shell { command = ["true"] }`, record.Passed, ""},
		{"assert that cannot be evaluated fails", `shell { command = "true" }
			assert { condition = jsondecode(self.stdout).no_such_attribute == 1 }`, record.Failed, "could not be evaluated"},
		{"message without error_message names the condition", `shell { command = "true" }
			assert { condition = self.exit_code == 1 }`, record.Failed, "self.exit_code == 1"},
		{"provider that cannot run fails", `shell { command = ["/no/such/binary"] }`, record.Failed, "/no/such/binary"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, "runbook \"t\" {}\ncheck \"c\" {\n"+tc.body+"\n}\n", engine.Options{Mode: engine.ModeCheck})
			it := item(t, r, "check", "c")
			if it.Status != tc.want {
				t.Fatalf("status: got %s want %s (item %+v)", it.Status, tc.want, it)
			}
			if r.Status != tc.want {
				t.Errorf("run status: got %s want %s", r.Status, tc.want)
			}
			var msgs []string
			for _, a := range it.Asserts {
				msgs = append(msgs, a.Message)
			}
			if it.Error != nil {
				msgs = append(msgs, *it.Error)
			}
			if tc.message != "" && !strings.Contains(strings.Join(msgs, "|"), tc.message) {
				t.Errorf("messages %q do not mention %q", msgs, tc.message)
			}
		})
	}
}

func TestRetryUntilPass(t *testing.T) {
	counter := filepath.Join(t.TempDir(), "n")
	src := `runbook "t" {}
check "flaky" {
  shell {
    command = "n=$(cat ` + counter + ` 2>/dev/null || echo 0); n=$((n+1)); echo $n > ` + counter + `; test $n -ge 3"
  }
  retry {
    attempts = %d
    interval = "10ms"
  }
}
`
	for _, tc := range []struct {
		attempts int
		want     string
	}{{2, record.Failed}, {5, record.Passed}} {
		os.Remove(counter)
		r := run(t, strings.Replace(src, "%d", strconv.Itoa(tc.attempts), 1), engine.Options{Mode: engine.ModeCheck})
		it := item(t, r, "check", "flaky")
		wantAttempts := tc.attempts
		if tc.want == record.Passed {
			wantAttempts = 3
		}
		if it.Status != tc.want || it.Attempts != wantAttempts {
			t.Errorf("attempts=%d: got %s after %d attempts, want %s after %d", tc.attempts, it.Status, it.Attempts, tc.want, wantAttempts)
		}
	}
}

func TestTimeoutFailsTheItem(t *testing.T) {
	start := time.Now()
	r := run(t, `runbook "t" {}
check "slow" {
  timeout = "300ms"
  shell { command = "sleep 30" }
}
`, engine.Options{Mode: engine.ModeCheck})
	it := item(t, r, "check", "slow")
	if it.Status != record.Failed || it.Error == nil || !strings.Contains(*it.Error, "timed out after 300ms") {
		t.Fatalf("got %s %v, want failed with a timeout error", it.Status, it.Error)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("a 300ms timeout took %s", el)
	}
}

func TestStepsInOrderWithWhenAndResults(t *testing.T) {
	r := run(t, `runbook "t" {}
step "capture" {
  shell { command = "echo captured-value" }
}
step "use" {
  shell { command = ["echo", "got ${trimspace(step.capture.stdout)}"] }
  assert { condition = self.stdout == "got captured-value\n" }
}
step "health" {
  shell { command = "exit 1" }
}
step "rollback" {
  when = step.health.status != "passed"
  shell { command = "echo rolling back" }
}
step "celebrate" {
  when = step.health.status == "passed"
  shell { command = "echo yay" }
}
`, engine.Options{})
	want := map[string]string{
		"step.capture": "passed", "step.use": "passed", "step.health": "failed",
		"step.rollback": "passed", "step.celebrate": "skipped",
	}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	var order []string
	for _, it := range r.Items {
		order = append(order, it.Name)
	}
	if diff := cmp.Diff([]string{"capture", "use", "health", "rollback", "celebrate"}, order); diff != "" {
		t.Errorf("record order (-want +got):\n%s", diff)
	}
	for i := 1; i < 4; i++ {
		prev, cur := r.Items[i-1], r.Items[i]
		if cur.StartedAt != nil && prev.StartedAt != nil && cur.StartedAt.Before(*prev.StartedAt) {
			t.Errorf("step %s started before step %s", cur.Name, prev.Name)
		}
	}
	if got := item(t, r, "step", "celebrate").SkipReason; got != "when condition is false" {
		t.Errorf("skip reason %q", got)
	}
}

func TestOnFailureStop(t *testing.T) {
	src := `runbook "t" {}
step "a" {
  shell { command = "exit 1" }
  on_failure = "%s"
}
step "b" {
  shell { command = "true" }
}
`
	r := run(t, strings.Replace(src, "%s", "stop", 1), engine.Options{})
	b := item(t, r, "step", "b")
	if b.Status != record.Skipped || !strings.Contains(b.SkipReason, "step a failed") {
		t.Errorf("stop: b is %s (%s), want skipped because a failed", b.Status, b.SkipReason)
	}
	r = run(t, strings.Replace(src, "%s", "continue", 1), engine.Options{})
	if got := item(t, r, "step", "b").Status; got != record.Passed {
		t.Errorf("continue: b is %s, want passed", got)
	}
}

func TestPlaybookStopsByDefault(t *testing.T) {
	r := run(t, `runbook "t" {}
step "top" {
  shell { command = "true" }
}
playbook "incident" {
  title = "Incident"
  step "triage" {
    shell { command = "exit 2" }
  }
  step "fix" {
    shell { command = "true" }
  }
}
`, engine.Options{Playbook: "incident"})
	want := map[string]string{"step.triage": "failed", "step.fix": "skipped"}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if r.Playbook == nil || *r.Playbook != "incident" || r.Title != "Incident" {
		t.Errorf("playbook %v title %q", r.Playbook, r.Title)
	}
}

func TestUnknownPlaybookIsAnError(t *testing.T) {
	b := bind(t, "runbook \"t\" {}\nplaybook \"incident\" {\n step \"a\" {\n shell { command = \"true\" }\n }\n}\n", engine.Inputs{})
	_, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Playbook: "incidnet"})
	if err == nil || !strings.Contains(err.Error(), `Did you mean "incident"?`) {
		t.Fatalf("got %v, want an error with a suggestion", err)
	}
}

func TestOnlyBringsDependencies(t *testing.T) {
	src := `runbook "t" {}
check "db" {
  shell { command = "echo db" }
}
check "api" {
  shell { command = "echo ${check.db.stdout}" }
}
check "other" {
  shell { command = "true" }
}
`
	r := run(t, src, engine.Options{Mode: engine.ModeCheck, Only: []string{"api"}})
	want := map[string]string{"check.db": "passed", "check.api": "passed", "check.other": "skipped"}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("--only (-want +got):\n%s", diff)
	}
	r = run(t, src, engine.Options{Mode: engine.ModeCheck, Skip: []string{"check.other"}})
	if got := item(t, r, "check", "other").SkipReason; got != "skipped by --skip" {
		t.Errorf("--skip reason %q", got)
	}
}

func TestUpstreamCheckFailureSkips(t *testing.T) {
	r := run(t, `runbook "t" {}
check "db" {
  shell { command = "exit 1" }
}
check "api" {
  depends_on = [check.db]
  shell { command = "true" }
}
`, engine.Options{Mode: engine.ModeCheck})
	api := item(t, r, "check", "api")
	if api.Status != record.Skipped || api.SkipReason != "upstream check.db failed" {
		t.Errorf("api: %s (%s), want skipped: upstream check.db failed", api.Status, api.SkipReason)
	}
}

func TestResumeRunsOnlyWhatDidNotPass(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "gate")
	count := filepath.Join(dir, "count")
	src := `runbook "t" {}
step "first" {
  shell { command = "echo x >> ` + count + `" }
}
step "gated" {
  shell { command = "test -f ` + gate + `" }
}
step "page" {
  manual { instructions = "page someone" }
}
`
	r1 := run(t, src, engine.Options{})
	if r1.Status != record.Failed {
		t.Fatalf("first run: %s", r1.Status)
	}
	os.WriteFile(gate, nil, 0o644)
	r2 := run(t, src, engine.Options{Resume: r1, Answers: map[string]record.Answer{"page": {Status: "passed", Note: "paged bob"}}})
	if r2.Status != record.Passed || r2.ResumedFrom != r1.ID {
		t.Fatalf("resumed run: %s from %q", r2.Status, r2.ResumedFrom)
	}
	first := item(t, r2, "step", "first")
	if !first.CarriedOver {
		t.Errorf("first was not carried over")
	}
	if data, _ := os.ReadFile(count); strings.Count(string(data), "x") != 1 {
		t.Errorf("the passed step ran again: %q", data)
	}
	if item(t, r2, "step", "gated").CarriedOver {
		t.Errorf("the failed step was carried over")
	}
}

func TestSensitiveValuesAreRedacted(t *testing.T) {
	const canary = "s3cr3t-CANARY-value"
	b := bind(t, `runbook "t" {}
variable "token" {
  type      = string
  sensitive = true
}
check "leaky" {
  shell { command = "echo token=${var.token}; echo err ${var.token} >&2; exit 1" }
  assert {
    condition     = self.exit_code == 0
    error_message = "failed with ${var.token}"
  }
}
`, engine.Inputs{Vars: []string{"token=" + canary}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	if strings.Contains(string(data), canary) {
		t.Fatalf("the record contains the secret:\n%s", data)
	}
	if !strings.Contains(string(data), "token=(sensitive)") || r.Variables["token"] != "(sensitive)" {
		t.Errorf("redaction markers missing:\n%s", data)
	}
	items, err := engine.Plan(b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := json.Marshal(items)
	if strings.Contains(string(pd), canary) {
		t.Errorf("the plan contains the secret:\n%s", pd)
	}
}

func TestInterruptWritesPartialRecord(t *testing.T) {
	b := bind(t, `runbook "t" {}
step "quick" {
  shell { command = "true" }
}
step "long" {
  shell { command = "sleep 30" }
}
step "never" {
  shell { command = "true" }
}
`, engine.Inputs{})
	ctx, cancel := context.WithCancel(context.Background())
	obs := &cancelOn{name: "long", cancel: cancel}
	start := time.Now()
	r, err := engine.Run(ctx, b, engine.Options{Mode: engine.ModeExec, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("interrupt took %s", time.Since(start))
	}
	if !r.Interrupted {
		t.Errorf("run not marked interrupted")
	}
	want := map[string]string{"step.quick": "passed", "step.long": "failed", "step.never": "skipped"}
	if diff := cmp.Diff(want, statuses(r)); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

// cancelOn cancels the run when the named item starts.
type cancelOn struct {
	name   string
	cancel func()
}

func (c *cancelOn) Started(it record.Item) {
	if it.Name == c.name {
		go func() { time.Sleep(100 * time.Millisecond); c.cancel() }()
	}
}
func (c *cancelOn) Finished(record.Item) {}

func TestConfirmNeedsYesWithoutTerminal(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "mutated")
	src := `runbook "t" {}
step "stop" {
  shell { command = "touch ` + marker + `" }
  confirm = true
}
`
	r := run(t, src, engine.Options{})
	it := item(t, r, "step", "stop")
	if it.Status != record.Failed || it.Error == nil || !strings.Contains(*it.Error, "--yes") {
		t.Fatalf("got %s %v, want failed asking for --yes", it.Status, it.Error)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("the unconfirmed step ran")
	}
	r = run(t, src, engine.Options{Yes: true})
	if got := item(t, r, "step", "stop").Status; got != record.Passed {
		t.Errorf("with --yes: %s", got)
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("the confirmed step did not run")
	}
}

func TestManualSteps(t *testing.T) {
	src := `runbook "t" {}
step "page" {
  title = "Page the on-call"
  manual { instructions = "Use the pager." }
}
step "after" {
  when = step.page.status == "passed"
  shell { command = "echo ${step.page.note}" }
}
`
	r := run(t, src, engine.Options{})
	if r.Status != record.Incomplete || item(t, r, "step", "page").Status != record.Pending {
		t.Fatalf("unanswered: run %s, page %s; want incomplete and pending", r.Status, item(t, r, "step", "page").Status)
	}
	r = run(t, src, engine.Options{Operator: "alice", Answers: map[string]record.Answer{"page": {Status: "passed", Note: "bob acked"}}})
	page := item(t, r, "step", "page")
	if page.Status != record.Passed || page.Answer == nil || page.Answer.Operator != "alice" || page.Answer.Note != "bob acked" {
		t.Fatalf("answered: %+v", page)
	}
	if got := item(t, r, "step", "after").Result["stdout"]; got != "bob acked\n" {
		t.Errorf("a later step read the note as %q", got)
	}
}

func TestVariablePrecedence(t *testing.T) {
	src := `runbook "t" {}
variable "a" {
  default = "default"
}
variable "b" {
  default = "default"
}
variable "c" {
  default = "default"
}
variable "d" {
  default = "default"
}
variable "n" {
  type    = number
  default = 1
}
`
	varFile := filepath.Join(t.TempDir(), "vars.hcl")
	os.WriteFile(varFile, []byte("c = \"file\"\nd = \"file\"\n"), 0o644)
	b := bind(t, src, engine.Inputs{
		Environ:  []string{"RUNBOOK_VAR_b=env", "RUNBOOK_VAR_c=env", "RUNBOOK_VAR_d=env", "RUNBOOK_VAR_n=42"},
		VarFiles: []string{varFile},
		Vars:     []string{"d=flag"},
	})
	got := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d"} {
		got[n] = b.Values[n].AsString()
	}
	want := map[string]string{"a": "default", "b": "env", "c": "file", "d": "flag"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("precedence (-want +got):\n%s", diff)
	}
	if n, _ := b.Values["n"].AsBigFloat().Int64(); n != 42 {
		t.Errorf("number from the environment: got %d want 42", n)
	}
}

func TestFunctionsAndScopes(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "greeting.txt"), []byte("hello"), 0o644)
	os.WriteFile(filepath.Join(dir, "msg.tmpl"), []byte("${greeting}, ${upper(name)}"), 0o644)
	path := filepath.Join(dir, "runbook.hcl")
	os.WriteFile(path, []byte(`runbook "t" {}
locals {
  greeting = file("greeting.txt")
  message  = templatefile("msg.tmpl", { greeting = local.greeting, name = "ops" })
}
check "c" {
  shell { command = ["echo", local.message, env.RB_TEST_ENV, path.module] }
  assert { condition = self.stdout == "hello, OPS from-env ${path.module}\n" }
  assert { condition = startswith("abc", "a") && endswith("abc", "c") && strcontains("abc", "b") }
  assert { condition = try(jsondecode("{\"a\":1}").a, 0) == 1 && can(regex("^a", "abc")) }
}
`), 0o644)
	reg := testRegistry()
	cfg, diags := engine.Load(path, reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{Environ: []string{"RB_TEST_ENV=from-env"}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	r, _ := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	c := item(t, r, "check", "c")
	if c.Status != record.Passed {
		t.Errorf("got %s: %+v", c.Status, c.Asserts)
	}
}

func TestDirectoryRunbookAndJSON(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("runbook \"multi\" {\n  title = \"Multi\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "checks.hcl.json"), []byte(`{"check": {"j": {"shell": {"command": ["true"]}}}}`), 0o644)
	reg := testRegistry()
	cfg, diags := engine.Load(dir, reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if _, ok := cfg.Checks["j"]; !ok || len(cfg.Sources) != 2 {
		t.Fatalf("checks %v from %v", cfg.CheckOrder, cfg.Sources)
	}
}

// TestBodiesWithFunctionsAreEvaluatedEachRun binds once and runs twice, as
// watch does: a provider body that calls a function (file) must see the
// file's new content on the second run, while a plain body may be reused.
func TestBodiesWithFunctionsAreEvaluatedEachRun(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg.txt")
	os.WriteFile(msg, []byte("first"), 0o644)
	b := bind(t, `runbook "t" {}
variable "word" {
  default = "fixed"
}
check "dynamic" {
  shell { command = ["echo", file("`+msg+`")] }
}
check "plain" {
  shell { command = ["echo", var.word] }
}
`, engine.Inputs{})
	for _, want := range []string{"first", "second"} {
		os.WriteFile(msg, []byte(want), 0o644)
		r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
		if err != nil {
			t.Fatal(err)
		}
		if got := item(t, r, "check", "dynamic").Result["stdout"]; got != want+"\n" {
			t.Errorf("dynamic: got %q, want %q", got, want+"\n")
		}
		if got := item(t, r, "check", "plain").Result["stdout"]; got != "fixed\n" {
			t.Errorf("plain: got %q", got)
		}
	}
}

func TestStepRunningACheckHonoursItsWhen(t *testing.T) {
	r := run(t, `runbook "t" {}
variable "enabled" {
  default = false
}
check "optional" {
  when = var.enabled
  shell { command = "exit 1" }
}
step "s" {
  check = check.optional
}
`, engine.Options{})
	if got := item(t, r, "step", "s"); got.Status != record.Skipped || got.SkipReason != "when condition is false" {
		t.Errorf("got %s (%s), want skipped by the check's when", got.Status, got.SkipReason)
	}
}

func TestIsRunbookFile(t *testing.T) {
	for name, want := range map[string]bool{
		"m4.hcl": true, "checks.hcl.json": true, "quickstart.answers.hcl": false,
		"prod.vars.hcl": false, "prod.vars.hcl.json": false, "notes.md": false, "x.json": false,
	} {
		if got := engine.IsRunbookFile(name); got != want {
			t.Errorf("IsRunbookFile(%q) = %v, want %v", name, got, want)
		}
	}
}

// TestCheckNeededByAStepSeesEarlierSteps is the stale-state case: a check
// a later step reads must observe the system after the steps before it.
func TestCheckNeededByAStepSeesEarlierSteps(t *testing.T) {
	flag := filepath.Join(t.TempDir(), "flag")
	r := run(t, `runbook "t" {}
check "flag" {
  file { path = "`+flag+`" }
}
step "make" {
  shell { command = "sleep 0.2; touch `+flag+`" }
}
step "verify" {
  shell { command = ["echo", "exists=${check.flag.exists}"] }
}
`, engine.Options{})
	if got := item(t, r, "step", "verify").Result["stdout"]; got != "exists=true\n" {
		t.Errorf("verify printed %q, want exists=true", got)
	}
	if r.Status != record.Passed {
		t.Errorf("run %s", r.Status)
	}
}

// prompter answers confirm prompts and records what each one showed.
type prompter struct {
	shown  []string
	answer error
}

func (p *prompter) Confirm(_ context.Context, it *record.Item) (bool, error) {
	p.shown = append(p.shown, it.Action)
	return true, nil
}

func (p *prompter) Answer(_ context.Context, it *record.Item) (*record.Answer, error) {
	return nil, p.answer
}

func TestConfirmShowsWhatWillRun(t *testing.T) {
	p := &prompter{}
	r := run(t, `runbook "t" {}
step "danger" {
  shell { command = "echo rm -rf /important" }
  confirm = true
}
`, engine.Options{Prompter: p})
	if len(p.shown) != 1 || !strings.Contains(p.shown[0], "rm -rf /important") {
		t.Errorf("the prompt showed %q, want the command", p.shown)
	}
	if got := item(t, r, "step", "danger").Status; got != record.Passed {
		t.Errorf("status %s", got)
	}
}

func TestManualStepWithoutAnAnswerIsPending(t *testing.T) {
	r := run(t, `runbook "t" {}
step "page" {
  manual { instructions = "Page someone." }
}
`, engine.Options{Prompter: &prompter{answer: fmt.Errorf("no answer: EOF")}})
	if got := item(t, r, "step", "page").Status; got != record.Pending || r.Status != record.Incomplete {
		t.Errorf("step %s, run %s; want pending and incomplete", got, r.Status)
	}
}

// TestSecretsInEveryRecordFieldAreRedacted puts a sensitive value in every
// string field of the record that a runbook can set (the runbook's title,
// description, document, owner and tags; an item's title, description,
// expected outcome, instructions, assignee, action, result, assert
// condition and message) and checks that the stored record holds none.
func TestSecretsInEveryRecordFieldAreRedacted(t *testing.T) {
	const secret = "s3cr3t-CANARY-value"
	b := bind(t, `runbook "t" {
  title       = "title ${var.token}"
  description = "description ${var.token}"
  document    = "doc-${var.token}"
  owner       = "owner ${var.token}"
  tags        = ["team-${var.token}", "plain"]
}
variable "token" {
  type      = string
  sensitive = true
}
step "probe" {
  title       = "probe ${var.token}"
  description = "description ${var.token}"
  expected    = "expected ${var.token}"
  shell { command = "echo ${var.token}; exit 3" }
  assert {
    condition     = self.exit_code == 0 && var.token != ""
    error_message = "message ${var.token}"
  }
}
step "page" {
  title    = "page ${var.token}"
  assignee = "team-${var.token}"
  manual { instructions = "call ${var.token}" }
}
`, engine.Inputs{Vars: []string{"token=" + secret}})
	r, err := engine.Run(context.Background(), b, engine.Options{
		Mode:    engine.ModeExec,
		Answers: map[string]record.Answer{"page": {Status: record.Passed, Note: "done"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	if strings.Contains(string(data), secret) {
		t.Errorf("the record holds the secret:\n%s", data)
	}
	if len(r.Tags) != 2 || r.Tags[1] != "plain" {
		t.Errorf("tags = %q, want the secret redacted and the plain tag kept", r.Tags)
	}
	probe := item(t, r, "step", "probe")
	if page := item(t, r, "step", "page"); len(probe.Asserts) == 0 || probe.Action == "" || page.Instructions == "" || page.Assignee == "" {
		t.Errorf("the step did not fill the fields the test checks: %+v", probe)
	}
}

// goroutinePeak records the most goroutines seen as items start.
type goroutinePeak struct {
	mu   sync.Mutex
	peak int
}

func (g *goroutinePeak) Started(record.Item) {
	n := runtime.NumGoroutine()
	g.mu.Lock()
	g.peak = max(g.peak, n)
	g.mu.Unlock()
}

func (g *goroutinePeak) Finished(record.Item) {}

// TestRunDoesNotParkAGoroutinePerItem: a node's goroutine starts when
// what it waits for is done, so a run of many checks holds about as many
// goroutines as it runs at once, not one per check; the checks that
// depend on others, and steps in order, still run after them.
func TestRunDoesNotParkAGoroutinePerItem(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("runbook \"many\" {}\n")
	const n = 300
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n", i)
	}
	sb.WriteString("check \"last\" {\n  shell {\n    command = [\"true\"]\n  }\n  when = check.c0.status == \"passed\" && check.c299.status == \"passed\"\n}\n")
	cfg, diags := engine.LoadSource("many.hcl", []byte(sb.String()), testRegistry())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, testRegistry(), engine.Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	before := runtime.NumGoroutine()
	obs := &goroutinePeak{}
	run, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck, Concurrency: 2, Observer: obs})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != record.Passed || run.Summary.Passed != n+1 {
		t.Fatalf("run: got %s with %d passed, want passed with %d", run.Status, run.Summary.Passed, n+1)
	}
	if extra := obs.peak - before; extra > n/3 {
		t.Errorf("goroutines while checks ran: got %d more than before the run, want far fewer than %d checks", extra, n)
	}
}

// TestWhenThatIsNotABoolAtRunTimeSaysWhere: a when that turns out null
// when the run reaches it names its place in the file.
func TestWhenThatIsNotABoolAtRunTimeSaysWhere(t *testing.T) {
	run := run(t, `
runbook "w" {}
step "one" {
  shell { command = ["true"] }
}
step "two" {
  when  = step.one.exit_code == 0 ? null : true
  shell { command = ["true"] }
}
`, engine.Options{Mode: engine.ModeExec})
	it := run.Item(record.KindStep, "two")
	if it == nil || it.Status != record.Failed || it.Error == nil || !strings.Contains(*it.Error, "when must be true or false (") || !strings.Contains(*it.Error, ".hcl:7,") {
		t.Fatalf("step two: %+v", it)
	}
}
