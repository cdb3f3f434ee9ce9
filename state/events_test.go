package state

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// testEventChain: a store numbers and chains events, also when several
// writers append at once; a run's journal is its own.
func testEventChain(t *testing.T, s Store) {
	ctx := context.Background()
	el, ok := s.(EventLog)
	if !ok {
		t.Fatalf("%T keeps no journals", s)
	}
	const id = "20261201T010203.000000Z-00000000000000e1"
	if evs, err := el.Events(ctx, id); err != nil || len(evs) != 0 {
		t.Fatalf("Events of a run without a journal: %v, %v", evs, err)
	}
	first, err := el.AppendEvents(ctx, id, []record.Event{{Type: record.EventRunStarted, Data: json.RawMessage(`{"id":"` + id + `","n":1.50}`)}})
	if err != nil {
		t.Fatal(err)
	}
	if first[0].Seq != 1 || first[0].Prev != "" || first[0].Hash == "" || first[0].RecordedAt.IsZero() {
		t.Errorf("first event: %+v", first[0])
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				e := record.Event{Type: record.EventItemFinished, Item: fmt.Sprintf("step.w%d_%d", w, i), Actor: "engine", OccurredAt: time.Now().Add(-time.Minute)}
				if _, err := el.AppendEvents(ctx, id, []record.Event{e, {Type: record.EventAnswer, Item: e.Item}}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if _, err := el.AppendEvents(ctx, "20261201T010203.000000Z-00000000000000e2", []record.Event{{Type: record.EventRunStarted}}); err != nil {
		t.Fatal(err)
	}
	evs, err := el.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 41 {
		t.Fatalf("got %d events, want 41", len(evs))
	}
	if err := record.CheckChain(evs); err != nil {
		t.Errorf("the chain: %v", err)
	}
	// An item's two events stay together: a batch is appended at once.
	for i := 1; i < len(evs); i += 2 {
		if evs[i].Item != evs[i+1].Item {
			t.Errorf("events %d and %d are of %q and %q, want one batch", evs[i].Seq, evs[i+1].Seq, evs[i].Item, evs[i+1].Item)
		}
	}
	if string(evs[0].Data) != string(first[0].Data) {
		t.Errorf("data came back as %s, want %s", evs[0].Data, first[0].Data)
	}
}

// TestDirJournalSurvivesATornLine: a write cut short (a crash) leaves a
// partial last line: it is not an event, and the next append starts on a
// line of its own, chained after the last whole event.
func TestDirJournalSurvivesATornLine(t *testing.T) {
	ctx := context.Background()
	d := NewDir(t.TempDir())
	const id = "20261201T010203.000000Z-00000000000000e3"
	if _, err := d.AppendEvents(ctx, id, []record.Event{{Type: record.EventRunStarted}, {Type: record.EventItemStarted, Item: "step.a"}}); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(d.eventsPath(id), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":3,"type":"item.fin`)
	f.Close()
	evs, err := d.Events(ctx, id)
	if err != nil || len(evs) != 2 {
		t.Fatalf("Events with a torn last line: %d events, %v; want 2", len(evs), err)
	}
	got, err := d.AppendEvents(ctx, id, []record.Event{{Type: record.EventItemFinished, Item: "step.a"}})
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Seq != 3 || got[0].Prev != evs[1].Hash {
		t.Errorf("appended after a torn line: seq %d prev %s, want 3 after %s", got[0].Seq, got[0].Prev, evs[1].Hash)
	}
	// The torn line is now whole and not an event: reading names it.
	_, err = d.Events(ctx, id)
	if err == nil || !strings.Contains(err.Error(), "line 3 is not an event") {
		t.Errorf("Events with a damaged line: %v", err)
	}
}

// TestSpooledEventsAreFlushedIntoTheJournal: events a run could not
// append wait in the spool beside its record, survive the record's own
// removal from the spool, and are chained into the store's journal by the
// next flush, before the record.
func TestSpooledEventsAreFlushedIntoTheJournal(t *testing.T) {
	ctx := context.Background()
	d := NewDir(t.TempDir())
	sp := Spool{Dir: t.TempDir()}
	run := testRun("20261201T010203.000000Z-00000000000000e4", "passed")
	if _, err := d.AppendEvents(ctx, run.ID, []record.Event{{Type: record.EventRunStarted}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PutEvents(d, run.ID, []record.Event{{Type: record.EventItemFinished, Item: "step.a"}, {Type: record.EventRunFinished}}); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Put(d, run); err != nil {
		t.Fatal(err)
	}
	sp.Remove(run.ID) // the record got through on its own
	if got := sp.Pending(d); len(got) != 1 {
		t.Fatalf("pending after the record's removal: %v, want the run's events", got)
	}
	if _, err := sp.Flush(ctx, d); err != nil {
		t.Fatal(err)
	}
	evs, err := d.Events(ctx, run.ID)
	if err != nil || len(evs) != 3 || evs[2].Type != record.EventRunFinished {
		t.Fatalf("journal after the flush: %+v, %v", evs, err)
	}
	if err := record.CheckChain(evs); err != nil {
		t.Error(err)
	}
	if left, _ := os.ReadDir(sp.Dir); len(left) != 0 {
		t.Errorf("left in the spool: %v", left)
	}
}

// TestDirJournalChainsAfterALargeEvent: an event larger than the chunks
// the journal's end is read back in (the run's start holds its whole
// plan) is found whole, and the next events chain after it.
func TestDirJournalChainsAfterALargeEvent(t *testing.T) {
	d := NewDir(t.TempDir())
	ctx := context.Background()
	id := "20261201T000000Z-large"
	big, _ := json.Marshal(map[string]string{"plan": strings.Repeat("x\n", 150<<10)})
	for i, data := range []json.RawMessage{big, json.RawMessage(`{"n":2}`), big, json.RawMessage(`{"n":4}`)} {
		if _, err := d.AppendEvents(ctx, id, []record.Event{{Type: record.EventItemFinished, Data: data}}); err != nil {
			t.Fatalf("append event %d: %v", i+1, err)
		}
	}
	evs, err := d.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := record.CheckChain(evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[3].Seq != 4 {
		t.Errorf("got %d events, the last numbered %d; want 4", len(evs), evs[len(evs)-1].Seq)
	}
}

// TestDirJournalSurvivesATornLineAfterALongEvent: the last whole event
// before a torn line may be longer than what is read back at once (the
// first event holds the run's whole plan): the next append still chains
// after it.
func TestDirJournalSurvivesATornLineAfterALongEvent(t *testing.T) {
	ctx := context.Background()
	d := NewDir(t.TempDir())
	const id = "20261201T010203.000000Z-00000000000000e5"
	long := json.RawMessage(`{"plan":"` + strings.Repeat("x", 200<<10) + `"}`)
	first, err := d.AppendEvents(ctx, id, []record.Event{{Type: record.EventRunStarted, Data: long}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(d.eventsPath(id), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"seq":2,"type":"item.st`)
	f.Close()
	got, err := d.AppendEvents(ctx, id, []record.Event{{Type: record.EventItemStarted, Item: "step.a"}})
	if err != nil {
		t.Fatalf("appending after a torn line that follows a long event: %v", err)
	}
	if got[0].Seq != 2 || got[0].Prev != first[0].Hash {
		t.Errorf("appended after a torn line: seq %d prev %s, want 2 after %s", got[0].Seq, got[0].Prev, first[0].Hash)
	}
}

// TestDirJournalWritesALargeEventOnce: a state directory seals an event
// holding a whole record (the run's first and last) into the buffer it
// writes, without a line apart or a copy of the record's canonical form:
// what it allocates is about the event's size, not two or three times.
func TestDirJournalWritesALargeEventOnce(t *testing.T) {
	ctx := context.Background()
	d := NewDir(t.TempDir()).Unsynced()
	id := "20261201T000000Z-alloc"
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run := &record.Run{ID: id, Runbook: "big", Status: record.Running, StartedAt: now}
	for i := range 10000 {
		run.Items = append(run.Items, record.Item{Kind: record.KindCheck, Name: fmt.Sprint("c", i), Provider: "http", Action: "GET http://127.0.0.1:8000/health", Status: record.Pending})
	}
	e := record.Event{Type: record.EventRunStarted, OccurredAt: now, Surface: record.SurfaceEngine}
	if err := e.SetRunData(run); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AppendEvents(ctx, id, []record.Event{{Type: record.EventStop, Data: json.RawMessage(`{"n":1}`)}}); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if _, err := d.AppendEvents(ctx, id, []record.Event{e}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(len(e.Data))*3/2; got > limit {
		t.Errorf("appending an event of %d bytes allocated %d, want at most %d", len(e.Data), got, limit)
	}
	evs, err := d.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if err := record.CheckChain(evs); err != nil || len(evs) != 2 {
		t.Fatalf("%d events: %v", len(evs), err)
	}
}
