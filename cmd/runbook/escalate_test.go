package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/engine"
)

// An escalation sent during an exercise is marked as one, as every other
// message of the exercise is; a real run's is not.
func TestEscalationOfAnExerciseSaysSo(t *testing.T) {
	for _, tc := range []struct{ attr, flag bool }{{false, false}, {true, false}, {false, true}} {
		t.Run(fmt.Sprintf("exercise=%v,--exercise=%v", tc.attr, tc.flag), func(t *testing.T) {
			exercise := tc.attr || tc.flag
			h := &hook{}
			srv := httptest.NewServer(h)
			defer srv.Close()
			dir := writeFiles(t, map[string]string{"rb.hcl": fmt.Sprintf(`runbook "drill" {
  exercise = %v
}
alert "oncall" {
  webhook { url = "%s" }
}
step "page" {
  assignee   = "sre"
  ack_within = "1m"
  manual { instructions = "Page the lead." }
}
`, tc.attr, srv.URL)})
			var stderr bytes.Buffer
			a := &app{stdout: &stderr, stderr: &stderr, getenv: func(string) string { return "" }}
			b, err := a.load(filepath.Join(dir, "rb.hcl"), varFlags{}, false)
			if err != nil {
				t.Fatalf("load: %v %s", err, stderr.String())
			}
			send := escalator(b, "run-1", "host", tc.flag)
			if _, err := send(context.Background(), engine.Escalation{Runbook: "drill", Step: "page", Assignee: "sre", Deadline: "ack", Within: time.Minute, Waited: time.Minute}); err != nil {
				t.Fatal(err)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.got) != 1 {
				t.Fatalf("got %d messages, want 1", len(h.got))
			}
			body := h.got[0]
			marked := body["exercise"] == true && strings.HasPrefix(fmt.Sprint(body["summary"]), "EXERCISE")
			if marked != exercise {
				t.Errorf("the escalation of an exercise=%v run: %v", exercise, body)
			}
		})
	}
}
