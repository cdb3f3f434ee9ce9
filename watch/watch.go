// Package watch re-runs a runbook's checks on an interval and turns their
// results into health: per check and overall HEALTHY, WARNING, CRITICAL or
// UNKNOWN. It logs every cycle and every transition; queues the runbook's
// alerts on transitions and recoveries (never on every cycle) for delivery
// apart from the cycles, damping flapping checks and honouring silences
// and maintenance windows; names and (with auto = true) runs the playbooks
// a failing check triggers; keeps its state in a state.Store so a restart
// does not alert again; and serves /healthz and /metrics.
//
// Several instances may watch the same runbook against one shared store:
// the one that holds the store's lead for the watch's key sends the alerts
// and runs the playbooks; the others observe and log, and take over when
// the leader goes away.
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/views"
)

// Defaults of Options.
const (
	DefaultEvery      = 5 * time.Minute
	DefaultGrace      = 30 * time.Second
	DefaultPendingFor = time.Hour
)

// Options configure a Watcher.
type Options struct {
	// Bound is the runbook, with its variables.
	Bound *engine.Bound
	// Store keeps run records, the watch's state, the emergency stop and
	// the lead.
	Store state.Store
	// Key names the watch in the store (its state and its lead); empty
	// means the runbook's name. Watches of one runbook with different
	// variables (one per host) need different keys.
	Key string
	// Every is the time from the start of one cycle to the start of the
	// next; a cycle that takes longer delays the next, never overlaps it.
	Every time.Duration
	// Alerts are where transitions go; Sender delivers them.
	Alerts []*alert.Alert
	Sender *alert.Sender
	// Triggers are the playbooks started or offered when a check turns
	// CRITICAL.
	Triggers []engine.TriggerSpec
	// Logger receives the structured log; nil discards it.
	Logger *slog.Logger
	// Operator, Host and Source go into the run records; Concurrency, Only
	// and Skip into each cycle's run.
	Operator, Host, Source string
	Concurrency            int
	Only, Skip             []string
	// RecordEveryCycle keeps a run record of every cycle. By default a
	// cycle keeps one only when it is the first of this process, when a
	// check's health changed, or when it was interrupted: a watch every
	// minute would otherwise leave 1440 identical records a day.
	RecordEveryCycle bool
	// Grace bounds how long the cycle in flight may go on once ctx is
	// cancelled (SIGTERM); then it is interrupted too.
	Grace time.Duration
	// PendingFor is how long a transition may wait in an alert's queue
	// (its receiver failing or throttling) before it is dropped.
	PendingFor time.Duration
	// QueueLimit bounds each alert's queue (alert.DefaultQueueLimit when
	// 0); the queue holds one transition per check.
	QueueLimit int
	// BeforePlaybook, when set, is asked right before an automatic
	// playbook starts, as exec would be: it refuses (an emergency stop
	// that covers this run, the same playbook already running) with an
	// error, or returns what to call when the playbook has finished (to
	// release its procedure lock).
	BeforePlaybook func(ctx context.Context, playbook string) (done func(), err error)
	// PlaybookCommand is how a person runs a playbook by hand; %s is the
	// playbook's name. Empty means the exec of Source with the watch's
	// VarFiles, Vars and state (see playbookCommand).
	PlaybookCommand string
	// VarFiles and Vars are the watch's --var-file and --var flags, as
	// given, for PlaybookCommand.
	VarFiles, Vars []string
	// FailOpenAfter is how long the state may stay unreachable before
	// this instance alerts on its own, without the lead (marked as
	// possible duplicates); zero means DefaultFailOpenAfter.
	FailOpenAfter time.Duration
	// Now and After are the clock; nil means the time package's.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
}

// Cycle is what one cycle did.
type Cycle struct {
	// Run is the cycle's run record (Mode "watch").
	Run *record.Run
	// Health is the overall health after the cycle.
	Health string
	// Leading is whether this instance led during the cycle.
	Leading bool
	// Changes counts checks whose health changed.
	Changes int
	// Events are the transitions this cycle raised (only a leader raises
	// them), before flap damping, silences and maintenance windows.
	Events []alert.Transition
	// Queued are the transitions queued for each alert, by alert name:
	// Events as each alert's `on`, flap damping, silences and maintenance
	// windows leave them, FLAPPING included. Their delivery happens
	// apart from the cycle.
	Queued map[string][]alert.Transition
	// Playbooks are the runs of playbooks started by the watch.
	Playbooks []*record.Run
	// RunPath is where the run record was kept; "" when it was not.
	RunPath string
}

// Watcher runs the cycles. Cycle and Run must not be called concurrently;
// Status and Handler may be used from any goroutine.
type Watcher struct {
	opts    Options
	b       *engine.Bound
	store   state.Store
	key     string
	log     *slog.Logger
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	metrics *metrics

	// Owned by the cycle goroutine.
	// stopping is Once's ctx while its cycle runs: done once the watch's
	// stop signal has arrived.
	stopping context.Context
	st       *State
	leading  bool
	lease    *state.Lease // held while leading
	failOpen bool         // alerting without the lead: the state is unreachable
	cycles   int
	silences []state.Silence

	// outboxes deliver each enabled alert, apart from the cycles.
	outboxes    []*alert.Outbox
	stopWorkers context.CancelFunc
	workers     sync.WaitGroup

	mu    sync.Mutex // guards snap, heard and outcomes
	snap  Status
	heard heard
	// outcomes are the deliveries and drops the workers reported, for
	// applyOutcomes.
	outcomes []outcome
}

// New prepares a watch and loads its saved state.
func New(ctx context.Context, opts Options) (*Watcher, error) {
	if opts.Bound == nil || opts.Store == nil {
		return nil, errors.New("watch needs a runbook and a state store")
	}
	if opts.Every <= 0 {
		opts.Every = DefaultEvery
	}
	if opts.Grace <= 0 {
		opts.Grace = DefaultGrace
	}
	if opts.PendingFor <= 0 {
		opts.PendingFor = DefaultPendingFor
	}
	if opts.FailOpenAfter <= 0 {
		opts.FailOpenAfter = DefaultFailOpenAfter
	}
	if opts.Sender == nil {
		opts.Sender = &alert.Sender{Redactor: opts.Bound.Redactor}
	}
	var hidden []string
	if opts.PlaybookCommand == "" {
		opts.PlaybookCommand, hidden = playbookCommand(opts)
	}
	w := &Watcher{
		opts:  opts,
		b:     opts.Bound,
		store: opts.Store,
		key:   opts.Key,
		log:   opts.Logger,
		now:   opts.Now,
		after: opts.After,
	}
	if w.key == "" {
		w.key = w.b.Info.Name
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("runbook", w.b.Info.Name)
	if len(hidden) > 0 {
		w.log.Info("the suggested playbook command shows sensitive variables as name=...: supply their values (or RUNBOOK_VAR_name) to run it",
			"variables", strings.Join(hidden, ","))
	}
	for _, a := range opts.Alerts {
		if a.Disabled {
			w.log.Info("alert disabled: its url or routing_key is empty", "alert", a.Name, "channel", a.Channel)
		}
	}
	if w.now == nil {
		w.now = time.Now
	}
	if w.after == nil {
		w.after = time.After
	}
	m, err := newMetrics(w.b.Info.Name)
	if err != nil {
		return nil, err
	}
	w.metrics = m
	if err := m.reg.Register(newAgeCollector(w)); err != nil {
		return nil, fmt.Errorf("register watch metrics: %w", err)
	}
	if err := m.reg.Register(newFleetCollector(w)); err != nil {
		return nil, fmt.Errorf("register watch metrics: %w", err)
	}
	if err := m.reg.Register(&views.StopCollector{Read: func() (bool, string, error) {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		st, err := w.store.Stop(sctx)
		return st.On, st.Exercise, err
	}}); err != nil {
		return nil, fmt.Errorf("register watch metrics: %w", err)
	}
	w.st = w.loadState(ctx)
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.stopWorkers = cancel
	for _, a := range opts.Alerts {
		if a.Disabled {
			continue
		}
		ob := alert.NewOutbox(a, opts.Sender, alert.OutboxOptions{Limit: opts.QueueLimit, MaxAge: opts.PendingFor, Report: w.delivered})
		w.outboxes = append(w.outboxes, ob)
		w.metrics.addOutbox(ob)
		w.workers.Add(1)
		go func() {
			defer w.workers.Done()
			ob.Run(wctx)
		}()
	}
	w.publish()
	return w, nil
}

// loadState reads the saved state; a missing or unreadable one starts
// afresh (logged).
func (w *Watcher) loadState(ctx context.Context) *State {
	data, err := w.store.LoadWatch(ctx, w.key)
	if err != nil {
		w.log.Warn("cannot load the watch state; starting afresh", "error", w.redact(err.Error()))
		return newState()
	}
	st, err := decodeState(data)
	if err != nil {
		w.log.Warn("ignoring the saved watch state", "error", err.Error())
	}
	return st
}

// Close stops the alert queues' workers (what they hold stays in the
// saved state, for the next process) and gives up the lead. Call Flush
// first to deliver what is queued.
func (w *Watcher) Close() {
	if w.stopWorkers != nil {
		w.stopWorkers()
		w.workers.Wait()
		w.stopWorkers = nil
		if w.leading && w.cycles > 0 {
			w.save(context.Background())
		}
	}
	if w.lease != nil {
		w.lease.Release()
		w.lease = nil
	}
}

// Flush waits until every alert's queue is idle (see alert.Outbox.Flush)
// or ctx ends, then saves the state, so that what was delivered is not
// sent again by the next process. `watch --once` calls it before exiting.
func (w *Watcher) Flush(ctx context.Context) error {
	var err error
	for _, ob := range w.outboxes {
		if e := ob.Flush(ctx); e != nil && err == nil {
			err = e
		}
	}
	if w.leading {
		w.save(context.WithoutCancel(ctx))
	}
	w.publish()
	return err
}

// header is the part of a notification that does not change.
func (w *Watcher) header() alert.Notification {
	h := alert.Notification{Runbook: w.b.Info.Name, Title: w.b.Info.Title, Host: w.opts.Host}
	w.fence(&h)
	return h
}

// restoreQueues refills the alert queues from the saved state, when this
// instance starts leading; an instance that stops leading empties them.
func (w *Watcher) restoreQueues(leading bool) {
	for _, ob := range w.outboxes {
		var saved alert.Saved
		if as := w.st.Alerts[ob.Alert().Name]; as != nil && leading {
			saved = as.Saved
		}
		ob.Restore(saved, w.header())
	}
}

func (w *Watcher) redact(s string) string { return w.b.Redactor.String(s) }

// Run runs cycles until ctx is cancelled. A cancelled ctx lets the cycle
// in flight finish (for at most Options.Grace) and starts no new one.
// It returns an error only when a cycle cannot run at all.
func (w *Watcher) Run(ctx context.Context) error {
	w.log.Info("watch started", "key", w.key, "every", w.opts.Every.String(), "store", w.store.Location(),
		"alerts", len(w.opts.Alerts), "checks", len(w.b.Config.CheckOrder))
	defer w.log.Info("watch stopped")
	for {
		start := w.now()
		if _, err := w.Once(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := w.opts.Every - w.now().Sub(start)
		if wait <= 0 {
			w.log.Warn("the cycle took longer than the interval; the next starts now",
				"took", w.now().Sub(start).Round(time.Millisecond).String(), "every", w.opts.Every.String())
			wait = 0
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.after(wait):
		}
	}
}

// Once runs one cycle that a cancelled ctx does not cut short: it goes on
// for up to Options.Grace after ctx is done, then it is interrupted.
func (w *Watcher) Once(ctx context.Context) (*Cycle, error) {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		w.log.Info("stopping after the cycle in flight", "grace", w.opts.Grace.String())
		select {
		case <-done:
		case <-w.after(w.opts.Grace):
			w.log.Warn("the cycle did not finish within the grace period; interrupting it")
			cancel()
		}
	}()
	w.stopping = ctx
	defer func() { w.stopping = nil }()
	return w.Cycle(cctx)
}

// stopSignals are the exit codes of a command killed by SIGHUP, SIGINT or
// SIGTERM (128 + the signal), as a stop of the watch's service sends them.
var stopSignals = map[int64]string{129: "SIGHUP", 130: "SIGINT", 143: "SIGTERM"}

// killedByStop returns the checks of run whose command died of a stop
// signal while the watch itself is stopping: a service manager signals
// every process of the service (systemd's default KillMode), so the
// checks' commands die with the watch; their failure says nothing of
// what they check. ctx stands for the stop signal when Once is not used.
func (w *Watcher) killedByStop(ctx context.Context, run *record.Run) []string {
	var names []string
	for _, it := range run.Items {
		if it.Kind != record.KindCheck || it.Status == record.Passed {
			continue
		}
		if _, ok := stopSignals[exitCode(it.Result["exit_code"])]; ok {
			names = append(names, it.Name)
		}
	}
	if len(names) == 0 {
		return nil
	}
	stop := w.stopping
	if stop == nil {
		stop = ctx
	}
	if stop.Err() == nil {
		// The watch's own signal may be a moment behind its commands'.
		t := time.NewTimer(time.Second)
		select {
		case <-stop.Done():
		case <-t.C:
		}
		t.Stop()
	}
	if stop.Err() == nil {
		return nil
	}
	return names
}

// exitCode reads a command's exit_code from a run record's result; -1
// when it is not a whole number.
func exitCode(v any) int64 {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i
		}
	case float64:
		if n == float64(int64(n)) {
			return int64(n)
		}
	case int:
		return int64(n)
	case int64:
		return n
	}
	return -1
}

// Cycle runs the checks once, with ctx as it is, and acts on the result.
func (w *Watcher) Cycle(ctx context.Context) (*Cycle, error) {
	leading := w.lead(ctx)
	start := w.now()
	run, err := engine.Run(ctx, w.b, engine.Options{
		Mode:        engine.ModeCheck,
		Only:        w.opts.Only,
		Skip:        w.opts.Skip,
		Concurrency: w.opts.Concurrency,
		Operator:    w.opts.Operator,
		Host:        w.opts.Host,
		Source:      w.opts.Source,
		Now:         w.opts.Now,
		Standing:    w.standing(start),
	})
	if err != nil {
		return nil, err
	}
	leading = w.stillLeading(leading)
	run.Mode = "watch"
	w.cycles++
	c := &Cycle{Run: run, Leading: leading, Health: w.st.Health}
	st := w.st
	now := run.FinishedAt

	if !run.Interrupted {
		if names := w.killedByStop(ctx, run); len(names) > 0 {
			w.log.Warn("the watch is stopping and the commands of some checks were killed by its stop signal (KillMode=mixed keeps them running): the cycle counts as interrupted",
				"checks", strings.Join(names, ","))
			run.Interrupted = true
		}
	}
	if run.Interrupted {
		w.log.Warn("cycle interrupted; health not updated", "duration_ms", run.DurationMS)
		c.RunPath = w.keep(ctx, run)
		w.finish(ctx, c, leading)
		return c, nil
	}

	obs := observe(run)
	health := overall(obs)
	prevHealth := st.Health
	seen := map[string]bool{}
	changed := map[string]string{}  // check → its health before this cycle, when it changed
	notified := map[string]string{} // check → what the watch had said of it before this cycle
	for _, o := range obs {
		seen[o.name] = true
		cs := st.Checks[o.name]
		prev := ""
		if cs == nil {
			cs = &CheckState{Since: now}
			st.Checks[o.name] = cs
		} else {
			prev = cs.Health
		}
		if prev != o.health {
			c.Changes++
			cs.Since = now
			if prev != "" {
				changed[o.name] = prev
				cs.Changes = append(cs.Changes, now)
			}
			if prev != "" || o.health != Healthy {
				attrs := []any{"check", o.name, "from", orNone(prev), "to", o.health, "status", o.status}
				if o.message != "" {
					attrs = append(attrs, "message", o.message)
				}
				if o.suppressed {
					attrs = append(attrs, "suppressed", true)
				}
				w.log.Log(ctx, levelOf(o.health), "transition", attrs...)
			}
		}
		cs.Changes = recent(cs.Changes, now, w.longestWindow())
		damp(&cs.Flapping, &cs.SettledAt, cs, now, alert.Flap{Threshold: alert.DefaultFlapThreshold, Window: alert.DefaultFlapWindow}, prev != o.health && prev != "")
		cs.Health, cs.Status, cs.Message, cs.Suppressed = o.health, o.status, o.message, o.suppressed
		notified[o.name] = cs.Notified
		if o.suppressed || !leading {
			continue
		}
		ev := event(o.health, cs.Notified)
		if ev == "" {
			continue
		}
		previous := orUnknown(prev)
		if ev == engine.EventRecovered {
			previous = cs.Notified
		}
		c.Events = append(c.Events, alert.Transition{
			Event: ev, Check: o.name, Title: o.title, Health: o.health, Previous: previous,
			Status: o.status, Message: o.message, Time: now,
		})
		cs.Notified = o.health
	}
	for name := range st.Checks {
		if seen[name] {
			continue
		}
		if w.declared(name) != nil {
			// Kept, with what was last sent for it: when it is watched
			// again, its recovery is still reported and a failure that
			// persisted is not alerted twice.
			w.log.Info("check not watched this cycle (skipped by its when or --skip)", "check", name)
			continue
		}
		delete(st.Checks, name) // no longer in the runbook
	}
	st.Health = health
	c.Health = health
	w.ran(run, start)

	toRun := w.playbooks(ctx, c.Events)
	if leading {
		w.loadSilences(ctx)
		n := &alert.Notification{
			Runbook: w.b.Info.Name, Title: w.b.Info.Title, Host: w.opts.Host, Time: now,
			Health: health, PreviousHealth: prevHealth,
		}
		w.fence(n)
		c.Queued = w.queueAlerts(obs, changed, notified, c.Events, n, now)
	}
	w.markFlapping(run)
	if w.opts.RecordEveryCycle || w.cycles == 1 || c.Changes > 0 {
		c.RunPath = w.keep(ctx, run)
	}
	if leading {
		for _, t := range toRun {
			if pr := w.runPlaybook(ctx, t); pr != nil {
				c.Playbooks = append(c.Playbooks, pr)
			}
		}
	}

	attrs := []any{"health", health, "checks", len(obs), "passed", run.Summary.Passed, "warning", run.Summary.Warning,
		"failed", run.Summary.Failed, "skipped", run.Summary.Skipped, "duration_ms", run.DurationMS, "leading", leading}
	if c.Changes > 0 {
		attrs = append(attrs, "changes", c.Changes)
	}
	if c.RunPath != "" {
		attrs = append(attrs, "run_id", run.ID)
	}
	w.finish(ctx, c, leading)
	w.log.Info("cycle", attrs...)
	return c, nil
}

// finish saves the state (when leading) and publishes it to /healthz and
// /metrics.
func (w *Watcher) finish(ctx context.Context, c *Cycle, leading bool) {
	st := w.st
	st.LastCycle = c.Run.FinishedAt
	st.Cycles++
	if leading {
		w.save(ctx)
	}
	w.metrics.run.Set(c.Run)
	w.metrics.cycles.Inc()
	w.metrics.health.Set(views.HealthValue(st.Health))
	w.publish()
}

// save saves the state, with what each alert's queue holds.
func (w *Watcher) save(ctx context.Context) {
	w.applyOutcomes()
	for _, ob := range w.outboxes {
		w.st.alert(ob.Alert().Name).Saved = ob.Save()
	}
	data, err := json.Marshal(w.st)
	if err == nil {
		err = w.store.SaveWatch(ctx, w.key, data)
	}
	if err != nil {
		w.log.Error("cannot save the watch state", "error", w.redact(err.Error()))
	}
}

// keep saves a run record and returns where it went.
func (w *Watcher) keep(ctx context.Context, run *record.Run) string {
	path, err := state.SaveOrSpool(ctx, w.store, state.Spool{}, run)
	if err != nil {
		w.log.Error("cannot save the run record", "run_id", run.ID, "error", w.redact(err.Error()))
		return ""
	}
	w.st.LastRunID = run.ID
	return path
}

// lead tries to take (or keep) the lead (see leadLease). An instance
// that becomes the leader reloads the state the previous leader saved.
func (w *Watcher) lead(ctx context.Context) bool {
	lease, failOpen := w.leadLease(ctx)
	leading, was := lease != nil, w.leading
	w.setLead(lease, failOpen)
	switch {
	case leading && !was:
		w.log.Info("leading: this instance sends the alerts and runs the playbooks", "key", w.key, "lease_generation", lease.Generation())
		w.st = w.loadState(ctx)
		w.restoreQueues(true)
	case !leading && was:
		w.log.Warn("no longer leading: another instance sends the alerts", "key", w.key)
		w.restoreQueues(false)
	case !leading && w.cycles == 0:
		w.log.Info("observing: another instance leads and sends the alerts", "key", w.key)
	}
	return leading || failOpen
}

// playbooks names the playbooks that the CRITICAL events trigger and
// decides which to start: only those with auto = true, and none while the
// emergency stop is on.
func (w *Watcher) playbooks(ctx context.Context, events []alert.Transition) []engine.TriggerSpec {
	var toRun []engine.TriggerSpec
	var stop *state.StopState
	var stopErr error
	for i := range events {
		ev := &events[i]
		if ev.Event != engine.EventCritical {
			continue
		}
		for _, t := range w.opts.Triggers {
			if t.Trigger != ev.Check {
				continue
			}
			pb := alert.Playbook{Name: t.Playbook, Title: t.Title, Auto: t.Auto, Command: fmt.Sprintf(w.opts.PlaybookCommand, t.Playbook)}
			if t.Auto && stop == nil && stopErr == nil {
				s, err := w.store.Stop(ctx)
				stop, stopErr = &s, err
			}
			attrs := []any{"playbook", t.Playbook, "check", ev.Check}
			switch {
			case !t.Auto:
				pb.Action = "offered"
				w.log.Warn("playbook offered", append(attrs, "command", pb.Command)...)
			case stopErr != nil:
				pb.Action = "not started: the emergency stop could not be read"
				w.log.Error("playbook not started: the emergency stop could not be read", append(attrs, "error", w.redact(stopErr.Error()))...)
			case stop.On:
				pb.Action = "refused: the emergency stop is on"
				w.log.Warn("playbook refused: the emergency stop is on", append(attrs, "stop_by", stop.By, "stop_reason", w.redact(stop.Reason))...)
			default:
				pb.Action = "started"
				toRun = append(toRun, t)
			}
			ev.Playbooks = append(ev.Playbooks, pb)
		}
	}
	return toRun
}

// runPlaybook runs a playbook the watch starts by itself. auto = true is
// consent to run it unattended: its confirm steps run as with --yes; its
// manual steps stay pending.
func (w *Watcher) runPlaybook(ctx context.Context, t engine.TriggerSpec) *record.Run {
	// Read again right before starting: alerts went out since the stop was
	// first read, and their retries can take minutes.
	if stop, err := w.store.Stop(ctx); err != nil || stop.On {
		attrs := []any{"playbook", t.Playbook, "check", t.Trigger}
		if err != nil {
			w.log.Error("playbook not started: the emergency stop could not be read", append(attrs, "error", w.redact(err.Error()))...)
		} else {
			w.log.Warn("playbook refused: the emergency stop is on", append(attrs, "stop_by", stop.By, "stop_reason", w.redact(stop.Reason))...)
		}
		w.metrics.playbooks.WithLabelValues(t.Playbook, "refused").Inc()
		return nil
	}
	if w.opts.BeforePlaybook != nil {
		done, err := w.opts.BeforePlaybook(ctx, t.Playbook)
		if err != nil {
			w.log.Warn("playbook refused", "playbook", t.Playbook, "check", t.Trigger, "reason", w.redact(err.Error()))
			w.metrics.playbooks.WithLabelValues(t.Playbook, "refused").Inc()
			return nil
		}
		defer done()
	}
	w.log.Warn("playbook started", "playbook", t.Playbook, "check", t.Trigger)
	run, err := engine.Run(ctx, w.b, engine.Options{
		Mode: engine.ModeExec, Playbook: t.Playbook, Yes: true,
		Operator: w.opts.Operator, Host: w.opts.Host, Source: w.opts.Source, Now: w.opts.Now,
	})
	if err != nil {
		w.log.Error("playbook could not run", "playbook", t.Playbook, "error", w.redact(err.Error()))
		w.metrics.playbooks.WithLabelValues(t.Playbook, "error").Inc()
		return nil
	}
	attrs := []any{"playbook", t.Playbook, "status", run.Status, "run_id", run.ID}
	if _, err := w.store.SaveRun(ctx, run); err != nil {
		attrs = append(attrs, "save_error", w.redact(err.Error()))
	}
	level := slog.LevelInfo
	if run.Status != record.Passed {
		level = slog.LevelError
	}
	w.log.Log(ctx, level, "playbook finished", attrs...)
	w.metrics.playbooks.WithLabelValues(t.Playbook, run.Status).Inc()
	return run
}

func levelOf(health string) slog.Level {
	switch health {
	case Healthy:
		return slog.LevelInfo
	case Critical:
		return slog.LevelError
	default:
		return slog.LevelWarn
	}
}

func orNone(h string) string {
	if h == "" {
		return "NONE"
	}
	return h
}

func orUnknown(h string) string {
	if h == "" {
		return Unknown
	}
	return h
}

func oneIf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// playbookCommand is how a person runs one of the watch's playbooks by
// hand, as the watch would: `runbook exec SOURCE` with the watch's
// --var-file and --var flags and its state, then `--playbook %s`. A --var
// of a sensitive variable shows as name=... (its value is never put in a
// message); hidden names those variables. Paths are as the watch was
// given them: the command runs from the watch's working directory.
func playbookCommand(opts Options) (format string, hidden []string) {
	src := opts.Source
	if src == "" {
		src = opts.Bound.Config.Path
	}
	parts := []string{"runbook", "exec", shellQuote(src)}
	for _, f := range opts.VarFiles {
		parts = append(parts, "--var-file", shellQuote(f))
	}
	for _, v := range opts.Vars {
		name, _, _ := strings.Cut(v, "=")
		if opts.Bound.Sensitive[strings.TrimSpace(name)] {
			hidden = append(hidden, name)
			v = name + "=..."
		}
		parts = append(parts, "--var", shellQuote(v))
	}
	parts = append(parts, "--state", shellQuote(opts.Store.Location()))
	return strings.ReplaceAll(strings.Join(parts, " "), "%", "%%") + " --playbook %s", hidden
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
