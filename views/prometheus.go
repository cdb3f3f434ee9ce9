package views

import (
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/runbookhq/runbook/record"
)

// Item statuses and run statuses as the one-hot status gauges spell them.
// A check is never declined (only a step's confirm prompt is), so checks
// keep the shorter list.
var (
	checkStatuses = []string{record.Passed, record.Warning, record.Failed, record.Skipped, record.Pending}
	stepStatuses  = []string{record.Passed, record.Warning, record.Failed, record.Skipped, record.Pending, record.Declined, record.Running}
	runStatuses   = []string{record.Passed, record.Warning, record.Failed, record.Incomplete, record.Abandoned}
)

// HealthValue is a health as a number, in the Nagios plugin order:
// 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
func HealthValue(health string) float64 {
	switch health {
	case "HEALTHY":
		return 0
	case "WARNING":
		return 1
	case "CRITICAL":
		return 2
	default:
		return 3
	}
}

var (
	checkStatusDesc = prometheus.NewDesc("runbook_check_status",
		"1 for the status the check had in the last run (passed, warning, failed, skipped, pending), 0 for the others. informational=\"true\" for an informational check, whose status never decides the run.",
		[]string{"runbook", "check", "status", "informational"}, nil)
	checkHealthDesc = prometheus.NewDesc("runbook_check_health",
		"The check's health in the last run: 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
		[]string{"runbook", "check"}, nil)
	checkDurationDesc = prometheus.NewDesc("runbook_check_duration_seconds",
		"How long the check took in the last run, retries included.",
		[]string{"runbook", "check"}, nil)
	stepStatusDesc = prometheus.NewDesc("runbook_step_status",
		"1 for the status the step had in the last run (passed, warning, failed, skipped, pending, declined, running), 0 for the others. informational=\"true\" for an informational step, whose status never decides the run.",
		[]string{"runbook", "step", "status", "informational"}, nil)
	stepDurationDesc = prometheus.NewDesc("runbook_step_duration_seconds",
		"How long the step took in the last run.",
		[]string{"runbook", "step"}, nil)
	cleanupStatusDesc = prometheus.NewDesc("runbook_cleanup_status",
		"1 for the status the cleanup block had in the last run (passed, warning, failed, skipped, pending, declined, running), 0 for the others.",
		[]string{"runbook", "cleanup", "status", "informational"}, nil)
	cleanupDurationDesc = prometheus.NewDesc("runbook_cleanup_duration_seconds",
		"How long the cleanup block took in the last run.",
		[]string{"runbook", "cleanup"}, nil)
	runStatusDesc = prometheus.NewDesc("runbook_run_status",
		"1 for the status of the last run (passed, warning, failed, incomplete, abandoned), 0 for the others.",
		[]string{"runbook", "status"}, nil)
	runHealthDesc = prometheus.NewDesc("runbook_run_health",
		"The last run's health: 0 HEALTHY, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
		[]string{"runbook"}, nil)
	runTimestampDesc = prometheus.NewDesc("runbook_run_timestamp_seconds",
		"When the last run finished, in seconds since the Unix epoch.",
		[]string{"runbook"}, nil)
	runDurationDesc = prometheus.NewDesc("runbook_run_duration_seconds",
		"How long the last run took.",
		[]string{"runbook"}, nil)
	runInterruptedDesc = prometheus.NewDesc("runbook_run_interrupted",
		"1 when the last run was interrupted before it finished.",
		[]string{"runbook"}, nil)
)

// RunCollector is a prometheus.Collector of one run's metrics: per check
// (and step, and cleanup block) status, health and duration, and the run's status, health,
// time and duration. Set swaps the run, so a long-lived registry (watch's
// /metrics) always shows the latest; before the first run it has no
// samples. It is safe for concurrent use.
type RunCollector struct {
	mu  sync.Mutex
	run *record.Run
}

var _ prometheus.Collector = (*RunCollector)(nil)

// NewRunCollector returns a collector of run, which may be nil.
func NewRunCollector(run *record.Run) *RunCollector { return &RunCollector{run: run} }

// Set makes run the one collected.
func (c *RunCollector) Set(run *record.Run) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.run = run
}

// Describe sends every metric's description.
func (c *RunCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		checkStatusDesc, checkHealthDesc, checkDurationDesc, stepStatusDesc, stepDurationDesc,
		cleanupStatusDesc, cleanupDurationDesc, runStatusDesc, runHealthDesc, runTimestampDesc, runDurationDesc, runInterruptedDesc,
	} {
		ch <- d
	}
}

// Collect sends the samples of the current run.
func (c *RunCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	run := c.run
	c.mu.Unlock()
	if run == nil {
		return
	}
	rb := run.Runbook
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	// A name that appears twice (a check and a step that runs it share
	// the kind's own metric) would be a duplicate series; keep the first.
	seen := map[string]bool{}
	for _, it := range run.Items {
		key := it.Kind + "\x00" + it.Name
		if seen[key] {
			continue
		}
		seen[key] = true
		statusDesc, durDesc, statuses := checkStatusDesc, checkDurationDesc, checkStatuses
		switch it.Kind {
		case record.KindStep:
			statusDesc, durDesc, statuses = stepStatusDesc, stepDurationDesc, stepStatuses
		case record.KindCleanup:
			statusDesc, durDesc, statuses = cleanupStatusDesc, cleanupDurationDesc, stepStatuses
		}
		for _, s := range statuses {
			gauge(statusDesc, oneHot(it.Status == s), rb, it.Name, s, strconv.FormatBool(it.Informational))
		}
		if it.Kind == record.KindCheck {
			gauge(checkHealthDesc, HealthValue(record.Health(it.Status)), rb, it.Name)
		}
		gauge(durDesc, float64(it.DurationMS)/1000, rb, it.Name)
	}
	for _, s := range runStatuses {
		gauge(runStatusDesc, oneHot(run.Status == s), rb, s)
	}
	health := record.Health(run.Status)
	if run.Interrupted {
		health = "UNKNOWN"
	}
	gauge(runHealthDesc, HealthValue(health), rb)
	ts := run.FinishedAt
	if ts.IsZero() {
		ts = run.StartedAt
	}
	gauge(runTimestampDesc, float64(ts.UnixMilli())/1000, rb)
	gauge(runDurationDesc, float64(run.DurationMS)/1000, rb)
	gauge(runInterruptedDesc, oneHot(run.Interrupted), rb)
}

func oneHot(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// newPrometheus renders the run in the Prometheus text exposition format,
// what node_exporter's textfile collector reads.
func newPrometheus(Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		reg, err := runRegistry(run)
		if err != nil {
			return err
		}
		mfs, err := reg.Gather()
		if err != nil {
			return fmt.Errorf("gather metrics: %w", err)
		}
		for _, mf := range mfs {
			if _, err := expfmt.MetricFamilyToText(w, mf); err != nil {
				return err
			}
		}
		return nil
	})
}

func runRegistry(run *record.Run) (*prometheus.Registry, error) {
	reg := prometheus.NewPedanticRegistry()
	if err := ExerciseRegisterer(reg, run).Register(NewRunCollector(run)); err != nil {
		return nil, fmt.Errorf("register run metrics: %w", err)
	}
	return reg, nil
}

// ModeRegisterer wraps reg so that every series registered through it
// carries a mode label (exec, check, watch): two writers of one runbook's
// metrics (a `runbook check --textfile` from cron and a `runbook watch`)
// then never collide in node_exporter or Prometheus. An empty mode adds
// nothing.
func ModeRegisterer(reg prometheus.Registerer, mode string) prometheus.Registerer {
	if mode == "" {
		return reg
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"mode": mode}, reg)
}

// ExerciseRegisterer wraps reg so that every series of an exercise run
// carries exercise="true": its failures and stops are a drill's, and a
// dashboard or an alert rule can leave them out. A real run's series are
// left as they are.
func ExerciseRegisterer(reg prometheus.Registerer, run *record.Run) prometheus.Registerer {
	if run == nil || run.Exercise == nil {
		return reg
	}
	return prometheus.WrapRegistererWith(prometheus.Labels{"exercise": "true"}, reg)
}

// WriteTextfile writes the run's metrics to path for node_exporter's
// textfile collector, atomically (a temporary file renamed into place),
// so the collector never reads half a file. path should end in ".prom".
// Every series carries the run's mode as a label (see ModeRegisterer), and
// an exercise's exercise="true" (see ExerciseRegisterer).
func WriteTextfile(path string, run *record.Run) error {
	reg := prometheus.NewPedanticRegistry()
	if err := ExerciseRegisterer(ModeRegisterer(reg, run.Mode), run).Register(NewRunCollector(run)); err != nil {
		return fmt.Errorf("register run metrics: %w", err)
	}
	if err := prometheus.WriteToTextfile(path, reg); err != nil {
		return fmt.Errorf("write textfile %q: %w", path, err)
	}
	return nil
}

var stopDesc = prometheus.NewDesc("runbook_emergency_stop",
	"1 while the emergency stop is on. exercise=\"true\" when the change that set it was made by a step of an exercise (a drill).",
	[]string{"exercise"}, nil)

// StopCollector is a prometheus.Collector of the emergency stop, read at
// each scrape: runbook_emergency_stop{exercise="false"} for a real stop,
// {exercise="true"} for one a drill set, so a dashboard never takes the
// one for the other. A stop that cannot be read gives no sample.
type StopCollector struct {
	// Read returns whether the stop is on and, when an exercise set it,
	// that exercise's run id.
	Read func() (on bool, exercise string, err error)
}

var _ prometheus.Collector = (*StopCollector)(nil)

// Describe sends the stop's description.
func (c *StopCollector) Describe(ch chan<- *prometheus.Desc) { ch <- stopDesc }

// Collect sends the stop's sample.
func (c *StopCollector) Collect(ch chan<- prometheus.Metric) {
	on, exercise, err := c.Read()
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(stopDesc, prometheus.GaugeValue, oneHot(on), exerciseLabel(exercise != ""))
}

func exerciseLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
