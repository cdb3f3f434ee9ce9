package watch

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/views"
)

// metrics are a watch's own Prometheus metrics, on its own registry: the
// last cycle's run (views.RunCollector: per check status, health and
// duration, the run's time) and the watch's counters.
type metrics struct {
	reg          *prometheus.Registry
	run          *views.RunCollector
	cycles       prometheus.Counter
	health       prometheus.Gauge
	leader       prometheus.Gauge
	alertsSent   *prometheus.CounterVec
	alertsFailed *prometheus.CounterVec
	attempts     *prometheus.CounterVec
	drops        *prometheus.CounterVec
	playbooks    *prometheus.CounterVec
	constLabels  prometheus.Labels
}

func newMetrics(runbook string) (*metrics, error) {
	constLabels := prometheus.Labels{"runbook": runbook}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		run: views.NewRunCollector(nil),
		cycles: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "runbook_watch_cycles_total", Help: "Cycles the watch has run.", ConstLabels: constLabels,
		}),
		health: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "runbook_watch_health", Help: "The watch's overall health: 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", ConstLabels: constLabels,
		}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "runbook_watch_leader", Help: "1 when this instance leads: it alone sends alerts and runs playbooks.", ConstLabels: constLabels,
		}),
		alertsSent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbook_watch_alerts_sent_total", Help: "Alerts delivered, by alert block and channel.", ConstLabels: constLabels,
		}, []string{"alert", "channel"}),
		alertsFailed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbook_watch_alerts_failed_total", Help: "Delivery attempts that failed (the transitions stay queued), by alert block and channel.", ConstLabels: constLabels,
		}, []string{"alert", "channel"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbook_watch_alert_attempts_total", Help: "Delivery attempts, by alert block and channel.", ConstLabels: constLabels,
		}, []string{"alert", "channel"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbook_watch_alert_drops_total", Help: "Transitions given up on, by alert block, channel and reason: overflow (queue full), expired (undelivered too long), rejected (the receiver refused it).", ConstLabels: constLabels,
		}, []string{"alert", "channel", "reason"}),
		playbooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbook_watch_playbook_runs_total", Help: "Playbooks the watch started by itself (auto = true), by playbook and run status.", ConstLabels: constLabels,
		}, []string{"playbook", "status"}),
	}
	m.constLabels = constLabels
	m.health.Set(views.HealthValue(Unknown))
	if err := views.ModeRegisterer(m.reg, "watch").Register(m.run); err != nil {
		return nil, fmt.Errorf("register watch metrics: %w", err)
	}
	for _, c := range []prometheus.Collector{m.cycles, m.health, m.leader, m.alertsSent, m.alertsFailed, m.attempts, m.drops, m.playbooks} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register watch metrics: %w", err)
		}
	}
	return m, nil
}

// addOutbox adds the gauges of an alert's queue: its length and the age of
// its oldest transition.
func (m *metrics) addOutbox(ob *alert.Outbox) {
	labels := prometheus.Labels{"alert": ob.Alert().Name, "channel": ob.Alert().Channel}
	for k, v := range m.constLabels {
		labels[k] = v
	}
	length := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "runbook_watch_alert_queue_length", Help: "Transitions waiting to be delivered, by alert block and channel.", ConstLabels: labels,
	}, func() float64 { return float64(ob.Stats().Queued) })
	oldest := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "runbook_watch_alert_queue_oldest_seconds", Help: "Age of the oldest transition waiting to be delivered (0 when none), by alert block and channel.", ConstLabels: labels,
	}, func() float64 {
		s := ob.Stats()
		if s.Oldest.IsZero() {
			return 0
		}
		return time.Since(s.Oldest).Seconds()
	})
	// Names are unique (alert blocks are), so registering cannot fail.
	_ = m.reg.Register(length)
	_ = m.reg.Register(oldest)
}
