package main

import (
	"context"
	"encoding/json"
	"fmt"
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

// TestJournalDropsStartedOfChecksFinishedBeforeAppended: a check that
// starts and finishes between two appends of the checks' events is
// written as its item.finished alone; one whose item.started was appended
// keeps it. The journal still folds to the final record.
func TestJournalDropsStartedOfChecksFinishedBeforeAppended(t *testing.T) {
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	ctx := context.Background()
	j := newJournal(store, io.Discard)
	run := &record.Run{ID: "20261201T000000Z-coalesce", Runbook: "r", Mode: "check", StartedAt: time.Now().UTC(),
		Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Pending}, {Kind: record.KindCheck, Name: "b", Status: record.Pending}}}
	j.Begin(run)
	j.mu.Lock()
	j.cost = time.Hour // no progress written but by this test
	j.mu.Unlock()
	now := time.Now().UTC()
	a := record.Item{Kind: record.KindCheck, Name: "a", Status: record.Passed, StartedAt: &now, Attempts: 1}
	b := record.Item{Kind: record.KindCheck, Name: "b", Status: record.Failed, StartedAt: &now, Attempts: 1}
	j.Started(a)
	j.Started(b)
	j.Finished(a)
	j.flushEvents(store)
	j.Finished(b)
	j.Close()
	final := *run
	final.Items = []record.Item{a, b}
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
		got = append(got, strings.TrimSpace(e.Type+" "+e.Item))
	}
	want := []string{"run.started", "item.started check.b", "item.finished check.a", "item.finished check.b", "run.finished"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("journal:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	folded, err := record.Fold(evs[:3])
	if err != nil {
		t.Fatal(err)
	}
	if it := folded.Item(record.KindCheck, "a"); it == nil || it.Status != record.Passed || it.StartedAt == nil {
		t.Errorf("check.a as the journal's first append folds it: %+v", it)
	}
	if it := folded.Item(record.KindCheck, "b"); it == nil || it.Status != record.Running {
		t.Errorf("check.b as the journal's first append folds it: %+v", it)
	}
}

// TestJournalBoundsItsQueuedEvents: between two snapshots the checks'
// events are not all held until the next: past eventQueueBytes of data,
// the check that queued the last appends them to the chain.
func TestJournalBoundsItsQueuedEvents(t *testing.T) {
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	j := newJournal(store, io.Discard)
	const n = 3000
	run := &record.Run{ID: "20261201T000000Z-bounded", Runbook: "r", Mode: "check", StartedAt: time.Now().UTC()}
	for i := 0; i < n; i++ {
		run.Items = append(run.Items, record.Item{Kind: record.KindCheck, Name: fmt.Sprintf("c%d", i), Status: record.Pending})
	}
	j.Begin(run)
	body := strings.Repeat("x", 1000)
	most := 0
	for i := 0; i < n; i++ {
		now := time.Now().UTC()
		j.Finished(record.Item{Kind: record.KindCheck, Name: fmt.Sprintf("c%d", i), Status: record.Passed, StartedAt: &now,
			Result: map[string]any{"body": body}})
		j.mu.Lock()
		most = max(most, j.queued)
		j.mu.Unlock()
	}
	j.Close()
	if most > eventQueueBytes+2000 {
		t.Errorf("the queued events held up to %d bytes of data; want at most %d and one event", most, eventQueueBytes)
	}
	evs, err := store.Events(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := record.CheckChain(evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) < 2 {
		t.Errorf("%d events appended before the run's end; want the checks' events appended as they came", len(evs))
	}
}
