package console

// Four eyes and owned steps: approvals of a step with confirm = {
// approvals = N }, acknowledgements of an owned step (assignee,
// ack_within, answer_within), and the countdown to its deadlines.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// checkApproval refuses an approval of a four-eyes step that cannot
// count: by the run's own operator (403), or by someone who approved the
// step already (409), also while the run has not yet asked again.
func (s *Server) checkApproval(ctx context.Context, id identity, run *record.Run, it *record.Item) error {
	if it.ApprovalsNeeded == 0 {
		return nil
	}
	if why := it.ApprovalRefusal(run.Operator, id.Name); why != "" {
		if record.SamePerson(id.Name, run.Operator) {
			return errorf(http.StatusForbidden, "%s", why)
		}
		return errorf(http.StatusConflict, "%s", why)
	}
	qs, err := s.console.Questions(ctx, run.ID)
	if err != nil {
		return err
	}
	for _, q := range qs {
		if q.Step == it.Name && q.State == state.QuestionAnswered && q.Reply != nil &&
			record.SamePerson(q.Reply.By, id.Name) && q.Reply.Confirm != nil && *q.Reply.Confirm {
			return errorf(http.StatusConflict, "%s approved step %s already: it needs approvals by %d different people", id.Name, it.Name, it.ApprovalsNeeded)
		}
	}
	return nil
}

// stepBody is the body of an approval or an acknowledgement: {}.
type stepBody struct{}

func (s *Server) apiApprove(w http.ResponseWriter, r *http.Request, id identity) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	if err := decodeBody(r, &stepBody{}); err != nil {
		return err
	}
	yes := true
	q, err := s.reply(r.Context(), id, r.PathValue("id"), r.PathValue("step"), answerBody{Confirm: &yes}, record.SurfaceAPI)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}

// ack acknowledges an owned step of a running run for its assignee.
// Anyone who may answer may acknowledge: the record says who did.
func (s *Server) ack(ctx context.Context, id identity, runID, step, surface string) (state.Question, error) {
	if err := mayWrite(id); err != nil {
		return state.Question{}, err
	}
	run, err := s.loadRun(ctx, runID)
	if err != nil {
		return state.Question{}, err
	}
	if run.Item(record.KindStep, step) == nil {
		return state.Question{}, errorf(http.StatusNotFound, "run %s has no step %q", runID, step)
	}
	if run.Status != record.Running {
		return state.Question{}, errorf(http.StatusConflict, "run %s has ended (%s): it takes no more acknowledgements", runID, run.Status)
	}
	q, err := s.console.Reply(ctx, runID, record.AckStep(step), state.Reply{By: id.Name, Surface: surface, At: s.opts.Now()})
	if errors.Is(err, state.ErrNotWaiting) {
		if by := s.ackedBy(ctx, runID, step); by != "" {
			return state.Question{}, errorf(http.StatusConflict, "step %s of run %s is acknowledged already, by %s", step, runID, by)
		}
		return state.Question{}, errorf(http.StatusConflict, "step %s of run %s is not waiting for an acknowledgement (answered already, not reached yet, or owned by no one)", step, runID)
	}
	if err != nil {
		return state.Question{}, err
	}
	q.Step = step
	s.hub.poke()
	return q, nil
}

// ackedBy returns who acknowledged a step, if anyone did.
func (s *Server) ackedBy(ctx context.Context, runID, step string) string {
	qs, err := s.console.Questions(ctx, runID)
	if err != nil {
		return ""
	}
	for _, q := range qs {
		if q.Step == record.AckStep(step) && q.State == state.QuestionAnswered && q.Reply != nil {
			return q.Reply.By
		}
	}
	return ""
}

func (s *Server) apiAck(w http.ResponseWriter, r *http.Request, id identity) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	if err := decodeBody(r, &stepBody{}); err != nil {
		return err
	}
	q, err := s.ack(r.Context(), id, r.PathValue("id"), r.PathValue("step"), record.SurfaceAPI)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}

func (s *Server) formAck(r *http.Request, id identity) (string, error) {
	runID, step := r.PathValue("id"), r.PathValue("step")
	if _, err := s.ack(r.Context(), id, runID, step, record.SurfaceConsole); err != nil {
		return "", err
	}
	return "/runs/" + runID + "#step-" + step, nil
}

// splitAcks separates the open acknowledgement questions from the
// others, naming the steps that wait for an acknowledgement.
func splitAcks(qs []state.Question) (others []state.Question, acks []string) {
	others = []state.Question{}
	acks = []string{}
	for _, q := range qs {
		if q.Kind == record.QuestionAck {
			if step, ok := ackOf(q.Step); ok {
				acks = append(acks, step)
			}
			continue
		}
		others = append(others, q)
	}
	return others, acks
}

// ackOf returns the step an acknowledgement question is about.
func ackOf(name string) (string, bool) {
	const suffix = "/ack"
	if len(name) > len(suffix) && name[len(name)-len(suffix):] == suffix {
		return name[:len(name)-len(suffix)], true
	}
	return "", false
}

// clockView is an owned step's deadlines as a page shows them.
type clockView struct {
	// Ack and Answer are the deadlines still running, in words ("due in
	// 4m10s", "overdue by 20s"), with their time for the page's script.
	Ack, Answer       string
	AckDue, AnswerDue time.Time
	// Overdue marks a deadline passed.
	AckOverdue, AnswerOverdue bool
	// CanAck offers the acknowledgement; AckedBy says who gave it.
	CanAck  bool
	AckedBy string
}

// clockOf describes an owned step's clock at now, while it waits.
func clockOf(it record.Item, waiting, ackOpen bool, ackedBy string, now time.Time) *clockView {
	c := it.Clock
	if c == nil || !waiting {
		return nil
	}
	v := &clockView{CanAck: ackOpen, AckedBy: ackedBy}
	words := func(due time.Time) (string, bool) {
		left := due.Sub(now).Round(time.Second)
		if left < 0 {
			return fmt.Sprintf("overdue by %s", -left), true
		}
		return fmt.Sprintf("due in %s", left), false
	}
	if due, ok := c.AckDue(); ok && ackedBy == "" {
		v.AckDue = due
		v.Ack, v.AckOverdue = words(due)
	}
	if due, ok := c.AnswerDue(); ok {
		v.AnswerDue = due
		v.Answer, v.AnswerOverdue = words(due)
	}
	return v
}
