package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// fourEyesRunbook has a step two other people approve and an owned
// manual step whose acknowledgement is due within a second.
const fourEyesRunbook = `runbook "fours" {
  title = "Four eyes"
}

variable "hook" {}

alert "oncall" {
  webhook {
    url = var.hook
  }
  on = ["CRITICAL"]
}

step "deploy" {
  title   = "Deploy"
  confirm = { approvals = 2 }
  shell {
    command = ["true"]
  }
}

step "review" {
  title      = "Review"
  assignee   = "sre"
  ack_within = "1s"
  manual {
    instructions = "Look at it."
  }
}
`

// TestFourEyesAndClocksThroughTheConsole: exec --wait in one process,
// runbook serve in another, people with their own tokens: the run's
// operator cannot approve, nor can an approver twice; two distinct
// approvals run the step; an owned step nobody acknowledges in time sends
// exactly one escalation to the runbook's alert.
func TestFourEyesAndClocksThroughTheConsole(t *testing.T) {
	var mu sync.Mutex
	var hooks []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		hooks = append(hooks, string(body))
		mu.Unlock()
	}))
	defer hook.Close()
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), hooks...)
	}

	dir := writeFiles(t, map[string]string{"rb.hcl": fourEyesRunbook})
	stateDir := filepath.Join(dir, "state")
	tokens := map[string]string{}
	for _, name := range []string{"olga", "bob", "carol"} {
		code, out, stderr := runBin(t, dir, nil, time.Minute, "token", "add", name, "--role", "operator", "--state", stateDir)
		if code != 0 {
			t.Fatalf("token add %s: exit %d: %s", name, code, stderr)
		}
		tokens[name] = strings.TrimSpace(out)
	}
	base := startServe(t, dir, "--state", stateDir)

	run := exec.Command(binary(t), "exec", "rb.hcl", "--state", stateDir, "--wait", "60s", "--operator", "olga", "--no-report", "--var", "hook="+hook.URL)
	run.Dir = dir
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = run.Process.Kill() }()
	d := state.NewDir(stateDir)
	ctx := context.Background()
	// waiting polls until step waits in the console with n approvals.
	waiting := func(step string, approvals int) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if rec, err := d.LoadRun(ctx, "last"); err == nil {
				code, body := api(t, "GET", base+"/api/runs/"+rec.ID, tokens["bob"], "")
				var view struct {
					record.Run
					Waiting []state.Question `json:"waiting"`
				}
				if code == 200 && json.Unmarshal([]byte(body), &view) == nil {
					for _, q := range view.Waiting {
						if it := view.Item(record.KindStep, step); q.Step == step && it != nil && len(it.Approvals) == approvals {
							return view.ID
						}
					}
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("step %s never waited with %d approvals\n%s", step, approvals, out.String())
		return ""
	}
	id := waiting("deploy", 0)
	approve := func(who string) (int, string) {
		return api(t, "POST", base+"/api/runs/"+id+"/steps/deploy/approve", tokens[who], "{}")
	}
	if code, body := approve("olga"); code != 403 || !strings.Contains(body, "olga started this run and cannot approve its step deploy") {
		t.Errorf("the operator's approval: got %d %s, want 403", code, body)
	}
	if code, body := approve("bob"); code != 200 {
		t.Fatalf("bob's approval: got %d %s", code, body)
	}
	if code, body := approve("bob"); code != 409 || !strings.Contains(body, "bob approved step deploy already") {
		t.Errorf("bob's second approval: got %d %s, want 409", code, body)
	}
	waiting("deploy", 1)
	if code, body := approve("bob"); code != 409 || !strings.Contains(body, "bob approved step deploy already") {
		t.Errorf("bob's approval once asked again: got %d %s, want 409", code, body)
	}
	if code, body := approve("carol"); code != 200 {
		t.Fatalf("carol's approval: got %d %s", code, body)
	}

	// Nobody acknowledges the review: one escalation, once its second
	// has passed; none more while it goes on waiting.
	waiting("review", 0)
	deadline := time.Now().Add(30 * time.Second)
	for len(received()) == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if got := received(); len(got) != 1 || !strings.Contains(got[0], `"event":"ESCALATION"`) || !strings.Contains(got[0], "step review (for sre) was not acknowledged within 1s") {
		t.Fatalf("escalations: got %q, want one about review\n%s", got, out.String())
	}
	time.Sleep(1500 * time.Millisecond) // past the deadline again: still one
	if code, body := api(t, "POST", base+"/api/runs/"+id+"/answers/review", tokens["carol"], `{"status":"passed"}`); code != 200 {
		t.Fatalf("answer: %d %s", code, body)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("exec: %v\n%s", err, out.String())
	}
	// The terminal says which approvals came in, once each, and does not
	// call an approval an answer.
	if o := out.String(); !strings.Contains(o, "step deploy approved by bob (1 of 2)") || !strings.Contains(o, "step deploy approved by carol (2 of 2)") || strings.Contains(o, "step deploy answered") {
		t.Errorf("the terminal's lines on the approvals:\n%s", o)
	}
	if n := len(received()); n != 1 {
		t.Errorf("escalations: got %d, want exactly 1", n)
	}
	rec, err := d.LoadRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	dep := rec.Item(record.KindStep, "deploy")
	var approvers []string
	for _, a := range dep.Approvals {
		approvers = append(approvers, a.Operator+"/"+a.By)
	}
	if rec.Status != record.Passed || dep.Status != record.Passed || strings.Join(approvers, ",") != "bob/api,carol/api" {
		t.Errorf("record: run %s, deploy %s approved by %v; want passed after bob's and carol's approvals\n%s", rec.Status, dep.Status, approvers, out.String())
	}
	c := rec.Item(record.KindStep, "review").Clock
	if c == nil || c.AckedBy != "carol" || c.AnsweredAt == nil || len(c.Escalations) != 1 || c.Escalations[0].Deadline != record.DeadlineAck || len(c.Escalations[0].Sent) != 1 || c.Escalations[0].Sent[0] != "oncall" {
		t.Errorf("review's clock: got %+v, want one ack escalation sent to oncall, answered by carol", c)
	}
	evs, err := d.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, e := range evs {
		switch e.Type {
		case record.EventApproval, record.EventEscalation, record.EventAck, record.EventAnswer:
			seen = append(seen, e.Type+" "+e.Item+" "+e.Actor)
		case record.EventConfirm:
			// The last approval, given by the API, confirmed the step.
			if e.Actor != "carol" || e.Surface != record.SurfaceAPI {
				t.Errorf("the confirm event of %s: by %q on %q, want carol on %q", e.Item, e.Actor, e.Surface, record.SurfaceAPI)
			}
		}
	}
	if want := "approval step.deploy bob,approval step.deploy carol,escalation step.review ,answer step.review carol"; strings.Join(seen, ",") != want {
		t.Errorf("the journal's approvals, escalations and answers: %q, want %q", strings.Join(seen, ","), want)
	}
	if code, stdout, stderr := runCLI(t, dir, "verify", id, "--state", stateDir); code != 0 {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
}
