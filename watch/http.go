package watch

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	// State is whether the state store answers, and the lead's lease.
	State StateStatus `json:"state"`

	lease *state.Lease // for Leader, checked when read
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
			s.Checks[name] = *cs
		}
	}
	s.lease, s.State.FailOpen = w.lease, w.failOpen
	w.mu.Lock()
	w.snap = s
	w.mu.Unlock()
}

// Status returns the health as of the last cycle.
func (w *Watcher) Status() Status {
	w.mu.Lock()
	s := w.snap
	w.mu.Unlock()
	return w.live(s)
}

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
