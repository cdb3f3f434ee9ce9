package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A misspelt variable in a --var-file or RUNBOOK_VAR_* stops the command
// with exit 2 before anything runs; --allow-undeclared keeps a warning.
func TestUndeclaredVariablesAreErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rb.hcl": `runbook "u" {}

variable "region" {
  default = "eu"
}

check "mark" {
  shell {
    command = "touch ran"
  }
}
`,
		"shared.vars.hcl": "regoin = \"us\"\n",
	})
	tests := []struct {
		name string
		env  string
		args []string
		code int
		want string
	}{
		{"var file", "", []string{"check", "rb.hcl", "--var-file", "shared.vars.hcl"}, 2, `Did you mean "region"?`},
		{"environment", "RUNBOOK_VAR_regoin", []string{"check", "rb.hcl"}, 2, "RUNBOOK_VAR_regoin"},
		{"validate", "", []string{"validate", "rb.hcl", "--var-file", "shared.vars.hcl"}, 2, "Value for undeclared variable"},
		{"allowed", "RUNBOOK_VAR_regoin", []string{"check", "rb.hcl", "--var-file", "shared.vars.hcl", "--allow-undeclared"}, 0, "Warning: Value for undeclared variable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != "" {
				t.Setenv(tt.env, "us")
			}
			code, stdout, stderr := runCLI(t, dir, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, want %d; stderr:\n%s\nstdout:\n%s", code, tt.code, stderr, stdout)
			}
		})
	}
}

// Hostile runbooks get bounded, printable diagnostics: no control
// character from a snippet reaches the terminal, at most 50 diagnostics
// are printed, deep nesting and binary files are one clear error each.
func TestHostileRunbooksGetBoundedDiagnostics(t *testing.T) {
	var many strings.Builder
	many.WriteString("runbook \"m\" {}\n")
	for i := 0; i < 120; i++ {
		fmt.Fprintf(&many, "check \"c%d\" {\n  bogus = 1\n  shell {\n    command = \"true\"\n  }\n}\n", i)
	}
	dir := writeFiles(t, map[string]string{
		"ctl.hcl":  "runbook \"x\" {\n  bogus = \"a\x1b]0;pwned\x07\x1b[2Jb\u009b\"\n}\n",
		"many.hcl": many.String(),
		"deep.hcl": "runbook \"d\" {}\nlocals {\n  a = " + strings.Repeat("(", 100_000) + "1" + strings.Repeat(")", 100_000) + "\n}\n",
		"bin.hcl":  "\x7fELF\x02\x01\x01\x00\x00\x00" + strings.Repeat("\xff\xfe", 1000),
	})
	tests := []struct {
		file, want string
		errors     int
	}{
		{"ctl.hcl", "Unsupported argument", 1},
		{"many.hcl", "… and 70 more errors and 0 more warnings not shown", 50},
		{"deep.hcl", "Nesting too deep", 1},
		{"bin.hcl", "Not a text file", 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			code, _, stderr := runCLI(t, dir, "validate", tt.file)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, want 2 and %q; stderr:\n%s", code, tt.want, stderr)
			}
			if n := strings.Count(stderr, "Error: "); n != tt.errors {
				t.Errorf("printed %d errors, want %d", n, tt.errors)
			}
			for _, c := range []string{"\x1b", "\x07", "\x00", "\u009b"} {
				if strings.Contains(stderr, c) {
					t.Errorf("stderr holds %q:\n%q", c, stderr)
				}
			}
		})
	}
}

// validate renders every report template over sample records of the
// runbook: an unknown field is an error at the template's file and line,
// worded without Go types. A template that fails only on a real run's
// values makes exec exit non-zero and says which report and where.
func TestReportTemplatesAreChecked(t *testing.T) {
	rb := func(tmpl string) string {
		return `runbook "r" {}

step "say" {
  shell {
    command = "echo boom"
  }
}

report "notes" {
  template = "` + tmpl + `"
  output   = "notes.md"
}
`
	}
	dir := writeFiles(t, map[string]string{
		"typo.hcl":     rb("typo.md.tmpl"),
		"typo.md.tmpl": "# {{ .Run.Title }}\n\n{{ range .Run.Items }}- {{ .Titel }}\n{{ end }}\n",
		"late.hcl":     rb("late.md.tmpl"),
		"late.md.tmpl": "# {{ .Run.Title }}\n{{ range .Run.Items }}{{ if eq (index .Result \"stdout\") \"boom\\n\" }}{{ add \"x\" 1 }}{{ end }}{{ end }}\n",
	})
	code, _, stderr := runCLI(t, dir, "validate", "typo.hcl")
	if code != 2 || !strings.Contains(stderr, "typo.md.tmpl line 3") || !strings.Contains(stderr, `Did you mean "Title"?`) {
		t.Fatalf("validate: exit %d; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "record.") || strings.Contains(stderr, "can't evaluate") {
		t.Errorf("validate speaks Go:\n%s", stderr)
	}

	code, _, stderr = runCLI(t, dir, "validate", "late.hcl")
	if code != 0 {
		t.Fatalf("validate late.hcl: exit %d; stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, dir, "exec", "late.hcl")
	if code == 0 || !strings.Contains(stderr, `the report was not written: render report "notes"`) || !strings.Contains(stderr, "late.md.tmpl:2:") {
		t.Fatalf("exec: exit %d; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "interface {}") || strings.Contains(stderr, "[") {
		t.Errorf("exec speaks Go:\n%s", stderr)
	}
}

// What exec refuses, validate refuses: a directory with no runbook in it,
// and a runbook directory with two runbook blocks. A directory whose
// files are each a runbook of their own is still validated file by file.
func TestValidateRefusesWhatExecRefuses(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"none/README.md": "not a runbook\n",
		"two/main.hcl":   "runbook \"a\" {}\n",
		"two/copy.hcl":   "runbook \"b\" {}\n",
		"two/checks.hcl": "check \"c\" {\n  shell {\n    command = \"true\"\n  }\n}\n",
		"many/a.hcl":     "runbook \"a\" {}\n",
		"many/b.hcl":     "runbook \"b\" {}\n",
		"when.hcl":       "runbook \"w\" {}\n\nstep \"s\" {\n  when = \"yes please\"\n  shell {\n    command = \"true\"\n  }\n}\n",
	})
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	tests := []struct {
		arg, want string
		code      int
	}{
		{"empty", "holds no .hcl or .hcl.json runbook files", 2},
		{"none", "holds no .hcl or .hcl.json runbook files", 2},
		{"two", "Duplicate runbook block", 2},
		{"when.hcl", `when must be true or false, but this is the string "yes please"`, 2},
		{"many", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.arg, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, dir, "validate", tt.arg)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Fatalf("validate: exit %d, want %d and %q; stdout:\n%s\nstderr:\n%s", code, tt.code, tt.want, stdout, stderr)
			}
			if tt.code == 0 {
				return
			}
			if code, _, _ := runCLI(t, dir, "exec", tt.arg); code == 0 {
				t.Errorf("exec %s: exit 0, want an error", tt.arg)
			}
		})
	}
}

// `runbook check` needs only the variables the checks use: a variable
// only a step uses may go without a value; exec still demands it.
func TestCheckDoesNotDemandStepVariables(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rb.hcl": `runbook "c" {}

variable "host" {
  type = string
}

variable "deploy_token" {
  type      = string
  sensitive = true
}

locals {
  url = "http://${var.host}/"
}

check "up" {
  shell {
    command = ["test", "-n", local.url]
  }
}

step "deploy" {
  shell {
    command = ["echo", var.deploy_token]
  }
}
`})
	code, _, stderr := runCLI(t, dir, "check", "rb.hcl", "--var", "host=example")
	if code != 0 {
		t.Fatalf("check: exit %d; stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, dir, "check", "rb.hcl")
	if code != 2 || !strings.Contains(stderr, `"host" has no default`) {
		t.Fatalf("check without host: exit %d; stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCLI(t, dir, "exec", "rb.hcl", "--var", "host=example")
	if code != 2 || !strings.Contains(stderr, `"deploy_token" has no default`) {
		t.Fatalf("exec: exit %d; stderr:\n%s", code, stderr)
	}
}

// plan shows argument values from variables with their control
// characters replaced.
func TestPlanShowsNoControlCharacters(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rb.hcl": `runbook "p" {}

variable "msg" {
  type = string
}

check "say" {
  shell {
    command = ["echo", var.msg]
  }
}
`})
	code, stdout, stderr := runCLI(t, dir, "plan", "rb.hcl", "--var", "msg=hi \x1b]0;pwned\x07 \x1b[2J")
	if code != 0 || strings.ContainsAny(stdout, "\x1b\x07") || !strings.Contains(stdout, "\uFFFD") {
		t.Fatalf("plan: exit %d; stdout:\n%q\nstderr:\n%s", code, stdout, stderr)
	}
}
