package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/record"
)

const reportingRunbook = `runbook "ops" {}

step "look" {
  shell {
    command = ["true"]
  }
}

report "drill" {
  template = "tabletop"
  output   = "drill.md"
}
`

// TestReportFromAnotherDirectory: exec records the runbook's absolute
// path, so `runbook report` finds the runbook from any directory; an older
// record with the path as given to exec (relative) is still found, beside
// its state directory.
func TestReportFromAnotherDirectory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		legacy bool
	}{{"absolute source", false}, {"relative source of an older record", true}} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFiles(t, map[string]string{"ops/rb.hcl": reportingRunbook})
			if code, stdout, stderr := runCLI(t, root, "exec", "ops/rb.hcl", "--no-report"); code != 0 {
				t.Fatalf("exec: exit %d\n%s%s", code, stdout, stderr)
			}
			st := filepath.Join(root, "ops", ".runbook")
			runs, _ := filepath.Glob(filepath.Join(st, "runs", "*.json"))
			if len(runs) != 1 {
				t.Fatalf("want one run record, found %v", runs)
			}
			rec, err := record.Read(runs[0])
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, "ops", "rb.hcl"); rec.Source != want {
				t.Errorf("source %q, want %q", rec.Source, want)
			}
			if tc.legacy {
				var doc map[string]any
				raw, _ := os.ReadFile(runs[0])
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatal(err)
				}
				doc["source"] = "ops/rb.hcl"
				raw, _ = json.Marshal(doc)
				if err := record.WriteFileAtomic(runs[0], raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			elsewhere := t.TempDir()
			for _, args := range [][]string{{"report", "last", "--state", st}, {"report", "--state", st}} {
				code, stdout, stderr := runCLI(t, elsewhere, args...)
				if code != 0 || !strings.Contains(stdout, "report drill") {
					t.Errorf("%s from another directory: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
				}
			}
		})
	}
}
