package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// journal keeps a run's record in the state while the run goes on, so a
// run that never finishes (SIGKILL, the OOM killer, a power cut) still
// leaves a trace: the record is written when the run starts, with status
// "running" and this process's pid, and again as items start and finish.
// A reader that finds "running" with no live process behind it shows the
// run as abandoned (state.Settle), with the item that was running.
//
// A step or cleanup is written before it runs and after it finishes, and
// the run waits for that write: a step changes the system, and the record
// must say so before it does. Checks only observe; their progress is
// written at most every flushEvery, and never more than a twentieth of
// the time (see pause), so ten thousand parallel checks do not rewrite the
// record ten thousand times, nor spend the run rewriting a large one.
//
// Beside the record, the journal appends the run's events to the state
// as a chain (state.EventLog): the run's start with its plan, each item
// started and finished, each answer and confirmation, whatever else the
// engine reports (approvals, injects, scores), the stop toggled during
// the run, the reports rendered, and the run's end. The final record is
// what the chain folds to (record.Fold); `runbook verify` checks both.
type journal struct {
	store state.Store
	// progress is store for the writes nothing waits on (the record as
	// planned, the checks' progress, the heartbeat): a state directory
	// does not sync them (state.Dir.Unsynced). The next write to store,
	// a step's before it runs or the run's end, makes them durable too.
	// (A run of one check: 2 fsyncs of 6, wall 14.5 → 12.7 ms; see
	// docs/performance.md, round 4.)
	progress state.Store
	warn     io.Writer
	saveMu   sync.Mutex // one save at a time, each of the newest snapshot

	mu sync.Mutex
	// run is the record as planned, without its items: the journal holds
	// each item once, as its encoding (items), and a snapshot writes the
	// record from those (record.EncodeRun), encoding only the items that
	// changed since it was written and have no event's encoding to share.
	// It held a copy of every item (4.5 MB at 10,000) and took another
	// to encode them all at every snapshot. BenchmarkJournal10000: 1,153
	// → 406 ms, 611 → 232 MB allocated; it holds 6.9 MB instead of 4.6
	// (docs/performance.md, "round 7: the run's records").
	run   *record.Run
	items []journalItem
	// raw holds, by position in items, the items not encoded yet (a
	// check running, an item waiting for an answer): each snapshot
	// encodes them.
	raw    map[int]record.Item
	index  map[string]int // kind + "." + name → position in items
	dirty  bool
	failed bool // a save failed; warned once
	// failedAt is when a save to the store last failed.
	failedAt time.Time
	closed   bool
	// cost is how long the last snapshot took to take and write.
	cost time.Duration

	kick chan struct{}
	done chan struct{}
	// stop ends the heartbeat.
	stop chan struct{}

	// evMu serializes appends to the chain, in the order events were
	// queued; events (under mu) are those not yet appended.
	evMu   sync.Mutex
	events []record.Event
	// spare is the array of the last batch appended, emptied, for the
	// queue after the next (under mu).
	spare []record.Event
	// starting holds, by item key, the item.started events of checks
	// still in events, not yet encoded: a check that finishes before they
	// are appended drops its item.started (dropStarted).
	starting map[string]startedCheck
	// queued is how many bytes of data the queued events hold; past
	// eventQueueBytes, a check's update appends them at once.
	queued int
	// heard marks the items whose answer ("step.x answer") or decision
	// ("step.x decision") came as an event of its own (Event), so
	// Finished does not add it again.
	heard map[string]bool
	// finished is set once the run's end was appended.
	finished bool
}

// journalItem is an item as the journal holds it: its encoding in the
// record (nil while it is in raw), and what the record's summary counts.
type journalItem struct {
	data          []byte
	status        string
	informational bool
}

// heartbeat is how often the journal writes the record while the run
// goes on, changed or not, so that a console on another host can tell a
// live run (waiting for an answer, or in a long step) from a dead one
// (state.StaleAfter). A variable for tests.
var heartbeat = state.Heartbeat

// flushEvery bounds how often progress of checks is written.
const flushEvery = 250 * time.Millisecond

// eventQueueBytes bounds the data of the events queued between two
// snapshots: past it, the check that queued the last appends them to the
// chain without waiting for the next snapshot. Ten thousand HTTP checks
// otherwise held up to 25 MB of item events (10–20 MB more live heap at
// the run's peak; docs/performance.md, "round 6: memory").
const eventQueueBytes = 1 << 20

// snapshotShare is how many times a snapshot's cost the flusher waits
// before the next: 19, a twentieth of the run. It was 9 (a tenth) until
// round 6, when the snapshots were the largest part of what a run of
// 10,000 `true` checks spends beyond its commands: 2.5 times fewer
// snapshots (157 → 62 record files written in one run under strace),
// CPU −1% and −4.6% in two sets of 6 and 4 alternated rounds at load
// 7–14 (docs/performance.md, "round 6: exec"). A run that takes no
// more than flushEvery a snapshot (1,000 checks) is not changed.
const snapshotShare = 19

// pause is how long the flusher waits after writing the checks'
// progress: flushEvery, or snapshotShare times what the last snapshot
// cost if that is longer, so that snapshots take at most a twentieth of
// the run's wall time however large the record grows (a snapshot of
// 10,000 items costs 15–60 ms; rewriting it every 250 ms made the run's
// journal cost grow with the square of its size: see
// docs/performance.md).
func (j *journal) pause() time.Duration {
	j.mu.Lock()
	d := snapshotShare * j.cost
	j.mu.Unlock()
	return max(flushEvery, d)
}

func newJournal(store state.Store, warn io.Writer) *journal {
	progress := store
	if d, ok := store.(*state.Dir); ok {
		progress = d.Unsynced()
	}
	return &journal{store: store, progress: progress, warn: warn, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
}

// Begin writes the run's first record: every item as planned.
func (j *journal) Begin(run *record.Run) {
	j.mu.Lock()
	run.Status = record.Running
	run.PID = os.Getpid()
	head := *run
	head.Items = nil
	j.run = &head
	// The items' encodings are those of the run's first event.
	e := record.Event{Type: record.EventRunStarted, OccurredAt: run.StartedAt, Actor: run.Operator, Surface: record.SurfaceEngine}
	encoded, err := e.SetRunDataItems(run)
	if err != nil {
		e.Data = mustJSON(run)
	}
	j.index = make(map[string]int, len(run.Items))
	j.items = make([]journalItem, len(run.Items))
	j.raw = map[int]record.Item{}
	for i := range run.Items {
		it := &run.Items[i]
		j.index[it.Kind+"."+it.Name] = i
		j.items[i] = journalItem{status: it.Status, informational: it.Informational}
		if encoded != nil {
			j.items[i].data = encoded[i]
		} else {
			j.raw[i] = *it
		}
	}
	j.dirty = true
	j.queue(e)
	j.mu.Unlock()
	j.flushEvents(j.progress)
	j.save(j.progress)
	go j.flusher()
	go j.beat()
}

// beat writes the record every heartbeat until the journal closes.
func (j *journal) beat() {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.mu.Lock()
			j.dirty = true
			j.mu.Unlock()
			j.save(j.progress)
		}
	}
}

// Started records an item as running.
func (j *journal) Started(item record.Item) {
	item.Status = record.Running
	j.update(item, record.EventItemStarted)
}

// Waiting records an item as waiting for a person's answer: pending, with
// its question open in the state (exec --wait).
func (j *journal) Waiting(item record.Item) {
	item.Status = record.Pending
	j.update(item, "")
}

// Finished records an item's outcome: its answer or confirmation, then
// the item as it ended.
func (j *journal) Finished(item record.Item) { j.update(item, record.EventItemFinished) }

// Event chains an event the engine reports (an approval, an inject, a
// score, an answer given apart from its item), at once.
func (j *journal) Event(e record.Event) {
	j.mu.Lock()
	if j.run == nil || j.closed {
		j.mu.Unlock()
		return
	}
	if j.heard == nil {
		j.heard = map[string]bool{}
	}
	switch e.Type {
	case record.EventAnswer:
		j.heard[e.Item+" answer"] = true
	case record.EventConfirm, record.EventDecline:
		j.heard[e.Item+" decision"] = true
	}
	j.queue(e)
	j.mu.Unlock()
	j.flushEvents(j.store)
}

// update records an item, and appends event typ (if any) with it.
func (j *journal) update(item record.Item, typ string) {
	j.mu.Lock()
	if j.run == nil || j.closed {
		j.mu.Unlock()
		return
	}
	key := item.Kind + "." + item.Name
	var data []byte
	if typ != "" {
		data = j.itemEvents(key, &item, typ)
	}
	i, ok := j.index[key]
	if !ok {
		i = len(j.items)
		j.index[key] = i
		j.items = append(j.items, journalItem{})
	}
	j.items[i] = journalItem{data: data, status: item.Status, informational: item.Informational}
	if data == nil {
		j.raw[i] = item
	} else {
		delete(j.raw, i)
	}
	j.dirty = true
	if item.Kind == record.KindCheck {
		// (Under mu, where Close cannot have closed kick.)
		select {
		case j.kick <- struct{}{}:
		default:
		}
		full := j.queued >= eventQueueBytes
		j.mu.Unlock()
		if full {
			j.flushEvents(j.progress)
		}
		return
	}
	j.mu.Unlock()
	j.flushEvents(j.store)
	j.save(j.store)
}

// itemEvents queues the events of an item that started or finished
// (under mu), and returns the item's encoding in the event that holds
// it, if it wrote one (a check's item.started is encoded later, if at
// all: see dropStarted).
func (j *journal) itemEvents(key string, item *record.Item, typ string) []byte {
	if typ == record.EventItemFinished {
		if a := item.Answer; a != nil && !j.heard[key+" answer"] {
			j.queue(record.Event{Type: record.EventAnswer, Item: key, OccurredAt: a.AnsweredAt, Actor: a.Operator, Surface: a.Surface, Data: mustJSON(a)})
		}
		if d := item.Decision; d != nil && !j.heard[key+" decision"] {
			typ := record.EventConfirm
			if !d.Confirmed {
				typ = record.EventDecline
			}
			surface := record.SurfaceTerminal
			switch d.By {
			case record.SurfaceConsole, record.SurfaceAPI:
				surface = d.By
			}
			j.queue(record.Event{Type: typ, Item: key, OccurredAt: d.At, Actor: d.Operator, Surface: surface, Data: mustJSON(d)})
		}
	}
	at := time.Now()
	if typ == record.EventItemStarted && item.StartedAt != nil {
		at = *item.StartedAt
	}
	e := record.Event{Type: typ, Item: key, OccurredAt: at, Surface: record.SurfaceEngine}
	if item.Kind == record.KindCheck {
		switch typ {
		case record.EventItemFinished:
			j.dropStarted(key)
		case record.EventItemStarted:
			// Encoded when appended, if it still is (takeEvents).
			j.queue(e)
			if j.starting == nil {
				j.starting = map[string]startedCheck{}
			}
			j.starting[key] = startedCheck{at: len(j.events) - 1, item: *item}
			return nil
		}
	}
	ok := setItemData(&e, item)
	j.queue(e)
	if !ok {
		return nil
	}
	return e.Data
}

// startedCheck is a check's item.started event not yet appended: where
// it is in the queue, and the item it holds.
type startedCheck struct {
	at   int
	item record.Item
}

// setItemData sets the event's data to the item: by hand, its canonical
// form beside it for the hash (see docs/performance.md, round 5). ok is
// false when the item did not encode (its data is then the error).
func setItemData(e *record.Event, item *record.Item) (ok bool) {
	if err := e.SetItemData(item); err != nil {
		cp := *item // (so that item does not escape: see SetItemData)
		e.Data = mustJSON(&cp)
		return false
	}
	return true
}

// dropStarted, as check key finishes, drops its item.started when that
// is not appended yet: the journal appends checks' events in batches,
// and a check that both started and finished since the last batch is
// written as its item.finished alone, which says when it started
// (started_at). Every batch folds to the same record either way, and the
// record the journal writes with it still names the checks running.
// 10,000 HTTP checks: 2.7% less CPU, and 2% more for encoding only the
// item.started events that remain (docs/performance.md, "round 6:
// HTTP"). (Under mu.)
func (j *journal) dropStarted(key string) {
	if s, ok := j.starting[key]; ok {
		delete(j.starting, key)
		j.events[s.at].Type = "" // taken out by takeEvents
	}
}

// takeEvents returns the queued events, without the dropped ones and
// with the data of checks' item.started events that remain, and empties
// the queue (under mu).
func (j *journal) takeEvents() []record.Event {
	batch := j.events
	for k := range j.starting {
		s := j.starting[k]
		setItemData(&batch[s.at], &s.item)
	}
	// The map and the queue's next array are kept for the next batch:
	// both grew again from nothing for every batch (~1.5 KB a check).
	clear(j.starting)
	j.events, j.spare = j.spare[:0], nil
	kept := batch[:0]
	for _, e := range batch {
		if e.Type != "" {
			kept = append(kept, e)
		}
	}
	return kept
}

// runEvent is e holding the whole record: its items written by hand, as
// the record file's, with the canonical form its hash needs beside them
// (docs/performance.md, rounds 5 and 6). ok is false when the record did
// not encode (its data is then the error).
func runEvent(e record.Event, run *record.Run) (_ record.Event, ok bool) {
	if err := e.SetRunData(run); err != nil {
		e.Data = mustJSON(run)
		return e, false
	}
	return e, true
}

// queue adds an event to those to append (under mu).
func (j *journal) queue(e record.Event) {
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now()
	}
	j.events = append(j.events, e)
	j.queued += len(e.Data)
}

// mustJSON encodes a value of the record, which always encodes.
func mustJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		return json.RawMessage(strconv.Quote(err.Error()))
	}
	return data
}

// flushEvents appends the queued events to the chain. A state that does
// not take them (a full disk, a database out of reach) does not stop the
// run: they stay queued, the journal warns once (as for the record), and
// tries again with the next event once journalRetryAfter passed; when the
// run ends, those left are spooled (see Finish).
func (j *journal) flushEvents(store state.Store) bool {
	j.evMu.Lock()
	defer j.evMu.Unlock()
	j.mu.Lock()
	if len(j.events) == 0 || j.run == nil {
		j.mu.Unlock()
		return true
	}
	if !j.failedAt.IsZero() && time.Since(j.failedAt) < journalRetryAfter {
		j.mu.Unlock()
		return false
	}
	batch := j.takeEvents()
	j.queued = 0
	id := j.run.ID
	j.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	_, err := state.AppendEvents(ctx, store, id, batch...)
	cancel()
	if err == nil {
		clear(batch[:cap(batch)])
		j.mu.Lock()
		j.spare = batch[:0]
		j.mu.Unlock()
		return true
	}
	j.mu.Lock()
	j.events = append(batch, j.takeEvents()...)
	j.mu.Unlock()
	j.storeFailed(err, false)
	return false
}

// storeFailed notes that the state did not take a write (skip: it was
// not even tried, the journal going to the spool meanwhile) and warns
// the first time.
func (j *journal) storeFailed(err error, skip bool) {
	j.mu.Lock()
	first := !j.failed
	j.failed = true
	if !skip {
		j.failedAt = time.Now()
	}
	j.mu.Unlock()
	if first {
		fmt.Fprintf(j.warn, "runbook: warning: the run's journal could not be written (%v); the record is written when the run ends\n", err)
	}
}

// Finish appends the run's end to the chain, after Close: the stop
// toggled during the run (from the audit trail), each report rendered
// with its digest, and the final record. Events the state does not take
// (or, when it failed a moment ago, all of them) go to the spool
// (state.Spool.PutEvents), which hands them to the state with the run's
// record once it answers again. It returns the final record as that
// last event holds it, for the state to store the same bytes (zero when
// it wrote none): the record is encoded once (docs/performance.md,
// "round 7: the run's records").
func (j *journal) Finish(ctx context.Context, run *record.Run) record.EncodedRun {
	j.mu.Lock()
	if j.run == nil || j.finished {
		j.mu.Unlock()
		return record.EncodedRun{}
	}
	j.finished = true
	// No snapshot follows (see Close): the items' encodings go before
	// the final record is encoded.
	j.items, j.raw = nil, nil
	started := j.run.StartedAt
	down := !j.failedAt.IsZero() && time.Since(j.failedAt) < journalRetryAfter
	j.mu.Unlock()
	var stops []record.Event
	var trail []state.AuditEntry
	if !down {
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), journalTimeout)
		trail, _ = j.store.Audit(actx)
		cancel()
	}
	for _, e := range trail {
		if (e.Action != state.ActionEnable && e.Action != state.ActionDisable) || e.Time.Before(started) {
			continue
		}
		stops = append(stops, record.Event{Type: record.EventStop, OccurredAt: e.Time, Actor: e.User, Data: mustJSON(e)})
	}
	j.mu.Lock()
	for _, e := range stops {
		j.queue(e)
	}
	for _, r := range run.Reports {
		j.queue(record.Event{Type: record.EventReport, Item: "report." + r.Name, Surface: record.SurfaceEngine, Data: mustJSON(r)})
	}
	last, ok := runEvent(record.Event{Type: record.EventRunFinished, OccurredAt: run.FinishedAt, Actor: run.Operator, Surface: record.SurfaceEngine}, run)
	var enc record.EncodedRun
	if ok {
		enc = record.Encoded(last.Data)
	}
	j.queue(last)
	j.mu.Unlock()
	if j.flushEvents(j.store) {
		return enc
	}
	j.mu.Lock()
	left := j.takeEvents()
	j.mu.Unlock()
	if _, err := (state.Spool{}).PutEvents(j.store, run.ID, left); err != nil {
		fmt.Fprintf(j.warn, "runbook: warning: %d events of the run's journal were lost: %v\n", len(left), err)
	}
	return enc
}

// flusher writes the checks' progress, at most every flushEvery, the
// first time a pause after Begin wrote the record: a run of checks that
// ends sooner writes its record and its journal twice (as planned, and
// final), not three times. (A run of one check: 1 write of each fewer,
// of 3; see docs/performance.md, round 4.)
func (j *journal) flusher() {
	defer close(j.done)
	for {
		// At most every pause(); Close does not wait it out.
		select {
		case <-time.After(j.pause()):
		case <-j.stop:
			return
		}
		if _, ok := <-j.kick; !ok {
			return
		}
		j.flushEvents(j.progress)
		j.save(j.progress)
	}
}

// save writes the newest snapshot to store (j.store or j.progress) if
// anything changed since the last.
func (j *journal) save(store state.Store) {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	start := time.Now()
	j.mu.Lock()
	if j.run == nil || j.closed || !j.dirty {
		j.mu.Unlock()
		return
	}
	snap := *j.run
	snap.UpdatedAt = time.Now().UTC()
	var sum record.Summary
	items := make([][]byte, len(j.items))
	for i := range j.items {
		it := &j.items[i]
		items[i] = it.data
		sum.Count(it.status, it.informational)
	}
	snap.Summary = sum
	snap.Status = record.Running
	if len(items) == 0 {
		items = nil // "items":null, as a record without items is written
	}
	raw := make([]rawItem, 0, len(j.raw))
	for i, it := range j.raw {
		raw = append(raw, rawItem{i, it})
	}
	j.dirty = false
	j.mu.Unlock()
	for _, r := range raw {
		data, err := record.MarshalItem(&r.item)
		if err != nil {
			j.storeFailed(fmt.Errorf("encode run record: %w", err), true)
			return
		}
		items[r.at] = data
	}
	enc, err := record.EncodeRun(&snap, items)
	if err != nil {
		j.storeFailed(fmt.Errorf("encode run record: %w", err), true)
		return
	}
	// Not cancelled with the run: the journal is how an interrupted or
	// killed run is found again. But a state that does not answer must not
	// stall the run: each save has a short deadline, and after a failure
	// the journal goes to the local spool only, for journalRetryAfter.
	j.mu.Lock()
	skip := !j.failedAt.IsZero() && time.Since(j.failedAt) < journalRetryAfter
	j.mu.Unlock()
	if skip {
		_, err = state.Spool{}.PutEncoded(store, &snap, enc)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		// Other runs' spooled records are flushed when the command starts
		// and with the final record, not with every snapshot (each flush
		// reads the spool directory).
		_, err = state.SaveOrSpoolEncoded(ctx, noFlush, store, state.Spool{}, &snap, enc)
		cancel()
	}
	j.mu.Lock()
	j.cost = time.Since(start)
	j.mu.Unlock()
	var spooled *state.SpooledError
	if errors.As(err, &spooled) {
		err = spooled.Err
	}
	if err != nil {
		j.storeFailed(err, skip)
	}
}

// rawItem is an item not encoded yet, at its position in the record.
type rawItem struct {
	at   int
	item record.Item
}

// noFlush is a done context: a journal's save flushes no spooled runs.
var noFlush = func() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}()

// journalTimeout bounds one journal save; journalRetryAfter is how long
// the journal keeps to the local spool after a save failed.
const (
	journalTimeout    = 2 * time.Second
	journalRetryAfter = 30 * time.Second
)

// Close stops the journal before the run's final record is written, so no
// late progress write can replace it.
func (j *journal) Close() {
	j.saveMu.Lock()
	j.mu.Lock()
	started := j.run != nil && !j.closed
	j.closed = true
	if started {
		close(j.kick)
		close(j.stop)
	}
	j.mu.Unlock()
	j.saveMu.Unlock()
	if started {
		<-j.done
	}
}

// observers hands progress to several observers in turn.
type observers []engine.Observer

func (o observers) Started(item record.Item) {
	for _, x := range o {
		x.Started(item)
	}
}

func (o observers) Finished(item record.Item) {
	for _, x := range o {
		x.Finished(item)
	}
}

// Event passes an event to those that hear events.
func (o observers) Event(e record.Event) {
	for _, x := range o {
		if eo, ok := x.(engine.EventObserver); ok {
			eo.Event(e)
		}
	}
}

// abandonedLookback is how many of the newest runs a run looks at for one
// that was abandoned (besides the one named by a procedure lock it took
// over: see lockProcedure).
const abandonedLookback = 10

// warnAbandoned tells the operator about runs in the store that never
// finished (their process is gone), once: each is written back with status
// "abandoned", so history shows it as such and the next run stays quiet.
func warnAbandoned(ctx context.Context, store state.Store, w io.Writer, also string) {
	ids, err := store.RunIDs(ctx)
	if err != nil {
		return
	}
	if len(ids) > abandonedLookback {
		ids = ids[len(ids)-abandonedLookback:]
	}
	if also != "" && !slices.Contains(ids, also) {
		ids = append(ids, also)
	}
	for _, id := range ids {
		warnAbandonedRun(ctx, store, w, id)
	}
}

// warnAbandonedRun warns about run id and writes it back as abandoned, if
// its journal says it is running and its process is gone.
func warnAbandonedRun(ctx context.Context, store state.Store, w io.Writer, id string) {
	// Only a record written as running can be one: a state directory
	// tells without reading the record's items.
	if d, ok := store.(*state.Dir); ok {
		if st := d.RunStatus(id); st != "" && st != record.Running {
			return
		}
	}
	run, err := store.LoadRun(ctx, id)
	// (A record the store already settled is abandoned but, until it is
	// written back here, still has no finish time.)
	if err != nil || state.Settle(run).Status != record.Abandoned || !run.FinishedAt.IsZero() {
		return
	}
	// Only its own host writes a run back: another host's run is only
	// unheard of (state.StaleAfter), and may yet write its record.
	if host, _ := os.Hostname(); run.Host != "" && run.Host != host {
		return
	}
	// Read again now that the process is known to be gone: it may have
	// written its final record between the first read and the check.
	again, err := store.LoadRun(ctx, id)
	if err != nil || !again.FinishedAt.IsZero() || !again.UpdatedAt.Equal(run.UpdatedAt) {
		return
	}
	what := ""
	for _, it := range run.Items {
		if it.Status == record.Running {
			what = fmt.Sprintf(" during %s %s", it.Kind, it.Name)
			break
		}
	}
	fmt.Fprintf(w, "runbook: warning: run %s of %s (%s on %s, started %s) was abandoned%s: its process is gone; see runbook show %s, or pick it up with --resume %s\n",
		run.ID, run.Runbook, run.Operator, run.Host, run.StartedAt.Local().Format(time.DateTime), what, run.ID, run.ID)
	// It ended, as far as anyone can tell, when it was last heard of.
	run.FinishedAt = run.UpdatedAt
	if run.FinishedAt.IsZero() {
		run.FinishedAt = run.StartedAt
	}
	run.DurationMS = run.FinishedAt.Sub(run.StartedAt).Milliseconds()
	// Its journal, if it has one, ends the same way.
	if el, ok := store.(state.EventLog); ok {
		if evs, err := el.Events(ctx, id); err == nil && len(evs) > 0 {
			e := record.Event{Type: record.EventRunFinished, OccurredAt: run.FinishedAt, Actor: run.Operator, Surface: record.SurfaceEngine, Data: mustJSON(run)}
			if _, err := el.AppendEvents(ctx, run.ID, []record.Event{e}); err != nil {
				return
			}
		}
	}
	_, _ = store.SaveRun(ctx, run)
}

// cleanupPhase follows a run's cleanup blocks, so a second Ctrl-C knows
// whether there is cleanup left to abandon.
type cleanupPhase struct {
	mu      sync.Mutex
	planned int
	done    int
}

func (c *cleanupPhase) begin(run *record.Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, it := range run.Items {
		if it.Kind == record.KindCleanup {
			c.planned++
		}
	}
}

// Started is part of engine.Observer.
func (c *cleanupPhase) Started(record.Item) {}

// Finished counts finished cleanups.
func (c *cleanupPhase) Finished(item record.Item) {
	if item.Kind != record.KindCleanup {
		return
	}
	c.mu.Lock()
	c.done++
	c.mu.Unlock()
}

// unfinished reports whether a cleanup block has yet to finish.
func (c *cleanupPhase) unfinished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done < c.planned
}

// interruptedSaveTimeout bounds the final save of an interrupted run, so
// that Ctrl-C or SIGTERM ends a run promptly when the state does not
// answer: the record is spooled instead.
const interruptedSaveTimeout = 3 * time.Second

// saveRecord saves a run's final record, or spools it locally
// (state.Spool) when the state cannot take it (a full disk, a database
// out of reach), or, when that cannot be written either, prints it as
// JSON on standard error. It returns the error the command ends with.
// enc, when not zero, is run already encoded (journal.Finish): those
// bytes are stored, not encoded again (a record of 4.5 MB: 24.6 MB
// allocated to save it before, 6 KB after; with snapshots that encode
// only what changed, 2–8% less CPU at 10,000 HTTP checks:
// docs/performance.md, "round 7: the run's records").
func (a *app) saveRecord(ctx context.Context, store state.Store, run *record.Run, enc record.EncodedRun) error {
	sctx := context.WithoutCancel(ctx)
	if run.Interrupted || ctx.Err() != nil {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, interruptedSaveTimeout)
		defer cancel()
	}
	// Records spooled earlier are flushed only while the command goes on:
	// an interrupted run ends promptly, leaving them spooled.
	_, err := state.SaveOrSpoolEncoded(sctx, ctx, store, state.Spool{}, run, enc)
	var spooled *state.SpooledError
	if err == nil || errors.As(err, &spooled) {
		return err
	}
	data, merr := run.Marshal()
	if merr != nil {
		return fmt.Errorf("save run record: %w", err)
	}
	fmt.Fprintf(a.stderr, "runbook: the run record could not be saved in %s, nor spooled in %s (%v); here it is:\n", store.Location(), state.DefaultSpoolDir(), err)
	_, _ = a.stderr.Write(data)
	return fmt.Errorf("the run record was not saved (printed above)")
}
