package console

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// ownedRun saves a running run with a four-eyes step waiting for its
// approvals and an owned manual step waiting for an acknowledgement.
func (f *fixture) ownedRun(id string) *record.Run {
	f.t.Helper()
	host, _ := os.Hostname()
	now := time.Now().UTC()
	run := &record.Run{ID: id, Runbook: "drill", Title: "Drill", Mode: "exec", Operator: "alice", Host: host,
		PID: os.Getpid(), StartedAt: now, Status: record.Running,
		Items: []record.Item{
			{Kind: record.KindStep, Name: "deploy", Provider: "shell", Status: record.Pending, Confirm: true, ApprovalsNeeded: 2,
				Approvals: []record.Decision{{Confirmed: true, Operator: "carol", At: now, By: record.SurfaceAPI}}},
			{Kind: record.KindStep, Name: "review", Provider: "manual", Status: record.Pending, Manual: true, Assignee: "sre",
				Clock: &record.Clock{Since: now.Add(-time.Minute), AckWithinMS: 30_000, AnswerWithinMS: 3_600_000}},
		},
	}
	ctx := context.Background()
	if _, err := f.store.SaveRun(ctx, run); err != nil {
		f.t.Fatal(err)
	}
	for step, kind := range map[string]string{"deploy": state.QuestionConfirm, "review": state.QuestionAnswer, record.AckStep("review"): record.QuestionAck} {
		if err := f.dir.Ask(ctx, id, step, kind); err != nil {
			f.t.Fatal(err)
		}
	}
	return run
}

func TestApprovalsRefuseTheOperatorAndRepeatApprovers(t *testing.T) {
	f := newFixture(t, Options{})
	alice, bob, carol := f.token("alice", state.RoleOperator), f.token("bob", state.RoleOperator), f.token("carol", state.RoleOperator)
	viewer := f.token("vera", state.RoleViewer)
	// The same people, written differently: a name is a person whatever
	// its case.
	aliceUpper, carolUpper := f.token("Alice", state.RoleOperator), f.token("CAROL", state.RoleOperator)
	run := f.ownedRun("r1")
	tests := []struct {
		name, path, token, body string
		code                    int
		says                    string
	}{
		{"the operator", "/api/runs/r1/steps/deploy/approve", alice, "{}", 403, "alice started this run and cannot approve its step deploy"},
		{"the operator, as a confirmation", "/api/runs/r1/answers/deploy", alice, `{"confirm":true}`, 403, "four eyes means 2 other people approve it"},
		{"an approver again", "/api/runs/r1/steps/deploy/approve", carol, "{}", 409, "carol approved step deploy already"},
		{"the operator, in capitals", "/api/runs/r1/steps/deploy/approve", aliceUpper, "{}", 403, "Alice started this run and cannot approve its step deploy"},
		{"an approver again, in capitals", "/api/runs/r1/steps/deploy/approve", carolUpper, "{}", 409, "CAROL approved step deploy already"},
		{"a viewer", "/api/runs/r1/steps/deploy/approve", viewer, "{}", 403, ""},
		{"an unknown step", "/api/runs/r1/steps/nope/approve", bob, "{}", 404, ""},
		{"another person", "/api/runs/r1/steps/deploy/approve", bob, "{}", 200, `"by": "bob"`},
		{"the same person before the run asks again", "/api/runs/r1/steps/deploy/approve", bob, "{}", 409, "bob approved step deploy already"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do("POST", tt.path, tt.token, tt.body)
			if code != tt.code || !strings.Contains(body, tt.says) {
				t.Errorf("got %d %s, want %d with %q", code, body, tt.code, tt.says)
			}
		})
	}
	qs, err := f.dir.Questions(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if q.Step == "deploy" && (q.Reply == nil || q.Reply.By != "bob" || q.Reply.Surface != record.SurfaceAPI || q.Reply.Confirm == nil || !*q.Reply.Confirm) {
			t.Errorf("deploy's reply: got %+v, want bob's approval through the API", q.Reply)
		}
	}
}

func TestAcknowledgeAnOwnedStep(t *testing.T) {
	f := newFixture(t, Options{})
	bob, dave := f.token("bob", state.RoleOperator), f.token("dave", state.RoleOperator)
	f.ownedRun("r1")
	code, body := f.do("GET", "/api/runs/r1", bob, "")
	var view RunView
	if err := json.Unmarshal([]byte(body), &view); code != 200 || err != nil {
		t.Fatalf("run: got %d %s", code, body)
	}
	if len(view.Unacknowledged) != 1 || view.Unacknowledged[0] != "review" || len(view.Waiting) != 2 {
		t.Errorf("run: unacknowledged %v, waiting %+v; want review unacknowledged and no ack question among the waiting", view.Unacknowledged, view.Waiting)
	}
	code, page := f.do("GET", "/runs/r1", bob, "")
	if code != 200 || !strings.Contains(page, "Acknowledgement overdue by 30s") || !strings.Contains(page, "Answer due in 59m0s") || !strings.Contains(page, "Acknowledge for sre") {
		t.Errorf("page: got %d, want the countdowns and the acknowledge button\n%s", code, page)
	}
	if !strings.Contains(page, "Needs approvals by 2 people other than alice") || !strings.Contains(page, "<b>carol</b>") {
		t.Errorf("page: want the approvals so far\n%s", page)
	}
	if code, body := f.do("POST", "/api/runs/r1/steps/review/ack", dave, "{}"); code != 200 || !strings.Contains(body, `"by": "dave"`) {
		t.Errorf("ack: got %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/runs/r1/steps/review/ack", bob, "{}"); code != 409 || !strings.Contains(body, "acknowledged already, by dave") {
		t.Errorf("a second ack: got %d %s, want 409", code, body)
	}
	if code, body := f.do("POST", "/api/runs/r1/steps/deploy/ack", bob, "{}"); code != 409 || !strings.Contains(body, "not waiting for an acknowledgement") {
		t.Errorf("ack of a step no one owns: got %d %s, want 409", code, body)
	}
	_, page = f.do("GET", "/runs/r1", bob, "")
	if !strings.Contains(page, "Acknowledged by <b>dave</b>") || strings.Contains(page, "Acknowledgement overdue") {
		t.Errorf("page after the ack: want who acknowledged and no ack countdown\n%s", page)
	}
}

func TestAnAcknowledgementIsAnnounced(t *testing.T) {
	f := newFixture(t, Options{})
	bob := f.token("bob", state.RoleOperator)
	f.ownedRun("r1")
	events := f.events(bob)
	if code, body := f.do("POST", "/api/runs/r1/steps/review/ack", bob, "{}"); code != 200 {
		t.Fatalf("ack: %d %s", code, body)
	}
	for ev := range events {
		if strings.Contains(ev.Step, "/") {
			t.Errorf("event %+v names the acknowledgement's question, not the step", ev)
		}
		if ev.Type == "ack" {
			if ev.Run != "r1" || ev.Step != "review" || ev.By != "bob" {
				t.Errorf("ack event: got %+v, want review of r1 by bob", ev)
			}
			return
		}
	}
	t.Fatal("the stream ended without an ack event")
}
