package report

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/record"
)

// A deadline is missed only once it passed: a step interrupted or
// declined before its deadline came is not late.
func TestClocksLateOnlyWhenTheDeadlinePassed(t *testing.T) {
	since := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := since.Add(d); return &t }
	tests := []struct {
		name                string
		clock               record.Clock
		ackLate, answerLate bool
		late                int
	}{
		{"interrupted before either deadline", record.Clock{AckWithinMS: 300_000, AnswerWithinMS: 1_800_000}, false, false, 0},
		{"never acknowledged, both passed", record.Clock{AckWithinMS: 300_000, AnswerWithinMS: 1_800_000,
			Escalations: []record.Escalation{{Deadline: record.DeadlineAck, At: *at(5 * time.Minute)}, {Deadline: record.DeadlineAnswer, At: *at(30 * time.Minute)}}}, true, true, 2},
		{"acknowledged late, interrupted before the answer was due", record.Clock{AckWithinMS: 300_000, AnswerWithinMS: 1_800_000, AckedAt: at(6 * time.Minute),
			Escalations: []record.Escalation{{Deadline: record.DeadlineAck, At: *at(5 * time.Minute)}}}, true, false, 1},
		{"answered in time", record.Clock{AckWithinMS: 300_000, AnswerWithinMS: 1_800_000, AckedAt: at(time.Minute), AnsweredAt: at(2 * time.Minute)}, false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.clock
			c.Since = since
			got := Clocks([]record.Item{{Kind: record.KindStep, Name: "s", Assignee: "sre", Clock: &c}})
			type late struct{ Ack, Answer bool }
			if d := cmp.Diff(late{tt.ackLate, tt.answerLate}, late{got.Steps[0].AckLate, got.Steps[0].AnswerLate}); d != "" {
				t.Errorf("late (-want +got):\n%s", d)
			}
			if got.Roles[0].Late != tt.late {
				t.Errorf("role late: got %d, want %d", got.Roles[0].Late, tt.late)
			}
		})
	}
}
