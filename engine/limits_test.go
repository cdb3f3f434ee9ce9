package engine_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/engine"
)

// deepInputs are hostile runbooks that nest far beyond engine.MaxNesting:
// without the limit, parsing them exhausts the stack and kills the
// process.
func deepInputs(n int) map[string]string {
	head := "runbook \"x\" {}\nlocals {\n  a = "
	return map[string]string{
		"parens.hcl":             head + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n}\n",
		"brackets.hcl":           head + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n}\n",
		"objects.hcl":            head + strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n) + "\n}\n",
		"unary.hcl":              head + strings.Repeat("!", n) + "true\n}\n",
		"negation.hcl":           head + strings.Repeat("-", n) + "1\n}\n",
		"templates.hcl":          head + strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n) + "\n}\n",
		"closers-in-text.hcl":    head + strings.Repeat(`( ")" `, n) + "1" + strings.Repeat(")", n) + "\n}\n",
		"heredoc.hcl":            head + "<<EOT\n" + strings.Repeat("${(", n) + "\nEOT\n}\n",
		"unclosed.hcl":           head + strings.Repeat("(", n),
		"deep.hcl.json":          `{"runbook": {"x": {}}, "locals": {"a": ` + strings.Repeat("[", n) + strings.Repeat("]", n) + "}}",
		"json-template.hcl.json": `{"runbook": {"x": {}}, "locals": {"a": "` + strings.Repeat("${(", n) + `"}}`,
	}
}

func TestHostileInputIsBounded(t *testing.T) {
	reg := testRegistry()
	for name, src := range deepInputs(100_000) {
		t.Run(name, func(t *testing.T) {
			_, diags := engine.LoadSource(name, []byte(src), reg)
			if len(diags) != 1 || diags[0].Summary != "Nesting too deep" || diags[0].Subject == nil || diags[0].Subject.Start.Line < 1 {
				t.Fatalf("got %v, want one \"Nesting too deep\" with its position", diags)
			}
		})
	}
	t.Run("nesting under the limit loads", func(t *testing.T) {
		n := engine.MaxNesting - 10
		src := "runbook \"x\" {}\nlocals {\n  a = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n) + "\n  b = <<EOT\n)))) ${1} ]]]\nEOT\n  c = \")))}}}\"\n}\n"
		if _, diags := engine.LoadSource("ok.hcl", []byte(src), reg); diags.HasErrors() {
			t.Fatal(diags.Error())
		}
	})
	for name, src := range map[string][]byte{
		"binary":  append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 1<<19)...),
		"latin-1": []byte("runbook \"caf\xe9\" {}\n"),
	} {
		t.Run(name, func(t *testing.T) {
			_, diags := engine.LoadSource(name+".hcl", src, reg)
			if len(diags) != 1 || diags[0].Summary != "Not a text file" {
				t.Fatalf("got %v, want one \"Not a text file\"", diags)
			}
		})
	}
}

// chainInputs nest without brackets, so only the count of operators and
// template directives bounds them: each would overflow the stack while
// loading or binding. Each stays under engine.MaxFileSize; the larger
// ones (from the review that found the gap) are over it.
func chainInputs() map[string]struct{ src, want string } {
	head := "runbook \"x\" {}\nlocals {\n  i = 0\n  x = [1]\n  a = "
	tail := "\n}\n"
	return map[string]struct{ src, want string }{
		"binary operators":                {head + strings.Repeat("1 + ", 200_000) + "0" + tail, "Nesting too deep"},
		"subtraction":                     {head + strings.Repeat("1 - ", 200_000) + "0" + tail, "Nesting too deep"},
		"comparisons":                     {head + strings.Repeat("1 == ", 150_000) + "1" + tail, "Nesting too deep"},
		"conditionals":                    {head + strings.Repeat("true ? 1 : ", 80_000) + "0" + tail, "Nesting too deep"},
		"index chain":                     {head + "local.x" + strings.Repeat("[local.i]", 80_000) + tail, "Nesting too deep"},
		"chain over lines in parentheses": {head + "(\n" + strings.Repeat("1 +\n", 200_000) + "0)" + tail, "Nesting too deep"},
		"chain over lines in a for":       {head + "{ for k in [1] :\n k =>\n" + strings.Repeat("1 +\n", 200_000) + "0 }" + tail, "Nesting too deep"},
		"nested for directives":           {head + `"` + strings.Repeat("%{for x in [1]}", 40_000) + "x" + strings.Repeat("%{endfor}", 40_000) + `"` + tail, "Nesting too deep"},
		"nested if directives":            {head + `"` + strings.Repeat("%{~ if true}", 40_000) + "x" + strings.Repeat("%{ endif ~}", 40_000) + `"` + tail, "Nesting too deep"},
		"directives in a heredoc":         {head + "<<EOT\n" + strings.Repeat("%{if true}\n", 50_000) + "x\n" + strings.Repeat("%{endif}\n", 50_000) + "EOT" + tail, "Nesting too deep"},
		"a million binary operators":      {head + strings.Repeat("1 + ", 1_000_000) + "0" + tail, "File too large"},
		"200,000 nested for directives":   {head + `"` + strings.Repeat("%{for x in [1]}", 200_000) + "x" + strings.Repeat("%{endfor}", 200_000) + `"` + tail, "File too large"},
	}
}

// TestOperatorChainsAndDirectivesAreBounded loads and binds each of
// chainInputs in a child process (a stack overflow is fatal, not a
// panic the test could recover): the child must answer with the one
// diagnostic, and not die.
func TestOperatorChainsAndDirectivesAreBounded(t *testing.T) {
	if name := os.Getenv("RUNBOOK_TEST_CHAIN"); name != "" {
		reg := testRegistry()
		cfg, diags := engine.LoadSource("hostile.hcl", []byte(chainInputs()[name].src), reg)
		if !diags.HasErrors() {
			_, diags = engine.Bind(cfg, reg, engine.Inputs{AllowMissing: true})
		}
		if len(diags) > 0 {
			os.Stdout.WriteString(diags[0].Summary + "\n")
		}
		return
	}
	for name, in := range chainInputs() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestOperatorChainsAndDirectivesAreBounded$")
			cmd.Env = append(os.Environ(), "RUNBOOK_TEST_CHAIN="+name)
			out, err := cmd.Output()
			if err != nil {
				first, _, _ := strings.Cut(string(out), "\n\n")
				t.Fatalf("loading it killed the process (%v):\n%s", err, first)
			}
			if got, _, _ := strings.Cut(string(out), "\n"); got != in.want {
				t.Errorf("got %q, want the diagnostic %q", got, in.want)
			}
		})
	}
}

// TestLongRunbooksUnderTheLimitsLoad: the operator count ends with each
// expression, so long lists, many attributes and long templates load.
func TestLongRunbooksUnderTheLimitsLoad(t *testing.T) {
	reg := testRegistry()
	var attrs strings.Builder
	for i := range 3000 {
		attrs.WriteString("  a" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "_" + strings.Repeat("y", i/26) + " = 1 + 2 * 3 - 4\n")
	}
	for name, src := range map[string]string{
		"a chain just under the limit":  "runbook \"x\" {}\nlocals {\n  a = " + strings.Repeat("1 + ", engine.MaxNesting-10) + "0\n}\n",
		"a long list of sums":           "runbook \"x\" {}\nlocals {\n  a = [" + strings.Repeat("1 + 1, ", 5000) + "0]\n}\n",
		"an object of sums":             "runbook \"x\" {}\nlocals {\n  a = {\n" + strings.Repeat("    k = 1 + 1\n", 1) + strings.Repeat("    # 1 + 1 + 1\n", 5000) + "  }\n}\n",
		"many sums":                     "runbook \"x\" {}\nlocals {\n" + attrs.String() + "}\n",
		"many sequential directives":    "runbook \"x\" {}\nlocals {\n  a = \"" + strings.Repeat("%{if true}x%{endif}", 5000) + "\"\n}\n",
		"hyphens and operators in text": "runbook \"x\" {}\nlocals {\n  a = \"" + strings.Repeat("a-b+c*d ? ", 5000) + "\"\n}\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, diags := engine.LoadSource("ok.hcl", []byte(src), reg); diags.HasErrors() {
				t.Fatal(diags.Error())
			}
		})
	}
}
