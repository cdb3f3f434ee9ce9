package log

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// observed is a result in Go terms.
type observed struct {
	Matches      int64
	Lines        []string
	AgeS         float64
	SizeBytes    int64
	LinesScanned int64
}

func observe(t testing.TB, v cty.Value) observed {
	t.Helper()
	var o observed
	for _, f := range []struct {
		name string
		dst  any
	}{
		{"matches", &o.Matches}, {"lines", &o.Lines}, {"age_s", &o.AgeS},
		{"size_bytes", &o.SizeBytes}, {"lines_scanned", &o.LinesScanned},
	} {
		if err := gocty.FromCtyValue(v.GetAttr(f.name), f.dst); err != nil {
			t.Fatalf("result %s: %v", f.name, err)
		}
	}
	if o.Lines == nil {
		o.Lines = []string{}
	}
	return o
}

// cfg builds a log block's decoded value; attributes left out are null.
func cfg(path, pattern string, attrs map[string]cty.Value) cty.Value {
	full := map[string]cty.Value{
		"path":     cty.StringVal(path),
		"pattern":  cty.StringVal(pattern),
		"exclude":  cty.NullVal(cty.String),
		"tail":     cty.NullVal(cty.Number),
		"max_line": cty.NullVal(cty.Number),
	}
	for k, v := range attrs {
		full[k] = v
	}
	return cty.ObjectVal(full)
}

// provider returns a Provider whose clock reads the file's mtime plus age.
func provider(t testing.TB, path string, age time.Duration) *Provider {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Provider{now: func() time.Time { return fi.ModTime().Add(age) }}
}

func writeLog(t testing.TB, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const mismatch = `[1-9][0-9]* mismatches|mismatches detected`

// TestShadowRunMismatches is the shadow-run sanity script's bug: a line
// saying "0 mismatches detected" matched "mismatches detected" and paged
// someone for nothing. exclude must drop it and keep the real ones.
func TestShadowRunMismatches(t *testing.T) {
	path := filepath.Join("testdata", "shadow-run.log")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, pattern, exclude string
		want                   []string
		wantMatches            int64
	}{
		{
			name:        "pattern and exclude",
			pattern:     mismatch,
			exclude:     `, 0 mismatches`,
			wantMatches: 3,
			want: []string{
				"2025-12-02T12:15:00Z WARN compare batch=3 workflows=121, 3 mismatches detected",
				"2025-12-02T12:30:00Z ERROR compare batch=5 workflows=120, 12 mismatches detected",
				"2025-12-02T12:40:00Z ERROR replay aborted: mismatches detected in seed handling",
			},
		},
		{
			name:        "pattern alone counts 0 mismatches detected",
			pattern:     mismatch,
			wantMatches: 8,
			want: []string{
				"2025-12-02T12:05:00Z INFO compare batch=1 workflows=120, 0 mismatches detected",
				"2025-12-02T12:10:00Z INFO compare batch=2 workflows=118, 0 mismatches detected",
				"2025-12-02T12:15:00Z WARN compare batch=3 workflows=121, 3 mismatches detected",
				"2025-12-02T12:20:00Z INFO compare batch=4 workflows=119, 0 mismatches detected",
				"2025-12-02T12:30:00Z ERROR compare batch=5 workflows=120, 12 mismatches detected",
				"2025-12-02T12:35:00Z INFO compare batch=6 workflows=117, 0 mismatches detected",
				"2025-12-02T12:40:00Z ERROR replay aborted: mismatches detected in seed handling",
				"2025-12-02T12:45:00Z INFO compare batch=7 workflows=122, 0 mismatches detected",
			},
		},
		{
			name:        "the old grep",
			pattern:     `mismatches`,
			wantMatches: 9,
			want: []string{
				"2025-12-02T12:10:00Z INFO compare batch=2 workflows=118, 0 mismatches detected",
				"2025-12-02T12:15:00Z WARN compare batch=3 workflows=121, 3 mismatches detected",
				"2025-12-02T12:20:00Z INFO compare batch=4 workflows=119, 0 mismatches detected",
				"2025-12-02T12:25:00Z INFO golden check: 0 mismatches",
				"2025-12-02T12:30:00Z ERROR compare batch=5 workflows=120, 12 mismatches detected",
				"2025-12-02T12:35:00Z INFO compare batch=6 workflows=117, 0 mismatches detected",
				"2025-12-02T12:40:00Z ERROR replay aborted: mismatches detected in seed handling",
				"2025-12-02T12:45:00Z INFO compare batch=7 workflows=122, 0 mismatches detected",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := map[string]cty.Value{"tail": cty.NumberIntVal(8)}
			if tc.exclude != "" {
				attrs["exclude"] = cty.StringVal(tc.exclude)
			}
			v, err := provider(t, path, 90*time.Second).Run(context.Background(), cfg(path, tc.pattern, attrs))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := observed{Matches: tc.wantMatches, Lines: tc.want, AgeS: 90, SizeBytes: fi.Size(), LinesScanned: 11}
			if diff := cmp.Diff(want, observe(t, v)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunLines(t *testing.T) {
	for _, tc := range []struct {
		name, content, pattern string
		attrs                  map[string]cty.Value
		want                   observed
	}{
		{
			name:    "default tail keeps the last ten",
			content: strings.Repeat("noise\n", 3) + numbered("err", 12),
			pattern: "^err",
			want:    observed{Matches: 12, Lines: strings.Split(strings.TrimSpace(numbered("err", 12)), "\n")[2:], LinesScanned: 15},
		},
		{
			name:    "tail 2",
			content: numbered("err", 5),
			pattern: "err",
			attrs:   map[string]cty.Value{"tail": cty.NumberIntVal(2)},
			want:    observed{Matches: 5, Lines: []string{"err 4", "err 5"}, LinesScanned: 5},
		},
		{
			name:    "tail 0 only counts",
			content: numbered("err", 3),
			pattern: "err",
			attrs:   map[string]cty.Value{"tail": cty.Zero},
			want:    observed{Matches: 3, Lines: []string{}, LinesScanned: 3},
		},
		{
			name:    "no match",
			content: numbered("ok", 3),
			pattern: "err",
			want:    observed{Lines: []string{}, LinesScanned: 3},
		},
		{
			name:    "empty file",
			content: "",
			pattern: "err",
			want:    observed{Lines: []string{}},
		},
		{
			name:    "CRLF and a last line without newline",
			content: "err one\r\nok\r\nerr two",
			pattern: "err",
			want:    observed{Matches: 2, Lines: []string{"err one", "err two"}, LinesScanned: 3},
		},
		{
			name:    "anchors apply to each line",
			content: "a err\nerr b\n",
			pattern: "^err",
			want:    observed{Matches: 1, Lines: []string{"err b"}, LinesScanned: 2},
		},
		{
			name:    "max_line cuts on a rune boundary",
			content: "err: défaut\nerr: abcdefgh\nerr: ab\n",
			pattern: "err",
			attrs:   map[string]cty.Value{"max_line": cty.NumberIntVal(7)},
			// "é" takes bytes 6 and 7: the first line is cut before it.
			want: observed{Matches: 3, Lines: []string{"err: d…", "err: ab…", "err: ab"}, LinesScanned: 3},
		},
		{
			name:    "invalid UTF-8 is replaced",
			content: "err \xff\xfe here\n",
			pattern: "err",
			want:    observed{Matches: 1, Lines: []string{"err \uFFFD here"}, LinesScanned: 1},
		},
		{
			name:    "empty pattern keeps the last lines",
			content: numbered("line", 4),
			pattern: "",
			attrs:   map[string]cty.Value{"tail": cty.NumberIntVal(2)},
			want:    observed{Matches: 4, Lines: []string{"line 3", "line 4"}, LinesScanned: 4},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeLog(t, tc.content)
			v, err := provider(t, path, 0).Run(context.Background(), cfg(path, tc.pattern, tc.attrs))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			tc.want.SizeBytes = int64(len(tc.content))
			if diff := cmp.Diff(tc.want, observe(t, v)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func numbered(prefix string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%s %d\n", prefix, i)
	}
	return b.String()
}

// TestRunLongLines feeds lines far longer than the buffer: each is
// matched on its first Window bytes, counted once, and never held whole.
func TestRunLongLines(t *testing.T) {
	long := strings.Repeat("x", 8*Window)
	content := "3 mismatches " + long + "\n" + // match in the window
		long + " 4 mismatches\n" + // match past the window: not seen
		"1 mismatches\n"
	path := writeLog(t, content)
	p := provider(t, path, 0)
	c := cfg(path, mismatch, map[string]cty.Value{"max_line": cty.NumberIntVal(20)})

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := p.Run(context.Background(), c)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := observed{
		Matches:      2,
		Lines:        []string{"3 mismatches xxxxxxx…", "1 mismatches"},
		SizeBytes:    int64(len(content)),
		LinesScanned: 3,
	}
	if diff := cmp.Diff(want, observe(t, v)); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	// A 16 MiB file with 8 MiB lines: the buffer and a little more.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2*Window {
		t.Errorf("Run allocated %d bytes, want at most %d", alloc, 2*Window)
	}
}

func TestRunAge(t *testing.T) {
	path := writeLog(t, "err\n")
	mtime := time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want float64
	}{
		{"fresh", mtime, 0},
		{"quiet for 20 minutes", mtime.Add(20*time.Minute + 1500*time.Millisecond), 1201.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Provider{now: func() time.Time { return tc.now }}
			v, err := p.Run(context.Background(), cfg(path, "err", nil))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := observe(t, v).AgeS; got != tc.want {
				t.Errorf("age_s: got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.log")
	for _, tc := range []struct {
		name string
		cfg  cty.Value
		want string
	}{
		{"missing file", cfg(missing, "err", nil), "open log: open " + missing + ": no such file or directory"},
		{"directory", cfg(dir, "err", nil), fmt.Sprintf("log %q is a directory", dir)},
		{"bad pattern", cfg(missing, "(", nil), "pattern: error parsing regexp: missing closing ): `(`"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New().Run(context.Background(), tc.cfg)
			if err == nil {
				t.Fatalf("Run: got %#v, want error %q", v, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Run error: got %q, want %q", err, tc.want)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	path := writeLog(t, strings.Repeat("line\n", 10000))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := New().Run(ctx, cfg(path, "line", nil))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run with a cancelled context: got %v, want %v", err, context.Canceled)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  string
	}{
		{"defaults", nil, ""},
		{"unknown tail", map[string]cty.Value{"tail": cty.UnknownVal(cty.Number), "exclude": cty.UnknownVal(cty.String)}, ""},
		{"bad exclude", map[string]cty.Value{"exclude": cty.StringVal("[")}, "exclude: error parsing regexp: missing closing ]: `[`"},
		{"negative tail", map[string]cty.Value{"tail": cty.NumberIntVal(-1)}, "tail must be a whole number from 0 to 10000, got -1"},
		{"huge tail", map[string]cty.Value{"tail": cty.NumberIntVal(MaxTail + 1)}, "tail must be a whole number from 0 to 10000, got 10001"},
		{"fractional max_line", map[string]cty.Value{"max_line": cty.NumberFloatVal(2.5)}, "max_line must be a whole number from 1 to 1048576, got 2.5"},
		{"zero max_line", map[string]cty.Value{"max_line": cty.Zero}, "max_line must be a whole number from 1 to 1048576, got 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := New().(*Provider).Validate(cfg("/var/log/aos/shadow.log", "x", tc.attrs)); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate: got %q, want %q", got, tc.want)
			}
		})
	}
	if err := New().(*Provider).Validate(cfg("", "x", nil)); err == nil || err.Error() != "path must not be empty" {
		t.Errorf("Validate empty path: got %v, want %q", err, "path must not be empty")
	}
}

func TestDescribe(t *testing.T) {
	p := New().(*Provider)
	for _, tc := range []struct {
		name string
		cfg  cty.Value
		want string
	}{
		{"pattern", cfg("/var/log/aos/shadow.log", "panic", nil), "/var/log/aos/shadow.log =~ /panic/"},
		{"exclude", cfg("/var/log/aos/shadow.log", mismatch, map[string]cty.Value{"exclude": cty.StringVal(", 0 mismatches")}),
			"/var/log/aos/shadow.log =~ /" + mismatch + "/ !~ /, 0 mismatches/"},
		{"unknown path", cty.ObjectVal(map[string]cty.Value{
			"path": cty.UnknownVal(cty.String), "pattern": cty.StringVal("x"), "exclude": cty.NullVal(cty.String),
		}), "(path not known yet) =~ /x/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.Describe(tc.cfg); got != tc.want {
				t.Errorf("Describe: got %q, want %q", got, tc.want)
			}
		})
	}
}

// BenchmarkScan scans generated shadow-run logs with the shadow-run
// exclusion. "typical" is 200 MB of request lines with a compare line every
// 100 ("…, 0 mismatches detected") and real mismatches every 5000, scanned
// with the shadow-run pattern; "every-line" is 20 MB of compare lines only,
// where the literal "mismatches detected" decides each line; in
// "every-line-regexp" the pattern has no such literal, so RE2 runs on
// every line: the worst case. RUNBOOK_BENCH_LOG_MB overrides the typical
// size.
func BenchmarkScan(b *testing.B) {
	typical := 200
	if s := os.Getenv("RUNBOOK_BENCH_LOG_MB"); s != "" {
		if _, err := fmt.Sscan(s, &typical); err != nil || typical <= 0 {
			b.Fatalf("RUNBOOK_BENCH_LOG_MB=%q: want a positive number", s)
		}
	}
	for _, bc := range []struct {
		name    string
		mb      int
		compare int // one compare line in this many
		pattern string
	}{
		{"typical", typical, 100, mismatch},
		{"every-line", 20, 1, mismatch},
		{"every-line-regexp", 20, 1, `[1-9][0-9]* mismatches`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			path := generateLog(b, bc.mb<<20, bc.compare)
			fi, err := os.Stat(path)
			if err != nil {
				b.Fatal(err)
			}
			c := cfg(path, bc.pattern, map[string]cty.Value{"exclude": cty.StringVal(", 0 mismatches")})
			p := New()
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				v, err := p.Run(context.Background(), c)
				if err != nil {
					b.Fatal(err)
				}
				if o := observe(b, v); o.Matches == 0 {
					b.Fatalf("matches: got 0, want some")
				}
			}
		})
	}
}

// generateLog writes a log of about size bytes in which one line in every
// compare reports a comparison, and one in fifty of those mismatches.
func generateLog(b *testing.B, size, compare int) string {
	b.Helper()
	path := filepath.Join(b.TempDir(), "shadow.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var buf bytes.Buffer
	for i, written := 0, 0; written+buf.Len() < size; i++ {
		ts := fmt.Sprintf("2025-12-02T%02d:%02d:%02d.%03dZ", i/3600000%24, i/60000%60, i/1000%60, i%1000)
		switch {
		case i%compare != 0:
			fmt.Fprintf(&buf, "%s INFO http method=GET path=/api/v1/workflows/wf-%06x status=200 duration_ms=%d\n", ts, i, i%97)
		case (i/compare)%50 == 49:
			fmt.Fprintf(&buf, "%s WARN compare batch=%d workflows=120, %d mismatches detected\n", ts, i/compare, i%7+1)
		default:
			fmt.Fprintf(&buf, "%s INFO compare batch=%d workflows=120, 0 mismatches detected\n", ts, i/compare)
		}
		if buf.Len() >= 1<<20 {
			written += buf.Len()
			if _, err := buf.WriteTo(f); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := buf.WriteTo(f); err != nil {
		b.Fatal(err)
	}
	return path
}
