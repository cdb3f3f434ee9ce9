package state

import (
	"context"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// TestSaveRunWithCancelledContext: an interrupted run (or watch cycle)
// saves its record with the context that was cancelled; both stores still
// keep it.
func TestSaveRunWithCancelledContext(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) Store{
		"dir":      func(t *testing.T) Store { return NewDir(t.TempDir()) },
		"postgres": func(t *testing.T) Store { return openPostgres(t, newDatabase(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			run := &record.Run{ID: record.NewRunID(time.Now()), Runbook: "r", Mode: "exec", Status: record.Failed, Interrupted: true, StartedAt: time.Now().UTC()}
			if _, err := s.SaveRun(ctx, run); err != nil {
				t.Fatalf("SaveRun with a cancelled context: %v", err)
			}
			got, err := s.LoadRun(context.Background(), run.ID)
			if err != nil || !got.Interrupted {
				t.Errorf("the interrupted run's record: %v %+v", err, got)
			}
		})
	}
}
