package watch

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// longestWindow is the longest flap window in use: check histories keep
// their changes that long.
func (w *Watcher) longestWindow() time.Duration {
	d := alert.DefaultFlapWindow
	for _, a := range w.opts.Alerts {
		if a.Flap.Window > d {
			d = a.Flap.Window
		}
	}
	return d
}

// recent keeps the times within window before now.
func recent(ts []time.Time, now time.Time, window time.Duration) []time.Time {
	var out []time.Time
	for _, t := range ts {
		if now.Sub(t) < window {
			out = append(out, t)
		}
	}
	return out
}

// damp is flap damping for one check: it updates whether the check is
// FLAPPING (*flapping) and when it last settled (*settledAt), given its
// history and whether its health changed this cycle. A check becomes
// FLAPPING when a change makes more than f.Threshold changes within
// f.Window, or when it changes within f.Window of settling (the same
// flapping, back: it does not get a plain alert first); it stays so until
// it has kept one health for f.Window.
func damp(flapping *bool, settledAt *time.Time, cs *CheckState, now time.Time, f alert.Flap, changed bool) {
	switch {
	case f.Threshold <= 0:
		*flapping = false
	case *flapping:
		if now.Sub(cs.Since) >= f.Window {
			*flapping, *settledAt = false, now
		}
	case !changed:
	case !settledAt.IsZero() && now.Sub(*settledAt) < f.Window:
		*flapping = true
	case len(recent(cs.Changes, now, f.Window)) > f.Threshold:
		*flapping = true
	}
}

// MaxAlertsPerWindow bounds the alerts one alert sends about one check
// within its flap window, when flap damping is on. The second is kept for
// a problem or FLAPPING: a RECOVERED goes out only when no alert about the
// check went out within the window. An alert held back by the bound goes
// out, with the check's state then, once the window allows; so a receiver
// never hears RECOVERED while a problem waits behind it.
const MaxAlertsPerWindow = 2

// budget reports whether ac may be sent an alert of event now, by flap
// damping f's bound, and if not, until when it waits.
func (ac *AlertCheck) budget(now time.Time, f alert.Flap, event string) (bool, time.Time) {
	if f.Threshold <= 0 {
		ac.Sent = nil
		return true, time.Time{}
	}
	ac.Sent = recent(ac.Sent, now, f.Window)
	limit := MaxAlertsPerWindow
	if event == engine.EventRecovered {
		limit = 1
	}
	if len(ac.Sent) < limit {
		return true, time.Time{}
	}
	return false, ac.Sent[len(ac.Sent)-limit].Add(f.Window)
}

// loadSilences reads the silences in the store; when they cannot be read
// the last ones read stay in force.
func (w *Watcher) loadSilences(ctx context.Context) {
	s, err := w.store.Silences(ctx)
	if err != nil {
		w.log.Warn("cannot read the silences; keeping the last ones read", "error", w.redact(err.Error()))
		return
	}
	w.silences = s
}

// silenced returns the silence that holds back check's alerts at t.
func (w *Watcher) silenced(check string, t time.Time) (state.Silence, bool) {
	for _, s := range w.silences {
		if s.Active(t) && s.Covers(check) {
			return s, true
		}
	}
	return state.Silence{}, false
}

// alert returns the saved state of an alert, made when missing.
func (st *State) alert(name string) *AlertState {
	as := st.Alerts[name]
	if as == nil {
		as = &AlertState{}
		st.Alerts[name] = as
	}
	if as.Checks == nil {
		as.Checks = map[string]*AlertCheck{}
	}
	return as
}

// hearsProblems reports whether an alert takes some problem event: such
// an alert hears a recovery only of a problem it heard, while a
// recoveries-only alert hears every recovery.
func hearsProblems(a *alert.Alert) bool {
	return a.Wants(engine.EventCritical) || a.Wants(engine.EventWarning) || a.Wants(engine.EventUnknown)
}

// offer decides whether an alert is sent event about a check now at
// health, and notes what the alert has heard.
func (ac *AlertCheck) offer(a *alert.Alert, event, health string) bool {
	switch {
	case a.Wants(event):
		ac.Notified, ac.Dropped = health, ""
		return true
	case event == engine.EventRecovered:
		ac.Notified, ac.Delivered = Healthy, Healthy
	case !hearsProblems(a):
		ac.Notified, ac.Delivered = health, health // so that it hears the recovery
	}
	return false
}

// told is what an alert has told of a check once t is delivered.
func told(t alert.Transition) string {
	if t.Event == alert.EventFlapping {
		return alert.EventFlapping
	}
	return t.Health
}

// outcome is a delivery or a drop that the cycle goroutine has not taken
// into the state yet; why says why a drop happened.
type outcome struct {
	alert.Delivery
	why string
}

// applyOutcomes takes into the state what the alert queues' workers
// reported since the last call: a delivered transition is what its alert
// has told; a dropped one was told to no one, so its alert's Notified
// goes back to what it had told (unless a newer transition of the check
// waits in the queue) and the next cycle queues a problem still there
// again. It runs on the cycle goroutine.
func (w *Watcher) applyOutcomes() {
	w.mu.Lock()
	outs := w.outcomes
	w.outcomes = nil
	w.mu.Unlock()
	rollback := map[string]map[string]bool{}
	for _, o := range outs {
		as := w.st.Alerts[o.Alert]
		if as == nil {
			continue
		}
		for _, t := range o.Transitions {
			ac := as.Checks[t.Check]
			if ac == nil {
				continue
			}
			if o.Dropped == "" {
				ac.Delivered, ac.Dropped = told(t), ""
				continue
			}
			ac.Dropped = o.why
			if rollback[o.Alert] == nil {
				rollback[o.Alert] = map[string]bool{}
			}
			rollback[o.Alert][t.Check] = true
		}
	}
	for _, ob := range w.outboxes {
		name := ob.Alert().Name
		if len(rollback[name]) == 0 {
			continue
		}
		waiting := map[string]bool{}
		for _, c := range ob.Stats().Checks {
			waiting[c] = true
		}
		for c := range rollback[name] {
			if !waiting[c] {
				ac := w.st.Alerts[name].Checks[c]
				ac.Notified = ac.Delivered
			}
		}
	}
}

// dropReason says why d was dropped, for /healthz.
func (w *Watcher) dropReason(d alert.Delivery) string {
	switch d.Dropped {
	case alert.DropRejected:
		msg := "the receiver refused it"
		if d.Err != nil {
			msg += ": " + w.redact(d.Err.Error())
		}
		return msg
	case alert.DropExpired:
		msg := fmt.Sprintf("not delivered within %s", w.opts.PendingFor)
		for _, ob := range w.outboxes {
			if ob.Alert().Name == d.Alert {
				if e := ob.Stats().LastError; e != "" {
					msg += "; last error: " + w.redact(e)
				}
			}
		}
		return msg
	default:
		return "the alert's queue was full"
	}
}

// queueAlerts decides, for each alert, what the cycle tells it, and
// queues that for delivery: each check's event as the alert's `on`, its
// flap damping, the silences and its maintenance windows leave it. It
// returns what was queued, by alert.
func (w *Watcher) queueAlerts(obs []observed, changed, notified map[string]string, events []alert.Transition, n *alert.Notification, now time.Time) map[string][]alert.Transition {
	w.applyOutcomes()
	byCheck := map[string]alert.Transition{}
	for _, t := range events {
		byCheck[t.Check] = t
	}
	out := map[string][]alert.Transition{}
	for _, ob := range w.outboxes {
		a := ob.Alert()
		as := w.st.alert(a.Name)
		inWindow, windowEnd := a.InMaintenance(now)
		var queue []alert.Transition
		for _, o := range obs {
			if o.suppressed {
				continue
			}
			cs := w.st.Checks[o.name]
			ac := as.Checks[o.name]
			if ac == nil {
				// An alert new to this check has heard what the watch
				// last said of it.
				ac = &AlertCheck{Notified: notified[o.name], Delivered: notified[o.name]}
				if as.Open != nil && hearsProblems(a) && !as.Open[o.name] && ac.Notified != "" {
					// An earlier version's state: the alert's `on` left
					// out the problem it was not told.
					ac.Notified = Healthy
				}
				as.Checks[o.name] = ac
			}
			prev, didChange := changed[o.name]
			_, isSilenced := w.silenced(o.name, now)
			quiet := inWindow || isSilenced
			tr := alert.Transition{Check: o.name, Title: o.title, Health: o.health, Previous: orUnknown(prev),
				Status: o.status, Message: o.message, Time: now}
			if !didChange {
				// Nothing changed this cycle (the first cycle, a silence
				// that ended): the alert was last told ac.Notified, if
				// anything.
				tr.Previous = orUnknown(ac.Notified)
			}

			wasFlapping := ac.Flapping
			damp(&ac.Flapping, &ac.SettledAt, cs, now, a.Flap, didChange)
			ac.HeldUntil = time.Time{}
			send := func(tr alert.Transition) {
				queue = append(queue, tr)
				ac.Sent = append(ac.Sent, now)
			}
			// held reports whether the bound on alerts per window holds
			// back an alert wanted now; it is sent by a later cycle.
			held := func(event string) bool {
				ok, until := ac.budget(now, a.Flap, event)
				if !ok {
					ac.HeldUntil = until
				}
				return !ok
			}
			switch {
			case ac.Flapping:
				// One FLAPPING alert, then nothing until it settles.
				if quiet || !hearsProblems(a) || ac.Notified == alert.EventFlapping || held(alert.EventFlapping) {
					continue
				}
				tr.Event = alert.EventFlapping
				n := len(recent(cs.Changes, now, a.Flap.Window))
				tr.Message = fmt.Sprintf("%s changed health %d times within %s; no more alerts about it until it keeps one health for %s",
					o.name, n, a.Flap.Window, a.Flap.Window)
				if n <= a.Flap.Threshold {
					tr.Message = fmt.Sprintf("%s changed health again within %s of settling; no more alerts about it until it keeps one health for %s",
						o.name, a.Flap.Window, a.Flap.Window)
				}
				ac.Notified, ac.Dropped = alert.EventFlapping, ""
				send(tr)
				continue
			case wasFlapping && ac.Notified == alert.EventFlapping:
				// Settled: one alert with the state it settled in. Held
				// back (a silence, the bound), the cycles after send it
				// as a plain alert, from FLAPPING.
				if quiet {
					continue
				}
				tr.Event, tr.Previous = o.health, alert.EventFlapping
				if o.health == Healthy {
					tr.Event = engine.EventRecovered
				}
				if a.Wants(tr.Event) && held(tr.Event) {
					continue
				}
				if ac.offer(a, tr.Event, o.health) {
					send(tr)
				}
				continue
			}
			if quiet {
				continue // a problem still there when the silence ends is sent then
			}
			ev := event(o.health, ac.Notified)
			if ev == "" {
				continue
			}
			if ev == engine.EventRecovered {
				tr.Previous = ac.Notified
			}
			if t, ok := byCheck[o.name]; ok && t.Event == ev {
				tr.Playbooks = t.Playbooks
			}
			tr.Event = ev
			if a.Wants(ev) && held(ev) {
				continue // the check's state then is sent once the window allows
			}
			if ac.offer(a, ev, o.health) {
				send(tr)
			}
		}
		as.Open = nil
		if inWindow && !as.InMaintenance {
			w.log.Info("maintenance window: the alert sends nothing until it closes", "alert", a.Name, "until", windowEnd)
		}
		as.InMaintenance = inWindow
		if len(queue) > 0 {
			out[a.Name] = queue
			nn := *n
			nn.Transitions = queue
			ob.Enqueue(&nn)
			var evs []string
			for _, t := range queue {
				evs = append(evs, t.Check+" "+t.Event)
			}
			w.log.Info("alert queued", "alert", a.Name, "channel", a.Channel, "events", strings.Join(evs, ", "))
		}
	}
	return out
}

// flapping reports whether check is FLAPPING: by the default damping, or
// for some alert.
func (w *Watcher) flapping(check string) bool {
	if cs := w.st.Checks[check]; cs != nil && cs.Flapping {
		return true
	}
	for _, as := range w.st.Alerts {
		if ac := as.Checks[check]; ac != nil && ac.Flapping {
			return true
		}
	}
	return false
}

// markFlapping marks the run record's flapping checks.
func (w *Watcher) markFlapping(run *record.Run) {
	for i := range run.Items {
		it := &run.Items[i]
		if it.Kind == record.KindCheck && w.flapping(it.Name) {
			it.Flapping = true
		}
	}
}

// delivered hears an alert queue's attempts and drops, from its worker's
// goroutine: it logs them and counts them.
func (w *Watcher) delivered(d alert.Delivery) {
	var evs []string
	for _, t := range d.Transitions {
		evs = append(evs, t.Check+" "+t.Event)
	}
	attrs := []any{"alert", d.Alert, "channel", d.Channel, "events", strings.Join(evs, ", ")}
	if d.Attempt {
		w.metrics.attempts.WithLabelValues(d.Alert, d.Channel).Inc()
	}
	if d.Dropped != "" || (d.Attempt && d.Err == nil) {
		o := outcome{Delivery: d}
		if d.Dropped != "" {
			o.why = w.dropReason(d)
		}
		w.mu.Lock()
		w.outcomes = append(w.outcomes, o)
		w.mu.Unlock()
	}
	switch {
	case d.Dropped != "":
		if d.Err != nil {
			attrs = append(attrs, "error", w.redact(d.Err.Error()))
		}
		w.log.Error("alert dropped", append(attrs, "reason", d.Dropped)...)
		w.metrics.drops.WithLabelValues(d.Alert, d.Channel, d.Dropped).Add(float64(len(d.Transitions)))
	case d.Err != nil:
		attrs = append(attrs, "error", w.redact(d.Err.Error()), "retry_at", d.Retry.UTC().Format(time.RFC3339))
		if d.RetryAfter {
			attrs = append(attrs, "retry_after", true)
		}
		w.log.Error("alert failed; it stays queued and is sent again", attrs...)
		w.metrics.alertsFailed.WithLabelValues(d.Alert, d.Channel).Inc()
	default:
		w.log.Info("alert sent", attrs...)
		w.metrics.alertsSent.WithLabelValues(d.Alert, d.Channel).Inc()
	}
}
