package watch

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
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
	playbooks    *prometheus.CounterVec
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
			Name: "runbook_watch_alerts_failed_total", Help: "Alerts that could not be delivered after every retry, by alert block and channel.", ConstLabels: constLabels,
		}, []string{"alert", "channel"}),
		playbooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "runbook_watch_playbook_runs_total", Help: "Playbooks the watch started by itself (auto = true), by playbook and run status.", ConstLabels: constLabels,
		}, []string{"playbook", "status"}),
	}
	m.health.Set(views.HealthValue(Unknown))
	for _, c := range []prometheus.Collector{m.run, m.cycles, m.health, m.leader, m.alertsSent, m.alertsFailed, m.playbooks} {
		if err := m.reg.Register(c); err != nil {
			return nil, fmt.Errorf("register watch metrics: %w", err)
		}
	}
	return m, nil
}
