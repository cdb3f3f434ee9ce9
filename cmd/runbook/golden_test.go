package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/golden"
)

// goldenData is the golden package's fixtures.
const goldenData = "../../golden/testdata"

// runGolden runs `runbook golden ARGS…` and returns the exit code and
// output. It goes through run when the root command registers golden, and
// mounts newGoldenCmd on the root itself until then.
func runGolden(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	argv := append([]string{"golden"}, args...)
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
	root := newRootCmd(a)
	if c, _, err := root.Find([]string{"golden"}); err == nil && c != root && c.Name() == "golden" {
		code := run(context.Background(), argv, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	root.AddCommand(newGoldenCmd(a))
	root.SetArgs(argv)
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := root.ExecuteContext(context.Background())
	code := 0
	var ee *exitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.code
		if ee.err != nil {
			fmt.Fprintf(&stderr, "runbook: %v\n", ee.err)
		}
	default:
		code = 2
		fmt.Fprintf(&stderr, "runbook: %v\n", err)
	}
	return code, stdout.String(), stderr.String()
}

func TestGoldenDiffFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		code  int
		class golden.Class
	}{
		{"identical", 0, ""},
		{"volatile", 0, golden.VolatileLeak},
		{"external", 0, golden.ExternalCallVariation},
		{"seed", 1, golden.SeedMismatch},
		{"rng", 1, golden.UnseededRNG},
		{"violation", 1, golden.DeterminismViolation},
		{"unreadable", 1, golden.Unreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(goldenData, "pairs", tc.name)
			code, out, errOut := runGolden(t, "diff", filepath.Join(dir, "left.json"), filepath.Join(dir, "right.json"))
			if code != tc.code {
				t.Errorf("exit code: got %d want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if tc.class != "" && !strings.Contains(out, string(tc.class)) {
				t.Errorf("stdout does not name %s:\n%s", tc.class, out)
			}
			if tc.class == "" && !strings.Contains(out, "1 pair, 1 identical") {
				t.Errorf("stdout does not say the pair is identical:\n%s", out)
			}
		})
	}
}

func TestGoldenDiffOutputText(t *testing.T) {
	dir := filepath.Join(goldenData, "pairs", "seed")
	code, out, _ := runGolden(t, "diff", filepath.Join(dir, "left.json"), filepath.Join(dir, "right.json"))
	want := `SEED_MISMATCH            seed  1234 → 98765  (the two runs used different seeds: the replay must reuse the primary's seed; 3 other difference(s) not judged)
    not judged: VOLATILE_LEAK  finished_at  "2025-12-02T12:12:20Z" → "2025-12-02T13:40:03Z"
    not judged: DETERMINISM_VIOLATION  steps[0].output.picked[0]  3 → 8
    not judged: DETERMINISM_VIOLATION  steps[0].output.picked[1]  17 → 11

1 pair, 0 identical, 361 B read
  SEED_MISMATCH                 1 in 1 file  critical
critical differences found
`
	if code != 1 {
		t.Errorf("exit code: got %d want 1", code)
	}
	if diff := cmp.Diff(want, out); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
}

func TestGoldenDiffDirectories(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out", "findings.json")
	code, stdout, stderr := runGolden(t, "diff", filepath.Join(goldenData, "dirs", "left"), filepath.Join(goldenData, "dirs", "right"), "--output", out, "--workers", "2")
	if code != 1 {
		t.Errorf("exit code: got %d want 1\n%s%s", code, stdout, stderr)
	}
	for _, want := range []string{
		"MISSING                  missing.json  ",
		"EXTRA                    extra.json  (absent) → ",
		"UNREADABLE               unreadable.json  right: line 5, column 49: invalid character '}'",
		"DETERMINISM_VIOLATION    violation.json  steps[1].output.status  \"ok\" → \"failed\"",
		"9 pairs, 1 identical",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var report struct {
		Left     string           `json:"left"`
		Files    int              `json:"files"`
		Critical bool             `json:"critical"`
		Counts   golden.Counts    `json:"counts"`
		Findings []golden.Finding `json:"findings"`
	}
	if err := json.Unmarshal(data, &report); err != nil {
		t.Fatalf("--output is not JSON: %v\n%s", err, data)
	}
	var want golden.Counts
	for c, n := range map[golden.Class]int{
		golden.VolatileLeak: 4, golden.SeedMismatch: 1, golden.UnseededRNG: 4, golden.ExternalCallVariation: 2,
		golden.DeterminismViolation: 7, golden.Missing: 1, golden.Extra: 1, golden.Unreadable: 1,
	} {
		want.Add(c, n)
	}
	if report.Files != 9 || !report.Critical || report.Counts != want || len(report.Findings) != want.Total() {
		t.Errorf("report: got %d files, critical %v, counts %v, %d findings; want 9, true, %v, %d",
			report.Files, report.Critical, report.Counts, len(report.Findings), want, want.Total())
	}
}

func TestGoldenDiffFlags(t *testing.T) {
	dir := filepath.Join(goldenData, "pairs")
	t.Run("volatile turns a violation into a warning", func(t *testing.T) {
		code, out, _ := runGolden(t, "diff", filepath.Join(dir, "rng", "left.json"), filepath.Join(dir, "rng", "right.json"),
			"--volatile", "steps[*].output.*")
		if code != 0 || !strings.Contains(out, "VOLATILE_LEAK") {
			t.Errorf("got exit %d, want 0 with VOLATILE_LEAK:\n%s", code, out)
		}
	})
	t.Run("no default volatile", func(t *testing.T) {
		code, out, _ := runGolden(t, "diff", filepath.Join(dir, "volatile", "left.json"), filepath.Join(dir, "volatile", "right.json"),
			"--no-default-volatile")
		if code != 1 || strings.Contains(out, "VOLATILE_LEAK") {
			t.Errorf("got exit %d, want 1 without VOLATILE_LEAK:\n%s", code, out)
		}
	})
	t.Run("no external patterns", func(t *testing.T) {
		code, out, _ := runGolden(t, "diff", filepath.Join(dir, "external", "left.json"), filepath.Join(dir, "external", "right.json"),
			"--external=")
		if code != 1 || strings.Contains(out, "EXTERNAL_CALL_VARIATION") {
			t.Errorf("got exit %d, want 1 without EXTERNAL_CALL_VARIATION:\n%s", code, out)
		}
	})
	t.Run("seed field", func(t *testing.T) {
		code, out, _ := runGolden(t, "diff", filepath.Join(dir, "seed", "left.json"), filepath.Join(dir, "seed", "right.json"),
			"--seed-field", "run_seed")
		if code != 1 || strings.Contains(out, "SEED_MISMATCH") || !strings.Contains(out, "DETERMINISM_VIOLATION    seed  1234 → 98765") {
			t.Errorf("got exit %d, want 1 with seed as a plain violation:\n%s", code, out)
		}
	})
	t.Run("pair rule across two directories", func(t *testing.T) {
		code, out, _ := runGolden(t, "diff", filepath.Join(goldenData, "shadow-subdirs", "primary"), filepath.Join(goldenData, "shadow-subdirs", "replay"),
			"--pair", "batch-1/{id}.json:batch-1/{id}.json")
		if code != 1 || !strings.Contains(out, "7 pairs, 1 identical") {
			t.Errorf("got exit %d, want 1 and 7 pairs:\n%s", code, out)
		}
	})
}

func TestGoldenUsageErrors(t *testing.T) {
	pairs := filepath.Join(goldenData, "pairs")
	left := filepath.Join(pairs, "identical", "left.json")
	noPairs := t.TempDir()
	if err := os.WriteFile(filepath.Join(noPairs, "README.txt"), []byte("notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"one argument", []string{"diff", left}, "accepts 2 arg(s)"},
		{"no such file", []string{"diff", left, filepath.Join(pairs, "nope.json")}, "no such file"},
		{"file against directory", []string{"diff", left, pairs}, "not one of each"},
		{"bad pair rule", []string{"diff", pairs, pairs, "--pair", "{id}.json"}, "--pair"},
		{"empty volatile pattern", []string{"diff", left, left, "--volatile", " "}, "empty pattern"},
		{"unknown flag", []string{"diff", left, left, "--frobnicate"}, "unknown flag"},
		{"summary of nothing", []string{"summary"}, "requires at least 1 arg"},
		{"summary of a file", []string{"summary", left}, "not a directory"},
		{"summary without pairs", []string{"summary", noPairs}, "no golden file pairs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runGolden(t, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("got exit %d, stderr %q; want 2 mentioning %q", code, stderr, tc.want)
			}
		})
	}
}

func TestGoldenSummary(t *testing.T) {
	out := filepath.Join(t.TempDir(), "summary.json")
	shadow := filepath.Join(goldenData, "shadow")
	subdirs := filepath.Join(goldenData, "shadow-subdirs")
	code, stdout, stderr := runGolden(t, "summary", shadow, subdirs, "--output", out, "--top", "2")
	if code != 1 {
		t.Errorf("exit code: got %d want 1\n%s%s", code, stdout, stderr)
	}
	want := fmt.Sprintf(`Golden summary: 2 directories, 18 pairs, 2 identical, 7.2 KiB read

CLASS                    FINDINGS  FILES  SEVERITY
DETERMINISM_VIOLATION          14      2  critical
UNSEEDED_RNG                    8      2  critical
SEED_MISMATCH                   2      2  critical
MISSING                         2      2  critical
UNREADABLE                      2      2  critical
VOLATILE_LEAK                   8      2  warning
EXTERNAL_CALL_VARIATION         4      2  warning
EXTRA                           2      2  warning

Directories:
  %s          9 pairs  1 identical  14 critical findings  {id}.json:{id}.replay.json
  %s  9 pairs  1 identical  14 critical findings  primary/{id}:replay/{id}

Worst files:
  %s  7 critical, 7 findings
      steps[0].output.count                     DETERMINISM_VIOLATION
      steps[0].output.score                     DETERMINISM_VIOLATION
      steps[1].output.order[1]                  DETERMINISM_VIOLATION
      steps[1].output.order[2]                  DETERMINISM_VIOLATION
      steps[1].output.queue                     DETERMINISM_VIOLATION
  %s  7 critical, 7 findings
      steps[0].output.count                     DETERMINISM_VIOLATION
      steps[0].output.score                     DETERMINISM_VIOLATION
      steps[1].output.order[1]                  DETERMINISM_VIOLATION
      steps[1].output.order[2]                  DETERMINISM_VIOLATION
      steps[1].output.queue                     DETERMINISM_VIOLATION

critical differences found
`, shadow, subdirs, filepath.Join(subdirs, "primary/batch-1/violation.json"), filepath.Join(shadow, "violation.json"))
	if diff := cmp.Diff(want, stdout); diff != "" {
		t.Errorf("stdout (-want +got):\n%s", diff)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Files    int           `json:"files"`
		Bytes    int64         `json:"bytes"`
		Critical bool          `json:"critical"`
		Counts   golden.Counts `json:"counts"`
		Dirs     []struct {
			Dir   string `json:"dir"`
			Files int    `json:"files"`
		} `json:"dirs"`
		Worst []golden.WorstFile `json:"worst"`
	}
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("--output is not JSON: %v\n%s", err, data)
	}
	if s.Files != 18 || !s.Critical || s.Counts.Get(golden.DeterminismViolation) != 14 || len(s.Dirs) != 2 || len(s.Worst) != 2 || s.Bytes == 0 {
		t.Errorf("summary.json: got %+v", s)
	}
}

func TestGoldenSummaryWarningsOnly(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{"a.json": "volatile/left.json", "a.replay.json": "volatile/right.json",
		"b.json": "external/left.json", "b.replay.json": "external/right.json"} {
		data, err := os.ReadFile(filepath.Join(goldenData, "pairs", src))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, _ := runGolden(t, "summary", dir)
	if code != 0 || !strings.Contains(stdout, "no critical differences") {
		t.Errorf("got exit %d, want 0 and no critical differences:\n%s", code, stdout)
	}
}
