package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// everyCut is chunkCuts at its finest: every line that starts with a letter.
func everyCut(src []byte) []int {
	var cuts []int
	for i := 1; i < len(src); i++ {
		if src[i-1] == '\n' && isASCIILetter(src[i]) {
			cuts = append(cuts, i)
		}
	}
	return cuts
}

// sameAsWhole checks the chunked parse of src against the whole-file one:
// when parseChunks accepts the cuts, the whole file must parse cleanly to
// the same tree, with the same ranges and the same diagnostic context.
func sameAsWhole(t *testing.T, name string, src []byte, cuts []int) bool {
	t.Helper()
	whole, wdiags := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
	joined := parseChunks(src, name, cuts)
	if joined == nil {
		return false
	}
	if len(wdiags) > 0 {
		t.Fatalf("%s: pieces parsed cleanly, the whole file did not: %v", name, wdiags)
	}
	if !reflect.DeepEqual(whole.Body, joined.Body) {
		t.Fatalf("%s: joined tree differs from the whole-file tree", name)
	}
	type contextStringer interface{ ContextString(int) string }
	for off := 0; off < len(src); off += 97 {
		w := whole.Nav.(contextStringer).ContextString(off)
		j := joined.Nav.(contextStringer).ContextString(off)
		if w != j {
			t.Fatalf("%s: context at byte %d: whole %q, joined %q", name, off, w, j)
		}
	}
	return true
}

func TestParseChunkedSameTree(t *testing.T) {
	paths, _ := filepath.Glob("../runbooks/*.hcl")
	more, _ := filepath.Glob("../runbooks/playbooks/*.hcl")
	errs, _ := filepath.Glob("testdata/errors/*.hcl")
	paths = append(append(paths, more...), errs...)
	if len(paths) < 10 {
		t.Fatalf("found only %d runbooks to compare", len(paths))
	}
	accepted := 0
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if sameAsWhole(t, p, src, everyCut(src)) {
			accepted++
		}
	}
	if accepted < 5 {
		t.Fatalf("only %d of %d runbooks were parsed in pieces", accepted, len(paths))
	}
}

// A cut inside a construct that spans lines must never be accepted: the
// piece before it ends inside the construct.
func TestParseChunkedRefusesCutsInsideConstructs(t *testing.T) {
	cases := map[string]string{
		"heredoc":       "runbook \"x\" {}\nlocals {\n  doc = <<EOT\ncheck \"a\" {\nEOT\n}\n",
		"flush heredoc": "runbook \"x\" {}\nlocals {\n  doc = <<-EOT\n  x\nstep \"a\" {\n  EOT\n}\n",
		"comment":       "runbook \"x\" {}\n/*\ncheck \"a\" {}\n*/\nlocals {}\n",
		"brackets":      "runbook \"x\" {}\nlocals {\n  l = [\nx, y]\n}\n",
		"object":        "runbook \"x\" {}\nlocals {\n  o = {\na = 1\n}\n}\n",
		"parens":        "runbook \"x\" {}\nlocals {\n  p = (\na)\n}\n",
		"template":      "runbook \"x\" {}\nlocals {\n  t = \"${\nupper(a)}\"\n}\n",
		"attribute":     "runbook \"x\" {}\nx = 1 +\ny\n",
		"ternary":       "runbook \"x\" {}\nx = (true ?\na : b)\n",
		"block body":    "runbook \"x\" {\ntitle = \"t\"\n}\n",
		"duplicate":     "a = 1\nb = 2\na = 3\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			b := []byte(src)
			cuts := everyCut(b)
			if len(cuts) == 0 {
				t.Fatal("no cut to try")
			}
			for _, c := range cuts {
				whole, wdiags := hclsyntax.ParseConfig(b, "t.hcl", hcl.InitialPos)
				joined := parseChunks(b, "t.hcl", []int{c})
				if joined == nil {
					continue
				}
				if len(wdiags) > 0 || !reflect.DeepEqual(whole.Body, joined.Body) {
					t.Fatalf("cut at %d accepted but differs from the whole parse", c)
				}
			}
			if name != "duplicate" && name != "attribute" {
				// The whole file is valid and so is parseNative's answer.
				f, diags := parseNative(b, "t.hcl")
				if f == nil || diags.HasErrors() {
					t.Fatalf("parseNative: %v", diags)
				}
			}
		})
	}
}

// A large file takes the chunked path in parseNative, and a broken one
// still gets the whole-file diagnostics, with the right line.
func TestParseNativeLargeFile(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("runbook \"big\" {}\n")
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&sb, "check \"c%d\" {\n  shell {\n    command = [\"echo\", \"%d\"]\n  }\n}\n", i, i)
	}
	src := []byte(sb.String())
	if len(chunkCuts(src, 4, chunkMin)) == 0 {
		t.Fatal("a large file got no cuts")
	}
	if !sameAsWhole(t, "big.hcl", src, chunkCuts(src, 4, chunkMin)) {
		t.Fatal("a valid large file was not accepted in pieces")
	}
	f, diags := parseNative(src, "big.hcl")
	if diags.HasErrors() || len(f.Body.(*hclsyntax.Body).Blocks) != 3001 {
		t.Fatalf("parseNative: %d blocks, %v", len(f.Body.(*hclsyntax.Body).Blocks), diags)
	}

	broken := strings.Replace(sb.String(), "check \"c2500\" {\n  shell {", "check \"c2500\" {\n  shell {{", 1)
	_, diags = parseNative([]byte(broken), "big.hcl")
	_, want := hclsyntax.ParseConfig([]byte(broken), "big.hcl", hcl.InitialPos)
	if !diags.HasErrors() || diags.Error() != want.Error() {
		t.Fatalf("broken large file: got %v, want %v", diags, want)
	}
}

func FuzzParseChunked(f *testing.F) {
	paths, _ := filepath.Glob("../runbooks/*.hcl")
	errs, _ := filepath.Glob("testdata/errors/*.hcl")
	for _, p := range append(paths, errs...) {
		if src, err := os.ReadFile(p); err == nil {
			f.Add(src)
		}
	}
	f.Add([]byte("a = <<EOT\nb\nEOT\nc = 1\n"))
	f.Add([]byte("a = /* x\ny */ 1\nz = 2\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		// Load refuses a file that is not UTF-8 text before parsing it; in
		// such a file hclsyntax's own line count can differ from the
		// pieces' (testdata/fuzz/FuzzParseChunked: a newline after an
		// invalid byte in a comment is not counted by the whole parse).
		if CheckText("fuzz.hcl", src) != nil {
			t.Skip("load refuses it before parsing")
		}
		sameAsWhole(t, "fuzz.hcl", src, everyCut(src))
	})
}

// BenchmarkParseNative parses 10,000 shell checks (560 KB) whole and in
// pieces; -benchmem shows what each allocates (docs/performance.md,
// "round 6: memory").
func BenchmarkParseNative(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("runbook \"big\" {}\n\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&sb, "check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n\n", i)
	}
	src := []byte(sb.String())
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			hclsyntax.ParseConfig(src, "b.hcl", hcl.InitialPos)
		}
	})
	b.Run("pieces", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			parseNative(src, "b.hcl")
		}
	})
}
