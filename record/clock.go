package record

import "time"

// Clock is the timing of a step that waits for a person: when it began
// to wait, its deadlines (ack_within, answer_within), when it was
// acknowledged and answered, and the escalations sent when a deadline
// passed.
type Clock struct {
	// Since is when the step began to wait.
	Since time.Time `json:"since"`
	// AckWithinMS and AnswerWithinMS are the deadlines, in milliseconds
	// after Since; 0 is none.
	AckWithinMS    int64 `json:"ack_within_ms,omitempty"`
	AnswerWithinMS int64 `json:"answer_within_ms,omitempty"`
	// AckedAt and AckedBy say who acknowledged the step, and when. An
	// answer given without an acknowledgement counts as one.
	AckedAt *time.Time `json:"acked_at,omitempty"`
	AckedBy string     `json:"acked_by,omitempty"`
	// AnsweredAt is when the step was answered, confirmed, declined or
	// fully approved.
	AnsweredAt *time.Time `json:"answered_at,omitempty"`
	// Escalations are the escalations sent, at most one per deadline.
	Escalations []Escalation `json:"escalations,omitempty"`
}

// Deadlines of a Clock.
const (
	DeadlineAck    = "ack"
	DeadlineAnswer = "answer"
)

// Escalation is one deadline of a step that passed unmet.
type Escalation struct {
	// Deadline is DeadlineAck or DeadlineAnswer.
	Deadline string    `json:"deadline"`
	At       time.Time `json:"at"`
	// Sent names the alerts that took it; Problem says why one did not.
	Sent    []string `json:"sent,omitempty"`
	Problem string   `json:"problem,omitempty"`
}

// QuestionAck is the kind of the console question that asks for a
// step's acknowledgement; AckStep names that question ("NAME/ack", which
// no step name can be).
const QuestionAck = "ack"

// AckStep returns the name of the question that waits for a step's
// acknowledgement.
func AckStep(step string) string { return step + "/ack" }

// AckDue is when the step's acknowledgement is due; ok is false when it
// has no such deadline.
func (c *Clock) AckDue() (time.Time, bool) {
	if c == nil || c.AckWithinMS <= 0 {
		return time.Time{}, false
	}
	return c.Since.Add(time.Duration(c.AckWithinMS) * time.Millisecond), true
}

// AnswerDue is when the step's answer is due; ok is false when it has no
// such deadline.
func (c *Clock) AnswerDue() (time.Time, bool) {
	if c == nil || c.AnswerWithinMS <= 0 {
		return time.Time{}, false
	}
	return c.Since.Add(time.Duration(c.AnswerWithinMS) * time.Millisecond), true
}
