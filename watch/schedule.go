package watch

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

// standing returns the last results of the scheduled checks that are not
// due at now: they stand in this cycle's run instead of running.
func (w *Watcher) standing(now time.Time) map[string]*record.Item {
	var out map[string]*record.Item
	for name, cs := range w.st.Checks {
		it := w.declared(name)
		if it == nil || it.Schedule == nil || cs.Last == nil || it.Schedule.Due(cs.LastRun, now) {
			continue
		}
		if out == nil {
			out = map[string]*record.Item{}
		}
		out[name] = cs.Last
	}
	return out
}

// ran notes that each check of run last ran in the cycle that began at
// start; a scheduled check's item is kept to stand in the cycles until it
// is due again. The cycle's start, not the item's (a little later), is
// what the next cycles compare with: `every` equal to a multiple of the
// cycle is due exactly then, not one cycle late.
func (w *Watcher) ran(run *record.Run, start time.Time) {
	for i := range run.Items {
		it := &run.Items[i]
		if it.Kind != record.KindCheck || it.CarriedOver || it.StartedAt == nil {
			continue
		}
		cs := w.st.Checks[it.Name]
		if cs == nil {
			continue
		}
		cs.LastRun = start.UTC()
		if c := w.declared(it.Name); c != nil && c.Schedule != nil {
			kept := *it
			cs.Last = &kept
		} else {
			cs.Last = nil
		}
	}
}

// ages completes the checks of a status with their schedules and how old
// their results are at now. It returns a new map.
func (w *Watcher) ages(checks map[string]CheckState, now time.Time) map[string]CheckState {
	out := make(map[string]CheckState, len(checks))
	for name, cs := range checks {
		cs.Last = nil
		if !cs.LastRun.IsZero() {
			age := now.Sub(cs.LastRun).Seconds()
			if age < 0 {
				age = 0
			}
			cs.AgeSeconds = &age
		}
		if c := w.declared(name); c != nil && c.Schedule != nil {
			cs.Schedule = c.Schedule.String()
			if !cs.LastRun.IsZero() {
				next := c.Schedule.Next(cs.LastRun).UTC()
				cs.NextRun = &next
			}
		}
		out[name] = cs
	}
	return out
}

// declared is the check a record item's name stands for: "disk" or, for
// a check run on several targets, "disk[web-1]".
func (w *Watcher) declared(name string) *engine.Item {
	if base, _, ok := strings.Cut(name, "["); ok {
		name = base
	}
	return w.b.Config.Checks[name]
}

// ageCollector exports each check's result age at scrape time.
type ageCollector struct {
	w   *Watcher
	age *prometheus.Desc
}

func newAgeCollector(w *Watcher) *ageCollector {
	return &ageCollector{w: w, age: prometheus.NewDesc("runbook_watch_check_age_seconds",
		"Seconds since the check last ran: its result stands until it runs again (a scheduled check runs less often than the watch's cycle).",
		[]string{"check"}, prometheus.Labels{"runbook": w.b.Info.Name})}
}

// Describe is part of prometheus.Collector.
func (c *ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.age }

// Collect is part of prometheus.Collector.
func (c *ageCollector) Collect(ch chan<- prometheus.Metric) {
	for name, cs := range c.w.Status().Checks {
		if cs.AgeSeconds != nil {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, *cs.AgeSeconds, name)
		}
	}
}
