package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// allocated returns the bytes f allocates (the whole process's, so the
// bounds below leave room for what else runs meanwhile).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// bigItems are n checks as planned, each to finish with a 2 KB result.
func bigItems(n int) []record.Item {
	items := make([]record.Item, n)
	for i := range items {
		items[i] = record.Item{Kind: record.KindCheck, Name: fmt.Sprintf("c%d", i), Provider: "http", Status: record.Pending}
	}
	return items
}

func finishedItem(it record.Item, at time.Time) record.Item {
	it.Status, it.StartedAt, it.Attempts = record.Passed, &at, 1
	it.Result = map[string]any{"body": strings.Repeat("x", 2048), "status": 200.0}
	return it
}

// TestJournalSnapshotEncodesWhatChanged: a snapshot of a run whose items
// finished writes each from the encoding its item.finished event made,
// encoding only the item that changed since: it allocates a fraction of
// the record it writes (it copied and encoded every item, more than the
// record's size). The record it writes is the one the items make.
func TestJournalSnapshotEncodesWhatChanged(t *testing.T) {
	old := heartbeat
	heartbeat = time.Hour
	t.Cleanup(func() { heartbeat = old })
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	j := newJournal(store, io.Discard)
	const n = 2000
	at := time.Now().UTC()
	run := &record.Run{ID: record.NewRunID(at), Runbook: "r", Mode: "check", Operator: "ann", StartedAt: at, Items: bigItems(n)}
	planned := append([]record.Item(nil), run.Items...)
	j.Begin(run)
	want := &record.Run{ID: run.ID, Runbook: "r", Mode: "check", Operator: "ann", StartedAt: at, PID: os.Getpid()}
	for _, it := range planned {
		f := finishedItem(it, at)
		j.Started(it)
		j.Finished(f)
		want.Items = append(want.Items, f)
	}
	j.flushEvents(j.store)
	j.save(j.store)
	// One check runs again (a retry): only it is encoded.
	again := planned[7]
	again.StartedAt = &at
	want.Items[7] = again
	want.Items[7].Status = record.Running
	j.Started(again)
	j.flushEvents(j.store)
	got := allocated(func() { j.save(j.store) })
	j.Close()

	path := filepath.Join(store.Path, "runs", run.ID+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := record.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want.Tally()
	want.Status, want.UpdatedAt = record.Running, stored.UpdatedAt
	wantData, _ := want.MarshalCompact()
	if string(data) != string(wantData) {
		t.Fatalf("snapshot:\n%.600s\nwant\n%.600s", data, wantData)
	}
	t.Logf("a snapshot of %d bytes allocated %d bytes", len(data), got)
	if got > uint64(len(data)/4) {
		t.Errorf("a snapshot of %d bytes allocated %d bytes: it encoded the items again", len(data), got)
	}
}

// TestFinalRecordEncodedOnce: the record file holds the bytes of the
// journal's last event (what `runbook verify` folds the chain to), and
// saving it allocates a fraction of its size: the record is not encoded
// a second time.
func TestFinalRecordEncodedOnce(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir()) // the spool, empty
	store := state.NewDir(filepath.Join(t.TempDir(), "st"))
	j := newJournal(store, io.Discard)
	at := time.Now().UTC()
	run := &record.Run{ID: record.NewRunID(at), Runbook: "r", Mode: "check", Operator: "ann", StartedAt: at, Items: bigItems(2000)}
	final := *run
	final.Items = nil
	j.Begin(run)
	for _, it := range bigItems(2000) {
		f := finishedItem(it, at)
		j.Finished(f)
		final.Items = append(final.Items, f)
	}
	j.Close()
	final.FinishedAt = time.Now().UTC()
	final.Tally()
	ctx := context.Background()
	enc := j.Finish(ctx, &final)
	if enc.IsZero() {
		t.Fatal("Finish returned no record")
	}
	var stderr bytes.Buffer
	a := &app{stdout: io.Discard, stderr: &stderr, getenv: func(string) string { return "" }}
	var err error
	got := allocated(func() { err = a.saveRecord(ctx, store, &final, enc) })
	if err != nil {
		t.Fatal(err, stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(store.Path, "runs", run.ID+".json"))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := store.Events(ctx, run.ID)
	if err != nil || len(evs) == 0 {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Type != record.EventRunFinished || string(last.Data)+"\n" != string(data) {
		t.Fatalf("record file is not the last event's data (%s)", last.Type)
	}
	if compact, _ := final.MarshalCompact(); string(compact) != string(data) {
		t.Fatal("record file is not the record as MarshalCompact writes it")
	}
	folded, err := record.Fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := folded.MarshalCompact(); string(f) != string(data) {
		t.Fatal("the record is not what its journal folds to")
	}
	t.Logf("saving a record of %d bytes allocated %d bytes", len(data), got)
	if got > uint64(len(data)/4) {
		t.Errorf("saving a record of %d bytes allocated %d bytes: it was encoded again", len(data), got)
	}
}
