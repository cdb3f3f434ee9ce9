package main

import (
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
