package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// runCLI runs the command line in-process in dir and returns the exit code
// and what was printed.
func runCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	wd, _ := os.Getwd()
	if dir != "" {
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		defer os.Chdir(wd)
	}
	code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeFiles writes name → content into a new temp dir.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const passing = `runbook "ok" {
  title = "All good"
}

check "true" {
  shell {
    command = ["true"]
  }
}
`

const failing = `runbook "bad" {}

check "false" {
  shell {
    command = "exit 1"
  }
}
`

const warning = `runbook "warn" {}

check "w" {
  shell {
    command = "echo hi"
  }
  assert {
    condition = self.stdout == "nope"
    severity  = "warning"
  }
}
`

const manual = `runbook "m" {}

step "page" {
  manual {
    instructions = "Page the on-call lead."
  }
}
`

func TestExitCodes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"passing.hcl": passing, "failing.hcl": failing, "warning.hcl": warning, "manual.hcl": manual,
		"broken.hcl":     "runbook \"b\" {}\ncheck \"c\" {\n  shell {\n    comand = \"true\"\n  }\n}\n",
		"required.hcl":   "runbook \"r\" {}\nvariable \"dsn\" {\n  type = string\n}\n",
		"answers.hcl":    "page = { status = \"passed\", note = \"acked by bob\" }\n",
		"badanswers.hcl": "page = { status = \"done\" }\n",
	})
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"passing exec", []string{"exec", "passing.hcl"}, 0},
		{"passing check", []string{"check", "passing.hcl"}, 0},
		{"failing", []string{"exec", "failing.hcl"}, 1},
		{"warning passes", []string{"exec", "warning.hcl"}, 0},
		{"warning with --strict", []string{"exec", "warning.hcl", "--strict"}, 1},
		{"manual pending is incomplete", []string{"exec", "manual.hcl"}, 3},
		{"manual answered", []string{"exec", "manual.hcl", "--answers", "answers.hcl"}, 0},
		{"bad answers file", []string{"exec", "manual.hcl", "--answers", "badanswers.hcl"}, 2},
		{"broken runbook", []string{"exec", "broken.hcl"}, 2},
		{"validate broken", []string{"validate", "broken.hcl"}, 2},
		{"validate passing", []string{"validate", "passing.hcl", "failing.hcl"}, 0},
		{"missing required variable", []string{"exec", "required.hcl"}, 2},
		{"validate does not need variables", []string{"validate", "required.hcl"}, 0},
		{"undeclared --var", []string{"exec", "passing.hcl", "--var", "nope=1"}, 2},
		{"unknown format", []string{"exec", "passing.hcl", "--format", "yaml"}, 2},
		{"unknown flag", []string{"exec", "passing.hcl", "--frobnicate"}, 2},
		{"unknown command", []string{"frobnicate"}, 2},
		{"missing file", []string{"exec", "nope.hcl"}, 2},
		{"unknown playbook", []string{"exec", "passing.hcl", "--playbook", "nope"}, 2},
		{"nagios ok", []string{"check", "passing.hcl", "--format", "nagios"}, 0},
		{"nagios warning", []string{"check", "warning.hcl", "--format", "nagios"}, 1},
		{"nagios critical", []string{"check", "failing.hcl", "--format", "nagios"}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, dir, tc.args...)
			if code != tc.want {
				t.Errorf("runbook %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(tc.args, " "), code, tc.want, stdout, stderr)
			}
			if strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "panic:") {
				t.Errorf("stack trace on stderr:\n%s", stderr)
			}
		})
	}
}

func TestDiagnosticsShowSourceAndSuggestion(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"broken.hcl": "runbook \"b\" {}\ncheck \"c\" {\n  shell {\n    comand = \"true\"\n  }\n}\n",
	})
	code, _, stderr := runCLI(t, dir, "validate", "broken.hcl")
	for _, want := range []string{"Error: Unsupported argument", "on broken.hcl line 4", `comand = "true"`, `Did you mean "command"?`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
}

func TestQuietPrintsNothingOnSuccess(t *testing.T) {
	dir := writeFiles(t, map[string]string{"passing.hcl": passing, "failing.hcl": failing})
	code, stdout, stderr := runCLI(t, dir, "check", "passing.hcl", "--quiet")
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("quiet success: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, _ = runCLI(t, dir, "check", "failing.hcl", "--quiet")
	if code != 1 || !strings.Contains(stdout, "check.false") {
		t.Errorf("quiet failure: exit %d, stdout %q; want the failure shown", code, stdout)
	}
}

func TestRunRecordIsWrittenAndShown(t *testing.T) {
	dir := writeFiles(t, map[string]string{"failing.hcl": failing})
	out := filepath.Join(dir, "copy.json")
	code, _, _ := runCLI(t, dir, "exec", "failing.hcl", "--out", out, "--operator", "alice")
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	runs, _ := filepath.Glob(filepath.Join(dir, ".runbook", "runs", "*.json"))
	if len(runs) != 1 {
		t.Fatalf("want one run record in .runbook/runs, found %v", runs)
	}
	stored, err := record.Read(runs[0])
	if err != nil {
		t.Fatal(err)
	}
	copied, err := record.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	if stored.ID != copied.ID || stored.Status != record.Failed || stored.Operator != "alice" || stored.Runbook != "bad" {
		t.Errorf("record: %+v", stored)
	}
	code, stdout, _ := runCLI(t, dir, "show", "last", "--format", "json")
	var shown record.Run
	if err := json.Unmarshal([]byte(stdout), &shown); err != nil || shown.ID != stored.ID || code != 0 {
		t.Errorf("show last: exit %d, id %q, err %v", code, shown.ID, err)
	}
	code, stdout, _ = runCLI(t, dir, "history")
	if code != 0 || !strings.Contains(stdout, stored.ID) {
		t.Errorf("history: exit %d:\n%s", code, stdout)
	}
}

// TestSensitiveCanaryNeverPrinted runs a runbook that tries hard to leak a
// sensitive value and looks for it in every output.
func TestSensitiveCanaryNeverPrinted(t *testing.T) {
	const canary = "CANARY-7f3a9c-secret"
	dir := writeFiles(t, map[string]string{"leak.hcl": `runbook "leak" {}

variable "password" {
  type      = string
  sensitive = true
}

variable "password_ok" {
  type    = string
  default = "x"
  validation {
    condition     = length(var.password_ok) > 0
    error_message = "required"
  }
}

check "echo" {
  title = "uses the secret"
  shell {
    command = "echo pw=${var.password}; echo ${var.password} >&2; exit 1"
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "exit ${self.exit_code} with ${var.password}"
  }
}

check "connect" {
  tcp {
    address = "127.0.0.1:1"
  }
  description = "no ${var.password}"
}
`})
	var all strings.Builder
	for _, args := range [][]string{
		{"exec", "leak.hcl", "--var", "password=" + canary},
		{"exec", "leak.hcl", "--var", "password=" + canary, "--format", "json", "--out", "out.json"},
		{"exec", "leak.hcl", "--var", "password=" + canary, "--format", "junit"},
		{"exec", "leak.hcl", "--var", "password=" + canary, "--format", "markdown"},
		{"exec", "leak.hcl", "--var", "password=" + canary, "--format", "tap"},
		{"check", "leak.hcl", "--var", "password=" + canary, "--format", "nagios"},
		{"plan", "leak.hcl", "--var", "password=" + canary},
		{"plan", "leak.hcl", "--var", "password=" + canary, "--format", "json"},
		{"show", "last", "--format", "table", "-v"},
	} {
		_, stdout, stderr := runCLI(t, dir, args...)
		all.WriteString(stdout + stderr)
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(p) != "leak.hcl" {
			data, _ := os.ReadFile(p)
			if strings.Contains(string(data), canary) {
				t.Errorf("%s contains the secret", p)
			}
		}
		return nil
	})
	if strings.Contains(all.String(), canary) {
		t.Errorf("output contains the secret:\n%s", all.String())
	}
	if !strings.Contains(all.String(), "(sensitive)") {
		t.Errorf("no redaction marker in the output")
	}
}

func TestFmt(t *testing.T) {
	ugly := "runbook \"f\" {\ntitle=\"x\"\n}\n"
	dir := writeFiles(t, map[string]string{"ugly.hcl": ugly, "ok.hcl": passing})
	code, stdout, _ := runCLI(t, dir, "fmt", "--check", ".")
	if code != 1 || strings.TrimSpace(stdout) != "ugly.hcl" {
		t.Errorf("fmt --check: exit %d, listed %q; want 1 and ugly.hcl", code, stdout)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "ugly.hcl")); string(data) != ugly {
		t.Errorf("fmt --check changed the file")
	}
	if code, _, _ = runCLI(t, dir, "fmt", "ugly.hcl"); code != 0 {
		t.Errorf("fmt: exit %d", code)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "ugly.hcl")); string(data) != "runbook \"f\" {\n  title = \"x\"\n}\n" {
		t.Errorf("fmt wrote %q", data)
	}
	if code, _, _ = runCLI(t, dir, "fmt", "--check", "."); code != 0 {
		t.Errorf("fmt --check after fmt: exit %d", code)
	}
}

// TestFmtRefusesDeepNesting: fmt applies the loader's limits before it
// parses, so a file nesting 100,000 parentheses is one diagnostic (exit
// 2), not a stack overflow; fmt walks whole trees, so one such file would
// otherwise crash `runbook fmt --check` in CI. It runs the built command,
// since a stack overflow would kill the test binary.
func TestFmtRefusesDeepNesting(t *testing.T) {
	deep := "runbook \"x\" {}\nlocals {\n  a = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n}\n"
	dir := writeFiles(t, map[string]string{"deep.hcl": deep, "ok.hcl": passing})
	for _, args := range [][]string{{"fmt", "--check", "deep.hcl"}, {"fmt", "--check"}, {"fmt", "deep.hcl"}} {
		cmd := exec.Command(binary(t), args...)
		cmd.Dir = dir
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		code := cmd.ProcessState.ExitCode()
		if code != 2 || !strings.Contains(stderr.String(), "Nesting too deep") {
			first, _, _ := strings.Cut(stderr.String(), "\n\n")
			t.Errorf("%v: exit %d (%v), want 2 with \"Nesting too deep\":\n%s", args, code, err, first)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "deep.hcl")); string(data) != deep {
		t.Errorf("fmt changed the file it refused")
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds the runbook command once per test run.
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "runbook-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "runbook")
		// Built as `make build` builds it: static, without cgo.
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = err
			binPath = string(out)
		}
	})
	if buildErr != nil {
		t.Fatalf("build runbook: %v\n%s", buildErr, binPath)
	}
	return binPath
}

func TestAlertBlocksAreValidated(t *testing.T) {
	dir := writeFiles(t, map[string]string{"alerting.hcl": `runbook "a" {}

alert "oncall" {
  webhook {
    ulr = "http://127.0.0.1:9/hook"
  }
  on = ["CRITICAL", "RECOVERD"]
}
`})
	code, _, stderr := runCLI(t, dir, "validate", "alerting.hcl")
	if code != 2 || !strings.Contains(stderr, `Did you mean "url"?`) || !strings.Contains(stderr, "RECOVERED") {
		t.Errorf("exit %d:\n%s", code, stderr)
	}
}

func TestTextfileIsWritten(t *testing.T) {
	dir := writeFiles(t, map[string]string{"passing.hcl": passing})
	prom := filepath.Join(dir, "runbook.prom")
	if code, _, stderr := runCLI(t, dir, "check", "passing.hcl", "--quiet", "--textfile", prom); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(prom)
	if err != nil || !strings.Contains(string(data), `runbook_check_status{`) || !strings.Contains(string(data), `check="true"`) {
		t.Errorf("textfile %q (%v)", data, err)
	}
}

// TestSecretsNeverLeakThroughDiagnosticsOrTransformedForms covers the ways
// a secret slipped past plain redaction: HCL's "with var.x as …" lines and
// --var-file snippets in diagnostics, numeric secrets inside JSON values,
// and the quoted or escaped forms runbook itself prints.
func TestSecretsNeverLeakThroughDiagnosticsOrTransformedForms(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"pin": 987654}`)
	}))
	defer srv.Close()
	dir := writeFiles(t, map[string]string{
		"diag.hcl": `runbook "d" {}

variable "token" {
  type      = string
  sensitive = true
}

check "c" {
  shell {
    command = ["true"]
    env     = var.token
  }
}
`,
		"pin.hcl": `runbook "p" {}

variable "pin" {
  type      = number
  sensitive = true
}

check "api" {
  http {
    url = "` + srv.URL + `/pin"
  }
}

check "args" {
  shell {
    command = ["echo", "code"]
    env     = { PIN = var.pin }
  }
}
`,
		"quote.hcl": `runbook "q" {}

variable "pw" {
  type      = string
  sensitive = true
}

check "login" {
  shell {
    command = ["false", "--password", var.pw]
  }
}

check "hook" {
  http {
    url = "http://127.0.0.1:1/hook/${var.pw}"
  }
}
`,
		"secret.vars.hcl": "pin = \"not-a-number-SECRETPIN\"\n",
	})
	t.Setenv("RUNBOOK_VAR_token", "ghp_TOPSECRET123")
	var all strings.Builder
	for _, args := range [][]string{
		{"validate", "diag.hcl"},
		{"exec", "pin.hcl", "--var", "pin=987654", "--format", "json", "--allow-undeclared"},
		{"plan", "pin.hcl", "--var", "pin=987654", "--format", "json", "--allow-undeclared"},
		{"plan", "pin.hcl", "--var-file", "secret.vars.hcl", "--allow-undeclared"},
		{"exec", "quote.hcl", "--var", "pw=it's S3cret/ü", "--format", "json", "--allow-undeclared"},
		{"plan", "quote.hcl", "--var", "pw=it's S3cret/ü", "--allow-undeclared"},
	} {
		_, stdout, stderr := runCLI(t, dir, args...)
		all.WriteString(stdout + stderr)
	}
	out := all.String()
	for _, secret := range []string{"ghp_TOPSECRET123", "987654", "SECRETPIN", `it'\''s`, "S3cret", "S3%20cret", "S3cret%2F"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(out, "(sensitive)") {
		t.Errorf("no redaction marker:\n%s", out)
	}
}

func TestResumeRefusesAnotherRunbooksRecord(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.hcl": "runbook \"a\" {}\n\nstep \"one\" {\n  shell {\n    command = [\"echo\", \"A\"]\n  }\n}\n",
		"b.hcl": "runbook \"b\" {}\n\nstep \"one\" {\n  shell {\n    command = [\"echo\", \"B\"]\n  }\n}\n",
	})
	if code, _, _ := runCLI(t, dir, "exec", "a.hcl", "--state", "st"); code != 0 {
		t.Fatalf("exec a: exit %d", code)
	}
	run, err := state.NewDir(filepath.Join(dir, "st")).LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, dir, "exec", "b.hcl", "--state", "st", "--resume", run.ID)
	if code != 2 || !strings.Contains(stderr, `runbook "a", not "b"`) {
		t.Errorf("exit %d, want 2 refusing a record of runbook a:\n%s", code, stderr)
	}
	// last is the last resumable run of b: there is none.
	code, _, stderr = runCLI(t, dir, "exec", "b.hcl", "--state", "st", "--resume", "last")
	if code != 2 || !strings.Contains(stderr, `no exec runs of runbook "b"`) {
		t.Errorf("--resume last: exit %d, want 2 finding no run of b:\n%s", code, stderr)
	}
}

// TestShowFindsRunsBesideTheirRunbook: after `exec runbooks/x.hcl` from a
// repository's root, `show` and `report` find the run in runbooks/.runbook.
func TestShowFindsRunsBesideTheirRunbook(t *testing.T) {
	dir := writeFiles(t, map[string]string{"runbooks/ok.hcl": passing})
	if code, _, _ := runCLI(t, dir, "exec", "runbooks/ok.hcl"); code != 0 {
		t.Fatalf("exec: exit %d", code)
	}
	code, stdout, stderr := runCLI(t, dir, "show", "last", "--format", "json")
	if code != 0 || !strings.Contains(stdout, `"runbook": "ok"`) || !strings.Contains(stderr, filepath.Join("runbooks", ".runbook")) {
		t.Errorf("show: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, dir, "report", "--template", "summary"); code != 0 || !strings.Contains(stdout, "All good") {
		t.Errorf("report: exit %d\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, dir, "history"); code != 0 || !strings.Contains(stdout, "runbooks/.runbook") || !strings.Contains(stdout, "passed") {
		t.Errorf("history: exit %d\n%s", code, stdout)
	}
}

// TestProvidersReadsTheRegistry: every registered provider is listed, and
// describing one shows its schema's arguments and its result attributes.
func TestProvidersReadsTheRegistry(t *testing.T) {
	code, stdout, _ := runCLI(t, "", "providers")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, name := range builtin.Names() {
		if !strings.Contains(stdout, name) {
			t.Errorf("providers does not list %q", name)
		}
	}
	code, stdout, _ = runCLI(t, "", "providers", "tcp")
	if code != 0 || !strings.Contains(stdout, "address") || !strings.Contains(stdout, "required") || !strings.Contains(stdout, "connected") {
		t.Errorf("providers tcp: exit %d\n%s", code, stdout)
	}
	if code, _, _ := runCLI(t, "", "providers", "tpc"); code != 2 {
		t.Errorf("an unknown provider: exit %d, want 2", code)
	}
}

// TestValidateCountsInPlainWords: the summary line says "1 check", not
// "1 checks", and a failure names how many of how many runbooks.
func TestValidateCountsInPlainWords(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"good.hcl": "runbook \"g\" {\n  title = \"g\"\n}\ncheck \"only\" {\n  shell { command = [\"true\"] }\n}\n",
		"bad.hcl":  "runbook \"b\" {\n  title = \"b\"\n}\ncheck \"x\" {\n  nosuch {}\n}\n",
	})
	code, stdout, stderr := runCLI(t, dir, "validate", "good.hcl", "bad.hcl")
	if code != 2 || !strings.Contains(stdout, "valid (1 check, 0 steps, 0 cleanups, 0 playbooks, 0 reports)") || !strings.Contains(stderr, "1 of 2 runbooks are not valid") {
		t.Errorf("exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, dir, "validate", "bad.hcl"); code != 2 || !strings.Contains(stderr, "the runbook is not valid") {
		t.Errorf("one bad runbook: exit %d\n%s", code, stderr)
	}
}
