package watch_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/watch"
)

func TestSchedules(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	clk := &clock{now: time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)}
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.Load("testdata/schedule.hcl", reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{Vars: []string{"dir=" + dir}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	newWatcher := func() *watch.Watcher {
		w, err := watch.New(context.Background(), watch.Options{Bound: b, Store: state.NewDir(stateDir), Every: 5 * time.Minute, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(w.Close)
		return w
	}
	runs := func(name string) int {
		data, _ := os.ReadFile(filepath.Join(dir, name+".log"))
		return strings.Count(string(data), "ran")
	}
	type want struct {
		Runs        map[string]int
		Health      string
		CarriedOver []string
		Age         map[string]float64 // seconds, from /healthz
	}
	w := newWatcher()
	steps := []struct {
		name string
		at   string // the clock, UTC
		do   func()
		want want
	}{
		{"first cycle runs everything", "03:00", nil, want{
			Runs: map[string]int{"often": 1, "hourly": 1, "at_four": 1}, Health: "HEALTHY",
			Age: map[string]float64{"often": 0, "hourly": 0, "at_four": 0, "follows_hourly": 0}}},
		{"not due: the last results stand", "03:10", func() { touch(t, dir, "hourly-fail") }, want{
			Runs: map[string]int{"often": 2, "hourly": 1, "at_four": 1}, Health: "HEALTHY",
			CarriedOver: []string{"at_four", "hourly"},
			Age:         map[string]float64{"often": 0, "hourly": 600, "at_four": 600, "follows_hourly": 0}}},
		{"an hour later hourly runs (and fails)", "04:00", nil, want{
			Runs: map[string]int{"often": 3, "hourly": 2, "at_four": 2}, Health: "CRITICAL",
			// follows_hourly is skipped (hourly failed): its result is
			// the one of 03:10.
			Age: map[string]float64{"often": 0, "hourly": 0, "at_four": 0, "follows_hourly": 3000}}},
		{"a restarted watch keeps the failed result", "04:10", func() { w.Close(); w = newWatcher() }, want{
			Runs: map[string]int{"often": 4, "hourly": 2, "at_four": 2}, Health: "CRITICAL",
			CarriedOver: []string{"at_four", "hourly"},
			Age:         map[string]float64{"often": 0, "hourly": 600, "at_four": 600, "follows_hourly": 3600}}},
	}
	for _, s := range steps {
		at, _ := time.Parse("15:04", s.at)
		clk.now = time.Date(2026, 6, 1, at.Hour(), at.Minute(), 0, 0, time.UTC)
		if s.do != nil {
			s.do()
		}
		c, err := w.Cycle(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		got := want{Runs: map[string]int{}, Health: c.Health, Age: map[string]float64{}}
		for _, n := range []string{"often", "hourly", "at_four"} {
			got.Runs[n] = runs(n)
		}
		for _, it := range c.Run.Items {
			if it.CarriedOver {
				got.CarriedOver = append(got.CarriedOver, it.Name)
			}
		}
		slices.Sort(got.CarriedOver)
		for name, cs := range w.Status().Checks {
			if cs.AgeSeconds != nil {
				got.Age[name] = *cs.AgeSeconds
			}
		}
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, diff)
		}
	}

	// /healthz shows each schedule and when it is due; /metrics the ages.
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	var st watch.Status
	body := get(t, srv.URL+"/healthz")
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	hourly := st.Checks["hourly"]
	if hourly.Schedule != "every 1h0m0s" || hourly.NextRun == nil || !hourly.NextRun.Equal(time.Date(2026, 6, 1, 5, 0, 0, 0, time.UTC)) {
		t.Errorf("healthz hourly: schedule %q next %v", hourly.Schedule, hourly.NextRun)
	}
	if f := st.Checks["at_four"]; f.Schedule != "cron CRON_TZ=Europe/Paris 0 6 * * *" || f.NextRun == nil || !f.NextRun.Equal(time.Date(2026, 6, 2, 4, 0, 0, 0, time.UTC)) {
		t.Errorf("healthz at_four: schedule %q next %v", f.Schedule, f.NextRun)
	}
	if strings.Contains(body, `"last"`) {
		t.Errorf("healthz shows the kept item:\n%s", body)
	}
	metrics := get(t, srv.URL+"/metrics")
	for _, want := range []string{
		`runbook_watch_check_age_seconds{check="hourly",runbook="schedules"} 600`,
		`runbook_watch_check_age_seconds{check="often",runbook="schedules"} 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
