package views

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/runbookhq/runbook/record"
)

// parseExposition parses Prometheus text, failing the test when it is not
// valid, and returns "name{labels} value" lines, sorted.
func parseExposition(t *testing.T, text []byte) []string {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("not valid Prometheus text: %v\n%s", err, text)
	}
	var out []string
	for name, mf := range mfs {
		if mf.GetType() != dto.MetricType_GAUGE || mf.GetHelp() == "" {
			t.Errorf("%s: got type %v help %q, want a documented gauge", name, mf.GetType(), mf.GetHelp())
		}
		for _, m := range mf.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			if m.TimestampMs != nil {
				t.Errorf("%s has a timestamp; the textfile collector rejects them", name)
			}
			out = append(out, name+"{"+strings.Join(labels, ",")+"} "+model.SampleValue(m.GetGauge().GetValue()).String())
		}
	}
	sort.Strings(out)
	return out
}

func TestPrometheusGolden(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx, func(t *testing.T) {
			got := render(t, "prometheus", Options{}, readRun(t, fx))
			parseExposition(t, got)
			checkGolden(t, filepath.Join("testdata", fx+".prom.golden"), got)
		})
	}
}

func TestPrometheusSamples(t *testing.T) {
	run := &record.Run{
		Runbook: "shadow-monitor", Status: record.Failed, DurationMS: 1500,
		Items: []record.Item{
			{Kind: record.KindCheck, Name: "disk_root", Status: record.Warning, DurationMS: 12},
			{Kind: record.KindCheck, Name: "mismatches", Status: record.Failed, DurationMS: 250},
			{Kind: record.KindCheck, Name: "after", Status: record.Skipped, SkipReason: "upstream check.mismatches failed"},
		},
	}
	run.FinishedAt = time.UnixMilli(1764677539500) // 2025-12-02T12:12:19.5Z
	got := parseExposition(t, render(t, "prometheus", Options{}, run))
	want := []string{
		"runbook_check_duration_seconds{check=after,runbook=shadow-monitor} 0",
		"runbook_check_duration_seconds{check=disk_root,runbook=shadow-monitor} 0.012",
		"runbook_check_duration_seconds{check=mismatches,runbook=shadow-monitor} 0.25",
		"runbook_check_health{check=after,runbook=shadow-monitor} 3",
		"runbook_check_health{check=disk_root,runbook=shadow-monitor} 1",
		"runbook_check_health{check=mismatches,runbook=shadow-monitor} 2",
	}
	for _, check := range []string{"after", "disk_root", "mismatches"} {
		for _, s := range []string{"failed", "passed", "pending", "skipped", "warning"} {
			v := "0"
			if (check == "after" && s == "skipped") || (check == "disk_root" && s == "warning") || (check == "mismatches" && s == "failed") {
				v = "1"
			}
			want = append(want, "runbook_check_status{check="+check+",informational=false,runbook=shadow-monitor,status="+s+"} "+v)
		}
	}
	want = append(want,
		"runbook_run_duration_seconds{runbook=shadow-monitor} 1.5",
		"runbook_run_health{runbook=shadow-monitor} 2",
		"runbook_run_interrupted{runbook=shadow-monitor} 0",
		"runbook_run_status{runbook=shadow-monitor,status=abandoned} 0",
		"runbook_run_status{runbook=shadow-monitor,status=failed} 1",
		"runbook_run_status{runbook=shadow-monitor,status=incomplete} 0",
		"runbook_run_status{runbook=shadow-monitor,status=passed} 0",
		"runbook_run_status{runbook=shadow-monitor,status=warning} 0",
		"runbook_run_timestamp_seconds{runbook=shadow-monitor} 1764677539.5",
	)
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("samples (-want +got):\n%s", d)
	}
}

func TestWriteTextfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "shadow.prom")
	if err := os.WriteFile(path, []byte("old contents\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := readRun(t, "mixed")
	run.Mode = "check"
	if err := WriteTextfile(path, run); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The textfile is --format prometheus with a mode label on every
	// series, so a check from cron and a watch do not collide.
	want := render(t, "prometheus", Options{}, run)
	samples := len(regexp.MustCompile(`(?m)^runbook_`).FindAll(want, -1))
	if n := bytes.Count(got, []byte(`mode="check",`)); n != samples {
		t.Errorf("textfile: %d series carry mode=\"check\", want all %d", n, samples)
	}
	if without := bytes.ReplaceAll(got, []byte(`mode="check",`), nil); !bytes.Equal(without, want) {
		t.Errorf("textfile differs from --format prometheus beyond its mode label:\n got %s\nwant %s", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("got %d files in the directory, want only shadow.prom (no temporary files left)", len(entries))
	}
	if err := WriteTextfile(filepath.Join(dir, "missing", "x.prom"), run); err == nil || !strings.Contains(err.Error(), "write textfile") {
		t.Errorf("into a missing directory: got %v, want a write textfile error", err)
	}
}

func TestHealthValue(t *testing.T) {
	for h, want := range map[string]float64{"HEALTHY": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3, "": 3} {
		if got := HealthValue(h); got != want {
			t.Errorf("HealthValue(%q): got %v want %v", h, got, want)
		}
	}
}

// TestPrometheusCleanupSeries checks cleanup blocks get their own series,
// so a cleanup named like a check is no duplicate sample.
func TestPrometheusCleanupSeries(t *testing.T) {
	run := &record.Run{Runbook: "drill", Status: record.Passed, Items: []record.Item{
		{Kind: record.KindCheck, Name: "stop", Status: record.Passed, DurationMS: 5},
		{Kind: record.KindCleanup, Name: "stop", Status: record.Failed, DurationMS: 110},
	}}
	got := parseExposition(t, render(t, "prometheus", Options{}, run))
	for _, want := range []string{
		"runbook_check_status{check=stop,informational=false,runbook=drill,status=passed} 1",
		"runbook_cleanup_status{cleanup=stop,informational=false,runbook=drill,status=failed} 1",
		"runbook_cleanup_duration_seconds{cleanup=stop,runbook=drill} 0.11",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("got no sample %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
}

func TestStopCollectorLabelsDrills(t *testing.T) {
	for _, tc := range []struct {
		name     string
		on       bool
		exercise string
		want     string
	}{
		{"real stop", true, "", "runbook_emergency_stop{exercise=false} 1"},
		{"drill", true, "20261201T000000Z-aaaa", "runbook_emergency_stop{exercise=true} 1"},
		{"off", false, "", "runbook_emergency_stop{exercise=false} 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			reg.MustRegister(&StopCollector{Read: func() (bool, string, error) { return tc.on, tc.exercise, nil }})
			var buf bytes.Buffer
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			for _, mf := range mfs {
				if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
					t.Fatal(err)
				}
			}
			if got := parseExposition(t, buf.Bytes()); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExerciseRunsAreLabelled(t *testing.T) {
	run := readRun(t, fixtures[0])
	run.Exercise = &record.Exercise{}
	path := filepath.Join(t.TempDir(), "run.prom")
	if err := WriteTextfile(path, run); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range parseExposition(t, data) {
		if !strings.Contains(line, "exercise=true") {
			t.Errorf("series of an exercise without exercise=true: %s", line)
		}
	}
	run.Exercise = nil
	if got := render(t, "prometheus", Options{}, run); bytes.Contains(got, []byte("exercise=")) {
		t.Errorf("a real run's series carry an exercise label:\n%s", got)
	}
}

// TestPrometheusLabelsInformationalItems checks an informational item's
// status series say so, so an alert rule on failed steps can leave it out.
func TestPrometheusLabelsInformationalItems(t *testing.T) {
	run := &record.Run{Runbook: "pg", Status: record.Passed, Items: []record.Item{
		{Kind: record.KindStep, Name: "biggest", Status: record.Failed, Informational: true},
		{Kind: record.KindStep, Name: "drop", Status: record.Passed},
	}}
	got := parseExposition(t, render(t, "prometheus", Options{}, run))
	for _, want := range []string{
		"runbook_step_status{informational=true,runbook=pg,status=failed,step=biggest} 1",
		"runbook_step_status{informational=false,runbook=pg,status=passed,step=drop} 1",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("got no sample %q in:\n%s", want, strings.Join(got, "\n"))
		}
	}
}
