package views

import (
	"strings"
	"testing"

	"github.com/runbookhq/runbook/record"
)

// Untrusted text (an error message, a response body, a command's output)
// never drives the terminal: every view a person reads shows control
// characters replaced visibly.
func TestControlCharactersAreReplaced(t *testing.T) {
	hostile := "boom \x1b[2J\x1b]0;pwned\x07 \x00 \u009b31m done"
	out := "line one \x1b[31mred\x1b[0m\nline two \x07"
	run := &record.Run{Runbook: "x", Title: "t\x1b[1m", Status: record.Failed, Items: []record.Item{
		{Kind: "check", Name: "c", Title: "title \x1b[5m", Status: record.Failed, Error: &hostile,
			Result: map[string]any{"stdout": out, "body": out}},
		{Kind: "check", Name: "w", Status: record.Warning, Result: map[string]any{"stdout": out},
			Asserts: []record.Assert{{Condition: "false", Severity: "warning", Message: hostile}}},
	}}
	for _, format := range []string{"table", "nagios", "markdown"} {
		t.Run(format, func(t *testing.T) {
			got := string(render(t, format, Options{Verbose: true}, run))
			for _, c := range []string{"\x1b", "\x07", "\x00", "\u009b"} {
				if strings.Contains(got, c) {
					t.Errorf("%s output holds %q:\n%q", format, c, got)
				}
			}
			if !strings.Contains(got, "\uFFFD") {
				t.Errorf("%s output shows no replacement character:\n%s", format, got)
			}
		})
	}
}
