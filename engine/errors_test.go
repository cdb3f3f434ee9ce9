package engine_test

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
)

// testRegistry is the real registry plus one reserved name, so the
// "not available yet" path stays tested as real providers arrive.
func testRegistry() engine.Registry {
	planned := map[string]string{"sqlserver": "SQL Server queries"}
	for k, v := range builtin.Planned {
		planned[k] = v
	}
	return engine.Registry{Providers: builtin.Providers, Planned: planned}
}

var errorMarker = regexp.MustCompile(`#\s*ERROR:\s*(.+?)\s*$`)

// expectedErrors reads the "# ERROR: Summary" markers of a broken runbook:
// each names an error diagnostic whose range starts on that line. A marker
// alone on the last line stands for a diagnostic at the end of the file.
func expectedErrors(t *testing.T, path string) []string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	line := 0
	for sc.Scan() {
		line++
		if m := errorMarker.FindStringSubmatch(sc.Text()); m != nil {
			want = append(want, fmt.Sprintf("%d: %s", line, m[1]))
		}
	}
	sort.Strings(want)
	return want
}

func loadAndBind(path string) (*engine.Config, hcl.Diagnostics) {
	reg := testRegistry()
	cfg, diags := engine.Load(path, reg)
	if diags.HasErrors() {
		return cfg, diags
	}
	_, bdiags := engine.Bind(cfg, reg, engine.Inputs{})
	return cfg, append(diags, bdiags...)
}

func TestBrokenRunbooks(t *testing.T) {
	files, err := filepath.Glob("testdata/errors/*.hcl")
	if err != nil || len(files) < 25 {
		t.Fatalf("want at least 25 broken runbooks, found %d (%v)", len(files), err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".hcl"), func(t *testing.T) {
			want := expectedErrors(t, path)
			if len(want) == 0 {
				t.Fatalf("%s has no # ERROR: marker", path)
			}
			cfg, diags := loadAndBind(path)
			var got []string
			for _, d := range diags {
				if d.Severity != hcl.DiagError {
					continue
				}
				line := 0
				if d.Subject != nil {
					line = d.Subject.Start.Line
					if d.Subject.Filename != path {
						t.Errorf("diagnostic %q points at %q, want %q", d.Summary, d.Subject.Filename, path)
					}
				}
				got = append(got, fmt.Sprintf("%d: %s", line, d.Summary))
			}
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\nall: %s", diff, diags.Error())
			}
			// Every diagnostic renders with its source snippet.
			var buf bytes.Buffer
			wr := hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 0, false)
			if err := wr.WriteDiagnostics(diags); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), "on "+path+" line ") {
				t.Errorf("rendered diagnostics lack a file and line:\n%s", buf.String())
			}
		})
	}
}

// TestResultAttributeMessages holds the detail of a reference to an
// attribute a published result type lacks: what it names, at any depth.
func TestResultAttributeMessages(t *testing.T) {
	src := `runbook "n" {}
check "a" {
  http {
    url = "http://x"
  }
}
check "b" {
  shell {
    command = ["echo", check.a.result.nope, check.a.nope]
  }
  assert {
    condition     = self.exit_cod == 0
    error_message = "x ${self.nope2}"
  }
}
`
	_, diags := engine.LoadSource("n.hcl", []byte(src), testRegistry())
	var got []string
	for _, d := range diags {
		got = append(got, d.Detail)
	}
	sort.Strings(got)
	want := []string{
		`"result" has no attribute "nope".`,
		`check.a (a http check) has no attribute "nope".`,
		`self (a shell result) has no attribute "exit_cod". Did you mean "exit_code"?`,
		`self (a shell result) has no attribute "nope2".`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
}
