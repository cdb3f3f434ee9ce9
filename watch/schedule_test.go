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
	"sync"
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

// A check run on several targets keeps its state (what was notified, its
// last result) through a cycle that skips it, as a check on one host
// does: the names "disk[a]" are not keys of Config.Checks, so the loop
// that forgets checks no longer in the runbook drops them.
func TestFanOutStateSurvivesASkippedCycle(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	path := filepath.Join(dir, "runbook.hcl")
	src := `
runbook "r" {}
target "a" {
  ssh {
    host             = "127.0.0.1"
    port             = 1
    private_key_file = "/nonexistent"
    connect_timeout  = "1s"
  }
}
target "b" {
  ssh {
    host             = "127.0.0.1"
    port             = 1
    private_key_file = "/nonexistent"
    connect_timeout  = "1s"
  }
}
check "disk" {
  on = [target.a, target.b]
  file {
    path = "/"
  }
}
check "plain" {
  file {
    path = "/nonexistent"
  }
}
`
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.Load(path, reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	clk := &clock{now: time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC)}
	cycle := func(skip []string) map[string]watch.CheckState {
		w, err := watch.New(context.Background(), watch.Options{Bound: b, Store: state.NewDir(stateDir), Every: 5 * time.Minute, Now: clk.Now, Skip: skip})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		if _, err := w.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
		return w.Status().Checks
	}
	first := cycle(nil)
	for _, name := range []string{"disk[a]", "disk[b]", "plain"} {
		if _, ok := first[name]; !ok {
			t.Fatalf("first cycle: no state for %s: %v", name, first)
		}
	}
	clk.now = clk.now.Add(5 * time.Minute)
	second := cycle([]string{"disk", "plain"})
	if _, ok := second["plain"]; !ok {
		t.Fatalf("the plain check's state was dropped too: %v", second)
	}
	for _, name := range []string{"disk[a]", "disk[b]"} {
		if _, ok := second[name]; !ok {
			t.Errorf("%s's state (health, what was notified) was dropped by a cycle that skipped it; the plain check's was kept", name)
		}
	}
}

// tickingClock is a clock that time passes on: each reading is a
// millisecond after the last, as a real clock is while a cycle runs.
type tickingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *tickingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Millisecond)
	return c.now
}

func (c *tickingClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// every = "1h" with cycles on the hour runs each hour, not every other
// cycle after it: the check's last run is when its item started, a little
// after the cycle began, and the next cycle (one hour after the last one
// began) finds it not due by that little.
func TestEveryEqualToTheCycleRunsEachCycle(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.Load("testdata/schedule.hcl", reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{Vars: []string{"dir=" + dir}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	clk := &tickingClock{}
	w, err := watch.New(context.Background(), watch.Options{Bound: b, Store: state.NewDir(stateDir), Every: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for h := 3; h <= 5; h++ {
		clk.set(time.Date(2026, 6, 1, h, 0, 0, 0, time.UTC))
		if _, err := w.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "hourly.log"))
	if n := strings.Count(string(data), "ran"); n != 3 {
		t.Fatalf("every = \"1h\" ran %d times in three hourly cycles (03:00, 04:00, 05:00), want 3", n)
	}
}
