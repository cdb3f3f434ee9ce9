package report

import (
	"time"

	"github.com/runbookhq/runbook/record"
)

// ClockScores are the clocks of a run's owned steps (assignee, ack_within,
// answer_within): how long each took to be acknowledged and answered, and
// the same by role. Templates reach them with {{clocks .Run.Items}}.
type ClockScores struct {
	Steps []StepClock
	Roles []RoleClock
}

// StepClock is one owned step's timing. Durations are in words ("1m5s")
// or "—" when the moment never came.
type StepClock struct {
	Step, Title string
	// Assignee is who the step was for; "" when no one was named.
	Assignee string
	Since    time.Time
	// Ack and Answer are the times to acknowledge and to answer; AckBy
	// who acknowledged.
	Ack, Answer string
	AckBy       string
	// AckWithin and AnswerWithin are the deadlines ("" when none); the
	// Late flags mark a deadline missed.
	AckWithin, AnswerWithin string
	AckLate, AnswerLate     bool
	// Escalations is how many were sent.
	Escalations int
}

// RoleClock scores one assignee's steps.
type RoleClock struct {
	// Role is the assignee ("—" for steps assigned to no one).
	Role string
	// Steps counts its owned steps; Acked and Answered how many were.
	Steps, Acked, Answered int
	// MeanAck, MaxAck, MeanAnswer and MaxAnswer are in words, "—" when
	// there is nothing to measure.
	MeanAck, MaxAck, MeanAnswer, MaxAnswer string
	// Late counts missed deadlines; Escalations the escalations sent.
	Late, Escalations int
}

// Clocks scores the clocks of the items; nil when no item has one.
func Clocks(items []record.Item) *ClockScores {
	var out ClockScores
	type acc struct {
		role                   string
		steps, acked, answered int
		ackSum, ackMax         int64
		ansSum, ansMax         int64
		late, esc              int
	}
	var roles []*acc
	byRole := map[string]*acc{}
	for _, it := range items {
		c := it.Clock
		if c == nil {
			continue
		}
		sc := StepClock{Step: it.Name, Title: it.Title, Assignee: it.Assignee, Since: c.Since, Ack: "—", Answer: "—", AckBy: c.AckedBy, Escalations: len(c.Escalations)}
		role := it.Assignee
		if role == "" {
			role = "—"
		}
		a := byRole[role]
		if a == nil {
			a = &acc{role: role}
			byRole[role] = a
			roles = append(roles, a)
		}
		a.steps++
		a.esc += len(c.Escalations)
		if c.AckWithinMS > 0 {
			sc.AckWithin = Duration(c.AckWithinMS)
		}
		if c.AnswerWithinMS > 0 {
			sc.AnswerWithin = Duration(c.AnswerWithinMS)
		}
		if c.AckedAt != nil {
			ms := c.AckedAt.Sub(c.Since).Milliseconds()
			sc.Ack = Duration(ms)
			sc.AckLate = c.AckWithinMS > 0 && ms > c.AckWithinMS
			a.acked++
			a.ackSum += ms
			a.ackMax = max(a.ackMax, ms)
		} else {
			sc.AckLate = escalated(c, record.DeadlineAck)
		}
		if c.AnsweredAt != nil {
			ms := c.AnsweredAt.Sub(c.Since).Milliseconds()
			sc.Answer = Duration(ms)
			sc.AnswerLate = c.AnswerWithinMS > 0 && ms > c.AnswerWithinMS
			a.answered++
			a.ansSum += ms
			a.ansMax = max(a.ansMax, ms)
		} else {
			sc.AnswerLate = escalated(c, record.DeadlineAnswer)
		}
		if sc.AckLate {
			a.late++
		}
		if sc.AnswerLate {
			a.late++
		}
		out.Steps = append(out.Steps, sc)
	}
	if len(out.Steps) == 0 {
		return nil
	}
	mean := func(sum int64, n int) string {
		if n == 0 {
			return "—"
		}
		return Duration(sum / int64(n))
	}
	most := func(ms int64, n int) string {
		if n == 0 {
			return "—"
		}
		return Duration(ms)
	}
	for _, a := range roles {
		out.Roles = append(out.Roles, RoleClock{
			Role: a.role, Steps: a.steps, Acked: a.acked, Answered: a.answered,
			MeanAck: mean(a.ackSum, a.acked), MaxAck: most(a.ackMax, a.acked),
			MeanAnswer: mean(a.ansSum, a.answered), MaxAnswer: most(a.ansMax, a.answered),
			Late: a.late, Escalations: a.esc,
		})
	}
	return &out
}

// escalated reports whether a deadline of a clock passed while its step
// waited (its escalation is recorded, sent or not): a step that stopped
// waiting before (interrupted, declined) did not miss it.
func escalated(c *record.Clock, deadline string) bool {
	for _, e := range c.Escalations {
		if e.Deadline == deadline {
			return true
		}
	}
	return false
}
