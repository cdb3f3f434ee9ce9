package main

import (
	"context"
	"errors"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/engine"
)

// escalationPolicy bounds the delivery of an escalation: the step it is
// about goes on waiting meanwhile, and its answer waits for the delivery.
var escalationPolicy = alert.Policy{Attempts: 3, BaseDelay: time.Second, MaxDelay: 5 * time.Second, Timeout: 10 * time.Second, MaxWait: 30 * time.Second}

// escalator sends the escalations of a run's owned steps (a deadline
// passed) to every alert block of the runbook, whatever its `on` list: an
// escalation is about a person's step, not a check's health. It returns
// nil when the runbook has no alert to send to. During an exercise
// (exercise, or the runbook's exercise = true) each says so.
func escalator(b *engine.Bound, runID, host string, exercise bool) func(context.Context, engine.Escalation) ([]string, error) {
	alerts, diags := alert.Load(b)
	if diags.HasErrors() || len(alerts) == 0 {
		return nil
	}
	sender := &alert.Sender{Redactor: b.Redactor, Policy: escalationPolicy, UserAgent: "runbook/" + engine.Version}
	return func(ctx context.Context, e engine.Escalation) ([]string, error) {
		now := time.Now().UTC()
		n := &alert.Notification{
			Runbook: b.Info.Name, Title: b.Info.Title, Host: host, Time: now, RunID: runID,
			Health: "WARNING", PreviousHealth: "WARNING", Exercise: exercise || b.Info.Exercise,
			Transitions: []alert.Transition{{
				Event: alert.EventEscalation, Check: "step." + e.Step, Title: e.Title,
				Health: "WARNING", Previous: "WARNING", Status: "pending", Message: e.Message(), Time: now,
			}},
		}
		var sent []string
		var errs []error
		for _, a := range alerts {
			if a.Disabled {
				continue
			}
			if res := sender.Send(ctx, a, n); res.Err != nil {
				errs = append(errs, res.Err)
			} else {
				sent = append(sent, a.Name)
			}
		}
		return sent, errors.Join(errs...)
	}
}
