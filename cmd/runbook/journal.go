package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
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
// written at most every flushEvery, so a thousand parallel checks do not
// rewrite the record a thousand times.
type journal struct {
	store  state.Store
	warn   io.Writer
	saveMu sync.Mutex // one save at a time, each of the newest snapshot

	mu     sync.Mutex
	run    *record.Run
	index  map[string]int // kind + "." + name → position in run.Items
	dirty  bool
	failed bool // a save failed; warned once
	// failedAt is when a save to the store last failed.
	failedAt time.Time
	closed   bool

	kick chan struct{}
	done chan struct{}
	// stop ends the heartbeat.
	stop chan struct{}
}

// heartbeat is how often the journal writes the record while the run
// goes on, changed or not, so that a console on another host can tell a
// live run (waiting for an answer, or in a long step) from a dead one
// (state.StaleAfter). A variable for tests.
var heartbeat = state.Heartbeat

// flushEvery bounds how often progress of checks is written.
const flushEvery = 250 * time.Millisecond

func newJournal(store state.Store, warn io.Writer) *journal {
	return &journal{store: store, warn: warn, kick: make(chan struct{}, 1), done: make(chan struct{}), stop: make(chan struct{})}
}

// Begin writes the run's first record: every item as planned.
func (j *journal) Begin(run *record.Run) {
	j.mu.Lock()
	j.run = run
	run.Status = record.Running
	run.PID = os.Getpid()
	j.index = make(map[string]int, len(run.Items))
	for i, it := range run.Items {
		j.index[it.Kind+"."+it.Name] = i
	}
	j.dirty = true
	j.mu.Unlock()
	j.save()
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
			j.save()
		}
	}
}

// Started records an item as running.
func (j *journal) Started(item record.Item) {
	item.Status = record.Running
	j.update(item)
}

// Waiting records an item as waiting for a person's answer: pending, with
// its question open in the state (exec --wait).
func (j *journal) Waiting(item record.Item) {
	item.Status = record.Pending
	j.update(item)
}

// Finished records an item's outcome.
func (j *journal) Finished(item record.Item) { j.update(item) }

func (j *journal) update(item record.Item) {
	j.mu.Lock()
	if j.run == nil || j.closed {
		j.mu.Unlock()
		return
	}
	if i, ok := j.index[item.Kind+"."+item.Name]; ok {
		j.run.Items[i] = item
	} else {
		j.index[item.Kind+"."+item.Name] = len(j.run.Items)
		j.run.Items = append(j.run.Items, item)
	}
	j.dirty = true
	if item.Kind == record.KindCheck {
		// (Under mu, where Close cannot have closed kick.)
		select {
		case j.kick <- struct{}{}:
		default:
		}
		j.mu.Unlock()
		return
	}
	j.mu.Unlock()
	j.save()
}

// flusher writes the checks' progress, at most every flushEvery.
func (j *journal) flusher() {
	defer close(j.done)
	for range j.kick {
		j.save()
		// At most every flushEvery; Close does not wait out the pause.
		select {
		case <-time.After(flushEvery):
		case <-j.stop:
			return
		}
	}
}

// save writes the newest snapshot if anything changed since the last.
func (j *journal) save() {
	j.saveMu.Lock()
	defer j.saveMu.Unlock()
	j.mu.Lock()
	if j.run == nil || j.closed || !j.dirty {
		j.mu.Unlock()
		return
	}
	snap := *j.run
	snap.Items = append([]record.Item(nil), j.run.Items...)
	snap.UpdatedAt = time.Now().UTC()
	snap.Tally()
	snap.Status = record.Running
	j.dirty = false
	j.mu.Unlock()
	// Not cancelled with the run: the journal is how an interrupted or
	// killed run is found again. But a state that does not answer must not
	// stall the run: each save has a short deadline, and after a failure
	// the journal goes to the local spool only, for journalRetryAfter.
	j.mu.Lock()
	skip := !j.failedAt.IsZero() && time.Since(j.failedAt) < journalRetryAfter
	j.mu.Unlock()
	var err error
	if skip {
		_, err = state.Spool{}.Put(j.store, &snap)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		_, err = state.SaveOrSpool(ctx, j.store, state.Spool{}, &snap)
		cancel()
	}
	var spooled *state.SpooledError
	if errors.As(err, &spooled) {
		err = spooled.Err
	}
	if err != nil {
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
}

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
func (a *app) saveRecord(ctx context.Context, store state.Store, run *record.Run) error {
	sctx := context.WithoutCancel(ctx)
	if run.Interrupted || ctx.Err() != nil {
		var cancel context.CancelFunc
		sctx, cancel = context.WithTimeout(sctx, interruptedSaveTimeout)
		defer cancel()
	}
	// Records spooled earlier are flushed only while the command goes on:
	// an interrupted run ends promptly, leaving them spooled.
	_, err := state.SaveOrSpoolWith(sctx, ctx, store, state.Spool{}, run)
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
