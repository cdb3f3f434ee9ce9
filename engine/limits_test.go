package engine_test

import (
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
		"binary":  append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 1<<20)...),
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
