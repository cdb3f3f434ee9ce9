package main

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// hclFences returns the ```hcl code blocks of a Markdown file with the line
// each starts on. Fences whose first line names an answers or variables
// file ("# answers.hcl") are not runbooks and are left out.
func hclFences(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int]string{}
	sc := bufio.NewScanner(f)
	line, start := 0, 0
	var cur *strings.Builder
	for sc.Scan() {
		line++
		text := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(text) == "```hcl":
			cur, start = &strings.Builder{}, line
		case cur != nil && strings.TrimSpace(text) == "```":
			src := cur.String()
			first := strings.SplitN(src, "\n", 2)[0]
			if !strings.Contains(first, "answers") && !strings.Contains(first, "vars.hcl") {
				out[start] = src
			}
			cur = nil
		case cur != nil:
			cur.WriteString(text + "\n")
		}
	}
	return out
}

var hasRunbookBlock = regexp.MustCompile(`(?m)^runbook\s+"`)

// TestDocsExamplesValidate loads every hcl example in docs/ and README.md
// as a runbook (adding a runbook block when the example has none).
func TestDocsExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob("../../docs/*.md")
	more, _ := filepath.Glob("../../docs/*/*.md")
	files = append(append(files, more...), "../../README.md")
	n := 0
	for _, path := range files {
		for line, src := range hclFences(t, path) {
			n++
			name := filepath.Base(path) + ":" + strconv.Itoa(line)
			t.Run(name, func(t *testing.T) {
				if !hasRunbookBlock.MatchString(src) {
					src = "runbook \"doc\" {}\n" + src
				}
				dir := writeFiles(t, map[string]string{"example.hcl": src})
				code, stdout, stderr := runCLI(t, dir, "validate", "example.hcl")
				if code != 0 {
					t.Errorf("%s example does not validate (exit %d):\n%s\n%s%s", name, code, src, stdout, stderr)
				}
			})
		}
	}
	if n < 10 {
		t.Errorf("found only %d hcl examples in the docs", n)
	}
}

// TestEveryProviderIsDocumented reads the one registry: each provider has
// a docs page that names each of its result attributes.
func TestEveryProviderIsDocumented(t *testing.T) {
	for _, name := range builtin.Names() {
		t.Run(name, func(t *testing.T) {
			page, err := os.ReadFile(filepath.Join("../../docs/providers", name+".md"))
			if err != nil {
				t.Fatalf("no docs page for provider %q: %v", name, err)
			}
			p := builtin.Providers[name]()
			d, ok := p.(checks.Documented)
			if !ok {
				t.Fatalf("provider %q does not implement checks.Documented", name)
			}
			doc := d.Doc()
			if doc.Summary == "" || len(doc.Result) == 0 {
				t.Errorf("provider %q documents no summary or result", name)
			}
			for attr := range doc.Result {
				if !strings.Contains(string(page), "`"+attr+"`") {
					t.Errorf("docs/providers/%s.md does not mention result attribute `%s`", name, attr)
				}
			}
		})
	}
}

// TestQuickstart runs the README's first command's runbook end to end.
func TestQuickstart(t *testing.T) {
	stateDir := t.TempDir()
	code, stdout, stderr := runCLI(t, "", "exec", "../../runbooks/quickstart.hcl",
		"--answers", "../../runbooks/quickstart.answers.hcl", "--yes", "--state", stateDir,
		"--var", "stop_file="+filepath.Join(stateDir, "stop"))
	if code != 0 {
		t.Fatalf("quickstart: exit %d\n%s\n%s", code, stdout, stderr)
	}
	run, err := state.NewDir(stateDir).LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != record.Passed || run.Summary.Passed < 8 || len(run.Reports) != 1 {
		t.Fatalf("quickstart run: %s %+v reports %v", run.Status, run.Summary, run.Reports)
	}
	doc, err := os.ReadFile(run.Reports[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"QS-001", "Operator reviews the results", "## Sign-Off", "| mismatches | 0 |"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("completion report lacks %q", want)
		}
	}
}
