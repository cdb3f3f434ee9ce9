package watch

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/state"
)

// DefaultFailOpenAfter is how long the state may stay unreachable before
// each instance alerts on its own (Options.FailOpenAfter).
const DefaultFailOpenAfter = 30 * time.Second

// StateStatus is what /healthz says about the state store and the lead.
type StateStatus struct {
	// Reachable is false once a call to the store went unanswered, until
	// one gets through; UnreachableSince says since when, Error why.
	Reachable        bool       `json:"reachable"`
	UnreachableSince *time.Time `json:"unreachable_since,omitempty"`
	Error            string     `json:"error,omitempty"`
	// Lease is the lead's lease while this instance holds it.
	Lease *LeaseStatus `json:"lease,omitempty"`
	// FailOpen is true while this instance alerts without the lead,
	// because the state has been unreachable for longer than
	// Options.FailOpenAfter.
	FailOpen bool `json:"fail_open"`
}

// LeaseStatus is the lead's lease as its holder sees it.
type LeaseStatus struct {
	// Generation is the fencing token its alerts carry.
	Generation int64 `json:"generation"`
	// Expires is when the holder steps down unless it renews the lease
	// before; null for a lease that does not expire (a state directory).
	Expires *time.Time `json:"expires,omitempty"`
}

// leadLease takes or confirms the lead, within one cycle's time at most.
// It returns the valid lease, or nil; failOpen is true when the state has
// been unreachable for longer than Options.FailOpenAfter, so this
// instance alerts on its own.
func (w *Watcher) leadLease(ctx context.Context) (lease *state.Lease, failOpen bool) {
	lctx, cancel := context.WithTimeout(ctx, w.opts.Every)
	defer cancel()
	lease, err := w.store.Lead(lctx, w.key)
	if err == nil {
		if lease != nil && !lease.Valid() {
			lease = nil
		}
		if w.failOpen {
			w.log.Info("the state answers again: alerting only from the lead", "key", w.key)
		}
		// Records spooled while the state was out of reach go to it now.
		if ids, err := (state.Spool{}).Flush(lctx, w.store); len(ids) > 0 || err != nil {
			attrs := []any{"stored", len(ids)}
			if err != nil {
				attrs = append(attrs, "error", w.redact(err.Error()))
			}
			w.log.Info("run records spooled earlier", attrs...)
		}
		return lease, false
	}
	r := state.ReachabilityOf(w.store)
	if !r.Reachable && time.Since(r.Since) >= w.opts.FailOpenAfter {
		if !w.failOpen {
			w.log.Warn("the state has been unreachable for too long: this instance alerts on its own (possible duplicates)",
				"key", w.key, "unreachable_for", time.Since(r.Since).Round(time.Second).String(), "error", w.redact(err.Error()))
		}
		return nil, true
	}
	w.log.Warn("cannot take the lead; observing only", "error", w.redact(err.Error()))
	return nil, false
}

// setLead records the lead for the cycle and for /healthz and /metrics. A
// new lease is watched: when it is lost between cycles, the alert queues
// are emptied at once, so that nothing more is sent under it.
func (w *Watcher) setLead(lease *state.Lease, failOpen bool) {
	if lease != nil && lease != w.lease {
		go func() {
			<-lease.Lost()
			hdr := alert.Notification{Runbook: w.b.Info.Name, Title: w.b.Info.Title, Host: w.opts.Host}
			for _, ob := range w.outboxes {
				ob.Restore(alert.Saved{}, hdr)
			}
		}()
	}
	w.lease, w.leading, w.failOpen = lease, lease != nil, failOpen
	w.metrics.leader.Set(oneIf(w.leading))
}

// stillLeading re-checks the lease once the checks have run: a leader
// that lost it meanwhile (its renewals went unanswered) sends nothing.
func (w *Watcher) stillLeading(leading bool) bool {
	if !leading || w.failOpen || w.lease == nil || w.lease.Valid() {
		return leading
	}
	w.log.Warn("lost the lead during the cycle: its alerts are not sent", "key", w.key, "lease_generation", w.lease.Generation())
	w.setLead(nil, false)
	return false
}

// fence marks a notification with the sender's lease generation, or as
// sent without the lead.
func (w *Watcher) fence(n *alert.Notification) {
	if w.lease != nil {
		n.LeaseGeneration = w.lease.Generation()
	}
	n.StateUnreachable = w.failOpen
}

// live completes a published status with what may have changed since:
// the lease's validity and the store's reachability.
func (w *Watcher) live(s Status) Status {
	r := state.ReachabilityOf(w.store)
	s.State.Reachable, s.State.Error = r.Reachable, r.Err
	if !r.Reachable {
		t := r.Since
		s.State.UnreachableSince = &t
	}
	if s.lease != nil && s.lease.Valid() {
		ls := &LeaseStatus{Generation: s.lease.Generation()}
		if e := s.lease.Expires(); !e.IsZero() {
			ls.Expires = &e
		}
		s.State.Lease = ls
	} else {
		s.Leader = false
	}
	s.Checks = w.ages(s.Checks, w.now())
	return s
}

// fleetCollector exports the state's reachability and the lease at
// scrape time.
type fleetCollector struct {
	w                         *Watcher
	reachable, gen, failOpenD *prometheus.Desc
}

func newFleetCollector(w *Watcher) *fleetCollector {
	l := prometheus.Labels{"runbook": w.b.Info.Name}
	return &fleetCollector{
		w: w,
		reachable: prometheus.NewDesc("runbook_watch_state_reachable",
			"1 when the state store answered its last call.", nil, l),
		gen: prometheus.NewDesc("runbook_watch_lease_generation",
			"The generation of the lead's lease while this instance holds it (its alerts' fencing token), else 0.", nil, l),
		failOpenD: prometheus.NewDesc("runbook_watch_fail_open",
			"1 while this instance alerts without the lead because the state is unreachable.", nil, l),
	}
}

// Describe is part of prometheus.Collector.
func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.reachable
	ch <- c.gen
	ch <- c.failOpenD
}

// Collect is part of prometheus.Collector.
func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.Status()
	var gen float64
	if s.State.Lease != nil {
		gen = float64(s.State.Lease.Generation)
	}
	ch <- prometheus.MustNewConstMetric(c.reachable, prometheus.GaugeValue, oneIf(s.State.Reachable))
	ch <- prometheus.MustNewConstMetric(c.gen, prometheus.GaugeValue, gen)
	ch <- prometheus.MustNewConstMetric(c.failOpenD, prometheus.GaugeValue, oneIf(s.State.FailOpen))
}
