package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// waitPrompter is the prompter of `exec --wait`: a manual step or a
// confirm prompt becomes a question in the state (state.Console), which
// the console (`runbook serve`) answers, and, when there is a terminal,
// also a question there. The first answer wins: the terminal's is written
// to the state as a reply too, so a console answer given at the same
// moment loses cleanly (409 there). With no answer within wait, the step
// stays pending (a confirm: declined, "timeout").
type waitPrompter struct {
	term     *terminalPrompter // nil without a terminal
	console  state.Console
	journal  *journal
	runID    string
	operator string
	wait     time.Duration
	poll     time.Duration
	out      io.Writer // notes for the operator
}

var (
	_ engine.Prompter     = (*waitPrompter)(nil)
	_ engine.Decider      = (*waitPrompter)(nil)
	_ engine.Approver     = (*waitPrompter)(nil)
	_ engine.Acknowledger = (*waitPrompter)(nil)
)

// errNoAnswer is a question nobody answered within --wait.
var errNoAnswer = errors.New("no answer in time")

// Answer waits for the outcome of a manual step.
func (p *waitPrompter) Answer(ctx context.Context, it *record.Item) (*record.Answer, error) {
	reply, err := p.ask(ctx, it, state.QuestionAnswer, func(ctx context.Context) (state.Reply, error) {
		a, err := p.term.Answer(ctx, it)
		if err != nil {
			return state.Reply{}, err
		}
		return state.Reply{Status: a.Status, Note: a.Note, By: p.operator, Surface: record.SurfaceTerminal, At: a.AnsweredAt}, nil
	})
	if err != nil {
		return nil, err
	}
	return &record.Answer{Status: reply.Status, Note: reply.Note, Operator: reply.By, AnsweredAt: reply.At, Surface: reply.Surface}, nil
}

// Confirm is Decide's yes or no.
func (p *waitPrompter) Confirm(ctx context.Context, it *record.Item) (bool, error) {
	d, err := p.Decide(ctx, it)
	if err != nil {
		return false, err
	}
	return d.Confirmed, nil
}

// Decide waits for a mutating step's confirmation.
func (p *waitPrompter) Decide(ctx context.Context, it *record.Item) (*record.Decision, error) {
	reply, err := p.ask(ctx, it, state.QuestionConfirm, func(ctx context.Context) (state.Reply, error) {
		yes, err := p.term.Confirm(ctx, it)
		if err != nil {
			return state.Reply{}, err
		}
		return state.Reply{Confirm: &yes, By: p.operator, Surface: record.SurfaceTerminal, At: time.Now()}, nil
	})
	if errors.Is(err, errNoAnswer) {
		return &record.Decision{Confirmed: false, Operator: p.operator, At: time.Now().UTC(), By: "timeout"}, nil
	}
	if err != nil {
		return nil, err
	}
	by := reply.Surface
	if by == record.SurfaceTerminal {
		by = "prompt"
	}
	return &record.Decision{Confirmed: reply.Confirm != nil && *reply.Confirm, Operator: reply.By, At: reply.At, By: by}, nil
}

// Approve waits for one approval, or refusal, of a four-eyes step (confirm
// = { approvals = N }), given in the console or through its API. The
// terminal gives none: the operator sits there, and four eyes means other
// people. An approval that cannot count (by the operator, or a second one
// by the same person) is refused here too, and the step asked again; the
// console refuses those before they are given.
func (p *waitPrompter) Approve(ctx context.Context, it *record.Item) (*record.Decision, error) {
	if len(it.Approvals) == 0 {
		fmt.Fprintf(p.out, "runbook: step %s needs approvals by %d people other than %s: they approve it in the console (runbook serve)\n", it.Name, it.ApprovalsNeeded, p.operator)
	}
	console := *p
	console.term = nil
	for {
		// The record shows the approvals so far before the question opens:
		// the console refuses a second approval by the same person.
		p.journal.Waiting(*it)
		reply, err := console.ask(ctx, it, state.QuestionConfirm, nil)
		if errors.Is(err, errNoAnswer) {
			return &record.Decision{Confirmed: false, Operator: p.operator, At: time.Now().UTC(), By: "timeout"}, nil
		}
		if err != nil {
			return nil, err
		}
		d := &record.Decision{Confirmed: reply.Confirm != nil && *reply.Confirm, Operator: reply.By, At: reply.At, By: reply.Surface}
		if d.Confirmed {
			if why := it.ApprovalRefusal(p.operator, d.Operator); why != "" {
				fmt.Fprintf(p.out, "runbook: approval refused: %s\n", why)
				continue
			}
			fmt.Fprintf(p.out, "runbook: step %s approved by %s (%d of %d)\n", it.Name, d.Operator, len(it.Approvals)+1, it.ApprovalsNeeded)
		} else {
			fmt.Fprintf(p.out, "runbook: step %s declined in the %s by %s\n", it.Name, reply.Surface, d.Operator)
		}
		return d, nil
	}
}

// Acknowledged waits until someone acknowledges an owned step in the
// console or through its API (a question of kind record.QuestionAck), and
// withdraws that question once the step no longer waits.
func (p *waitPrompter) Acknowledged(ctx context.Context, it *record.Item) (*record.Decision, error) {
	step := record.AckStep(it.Name)
	if err := p.console.Ask(ctx, p.runID, step, record.QuestionAck); err != nil {
		return nil, fmt.Errorf("ask in the console: %w", err)
	}
	defer func() { _ = p.console.Withdraw(context.WithoutCancel(ctx), p.runID, step) }()
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		qs, err := p.console.Questions(ctx, p.runID)
		if err != nil {
			continue
		}
		for _, q := range qs {
			if q.Step == step && q.State == state.QuestionAnswered && q.Reply != nil {
				fmt.Fprintf(p.out, "runbook: step %s acknowledged in the %s by %s\n", it.Name, q.Reply.Surface, q.Reply.By)
				return &record.Decision{Confirmed: true, Operator: q.Reply.By, At: q.Reply.At, By: q.Reply.Surface}, nil
			}
		}
	}
}

// ask opens the question in the state, asks the terminal too (when there
// is one), and returns the first reply.
func (p *waitPrompter) ask(ctx context.Context, it *record.Item, kind string, terminal func(context.Context) (state.Reply, error)) (state.Reply, error) {
	// The record says the step waits before the question is open, so a
	// console that sees the question never sees the step still running.
	p.journal.Waiting(*it)
	if err := p.console.Ask(ctx, p.runID, it.Name, kind); err != nil {
		if p.term == nil {
			return state.Reply{}, fmt.Errorf("ask in the console: %w", err)
		}
		fmt.Fprintf(p.out, "runbook: warning: the console cannot be asked (%v); answer here\n", err)
		return terminal(ctx)
	}
	wctx, cancel := context.WithTimeout(ctx, p.wait)
	defer cancel()
	type result struct {
		r   state.Reply
		err error
	}
	termDone := make(chan result, 1)
	if p.term != nil {
		go func() {
			r, err := terminal(wctx)
			termDone <- result{r, err}
		}()
	}
	tick := time.NewTicker(p.poll)
	defer tick.Stop()
	finish := func(r state.Reply) (state.Reply, error) {
		cancel()
		if p.term != nil {
			<-termDone // the terminal gives up at once (its read goes on)
		}
		// Approve says itself what an approval or a decline was.
		if r.Surface != record.SurfaceTerminal && it.ApprovalsNeeded == 0 {
			fmt.Fprintf(p.out, "runbook: step %s answered in the %s by %s\n", it.Name, r.Surface, r.By)
		}
		return r, nil
	}
	for {
		select {
		case res := <-termDone:
			termDone <- res // for finish
			if res.err != nil {
				if ctx.Err() != nil {
					_ = p.console.Withdraw(context.WithoutCancel(ctx), p.runID, it.Name)
					return state.Reply{}, ctx.Err()
				}
				// No terminal answer (end of input, or the wait is over):
				// the console may still answer until the wait ends.
				if wctx.Err() != nil {
					return p.giveUp(ctx, it)
				}
				p.term = nil
				termDone = make(chan result, 1)
				continue
			}
			q, err := p.console.Reply(ctx, p.runID, it.Name, res.r)
			if errors.Is(err, state.ErrNotWaiting) {
				// The console answered first.
				if r, ok := p.replied(ctx, it); ok {
					return finish(r)
				}
			}
			if err != nil {
				fmt.Fprintf(p.out, "runbook: warning: the answer could not be written to the console (%v)\n", err)
				return finish(res.r)
			}
			return finish(*q.Reply)
		case <-tick.C:
			if r, ok := p.replied(ctx, it); ok {
				return finish(r)
			}
		case <-wctx.Done():
			if ctx.Err() != nil {
				_ = p.console.Withdraw(context.WithoutCancel(ctx), p.runID, it.Name)
				return state.Reply{}, ctx.Err()
			}
			// A last look: an answer given at the deadline counts.
			if r, ok := p.replied(ctx, it); ok {
				return finish(r)
			}
			return p.giveUp(ctx, it)
		}
	}
}

// replied returns the reply to the step's question, when there is one.
func (p *waitPrompter) replied(ctx context.Context, it *record.Item) (state.Reply, bool) {
	qs, err := p.console.Questions(ctx, p.runID)
	if err != nil {
		return state.Reply{}, false
	}
	for _, q := range qs {
		if q.Step == it.Name && q.State == state.QuestionAnswered && q.Reply != nil {
			return *q.Reply, true
		}
	}
	return state.Reply{}, false
}

// giveUp withdraws the question once the wait is over.
func (p *waitPrompter) giveUp(ctx context.Context, it *record.Item) (state.Reply, error) {
	_ = p.console.Withdraw(context.WithoutCancel(ctx), p.runID, it.Name)
	// Withdrawn, unless answered in between: that answer counts.
	if r, ok := p.replied(context.WithoutCancel(ctx), it); ok {
		return r, nil
	}
	fmt.Fprintf(p.out, "\n  no answer for step %s within %s: it stays pending\n", it.Name, p.wait)
	return state.Reply{}, errNoAnswer
}

// waitPoll is how often a waiting step looks for the console's answer.
const waitPoll = 250 * time.Millisecond

// waitPrompter makes the prompter of exec --wait.
func (a *app) waitPrompter(store state.Store, tp *terminalPrompter, jr *journal, opts engine.Options, wait time.Duration) (*waitPrompter, error) {
	c, ok := state.ConsoleOf(store)
	if !ok {
		return nil, exitWith(2, fmt.Errorf("--wait: the state %s cannot take answers from the console", store.Location()))
	}
	return &waitPrompter{term: tp, console: c, journal: jr, runID: opts.ID, operator: opts.Operator, wait: wait, poll: waitPoll, out: a.stderr}, nil
}
