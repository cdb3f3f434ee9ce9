package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// TestConfirmPromptGivesUpOnCtrlC: a cancelled context ends the question
// at once, and the line typed afterwards goes to the next question (one
// reader of the input, never two).
func TestConfirmPromptGivesUpOnCtrlC(t *testing.T) {
	in, typed := io.Pipe()
	defer typed.Close()
	var out bytes.Buffer
	p := newTerminalPrompter(in, &out, "alice")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := p.Confirm(ctx, &record.Item{Name: "risky"})
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Confirm returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Confirm did not return after the context was cancelled")
	}
	go typed.Write([]byte("y\n"))
	if !p.AbandonCleanup(context.Background()) {
		t.Errorf("the next question did not get the line typed after Ctrl-C")
	}
	if !strings.Contains(out.String(), "Abandon cleanup? [y/N]") {
		t.Errorf("output %q lacks the question", out.String())
	}
}

func TestRequiredManualStepCannotBeSkippedAtThePrompt(t *testing.T) {
	for _, tc := range []struct {
		name     string
		required bool
		want     string
	}{{"required", true, record.Passed}, {"optional", false, record.Skipped}} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			p := newTerminalPrompter(strings.NewReader("s\np\nchecked\n"), &out, "alice")
			ans, err := p.Answer(context.Background(), &record.Item{Name: "review", Manual: true, Required: tc.required})
			if err != nil {
				t.Fatal(err)
			}
			if ans.Status != tc.want {
				t.Errorf("answer %s, want %s", ans.Status, tc.want)
			}
			offered := strings.Contains(out.String(), "[s]kipped")
			if offered == tc.required {
				t.Errorf("skip offered=%v for required=%v:\n%s", offered, tc.required, out.String())
			}
		})
	}
}
