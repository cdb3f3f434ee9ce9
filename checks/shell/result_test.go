package shell

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/record"
)

// outputs the agreement tests have commands write: text NFC changes, text
// that is not UTF-8, line endings of every kind, nothing at all.
var outputs = []string{
	"",
	"ok\n",
	"no newline at the end",
	"caf\u0065\u0301\n\u0301 a mark starting a line\n",
	"\xff\xfe not utf-8\n\xc3\n",
	"crlf\r\nlines\r\n\r\n",
	"\n\n\n",
	"\r",
	"ﬁ Å \u212b\tK\n",
	"<script>&</script>\n",
}

// TestResultJSONAgrees holds the record's form of a shell result built in
// Go (JSON) to the cty path's (checks.JSONValue of Value), and the record's
// bytes to match, on real commands: every output above on stdout and
// stderr, output cut at max_output, exit codes, a command killed by a
// signal, a command stopped by its timeout.
func TestResultJSONAgrees(t *testing.T) {
	p := New().(*Provider)
	for i, s := range outputs {
		for _, code := range []int{0, 1, 255} {
			for _, maxOutput := range []int{1 << 20, 3} {
				t.Run(fmt.Sprintf("out%d/exit%d/max%d", i, code, maxOutput), func(t *testing.T) {
					script := fmt.Sprintf(`printf '%s'; printf '%s' >&2; exit %d`, octal(s), octal(s), code)
					cfg := decode(t, p, fmt.Sprintf("command = [\"sh\", \"-c\", %q]\nmax_output = %d\n", script, maxOutput))
					res, err := p.RunResult(context.Background(), cfg)
					if err != nil {
						t.Fatal(err)
					}
					if got := res.(*result); got.code != code || got.outTruncated != (len(s) > maxOutput) || len(s) <= maxOutput && got.stdout != s {
						t.Fatalf("result %+v: not the command's end", got)
					}
					agree(t, res)
				})
			}
		}
	}
	for name, src := range map[string]string{
		"signal":   `command = "printf 'caf\\145\\314\\201'; kill -9 $$"`,
		"timeout":  "command = \"printf 'x\\\\377'; printf 'e\\\\314\\\\201' >&2; exec sleep 10\"\ntimeout = \"100ms\"\n",
		"stdin":    "command = [\"cat\"]\nstdin = \"A\\u030a\\nline\\n\"\n",
		"stderr":   `command = "echo only >&2"`,
		"string":   `command = "printf 'a\\nb'"`,
		"exit 128": `command = "exit 128"`,
	} {
		t.Run(name, func(t *testing.T) {
			res, err := p.RunResult(context.Background(), decode(t, p, src))
			if res == nil {
				t.Fatalf("no result (error %v)", err)
			}
			if name == "timeout" && err == nil {
				t.Fatal("no error for a command stopped by its timeout")
			}
			if name == "signal" && res.(*result).code != 137 {
				t.Fatalf("exit code %d, want 137", res.(*result).code)
			}
			agree(t, res)
		})
	}
}

// octal is s as printf's format writes it back byte for byte, in ASCII.
func octal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "\\%03o", s[i])
	}
	return b.String()
}

// agree fails t unless res's JSON is what the cty path records, as Go
// values and as the record's bytes, whichever of the two is built first.
func agree(t *testing.T, res checks.Result) {
	t.Helper()
	got := res.JSON()
	v := res.Value()
	want := checks.JSONValue(v)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON = %#v,\nthe cty path records %#v", got, want)
	}
	if again := res.JSON(); !reflect.DeepEqual(again, want) {
		t.Errorf("after Value, JSON = %#v, want %#v", again, want)
	}
	if !v.Type().Equals(New().(*Provider).Result()) {
		t.Errorf("Value's type %#v, not the provider's", v.Type())
	}
	enc := func(m any) []byte {
		data, err := record.MarshalRun(&record.Run{Items: []record.Item{{Kind: "check", Name: "c", Result: m.(map[string]any)}}})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if a, b := enc(got), enc(want); !bytes.Equal(a, b) {
		t.Errorf("record:\n%s\nthe cty path's:\n%s", a, b)
	}
	// The default assert answered in Go agrees with the provider's on cty.
	if g, c := res.(*result).DefaultPasses(), New().(*Provider).DefaultPasses(v); g != c {
		t.Errorf("DefaultPasses in Go %v, on cty %v", g, c)
	}
}

func FuzzResultJSON(f *testing.F) {
	for _, s := range outputs {
		f.Add(0, s, s, false, false)
	}
	f.Add(137, "caf\u0065\u0301", "\xff", true, false)
	f.Add(-1, "", "x\r\n", false, true)
	f.Fuzz(func(t *testing.T, code int, stdout, stderr string, outTruncated, errTruncated bool) {
		agree(t, &result{code: code, stdout: stdout, stderr: stderr, outTruncated: outTruncated, errTruncated: errTruncated})
	})
}
