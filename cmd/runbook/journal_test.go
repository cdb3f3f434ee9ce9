package main

import (
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

var _ engine.EventObserver = (*journal)(nil)

// TestJournalChainsWhateverTheEngineReports: events the engine reports
// (an approval, a score, an answer given apart from its item) are
// chained as they come, in order with the items' own; an answer already
// reported is not added again when its item finishes; a stop toggled
// during the run joins the journal at its end.
func TestJournalChainsWhateverTheEngineReports(t *testing.T) {
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	ctx := context.Background()
	start := time.Now().UTC().Add(-time.Second)
	j := newJournal(store, io.Discard)
	run := &record.Run{ID: "20261201T000000Z-events", Runbook: "r", Mode: "exec", Operator: "ann", StartedAt: start,
		Items: []record.Item{{Kind: record.KindStep, Name: "review", Status: record.Pending, Manual: true}}}
	j.Begin(run)
	var obs engine.Observer = observers{j}
	eo := obs.(engine.EventObserver)
	eo.Event(record.Event{Type: record.EventApproval, Item: "step.review", Actor: "bob", Surface: record.SurfaceConsole, Data: json.RawMessage(`{"n":1}`)})
	now := time.Now().UTC()
	answer := &record.Answer{Status: record.Passed, Operator: "carol", AnsweredAt: now, Surface: record.SurfaceConsole}
	eo.Event(record.Event{Type: record.EventAnswer, Item: "step.review", Actor: "carol", Surface: record.SurfaceConsole})
	obs.Started(record.Item{Kind: record.KindStep, Name: "review", StartedAt: &now})
	obs.Finished(record.Item{Kind: record.KindStep, Name: "review", Status: record.Passed, StartedAt: &now, Answer: answer})
	if _, err := store.ChangeStop(ctx, state.StopRequest{On: true, Entry: state.AuditEntry{User: "dave", Host: "h", Reason: "drill"}}); err != nil {
		t.Fatal(err)
	}
	j.Close()
	final := *run
	final.Items = []record.Item{{Kind: record.KindStep, Name: "review", Status: record.Passed, StartedAt: &now, Answer: answer}}
	final.FinishedAt = time.Now().UTC()
	final.Tally()
	j.Finish(ctx, &final)
	evs, err := store.Events(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := record.CheckChain(evs); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, strings.TrimSpace(e.Type+" "+e.Item+" "+e.Actor))
	}
	want := []string{
		"run.started  ann",
		"approval step.review bob",
		"answer step.review carol",
		"item.started step.review",
		"item.finished step.review",
		"stop  dave",
		"run.finished  ann",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	folded, err := record.Fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := record.Diff(&final, folded); d != "" {
		t.Errorf("the final record is not the journal's fold: %s", d)
	}
}

// TestJournalPauseGrowsWithSnapshotCost: the checks' progress is written
// every flushEvery, or, when a snapshot costs more than a nineteenth of
// that, after 19 times its cost: snapshots take at most a twentieth of
// the run.
func TestJournalPauseGrowsWithSnapshotCost(t *testing.T) {
	for _, tc := range []struct {
		cost, want time.Duration
	}{
		{0, flushEvery},
		{10 * time.Millisecond, flushEvery},
		{flushEvery / 19, flushEvery},
		{20 * time.Millisecond, 380 * time.Millisecond},
		{50 * time.Millisecond, 950 * time.Millisecond},
		{time.Second, 19 * time.Second},
	} {
		t.Run(tc.cost.String(), func(t *testing.T) {
			j := newJournal(nil, io.Discard)
			j.cost = tc.cost
			if got := j.pause(); got != tc.want {
				t.Errorf("pause after a snapshot of %v: got %v, want %v", tc.cost, got, tc.want)
			}
		})
	}
}

// TestJournalTimesItsSnapshots: a snapshot written notes its cost, which
// the next pause is made of.
func TestJournalTimesItsSnapshots(t *testing.T) {
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	j := newJournal(store, io.Discard)
	j.Begin(&record.Run{ID: "20261201T000000Z-timed", Runbook: "r", Mode: "check", StartedAt: time.Now().UTC(),
		Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Pending}}})
	defer j.Close()
	j.mu.Lock()
	cost := j.cost
	j.mu.Unlock()
	if cost <= 0 {
		t.Errorf("cost of the first snapshot: got %v, want more than 0", cost)
	}
}

// TestJournalChecksWaitAPauseAfterBegin: the checks' first progress is
// written a pause after the record as planned, not at once, so a run of
// checks shorter than that writes its record and journal only as planned
// and at its end.
func TestJournalChecksWaitAPauseAfterBegin(t *testing.T) {
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	j := newJournal(store, io.Discard)
	run := &record.Run{ID: "20261201T000000Z-pause", Runbook: "r", Mode: "check", StartedAt: time.Now().UTC(),
		Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Pending}}}
	j.Begin(run)
	j.mu.Lock()
	j.cost = time.Hour // the pause outlasts the test
	j.mu.Unlock()
	now := time.Now().UTC()
	j.Started(record.Item{Kind: record.KindCheck, Name: "a", StartedAt: &now})
	j.Close()
	evs, err := store.Events(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, strings.TrimSpace(e.Type+" "+e.Item))
	}
	if want := []string{"run.started"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal before the run's end: %q, want %q", got, want)
	}
	stored, err := store.LoadRun(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Items) != 1 || stored.Items[0].Status != record.Pending {
		t.Errorf("stored record's items: %+v, want check.a as planned (pending)", stored.Items)
	}
}
