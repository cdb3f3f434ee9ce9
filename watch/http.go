package watch

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/state"
)

// Status is what /healthz answers: the overall health and each check's.
type Status struct {
	Runbook string `json:"runbook"`
	Key     string `json:"key"`
	Health  string `json:"health"`
	// Leader is true when this instance sends the alerts.
	Leader bool `json:"leader"`
	// LastCycle is when the last cycle finished; null before the first.
	LastCycle *time.Time `json:"last_cycle"`
	// Cycles counts the cycles this instance ran.
	Cycles int                   `json:"cycles"`
	Checks map[string]CheckState `json:"checks"`
	// Alerts are the delivery queues of the alerts, by name (leader only).
	Alerts map[string]AlertStatus `json:"alerts,omitempty"`
	// State is whether the state store answers, and the lead's lease.
	State StateStatus `json:"state"`

	lease *state.Lease // for Leader, checked when read
}

// AlertStatus is an alert's delivery queue as /healthz shows it.
type AlertStatus struct {
	Channel string `json:"channel"`
	// Queued counts the transitions waiting; OldestQueued is when the
	// oldest was queued.
	Queued       int        `json:"queued"`
	OldestQueued *time.Time `json:"oldest_queued,omitempty"`
	// Failing is true when the last attempt failed and is retried:
	// RetryAt is when the next attempt is made, RetryAfter whether the
	// receiver asked for that wait. LastError says how the last attempt
	// failed, retried or not (a receiver that refuses an alert, 4xx,
	// gets no retry: its error shows here with Failing false).
	Failing     bool       `json:"failing"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	RetryAt     *time.Time `json:"retry_at,omitempty"`
	RetryAfter  bool       `json:"retry_after,omitempty"`
	// LastDelivered is when the last message went through.
	LastDelivered *time.Time `json:"last_delivered,omitempty"`
	// InMaintenance is true while a maintenance window of the alert is
	// open.
	InMaintenance bool `json:"in_maintenance,omitempty"`
}

// heard is what the alerts have heard of the checks, as of the last cycle,
// for Status.
type heard struct {
	// notified: alert → check → health last sent.
	notified map[string]map[string]string
	// dropped: alert → check → why its latest alert was dropped.
	dropped map[string]map[string]string
	// held: alert → check → until when flap damping holds its alert.
	held map[string]map[string]time.Time
	// quietUntil: check → when its silence (or every maintenance window
	// of the alerts) ends.
	quietUntil    map[string]time.Time
	inMaintenance map[string]bool
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// Healthy reports whether /healthz answers 200: the health is HEALTHY or
// WARNING.
func (s Status) Healthy() bool { return s.Health == Healthy || s.Health == Warning }

// publish copies the state for Status; the cycle goroutine calls it.
func (w *Watcher) publish() {
	s := Status{
		Runbook: w.b.Info.Name, Key: w.key, Health: w.st.Health, Leader: w.leading,
		Cycles: w.cycles, Checks: map[string]CheckState{},
	}
	if w.cycles == 0 {
		// Before this process's first cycle nothing is known, whatever
		// the saved state says.
		s.Health = Unknown
	} else {
		t := w.st.LastCycle
		s.LastCycle = &t
		for name, cs := range w.st.Checks {
			c := *cs
			c.Changes = nil
			c.Flapping = w.flapping(name)
			s.Checks[name] = c
		}
	}
	h := heard{notified: map[string]map[string]string{}, dropped: map[string]map[string]string{}, held: map[string]map[string]time.Time{},
		quietUntil: map[string]time.Time{}, inMaintenance: map[string]bool{}}
	if w.leading {
		now := w.now()
		for _, ob := range w.outboxes {
			a := ob.Alert()
			as := w.st.Alerts[a.Name]
			m, dm, hm := map[string]string{}, map[string]string{}, map[string]time.Time{}
			if as != nil {
				for c, ac := range as.Checks {
					m[c] = ac.Notified
					if ac.Dropped != "" {
						dm[c] = ac.Dropped
					}
					if !ac.HeldUntil.IsZero() {
						hm[c] = ac.HeldUntil
					}
				}
				h.inMaintenance[a.Name] = as.InMaintenance
			}
			h.notified[a.Name], h.dropped[a.Name], h.held[a.Name] = m, dm, hm
		}
		for name := range s.Checks {
			if sl, ok := w.silenced(name, now); ok {
				h.quietUntil[name] = sl.End
				continue
			}
			// Quiet when every alert is in a maintenance window.
			var until time.Time
			quiet := len(w.outboxes) > 0
			for _, ob := range w.outboxes {
				in, end := ob.Alert().InMaintenance(now)
				if !in {
					quiet = false
					break
				}
				if until.IsZero() || end.Before(until) {
					until = end
				}
			}
			if quiet {
				h.quietUntil[name] = until
			}
		}
	}
	s.lease, s.State.FailOpen = w.lease, w.failOpen
	w.mu.Lock()
	w.snap = s
	w.heard = h
	w.mu.Unlock()
}

// Status returns the health as of the last cycle, with the alert queues
// as they are now: each check that is not HEALTHY says whether its alert
// went out ("notified"), waits ("queued"), cannot go out ("failing", with
// the last delivery error), was given up on ("dropped", with why: it is
// queued again by the next cycle), waits for flap damping's bound on
// alerts per window ("held", with until when) or is held back by a silence
// or maintenance window ("silenced"). With
// several alerts, the worst of these is shown.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	s, h := w.snap, w.heard
	// What the workers reported since the last cycle counts already.
	dropped := map[string]map[string]string{}
	for a, m := range h.dropped {
		dropped[a] = map[string]string{}
		for c, why := range m {
			dropped[a][c] = why
		}
	}
	for _, o := range w.outcomes {
		if dropped[o.Alert] == nil {
			dropped[o.Alert] = map[string]string{}
		}
		for _, t := range o.Transitions {
			if o.Dropped != "" {
				dropped[o.Alert][t.Check] = o.why
			} else {
				delete(dropped[o.Alert], t.Check)
			}
		}
	}
	w.mu.Unlock()
	s = w.live(s)
	if !s.Leader || len(w.outboxes) == 0 {
		return s
	}
	checks := make(map[string]CheckState, len(s.Checks))
	for k, v := range s.Checks {
		checks[k] = v
	}
	s.Checks = checks
	s.Alerts = map[string]AlertStatus{}
	queued := map[string]map[string]bool{}
	stats := map[string]alert.OutboxStats{}
	for _, ob := range w.outboxes {
		a := ob.Alert()
		st := ob.Stats()
		stats[a.Name] = st
		queued[a.Name] = map[string]bool{}
		for _, c := range st.Checks {
			queued[a.Name][c] = true
		}
		as := AlertStatus{Channel: a.Channel, Queued: st.Queued, OldestQueued: timePtr(st.Oldest), Failing: st.Failing,
			LastDelivered: timePtr(st.LastOK), InMaintenance: h.inMaintenance[a.Name]}
		if st.LastError != "" && !st.LastErrorAt.Before(st.LastOK) {
			// The last attempt failed: retried (Failing) or refused.
			as.LastError, as.LastErrorAt = w.redact(st.LastError), timePtr(st.LastErrorAt)
		}
		if st.Failing {
			as.RetryAt, as.RetryAfter = timePtr(st.NotBefore), st.RetryAfter
		}
		s.Alerts[a.Name] = as
	}
	for name, cs := range s.Checks {
		if cs.Health == Healthy || cs.Suppressed {
			continue
		}
		if until, ok := h.quietUntil[name]; ok {
			cs.Notification, cs.SilencedUntil = "silenced", timePtr(until)
			s.Checks[name] = cs
			continue
		}
		for _, ob := range w.outboxes {
			a := ob.Alert().Name
			n, why := "", ""
			var until time.Time
			switch {
			case queued[a][name] && stats[a].Failing:
				n, why = "failing", w.redact(stats[a].LastError)
			case queued[a][name]:
				n = "queued"
			case dropped[a][name] != "":
				n, why = "dropped", dropped[a][name]
			case !h.held[a][name].IsZero():
				n, until = "held", h.held[a][name]
			case h.notified[a][name] == cs.Health || h.notified[a][name] == alert.EventFlapping:
				n = "notified"
			}
			if notificationRank[n] > notificationRank[cs.Notification] {
				cs.Notification, cs.NotificationError, cs.HeldUntil = n, why, timePtr(until)
			}
		}
		s.Checks[name] = cs
	}
	return s
}

// notificationRank orders a check's notification states, worst last.
var notificationRank = map[string]int{"": 0, "notified": 1, "held": 2, "queued": 3, "dropped": 4, "failing": 5}

// Handler serves GET /healthz (200 when HEALTHY or WARNING, 503 otherwise,
// with Status as JSON) and GET /metrics (Prometheus text, from the watch's
// own registry).
func (w *Watcher) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		s := w.Status()
		rw.Header().Set("Content-Type", "application/json")
		rw.Header().Set("Cache-Control", "no-store")
		if !s.Healthy() {
			rw.WriteHeader(http.StatusServiceUnavailable)
		}
		enc := json.NewEncoder(rw)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.metrics.reg, promhttp.HandlerOpts{}))
	return mux
}
