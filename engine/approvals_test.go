package engine_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

// approver gives the approvals in order, one per call, and records what
// each call showed.
type approver struct {
	prompter
	give  []record.Decision
	shown [][]record.Decision
}

func (a *approver) Approve(_ context.Context, it *record.Item) (*record.Decision, error) {
	a.shown = append(a.shown, it.Approvals)
	if len(a.give) == 0 {
		return &record.Decision{Confirmed: false, Operator: "nobody", By: "timeout"}, nil
	}
	d := a.give[0]
	a.give = a.give[1:]
	return &d, nil
}

// events hears the run's events.
type events struct {
	mu  sync.Mutex
	got []record.Event
}

func (e *events) Started(record.Item)  {}
func (e *events) Finished(record.Item) {}
func (e *events) Event(ev record.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, ev)
}

func (e *events) of(typ string) []record.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []record.Event
	for _, ev := range e.got {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

const fourEyes = `runbook "t" {}
step "deploy" {
  confirm = { approvals = 2 }
  shell { command = "true" }
}
`

func TestFourEyesNeedsDistinctApproversOtherThanTheOperator(t *testing.T) {
	yes := func(who string) record.Decision {
		return record.Decision{Confirmed: true, Operator: who, By: record.SurfaceConsole, At: time.Now()}
	}
	tests := []struct {
		name       string
		give       []record.Decision
		status     string
		approvers  []string
		runStatus  string
		calls      int
		decisionBy string
	}{
		{"self and repeat refused", []record.Decision{yes("olga"), yes("bob"), yes("bob"), yes("carol")}, record.Passed, []string{"bob", "carol"}, record.Passed, 4, "carol"},
		{"the same people in other case or spacing refused", []record.Decision{yes("Olga"), yes("bob"), yes(" BOB "), yes("carol")}, record.Passed, []string{"bob", "carol"}, record.Passed, 4, "carol"},
		{"declined by an approver", []record.Decision{yes("bob"), {Confirmed: false, Operator: "carol", By: record.SurfaceConsole}}, record.Declined, []string{"bob"}, record.Incomplete, 2, "carol"},
		{"one approval is not enough", []record.Decision{yes("bob")}, record.Declined, []string{"bob"}, record.Incomplete, 2, "nobody"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := &approver{give: tt.give}
			ev := &events{}
			r := run(t, fourEyes, engine.Options{Prompter: a, Observer: ev, Operator: "olga"})
			it := item(t, r, "step", "deploy")
			if it.Status != tt.status || r.Status != tt.runStatus {
				t.Errorf("step %s, run %s; want %s, %s (error %v)", it.Status, r.Status, tt.status, tt.runStatus, it.Error)
			}
			if it.ApprovalsNeeded != 2 {
				t.Errorf("approvals_needed: got %d, want 2", it.ApprovalsNeeded)
			}
			var got []string
			for _, d := range it.Approvals {
				got = append(got, d.Operator)
			}
			if strings.Join(got, ",") != strings.Join(tt.approvers, ",") {
				t.Errorf("approvals: got %v, want %v", got, tt.approvers)
			}
			if len(a.shown) != tt.calls {
				t.Errorf("asked %d times, want %d", len(a.shown), tt.calls)
			}
			if it.Decision == nil || it.Decision.Operator != tt.decisionBy {
				t.Errorf("decision: got %+v, want by %s", it.Decision, tt.decisionBy)
			}
			evs := ev.of(record.EventApproval)
			if len(evs) != len(tt.approvers) {
				t.Fatalf("approval events: got %d, want %d", len(evs), len(tt.approvers))
			}
			for i, e := range evs {
				if e.Actor != tt.approvers[i] || e.Item != "step.deploy" || e.Surface != record.SurfaceConsole {
					t.Errorf("event %d: got %+v, want an approval of step.deploy by %s in the console", i, e, tt.approvers[i])
				}
			}
		})
	}
}

func TestFourEyesWithoutApprovalsInTimeSaysSo(t *testing.T) {
	a := &approver{give: []record.Decision{{Confirmed: true, Operator: "bob", By: record.SurfaceConsole, At: time.Now()},
		{Confirmed: false, Operator: "olga", By: "timeout", At: time.Now()}}}
	r := run(t, fourEyes+`step "after" {
  shell { command = "true" }
}
`, engine.Options{Prompter: a, Operator: "olga"})
	if it := item(t, r, "step", "deploy"); it.Status != record.Declined {
		t.Errorf("deploy %s; want declined", it.Status)
	}
	want := "step deploy was not approved in time (1 of 2 approvals)"
	if got := item(t, r, "step", "after").SkipReason; got != want {
		t.Errorf("after: skip reason %q, want %q (the operator declined nothing)", got, want)
	}
}

func TestFourEyesIsNotGivenByYesOrATerminal(t *testing.T) {
	for _, yes := range []bool{false, true} {
		r := run(t, fourEyes, engine.Options{Prompter: &prompter{}, Yes: yes, Operator: "olga"})
		it := item(t, r, "step", "deploy")
		if it.Status != record.Failed || it.Error == nil || !strings.Contains(*it.Error, "approvals by 2 people other than the operator") {
			t.Errorf("--yes=%v: got %s (%v), want failed: needs approvals", yes, it.Status, it.Error)
			continue
		}
		if yes != strings.Contains(*it.Error, "--yes does not approve it") {
			t.Errorf("--yes=%v: error %q", yes, *it.Error)
		}
	}
}

// slowAnswer answers a manual step only once told to, and acknowledges
// it when ack is set.
type slowAnswer struct {
	release chan struct{}
	ack     *record.Decision
}

func (s *slowAnswer) Confirm(context.Context, *record.Item) (bool, error) { return true, nil }
func (s *slowAnswer) Answer(ctx context.Context, it *record.Item) (*record.Answer, error) {
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return &record.Answer{Status: record.Passed, Operator: "carol", AnsweredAt: time.Now(), Surface: record.SurfaceConsole}, nil
}
func (s *slowAnswer) Acknowledged(ctx context.Context, it *record.Item) (*record.Decision, error) {
	if s.ack != nil {
		return s.ack, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

const owned = `runbook "t" {}
step "review" {
  manual { instructions = "Look." }
  assignee      = "sre"
  ack_within    = "500ms"
  answer_within = "600ms"
}
`

func TestOverdueStepsEscalateOncePerDeadline(t *testing.T) {
	for _, acked := range []bool{false, true} {
		t.Run(map[bool]string{false: "unacknowledged", true: "acknowledged"}[acked], func(t *testing.T) {
			p := &slowAnswer{release: make(chan struct{})}
			if acked {
				p.ack = &record.Decision{Confirmed: true, Operator: "dave", At: time.Now(), By: record.SurfaceAPI}
			}
			var mu sync.Mutex
			var sent []engine.Escalation
			want := 2
			if acked {
				want = 1
			}
			escalate := func(_ context.Context, e engine.Escalation) ([]string, error) {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, e)
				if e.Deadline == record.DeadlineAnswer {
					close(p.release) // answer only once both deadlines passed
				}
				return []string{"oncall"}, nil
			}
			ev := &events{}
			r := run(t, owned, engine.Options{Prompter: p, Observer: ev, Operator: "olga", Escalate: escalate})
			it := item(t, r, "step", "review")
			if it.Status != record.Passed {
				t.Fatalf("status %s", it.Status)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(sent) != want {
				t.Fatalf("escalations: got %d (%+v), want %d", len(sent), sent, want)
			}
			last := sent[len(sent)-1]
			if last.Step != "review" || last.Assignee != "sre" || last.Deadline != record.DeadlineAnswer || last.Within != 600*time.Millisecond || !strings.Contains(last.Message(), "step review (for sre) was not answered within 600ms") {
				t.Errorf("escalation: got %+v (%s)", last, last.Message())
			}
			c := it.Clock
			if c == nil || c.AckWithinMS != 500 || c.AnswerWithinMS != 600 || c.AnsweredAt == nil || c.AckedAt == nil || len(c.Escalations) != want {
				t.Fatalf("clock: got %+v", c)
			}
			if wantBy := map[bool]string{false: "carol", true: "dave"}[acked]; c.AckedBy != wantBy {
				t.Errorf("acked by %q, want %q", c.AckedBy, wantBy)
			}
			if got := c.Escalations[0].Sent; len(got) != 1 || got[0] != "oncall" {
				t.Errorf("escalation sent to %v, want [oncall]", got)
			}
			if n := len(ev.of(record.EventEscalation)); n != want {
				t.Errorf("escalation events: got %d, want %d", n, want)
			}
			if n := len(ev.of(record.EventAck)); n != map[bool]int{false: 0, true: 1}[acked] {
				t.Errorf("ack events: got %d", n)
			}
		})
	}
}
