package views

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/runbookhq/runbook/record"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixtures are the run records in testdata/ every view is rendered over.
var fixtures = []string{"mixed", "passed", "warning", "incomplete", "drill", "abandoned", "composite"}

// readRun loads a fixture run record from testdata/.
func readRun(t *testing.T, name string) *record.Run {
	t.Helper()
	run, err := record.Read(filepath.Join("testdata", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// render renders a run in a format.
func render(t *testing.T, format string, opts Options, run *record.Run) []byte {
	t.Helper()
	r, err := New(format, opts)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.Render(&buf, run); err != nil {
		t.Fatalf("render %s: %v", format, err)
	}
	return buf.Bytes()
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
		t.Fatalf("read golden file (run go test ./views -update): %v", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	variants := []struct {
		format, suffix string
		opts           Options
	}{
		{"table", "table", Options{}},
		{"table", "table-verbose", Options{Verbose: true}},
		{"table", "table-color", Options{Color: true}},
		{"junit", "junit.xml", Options{}},
		{"tap", "tap", Options{}},
		{"markdown", "md", Options{}},
		{"nagios", "nagios", Options{}},
	}
	for _, fx := range fixtures {
		for _, v := range variants {
			t.Run(fx+"/"+v.suffix, func(t *testing.T) {
				got := render(t, v.format, v.opts, readRun(t, fx))
				checkGolden(t, filepath.Join("testdata", fx+"."+v.suffix+".golden"), got)
			})
		}
	}
}

func TestFormats(t *testing.T) {
	want := []string{"json", "junit", "markdown", "nagios", "prometheus", "table", "tap"}
	if diff := cmp.Diff(want, Formats()); diff != "" {
		t.Errorf("Formats() mismatch (-want +got):\n%s", diff)
	}
	if _, err := New("yaml", Options{}); err == nil {
		t.Error("New(\"yaml\"): got no error, want unknown format")
	}
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

func TestTableColor(t *testing.T) {
	t.Setenv("NO_COLOR", "1") // the caller decides: go-pretty's own sniffing must not matter
	t.Setenv("TERM", "dumb")
	run := readRun(t, "mixed")
	plain := render(t, "table", Options{}, run)
	if ansiRE.Match(plain) {
		t.Errorf("table without Color: got ANSI escapes:\n%s", plain)
	}
	colored := render(t, "table", Options{Color: true}, run)
	if !ansiRE.Match(colored) {
		t.Errorf("table with Color: got no ANSI escapes:\n%s", colored)
	}
}

func TestTableTruncatesDetail(t *testing.T) {
	long := strings.Repeat("very long error text ", 20) + "\nsecond line"
	run := &record.Run{Runbook: "x", Status: record.Failed, Items: []record.Item{
		{Kind: "check", Name: "c", Status: record.Failed, Error: &long},
	}}
	out := string(render(t, "table", Options{}, run))
	if strings.Contains(out, "second line") {
		t.Errorf("table: got the error's second line, want one line:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if n := len([]rune(line)); n > 140 {
			t.Errorf("table line: got %d characters, want at most 140: %q", n, line)
		}
	}
}

// TestJUnitParses checks the JUnit output is well-formed XML with the
// counts and elements CI servers read, also for hostile output.
func TestJUnitParses(t *testing.T) {
	type testcase struct {
		Classname string `xml:"classname,attr"`
		Name      string `xml:"name,attr"`
		Time      string `xml:"time,attr"`
		Failure   *struct {
			Message string `xml:"message,attr"`
			Body    string `xml:",chardata"`
		} `xml:"failure"`
		Skipped *struct {
			Message string `xml:"message,attr"`
		} `xml:"skipped"`
		SystemOut string `xml:"system-out"`
	}
	type suite struct {
		Name     string     `xml:"name,attr"`
		Tests    int        `xml:"tests,attr"`
		Failures int        `xml:"failures,attr"`
		Skipped  int        `xml:"skipped,attr"`
		Cases    []testcase `xml:"testcase"`
	}
	var doc struct {
		Suites []suite `xml:"testsuite"`
	}
	run := readRun(t, "mixed")
	hostile := "ctrl \x00\x1b[31m ]]> </system-out> & \"quotes\"\n" + strings.Repeat("line\n", 500)
	run.Items[0].Result["body"] = hostile
	out := render(t, "junit", Options{}, run)
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("junit output is not XML: %v\n%s", err, out)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("got %d test suites, want 1", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "m4-tabletop" || s.Tests != 11 || s.Failures != 3 || s.Skipped != 1 {
		t.Errorf("suite: got name %q tests %d failures %d skipped %d, want m4-tabletop 11 3 1", s.Name, s.Tests, s.Failures, s.Skipped)
	}
	for i, c := range s.Cases {
		it := run.Items[i]
		if want := it.Kind + "." + it.Name; c.Name != want {
			t.Errorf("case %d name: got %q, want %q", i, c.Name, want)
		}
		if c.Classname != "runbook.m4-tabletop" {
			t.Errorf("case %d classname: got %q, want runbook.m4-tabletop", i, c.Classname)
		}
		if want := strconv.FormatFloat(float64(it.DurationMS)/1000, 'f', 3, 64); c.Time != want {
			t.Errorf("case %d time: got %q, want %q", i, c.Time, want)
		}
		if got, want := c.Failure != nil, it.Status == record.Failed || it.Status == record.Pending; got != want {
			t.Errorf("case %d (%s): got failure %v, want %v", i, it.Status, got, want)
		}
		if got, want := c.Skipped != nil, it.Status == record.Skipped; got != want {
			t.Errorf("case %d (%s): got skipped %v, want %v", i, it.Status, got, want)
		}
	}
	first := s.Cases[0].SystemOut
	if !strings.Contains(first, "]]> </system-out> & \"quotes\"") {
		t.Errorf("system-out lost the hostile text: %q", first[:min(len(first), 200)])
	}
	if n := strings.Count(first, "line\n"); n >= 500 || !strings.Contains(first, "output cut") {
		t.Errorf("system-out: got %d output lines and no cut note, want it capped", n)
	}
	if pending := s.Cases[8].Failure; pending == nil || pending.Message != "pending: manual step not answered" {
		t.Errorf("pending case: got failure %+v, want message %q", pending, "pending: manual step not answered")
	}
}

func TestTAPPlan(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx, func(t *testing.T) {
			run := readRun(t, fx)
			lines := strings.Split(string(render(t, "tap", Options{}, run)), "\n")
			want := len(run.Items)
			if runProblem(run) != "" {
				want++ // the failed "run" test point
			}
			if lines[0] != "TAP version 13" || lines[1] != "1.."+strconv.Itoa(want) {
				t.Fatalf("header: got %q, want TAP version 13 and 1..%d", lines[:2], want)
			}
			points := 0
			for _, l := range lines {
				if strings.HasPrefix(l, "ok ") || strings.HasPrefix(l, "not ok ") {
					points++
				}
			}
			if points != want {
				t.Errorf("got %d test points, want %d", points, want)
			}
		})
	}
}

func TestNagios(t *testing.T) {
	lineRE := regexp.MustCompile(`^RUNBOOK \S+ (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+ \| passed=\d+ failed=\d+ warning=\d+ skipped=\d+ pending=\d+ declined=\d+ duration=\d+\.\d{3}s( '[^']+'=\d+ms)*\n$`)
	tests := []struct {
		fixture, state string
		code           int
	}{
		{"passed", "OK", 0},
		{"warning", "WARNING", 1},
		{"mixed", "CRITICAL", 2},
		{"incomplete", "UNKNOWN", 3},
		{"drill", "UNKNOWN", 3},
		{"abandoned", "UNKNOWN", 3},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			run := readRun(t, tc.fixture)
			out := string(render(t, "nagios", Options{}, run))
			if !lineRE.MatchString(out) {
				t.Errorf("status line: got %q, want it to match %s", out, lineRE)
			}
			if got := strings.Fields(out)[2]; got != tc.state {
				t.Errorf("state: got %q, want %q", got, tc.state)
			}
			if got := ExitCode(run, "nagios", false); got != tc.code {
				t.Errorf("exit code: got %d, want %d", got, tc.code)
			}
		})
	}
}

func BenchmarkViews(b *testing.B) {
	run, err := record.Read(filepath.Join("testdata", "mixed.json"))
	if err != nil {
		b.Fatal(err)
	}
	for _, format := range Formats() {
		b.Run(format, func(b *testing.B) {
			r, err := New(format, Options{Verbose: true})
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			for b.Loop() {
				buf.Reset()
				if err := r.Render(&buf, run); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
