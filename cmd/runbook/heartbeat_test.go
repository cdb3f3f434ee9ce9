package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// TestJournalHeartbeat: while a run goes on with nothing to report (a
// step waiting for an answer, a long command), its journal still writes
// the record every heartbeat, so another host can tell it is alive; once
// closed, it writes no more.
func TestJournalHeartbeat(t *testing.T) {
	old := heartbeat
	heartbeat = 20 * time.Millisecond
	t.Cleanup(func() { heartbeat = old })
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	ctx := context.Background()
	j := newJournal(store, io.Discard)
	run := &record.Run{ID: "20261201T000000Z-beat", Runbook: "r", Mode: "exec", Host: "h", StartedAt: time.Now().UTC(),
		Items: []record.Item{{Kind: record.KindStep, Name: "review", Status: record.Pending, Manual: true}}}
	j.Begin(run)
	first, err := store.LoadRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		again, err := store.LoadRun(ctx, run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again.UpdatedAt.After(first.UpdatedAt) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the journal wrote nothing after its first record (updated_at %s)", first.UpdatedAt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	j.Close()
	closed, err := store.LoadRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	after, err := store.LoadRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.UpdatedAt.Equal(closed.UpdatedAt) {
		t.Errorf("the journal wrote after it closed: %s, then %s", closed.UpdatedAt, after.UpdatedAt)
	}
}

// TestAStaleRunOfAnotherHostIsNotWrittenBack: readers take it as
// abandoned, but only its own host writes it back; it may yet write its
// record.
func TestAStaleRunOfAnotherHostIsNotWrittenBack(t *testing.T) {
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	ctx := context.Background()
	long := time.Now().Add(-time.Hour).UTC()
	run := &record.Run{ID: "20261201T000000Z-far0", Runbook: "r", Mode: "exec", Host: "another-host", PID: 999999,
		Status: record.Running, StartedAt: long, UpdatedAt: long}
	if _, err := store.SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	var warn bytes.Buffer
	warnAbandoned(ctx, store, &warn, "")
	got, err := store.LoadRun(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != record.Abandoned || !got.FinishedAt.IsZero() || warn.Len() != 0 {
		t.Errorf("got %s finished %s, warned %q; want it read as abandoned, not written back", got.Status, got.FinishedAt, warn.String())
	}
}
