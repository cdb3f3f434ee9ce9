package views

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name   string
		run    record.Run
		format string
		strict bool
		want   int
	}{
		{"passed", record.Run{Status: record.Passed}, "table", false, ExitPassed},
		{"warning", record.Run{Status: record.Warning}, "table", false, ExitPassed},
		{"warning strict", record.Run{Status: record.Warning}, "table", true, ExitFailed},
		{"failed", record.Run{Status: record.Failed}, "junit", false, ExitFailed},
		{"incomplete", record.Run{Status: record.Incomplete}, "tap", false, ExitIncomplete},
		{"abandoned", record.Run{Status: record.Abandoned}, "table", false, ExitIncomplete},
		{"still running", record.Run{Status: record.Running}, "json", false, ExitIncomplete},
		{"unknown status is not success", record.Run{Status: "bogus"}, "table", false, ExitFailed},
		{"empty status is not success", record.Run{}, "table", false, ExitFailed},
		{"interrupted", record.Run{Status: record.Passed, Interrupted: true}, "table", false, ExitInterrupted},
		{"nagios abandoned", record.Run{Status: record.Abandoned}, "nagios", false, 3},
		{"nagios interrupted", record.Run{Status: record.Passed, Interrupted: true}, "nagios", false, 3},
		{"nagios interrupted and failed", record.Run{Status: record.Failed, Interrupted: true}, "nagios", false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(&tc.run, tc.format, tc.strict); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// junitCounts parses JUnit output and returns the suite's failures and the
// failure messages by test case name.
func junitCounts(t *testing.T, out []byte) (int, map[string]string) {
	t.Helper()
	var doc struct {
		Suites []struct {
			Failures int `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("junit output is not XML: %v\n%s", err, out)
	}
	msgs := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		if c.Failure != nil {
			msgs[c.Name] = c.Failure.Message
		}
	}
	return doc.Suites[0].Failures, msgs
}

// TestNeverGreen checks JUnit and TAP never show a run that is not done
// as all green: pending, declined and running items fail with a reason, and
// a run that did not finish fails even when every recorded item passed.
func TestNeverGreen(t *testing.T) {
	at := time.Date(2025, 12, 4, 9, 1, 0, 0, time.UTC)
	passed := record.Item{Kind: "step", Name: "a", Status: record.Passed, StartedAt: &at}
	tests := []struct {
		name string
		run  record.Run
		want map[string]string // failed test case → message
	}{
		{
			"pending manual step",
			record.Run{Runbook: "r", Status: record.Incomplete, Items: []record.Item{passed, {Kind: "step", Name: "p", Status: record.Pending, Manual: true}}},
			map[string]string{"step.p": "pending: manual step not answered"},
		},
		{
			"declined confirm",
			record.Run{Runbook: "r", Status: record.Incomplete, Items: []record.Item{passed, {Kind: "step", Name: "d", Status: record.Declined, Decision: &record.Decision{Operator: "bob", At: at}}}},
			map[string]string{"step.d": "declined by bob at 2025-12-04 09:01:00 UTC"},
		},
		{
			"abandoned with a running step",
			record.Run{Runbook: "r", Status: record.Abandoned, Items: []record.Item{passed, {Kind: "step", Name: "c", Status: record.Running, StartedAt: &at}}},
			map[string]string{"step.c": "running: did not finish before the run stopped", "run": "run abandoned: its process stopped before the run finished"},
		},
		{
			"abandoned with every recorded item passed",
			record.Run{Runbook: "r", Status: record.Abandoned, Items: []record.Item{passed}},
			map[string]string{"run": "run abandoned: its process stopped before the run finished"},
		},
		{
			"interrupted with every recorded item passed",
			record.Run{Runbook: "r", Status: record.Passed, Interrupted: true, Signal: "terminated", Items: []record.Item{passed}},
			map[string]string{"run": "run interrupted (terminated) before it finished"},
		},
		{
			"warning passes",
			record.Run{Runbook: "r", Status: record.Warning, Items: []record.Item{passed, {Kind: "check", Name: "w", Status: record.Warning, StartedAt: &at}}},
			map[string]string{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			failures, msgs := junitCounts(t, render(t, "junit", Options{}, &tc.run))
			if failures != len(tc.want) {
				t.Errorf("junit failures: got %d, want %d", failures, len(tc.want))
			}
			for name, want := range tc.want {
				if got := msgs[name]; got != want {
					t.Errorf("junit %s failure: got %q, want %q", name, got, want)
				}
			}
			tap := string(render(t, "tap", Options{}, &tc.run))
			if got := strings.Count(tap, "\nnot ok "); got != len(tc.want) {
				t.Errorf("tap: got %d not ok points, want %d:\n%s", got, len(tc.want), tap)
			}
			if strings.Contains(tap, "# SKIP pending") || strings.Contains(tap, "# TODO") {
				t.Errorf("tap: got a SKIP or TODO directive hiding an unfinished item:\n%s", tap)
			}
			for name, want := range tc.want {
				if !strings.Contains(tap, want) {
					t.Errorf("tap: no %q for %s:\n%s", want, name, tap)
				}
			}
		})
	}
}

func TestWarningIsMarked(t *testing.T) {
	at := time.Date(2025, 12, 4, 9, 1, 0, 0, time.UTC)
	run := &record.Run{Runbook: "r", Status: record.Warning, Items: []record.Item{
		{Kind: "step", Name: "multi", Status: record.Warning, StartedAt: &at, Error: nil},
	}}
	if out := string(render(t, "junit", Options{}, run)); !strings.Contains(out, "warning: the item passed with a warning") {
		t.Errorf("junit: got no warning note in system-out:\n%s", out)
	}
	if out := string(render(t, "tap", Options{}, run)); !strings.Contains(out, "\n# warning: step.multi") || !strings.Contains(out, "\nok 1 - step.multi") {
		t.Errorf("tap: got no passing point with a # warning line:\n%s", out)
	}
}

// TestTruncationMarkedInEveryView checks that an item whose provider cut
// its capture says so in every human and CI view, passed or failed.
func TestTruncationMarkedInEveryView(t *testing.T) {
	at := time.Date(2025, 12, 4, 9, 1, 0, 0, time.UTC)
	msg := "HTTP 500"
	run := &record.Run{Runbook: "r", Status: record.Failed, Summary: record.Summary{Passed: 1, Failed: 1}, Items: []record.Item{
		{Kind: "step", Name: "dump", Status: record.Passed, StartedAt: &at, Result: map[string]any{
			"stdout": strings.Repeat("row\n", 50), "stdout_truncated": true, "stderr_truncated": false,
		}},
		{Kind: "check", Name: "api", Status: record.Failed, StartedAt: &at, Error: &msg, Result: map[string]any{
			"status": float64(500), "body": "<html>…", "body_truncated": true,
		}},
	}}
	for _, format := range []string{"table", "markdown", "junit", "tap"} {
		t.Run(format, func(t *testing.T) {
			out := string(render(t, format, Options{}, run))
			for _, want := range []string{"output truncated (stdout)", "output truncated (body)"} {
				if !strings.Contains(out, want) {
					t.Errorf("got no %q:\n%s", want, out)
				}
			}
		})
	}
}

// TestCleanupGroup checks cleanup blocks come after the steps, under
// their own label, in the table and Markdown views, wherever the record
// lists them.
func TestCleanupGroup(t *testing.T) {
	run := &record.Run{Runbook: "r", Status: record.Passed, Items: []record.Item{
		{Kind: "step", Name: "first", Status: record.Passed},
		{Kind: record.KindCleanup, Name: "tidy", Status: record.Passed},
		{Kind: "step", Name: "second", Status: record.Passed},
	}}
	tests := []struct {
		format string
		label  string
	}{
		{"table", "| cleanup"},
		{"markdown", "## Cleanup"},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			out := string(render(t, tc.format, Options{}, run))
			second, label, tidy := strings.Index(out, "step.second"), strings.Index(out, tc.label), strings.Index(out, "cleanup.tidy")
			if second < 0 || label < 0 || tidy < 0 || !(second < label && label < tidy) {
				t.Errorf("want step.second, then %q, then cleanup.tidy; got positions %d, %d, %d:\n%s", tc.label, second, label, tidy, out)
			}
		})
	}
}

func TestTotalsLine(t *testing.T) {
	tests := []struct {
		name string
		run  record.Run
		want string
	}{
		{"declined counted", record.Run{Status: record.Incomplete, Summary: record.Summary{Passed: 2, Declined: 1}}, "2 passed, 0 failed, 0 warning, 0 skipped, 0 pending, 1 declined — run incomplete in 0ms"},
		{"no declined, no count", record.Run{Status: record.Passed, Summary: record.Summary{Passed: 2}}, "2 passed, 0 failed, 0 warning, 0 skipped, 0 pending — run passed in 0ms"},
		{"interrupted by a signal", record.Run{Status: record.Passed, Interrupted: true, Signal: "terminated"}, "0 passed, 0 failed, 0 warning, 0 skipped, 0 pending — run passed, interrupted (terminated) in 0ms"},
		{"abandoned", record.Run{Status: record.Abandoned, ID: "x"}, "0 passed, 0 failed, 0 warning, 0 skipped, 0 pending — run abandoned in 0ms (record x)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := totalsLine(&tc.run, false); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
