package main

import (
	"os"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/views"
)

// A Nagios check that cannot start prints one UNKNOWN status line on stdout
// and exits 3; its diagnostics go to stderr.
func TestNagiosConfigurationErrorIsUnknown(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"passing.hcl":  passing,
		"required.hcl": "runbook \"r\" {}\nvariable \"dsn\" {\n  type = string\n}\ncheck \"c\" {\n  shell {\n    command = [\"echo\", var.dsn]\n  }\n}\n",
	})
	tests := []struct {
		name string
		args []string
		want string // in the status line
	}{
		{"missing variable", []string{"check", "required.hcl", "--format", "nagios"}, "required variable"},
		{"bad flag", []string{"check", "passing.hcl", "--format=nagios", "--frobnicate"}, "unknown flag: --frobnicate"},
		{"missing file", []string{"exec", "nope.hcl", "--format", "nagios"}, "Cannot read runbook"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, dir, append(tc.args, "--state", t.TempDir())...)
			if code != 3 {
				t.Errorf("exit %d, want 3\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.HasPrefix(stdout, "RUNBOOK UNKNOWN - ") || strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, tc.want) {
				t.Errorf("stdout is not one UNKNOWN line naming %q:\n%s", tc.want, stdout)
			}
			if stderr == "" {
				t.Error("no diagnostics on stderr")
			}
		})
	}
}

// exec --only counts the items it left out once, in the live lines and the
// table alike; the run record keeps each of them.
func TestOnlyCountsItemsNotSelected(t *testing.T) {
	dir := writeFiles(t, map[string]string{"r.hcl": `runbook "r" {}

step "one" {
  shell {
    command = ["true"]
  }
}

step "two" {
  shell {
    command = ["true"]
  }
}

step "three" {
  shell {
    command = ["true"]
  }
}
`})
	code, stdout, stderr := runCLI(t, dir, "exec", "r.hcl", "--only", "two", "--state", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Count(stdout, "not selected") != 1 || !strings.Contains(stdout, "2 items not selected (--only)") || strings.Contains(stdout, "step.one") {
		t.Errorf("items not selected are not counted once:\n%s", stdout)
	}
	code, stdout, _ = runCLI(t, dir, "exec", "r.hcl", "--only", "two", "--state", t.TempDir(), "--format", "json")
	if code != 0 || strings.Count(stdout, `"skip_reason": "not selected (--only)"`) != 2 {
		t.Errorf("the record does not keep the items not selected:\n%s", stdout)
	}
}

// Every format but table sends the live lines to stderr, and docs/cli.md
// names each of them.
func TestLiveLinesOfMachineFormatsGoToStderr(t *testing.T) {
	doc, err := os.ReadFile("../../docs/cli.md")
	if err != nil {
		t.Fatal(err)
	}
	_, para, _ := strings.Cut(string(doc), "With every format but `table`")
	para, _, _ = strings.Cut(para, "\n\n")
	dir := writeFiles(t, map[string]string{"passing.hcl": passing})
	for _, format := range views.Formats() {
		if format == "table" {
			continue
		}
		t.Run(format, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, dir, "check", "passing.hcl", "--format", format, "--state", t.TempDir())
			if code != 0 || strings.Contains(stdout, "[PASS]") || !strings.Contains(stderr, "[PASS]") {
				t.Errorf("exit %d; the live lines are not on stderr alone:\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if !strings.Contains(para, "`"+format+"`") {
				t.Errorf("docs/cli.md does not list %s among the formats whose live lines go to stderr", format)
			}
		})
	}
}
