package log

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCompileLiterals(t *testing.T) {
	for _, tc := range []struct {
		pattern            string
		needed, sufficient []string
	}{
		{mismatch, []string{" mismatches", "mismatches detected"}, []string{"mismatches detected"}},
		{`, 0 mismatches`, []string{", 0 mismatches"}, []string{", 0 mismatches"}},
		{`ERROR|FATAL|panic:`, []string{"ERROR", "FATAL", "panic:"}, []string{"ERROR", "FATAL", "panic:"}},
		{`(ERROR)`, []string{"ERROR"}, []string{"ERROR"}},
		{`^\d{4}-\d\d-\d\dT.* level=error msg="(.*)"`, []string{` level=error msg="`}, nil},
		{`(timeout)+ after \d+s`, []string{"timeout"}, nil},
		{`x{2,}y`, []string{"x"}, nil},
		{`(?:deadlock){1,3}`, []string{"deadlock"}, nil},
		{`^ERROR`, []string{"ERROR"}, nil},
		{`(?i)error`, nil, nil},
		{`[Ee]rror`, []string{"rror"}, nil},
		{`err(or)?`, []string{"err"}, nil},
		{`error|.*`, nil, []string{"error"}},
		{`a*`, nil, nil},
		{`.`, nil, nil},
		{``, nil, nil},
		{`^$`, nil, nil},
		{`\x{FFFD}`, nil, nil},
		{`aa|bb|cc|dd|ee|ff|gg|hh|ii|jj|kk|ll|mm|nn|oo|pp|qq`, nil, nil},
	} {
		t.Run(tc.pattern, func(t *testing.T) {
			m, err := compile(tc.pattern)
			if err != nil {
				t.Fatalf("compile(%q): %v", tc.pattern, err)
			}
			if diff := cmp.Diff(tc.needed, asStrings(m.needed)); diff != "" {
				t.Errorf("needed literals (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.sufficient, asStrings(m.sufficient)); diff != "" {
				t.Errorf("sufficient literals (-want +got):\n%s", diff)
			}
		})
	}
}

func asStrings(lits [][]byte) []string {
	var out []string
	for _, l := range lits {
		out = append(out, string(l))
	}
	return out
}

// FuzzMatcher checks the literal shortcuts never change a verdict of the
// regular expression.
func FuzzMatcher(f *testing.F) {
	for _, seed := range []struct{ pattern, line string }{
		{mismatch, "batch=3, 3 mismatches detected"},
		{mismatch, "batch=3, 0 mismatches detected"},
		{`(?i)ERROR`, "an error here"},
		{`\bERROR\b`, "ERRORS: x"},
		{`(a|bc)+d`, "xxbcad"},
		{`\x{FFFD}x|y`, "\xffx"},
		{`é+|ü`, "caf\xc3\xa9"},
		{`x{0}y`, "y"},
		{`(?s)a.b|c`, "a\nb"},
		{`^abc$|^d`, "abc"},
		{`(?m)^a$|b`, "xa"},
	} {
		f.Add(seed.pattern, seed.line)
	}
	f.Fuzz(func(t *testing.T, pattern, line string) {
		m, err := compile(pattern)
		if err != nil {
			return
		}
		if got, want := m.match([]byte(line)), m.re.MatchString(line); got != want {
			t.Errorf("pattern %q on %q: got %v, want regexp's %v (needed %q, sufficient %q)",
				pattern, line, got, want, m.needed, m.sufficient)
		}
	})
}
