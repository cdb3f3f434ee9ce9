package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/runbookhq/runbook/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// generated is the fixed clock of every test.
var generated = time.Date(2025, 12, 3, 14, 0, 0, 0, time.UTC)

func testOptions() Options {
	return Options{Now: func() time.Time { return generated }}
}

// readRun loads a fixture run record from testdata/.
func readRun(t *testing.T, name string) *record.Run {
	t.Helper()
	run, err := record.Read(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// pinSpec is the report block of the M4 tabletop runbook.
func pinSpec() Spec {
	return Spec{
		Name:     "pin_015",
		Template: "pin-completion",
		Output:   "docs/memory-pins/PIN-015-completion.md",
		Data: map[string]any{
			"pin":       "PIN-015",
			"milestone": "M4",
			"metrics": map[string]any{
				"cycles":       float64(2880),
				"workflows":    float64(25920),
				"replays":      float64(25920),
				"mismatches":   float64(0),
				"golden_files": float64(25920),
				"duration":     "24h 0m",
				"disk | peak":  "4.2M `du -sh`",
			},
			"summary_json": `{"cycles":2880,"workflows":25920,"mismatches":0,"classes":{"VOLATILE_LEAK":0}}`,
		},
		Signoffs: []Signoff{
			{Role: "SRE", Statement: "I certify the M4 workflow engine meets the maturity gates.\nAll 10 tabletop steps were run."},
			{Role: "Engineering lead", Statement: "Reviewed | approved for M5.", Name: "Dana Lee"},
		},
	}
}

// goldenCases are the built-in templates rendered over the fixture runs.
func goldenCases() []struct {
	name string
	spec Spec
	run  string
} {
	return []struct {
		name string
		spec Spec
		run  string
	}{
		{"tabletop", Spec{Name: "tabletop", Template: "tabletop"}, "tabletop"},
		{"tabletop-signoff", Spec{Name: "tabletop", Template: "tabletop", Signoffs: []Signoff{{Role: "Operator", Statement: "I ran every step."}}}, "tabletop"},
		{"tabletop-passed", Spec{Name: "tabletop", Template: "tabletop"}, "passed"},
		{"pin-completion", pinSpec(), "tabletop"},
		{"pin-completion-minimal", Spec{Name: "pin", Template: "pin-completion"}, "passed"},
		{"summary", Spec{Name: "summary", Template: "summary"}, "tabletop"},
		{"summary-passed", Spec{Name: "summary", Template: "summary"}, "passed"},
		{"tabletop-drill", Spec{Name: "tabletop", Template: "tabletop"}, "drill"},
		{"pin-completion-drill", Spec{Name: "pin", Template: "pin-completion"}, "drill"},
		{"summary-drill", Spec{Name: "summary", Template: "summary"}, "drill"},
		{"tabletop-abandoned", Spec{Name: "tabletop", Template: "tabletop"}, "abandoned"},
		{"pin-completion-abandoned", Spec{Name: "pin", Template: "pin-completion"}, "abandoned"},
		{"tabletop-composite", Spec{Name: "tabletop", Template: "tabletop"}, "composite"},
		{"tabletop-owned", Spec{Name: "tabletop", Template: "tabletop"}, "owned"},
		{"pin-completion-owned", Spec{Name: "pin", Template: "pin-completion"}, "owned"},
		{"tabletop-exercise", Spec{Name: "tabletop", Template: "tabletop"}, "exercise"},
		{"pin-completion-exercise", Spec{Name: "pin", Template: "pin-completion"}, "exercise"},
		{"summary-exercise", Spec{Name: "summary", Template: "summary"}, "exercise"},
	}
}

func TestRenderGolden(t *testing.T) {
	for _, tc := range goldenCases() {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Render(&buf, tc.spec, readRun(t, tc.run), testOptions()); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", tc.name+".golden.md"), buf.Bytes())
		})
	}
}

// checkGolden compares got with a golden file, or rewrites it with -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test ./report -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestBuiltins(t *testing.T) {
	got := Builtins()
	want := []string{"pin-completion", "summary", "tabletop"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Builtins() mismatch (-want +got):\n%s", diff)
	}
}

func TestUserTemplate(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "reports")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	const text = `# {{md .Report}} for {{.Run.Runbook}} ({{.Data.team}})
{{template "totals" .}}
{{range .Signoffs}}{{.Role}}{{end}} {{.Generated.Format "2006-01-02"}}
`
	path := filepath.Join(sub, "short.md.tmpl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	want := "# weekly_ops for shadow-monitor (sre)\n" +
		"| Passed | Failed | Warning | Skipped | Pending | Total | Run status | Duration |\n" +
		"|-------:|-------:|--------:|--------:|--------:|------:|------------|---------:|\n" +
		"| 3 | 0 | 0 | 0 | 0 | 3 | ✅ PASSED | 420ms |\n" +
		"SRE 2025-12-03\n"
	tests := []struct {
		name     string
		template string
		dir      string
	}{
		{"relative to the template dir", "reports/short.md.tmpl", dir},
		{"dot-relative", "./reports/short.md.tmpl", dir},
		{"absolute", path, "/nonexistent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{Name: "weekly_ops", Template: tc.template, Data: map[string]any{"team": "sre"}, Signoffs: []Signoff{{Role: "SRE"}}}
			opts := testOptions()
			opts.TemplateDir = tc.dir
			var buf bytes.Buffer
			if err := Render(&buf, spec, readRun(t, "passed"), opts); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, buf.String()); diff != "" {
				t.Errorf("output mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUserTemplateOverridesPartial(t *testing.T) {
	dir := t.TempDir()
	text := `{{define "totals"}}my totals{{end}}[{{template "totals" .}}]`
	if err := os.WriteFile(filepath.Join(dir, "t.md.tmpl"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Render(&buf, Spec{Name: "t", Template: "t.md.tmpl"}, readRun(t, "passed"), Options{TemplateDir: dir}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), "[my totals]"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRenderErrors(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"env.md.tmpl":      "# Report\n\n{{env \"HOME\"}}\n",
		"exec.md.tmpl":     "line one\n{{exec \"id\"}}\n",
		"file.md.tmpl":     "{{file \"/etc/passwd\"}}",
		"getenv.md.tmpl":   "a\nb\nc\n{{ .Run.ID | getenv }}",
		"include.md.tmpl":  "{{include \"/etc/passwd\"}}",
		"badfield.md.tmpl": "ok\n{{.Run.NoSuchField}}",
		"unclosed.md.tmpl": "{{if .Run.ID}}",
		"badarg.md.tmpl":   "{{duration \"soon\"}}",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name     string
		template string
		want     []string // substrings of the error
	}{
		{"no env function", "env.md.tmpl", []string{`render report "r"`, "env.md.tmpl:3:", `function "env" not defined`}},
		{"no exec function", "exec.md.tmpl", []string{"exec.md.tmpl:2:", `function "exec" not defined`}},
		{"no file function", "file.md.tmpl", []string{"file.md.tmpl:1:", `function "file" not defined`}},
		{"no getenv function", "getenv.md.tmpl", []string{"getenv.md.tmpl:4:", `function "getenv" not defined`}},
		{"no include function", "include.md.tmpl", []string{"include.md.tmpl:1:", `function "include" not defined`}},
		{"unknown field", "badfield.md.tmpl", []string{"badfield.md.tmpl:2:", "NoSuchField"}},
		{"unclosed action", "unclosed.md.tmpl", []string{"unclosed.md.tmpl:1:", "unexpected EOF"}},
		{"bad function argument", "badarg.md.tmpl", []string{"badarg.md.tmpl:1:", "duration: want a number, got string"}},
		{"missing file", "nope.md.tmpl", []string{"read report template", "nope.md.tmpl"}},
		{"unknown built-in", "tabeltop", []string{`unknown report template "tabeltop"`, "pin-completion, summary, tabletop"}},
		{"partials are not templates", "_partials", []string{`unknown report template "_partials"`}},
		{"empty template", "", []string{"report template is empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Render(&buf, Spec{Name: "r", Template: tc.template}, readRun(t, "passed"), Options{TemplateDir: dir})
			if err == nil {
				t.Fatalf("Render: got no error, want one containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q, want it to contain %q", err, w)
				}
			}
			if buf.Len() != 0 {
				t.Errorf("output on error: got %q, want nothing", buf.String())
			}
		})
	}
}

// TestFuncMapHasNoEnvironmentAccess pins the FuncMap: a new function must be
// reviewed here (and documented in docs/reports.md), so nothing that reads
// the environment, files or commands slips in.
func TestFuncMapHasNoEnvironmentAccess(t *testing.T) {
	var got []string
	for name := range FuncMap() {
		got = append(got, name)
	}
	want := []string{
		"add", "cleanups", "clocks", "code", "codespan", "completion", "datetime", "decision",
		"default", "detail", "duration", "evidence", "excerpt", "firstLine",
		"health", "join", "json", "lower", "md", "missing", "output", "procedure",
		"ran", "scoreTotals", "scored", "statusIcon", "stderr", "truncate", "truncated", "upper",
	}
	if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("FuncMap names mismatch (-want +got):\n%s", diff)
	}
}

func BenchmarkRenderTabletop(b *testing.B) {
	run, err := record.Read(filepath.Join("testdata", "tabletop.json"))
	if err != nil {
		b.Fatal(err)
	}
	spec := pinSpec()
	opts := testOptions()
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := Render(&buf, spec, run, opts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEscapeCell(b *testing.B) {
	s := strings.Repeat("cycle | workflows `wf-0042` *** FAILED ***\n", 50)
	for b.Loop() {
		EscapeCell(s)
	}
}

func TestSignedRolesShowTheirSignature(t *testing.T) {
	run := readRun(t, "tabletop")
	at := time.Date(2025, 12, 3, 15, 4, 0, 0, time.UTC)
	run.Signoffs = []record.Signoff{
		{Role: "SRE", Name: "Alice <b>Ops</b>", At: at, Surface: record.SurfaceConsole},
		{Role: "Auditor", Name: "Bo", Statement: "seen", At: at, Surface: record.SurfaceConsole},
		{Role: "Owner", Name: "Cy", At: at, Surface: record.SurfaceTerminal, Key: "SHA256:HodiGlT8amM2p/0ID92qQssoMdNFY4wlwMpxpamEt38", Signature: "-----BEGIN SSH SIGNATURE-----"},
	}
	var buf bytes.Buffer
	if err := Render(&buf, pinSpec(), run, testOptions()); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	for _, want := range []string{
		"- **Name:** Alice \\<b\\>Ops\\</b\\>\n- **Signature:** signed in the console, unsigned by key\n- **Date:** 2025-12-03 15:04 UTC",
		// A signature of a role the report does not list is not left out.
		"### Auditor\n\n> seen\n\n- **Name:** Bo\n- **Signature:** signed in the console, unsigned by key",
		// A signature by SSH key names the key.
		"- **Name:** Cy\n- **Signature:** signed with SSH key `SHA256:HodiGlT8amM2p/0ID92qQssoMdNFY4wlwMpxpamEt38` on the terminal (check it with `runbook verify`)\n- **Date:** 2025-12-03 15:04 UTC",
		// The role nobody signed keeps its blank lines.
		"- **Name:** Dana Lee\n- **Signature:** ______________________________\n- **Date:** ______________________________",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("the report lacks %q:\n%s", want, got)
		}
	}
}
