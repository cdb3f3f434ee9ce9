package engine

// Owned steps with clocks: a manual step or a confirm with an assignee,
// ack_within or answer_within is timed from the moment it waits for a
// person. Someone acknowledges it (the console: an Acknowledger) and then
// answers it; a deadline that passes unmet sends one escalation to the
// runbook's alert channels (Options.Escalate), once per deadline.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/record"
)

// Acknowledger is a Prompter through which people acknowledge an owned
// step while it waits: Acknowledged waits until someone does and says who
// and when, or returns ctx's error once the step no longer waits.
type Acknowledger interface {
	Acknowledged(ctx context.Context, item *record.Item) (*record.Decision, error)
}

// Escalation is a deadline of an owned step that passed unmet.
type Escalation struct {
	// Runbook is the runbook's name; Step the step's, Title its title.
	Runbook, Step, Title string
	// Assignee is who the step is for ("" when no one is named).
	Assignee string
	// Deadline is record.DeadlineAck or record.DeadlineAnswer; Within
	// the time it allowed.
	Deadline string
	Within   time.Duration
	// Waited is how long the step had waited when the deadline passed.
	Waited time.Duration
}

// Message says in one sentence what is late.
func (e Escalation) Message() string {
	what := "acknowledged"
	if e.Deadline == record.DeadlineAnswer {
		what = "answered"
	}
	who := ""
	if e.Assignee != "" {
		who = " (for " + e.Assignee + ")"
	}
	return fmt.Sprintf("step %s%s was not %s within %s: it has waited %s", e.Step, who, what, e.Within, e.Waited.Round(time.Second))
}

// bindClocks evaluates ack_within and answer_within: deadlines for a step
// that waits for a person (a manual step, a confirm).
func (b *Bound) bindClocks(it, src *Item, s *settings) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range []struct {
		e    hcl.Expression
		name string
		to   *time.Duration
	}{{it.AckWithin, "ack_within", &s.AckWithin}, {it.AnswerWithin, "answer_within", &s.AnswerWithin}} {
		if c.e == nil {
			continue
		}
		d, dd := evalDuration(c.e, b.base, c.name, 0)
		diags = append(diags, dd...)
		*c.to = d
		if src.Manual == nil && it.Confirm == nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Deadline on a step no one answers",
				Detail:   fmt.Sprintf("%s times how long a person takes to acknowledge or answer a step: it applies to manual steps and to steps with confirm.", c.name),
				Subject:  c.e.Range().Ptr(),
			})
		}
	}
	return diags
}

// clock times one owned step while it waits.
type clock struct {
	r      *runner
	n      *node
	parent context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	rec record.Clock
}

// startClock starts timing a manual or confirm step about to wait for a
// person, when it is owned (assignee, ack_within or answer_within) and
// someone will be asked; nil otherwise. stop ends it.
func (r *runner) startClock(ctx context.Context, n *node) *clock {
	s := n.set
	if s.Assignee == "" && s.AckWithin == 0 && s.AnswerWithin == 0 {
		return nil
	}
	if r.opts.Prompter == nil {
		return nil
	}
	if n.src.Manual != nil {
		if _, ok := r.opts.Answers[n.item.Name]; ok {
			return nil // answered from a file: nobody waits
		}
	} else if r.opts.Yes && s.Approvals == 0 {
		return nil // --yes confirms at once
	}
	c := &clock{r: r, n: n, parent: ctx, rec: record.Clock{
		Since:          r.now().UTC(),
		AckWithinMS:    s.AckWithin.Milliseconds(),
		AnswerWithinMS: s.AnswerWithin.Milliseconds(),
	}}
	shown := c.rec
	n.rec.Clock = &shown
	item := r.out(n.rec)
	cctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	c.wg.Add(1)
	go c.run(cctx, item)
	return c
}

// run waits for the acknowledgement and the deadlines until stopped.
func (c *clock) run(ctx context.Context, item record.Item) {
	defer c.wg.Done()
	s := c.n.set
	var ackDue, answerDue <-chan time.Time
	if s.AckWithin > 0 {
		t := time.NewTimer(s.AckWithin)
		defer t.Stop()
		ackDue = t.C
	}
	if s.AnswerWithin > 0 {
		t := time.NewTimer(s.AnswerWithin)
		defer t.Stop()
		answerDue = t.C
	}
	acks := make(chan *record.Decision, 1)
	if a, ok := c.r.opts.Prompter.(Acknowledger); ok {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if d, err := a.Acknowledged(ctx, &item); err == nil && d != nil {
				acks <- d
			}
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-acks:
			at := d.At.UTC()
			c.mu.Lock()
			c.rec.AckedAt, c.rec.AckedBy = &at, d.Operator
			c.mu.Unlock()
			ackDue = nil
			c.r.emit(record.Event{Type: record.EventAck, Item: c.n.item.Address(), OccurredAt: at, Actor: d.Operator, Surface: d.By})
		case <-ackDue:
			ackDue = nil
			c.escalate(record.DeadlineAck, s.AckWithin)
		case <-answerDue:
			answerDue = nil
			c.escalate(record.DeadlineAnswer, s.AnswerWithin)
		}
	}
}

// escalate sends a passed deadline's one escalation and records it.
func (c *clock) escalate(deadline string, within time.Duration) {
	now := c.r.now().UTC()
	e := Escalation{
		Runbook: c.r.b.Info.Name, Step: c.n.item.Name, Title: c.n.rec.Title, Assignee: c.n.set.Assignee,
		Deadline: deadline, Within: within, Waited: now.Sub(c.rec.Since),
	}
	esc := record.Escalation{Deadline: deadline, At: now}
	if c.r.opts.Escalate == nil {
		esc.Problem = "no alert channel to send it to"
	} else {
		// Sent with the run's context, not the clock's: an answer that
		// comes while it is on its way does not cut it off.
		sent, err := c.r.opts.Escalate(c.parent, e)
		esc.Sent = sent
		if err != nil {
			esc.Problem = c.r.b.Redactor.String(err.Error())
		}
	}
	c.mu.Lock()
	c.rec.Escalations = append(c.rec.Escalations, esc)
	c.mu.Unlock()
	data, _ := json.Marshal(struct {
		Deadline string   `json:"deadline"`
		Assignee string   `json:"assignee,omitempty"`
		WithinMS int64    `json:"within_ms"`
		WaitedMS int64    `json:"waited_ms"`
		Message  string   `json:"message"`
		Sent     []string `json:"sent,omitempty"`
		Problem  string   `json:"problem,omitempty"`
	}{deadline, e.Assignee, within.Milliseconds(), e.Waited.Milliseconds(), e.Message(), esc.Sent, esc.Problem})
	c.r.emit(record.Event{Type: record.EventEscalation, Item: c.n.item.Address(), OccurredAt: now, Surface: record.SurfaceEngine, Data: data})
}

// stop ends the clock once the step no longer waits and records its
// timing on the item: when it was answered (and acknowledged, if no one
// did before the answer).
func (c *clock) stop() {
	if c == nil {
		return
	}
	c.cancel()
	c.wg.Wait()
	c.mu.Lock()
	rec := c.rec
	c.mu.Unlock()
	n := c.n
	var at time.Time
	var by string
	switch {
	case n.rec.Answer != nil:
		at, by = n.rec.Answer.AnsweredAt, n.rec.Answer.Operator
	case n.rec.Decision != nil && n.rec.Decision.By != "timeout":
		at, by = n.rec.Decision.At, n.rec.Decision.Operator
	}
	if !at.IsZero() {
		at = at.UTC()
		rec.AnsweredAt = &at
		if rec.AckedAt == nil || rec.AckedAt.After(at) {
			rec.AckedAt, rec.AckedBy = &at, by
		}
	}
	n.rec.Clock = &rec
}
