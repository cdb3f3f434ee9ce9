package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/engine"
)

// TestVariableTypeErrorsPointAtTheValue: a value of the wrong type, from
// a variables file (HCL or JSON), --var or RUNBOOK_VAR_, is reported at
// the offending part of the value, whose attribute path the detail names
// with the source of the value.
func TestVariableTypeErrorsPointAtTheValue(t *testing.T) {
	dir := t.TempDir()
	rb := filepath.Join(dir, "runbook.hcl")
	files := map[string]string{
		"runbook.hcl": `runbook "t" {}

variable "thresholds" {
  type = object({ disk_percent = number, inodes = list(number) })
}

variable "limits" {
  type    = map(number)
  default = {}
}

variable "pin" {
  type    = number
  default = 1
}

variable "dry_run" {
  type    = bool
  default = false
}
`,
		"prod.hcl": `thresholds = {
  disk_percent = "ninety"
  inodes       = [1, 2]
}
`,
		"prod.json": `{"thresholds": {"disk_percent": 3, "inodes": [1, "x"]}}`,
		"limits.hcl": `thresholds = { disk_percent = 1, inodes = [] }
limits = {
  a = 1
  b = "many"
}
`,
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	reg := testRegistry()
	tests := []struct {
		name   string
		in     engine.Inputs
		detail []string
		file   string
		line   int
		column int
	}{
		{"var file", engine.Inputs{VarFiles: []string{filepath.Join(dir, "prod.hcl")}},
			[]string{"thresholds.disk_percent: a number is required.", "from --var-file " + filepath.Join(dir, "prod.hcl")},
			filepath.Join(dir, "prod.hcl"), 2, 18},
		{"json var file", engine.Inputs{VarFiles: []string{filepath.Join(dir, "prod.json")}},
			[]string{"thresholds.inodes[1]: a number is required."},
			filepath.Join(dir, "prod.json"), 1, 50},
		{"map", engine.Inputs{VarFiles: []string{filepath.Join(dir, "limits.hcl")}},
			[]string{`limits["b"]: a number is required.`},
			filepath.Join(dir, "limits.hcl"), 4, 7},
		{"var flag", engine.Inputs{Vars: []string{"thresholds={disk_percent=1, inodes=[true]}"}},
			[]string{"thresholds.inodes[0]: number required", "from --var thresholds=…"},
			"--var thresholds", 1, 26},
		{"environment", engine.Inputs{Environ: []string{"RUNBOOK_VAR_thresholds={disk_percent=2}"}},
			[]string{`thresholds: attribute "inodes" is required.`, "from RUNBOOK_VAR_thresholds"},
			"RUNBOOK_VAR_thresholds", 1, 1},
		{"not a number", engine.Inputs{Vars: []string{"thresholds={disk_percent=1, inodes=[]}", "pin=98a765"}},
			[]string{"pin: a number is required", "from --var pin"},
			"--var pin", 1, 1},
		{"not a bool", engine.Inputs{Vars: []string{"thresholds={disk_percent=1, inodes=[]}"}, Environ: []string{"RUNBOOK_VAR_dry_run=yes"}},
			[]string{"dry_run: true or false is required", "from RUNBOOK_VAR_dry_run"},
			"RUNBOOK_VAR_dry_run", 1, 1},
		// A required variable given a value that cannot be read has that
		// one error, not also "no value".
		{"unreadable required value", engine.Inputs{Vars: []string{"thresholds={disk_percent=1"}},
			[]string{"no corresponding closing brace"},
			"--var thresholds", 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := engine.Load(rb, reg)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			_, diags = engine.Bind(cfg, reg, tt.in)
			if len(diags) != 1 {
				t.Fatalf("got %v, want one diagnostic", diags)
			}
			d := diags[0]
			for _, want := range tt.detail {
				if !strings.Contains(d.Detail, want) {
					t.Errorf("detail %q lacks %q", d.Detail, want)
				}
			}
			if d.Subject == nil {
				t.Fatalf("no subject, want %s:%d,%d", tt.file, tt.line, tt.column)
			}
			if got := d.Subject.Start; d.Subject.Filename != tt.file || got.Line != tt.line || got.Column != tt.column {
				t.Errorf("subject %s:%d,%d, want %s:%d,%d", d.Subject.Filename, got.Line, got.Column, tt.file, tt.line, tt.column)
			}
			if _, ok := cfg.Files[tt.file]; !ok {
				t.Errorf("no source text for %s to show a snippet", tt.file)
			}
		})
	}
}
