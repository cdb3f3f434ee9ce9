package watch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/watch"
)

// hooks is a real HTTP receiver of webhook alerts; it can be taken down
// (503) and brought back.
type hooks struct {
	*httptest.Server
	mu       sync.Mutex
	down     bool
	payloads []payload
	attempts int
	// onAlert, when set, runs as each alert arrives.
	onAlert func()
}

type payload struct {
	path string
	body map[string]any
}

func newHooks(t *testing.T) *hooks {
	h := &hooks{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.onAlert != nil {
			h.onAlert()
		}
		h.attempts++
		if h.down {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("alert body is not JSON: %v", err)
		}
		h.payloads = append(h.payloads, payload{path: r.URL.Path, body: m})
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hooks) setDown(down bool) {
	h.mu.Lock()
	h.down = down
	h.mu.Unlock()
}

// take returns the payloads received since the last call, each as
// "path: check EVENT, check EVENT".
func (h *hooks) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.payloads {
		var evs []string
		tr, _ := p.body["transitions"].([]any)
		for _, t := range tr {
			m := t.(map[string]any)
			evs = append(evs, m["check"].(string)+" "+m["event"].(string))
		}
		out = append(out, p.path+": "+strings.Join(evs, ", "))
	}
	h.payloads = nil
	return out
}

// previous returns the "previous" of the transitions about check in the
// payloads received on path (not taken yet).
func (h *hooks) previous(path, check string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, p := range h.payloads {
		if p.path != path {
			continue
		}
		tr, _ := p.body["transitions"].([]any)
		for _, t := range tr {
			if m := t.(map[string]any); m["check"] == check {
				out = append(out, m["previous"].(string))
			}
		}
	}
	return out
}

// logBuffer is the watch's log, written by the cycle and the alert
// workers while a test reads it.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a watch over testdata/watch.hcl in a temporary directory.
type fixture struct {
	t     *testing.T
	dir   string
	state string
	hooks *hooks
	logs  *logBuffer
	// clk is the watchers' clock unless a test sets its own: cycle moves
	// it a flap window (10 minutes) on, so that flap damping's bound on
	// alerts per window holds nothing back between a test's steps.
	clk  *clock
	vars []string
	// file is the runbook watched; testdata/watch.hcl unless a test says.
	file string
}

func newFixture(t *testing.T, vars ...string) *fixture {
	t.Helper()
	f := &fixture{t: t, dir: t.TempDir(), state: t.TempDir(), hooks: newHooks(t), logs: &logBuffer{},
		clk: &clock{now: time.Now().UTC()}, file: "testdata/watch.hcl"}
	f.vars = append([]string{"dir=" + f.dir, "hook_url=" + f.hooks.URL + "/hook"}, vars...)
	f.set("alpha", true)
	return f
}

// set creates or removes a flag file.
func (f *fixture) set(name string, present bool) {
	f.t.Helper()
	p := filepath.Join(f.dir, name)
	if present {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			f.t.Fatal(err)
		}
	} else if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
		f.t.Fatal(err)
	}
}

func (f *fixture) bound() *engine.Bound {
	f.t.Helper()
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.Load(f.file, reg)
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{Vars: f.vars})
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	return b
}

// watcher makes a new Watcher (as a new process would) on the fixture's
// state directory.
func (f *fixture) watcher(mod func(*watch.Options)) *watch.Watcher {
	f.t.Helper()
	b := f.bound()
	alerts, diags := alert.Load(b)
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	triggers, diags := b.Triggers()
	if diags.HasErrors() {
		f.t.Fatal(diags.Error())
	}
	store := state.NewDir(f.state)
	opts := watch.Options{
		Bound: b, Store: store, Every: time.Minute, Alerts: alerts, Triggers: triggers,
		Sender: &alert.Sender{Redactor: b.Redactor, Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }},
		Logger: slog.New(slog.NewJSONHandler(f.logs, nil)),
		Host:   "test-host", Operator: "tester", Source: "testdata/watch.hcl",
		Now: f.clk.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	w, err := watch.New(context.Background(), opts)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(w.Close)
	return w
}

// cycle runs one cycle and waits until the alerts it queued are
// delivered (or their delivery failed).
func (f *fixture) cycle(w *watch.Watcher) *watch.Cycle {
	f.t.Helper()
	c, err := w.Cycle(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	defer f.clk.add(10 * time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		f.t.Fatalf("flush: %v", err)
	}
	return c
}

// logLines returns the log records with message msg.
func (f *fixture) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func healths(c *watch.Cycle, w *watch.Watcher) map[string]string {
	out := map[string]string{"overall": c.Health}
	for name, cs := range w.Status().Checks {
		out[name] = cs.Health
	}
	return out
}

func TestTransitionsAndRecovery(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(nil)
	steps := []struct {
		name    string
		change  func()
		healths map[string]string
		alerts  []string
	}{
		{
			name:    "all healthy: nothing to say",
			healths: map[string]string{"overall": "HEALTHY", "alpha": "HEALTHY", "beta": "HEALTHY", "gamma": "HEALTHY"},
		},
		{
			name:    "alpha fails: gamma is skipped but does not alert",
			change:  func() { f.set("alpha", false) },
			healths: map[string]string{"overall": "CRITICAL", "alpha": "CRITICAL", "beta": "HEALTHY", "gamma": "UNKNOWN"},
			alerts:  []string{"/hook: alpha CRITICAL"},
		},
		{
			name:    "still failing: no alert again",
			healths: map[string]string{"overall": "CRITICAL", "alpha": "CRITICAL", "beta": "HEALTHY", "gamma": "UNKNOWN"},
		},
		{
			name:    "beta warns too",
			change:  func() { f.set("beta-warn", true) },
			healths: map[string]string{"overall": "CRITICAL", "alpha": "CRITICAL", "beta": "WARNING", "gamma": "UNKNOWN"},
			alerts:  []string{"/hook: beta WARNING"},
		},
		{
			name:    "both recover; gamma, which never alerted, does not",
			change:  func() { f.set("alpha", true); f.set("beta-warn", false) },
			healths: map[string]string{"overall": "HEALTHY", "alpha": "HEALTHY", "beta": "HEALTHY", "gamma": "HEALTHY"},
			alerts:  []string{"/hook/recoveries: alpha RECOVERED, beta RECOVERED", "/hook: alpha RECOVERED, beta RECOVERED"},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.change != nil {
				s.change()
			}
			c := f.cycle(w)
			if d := cmp.Diff(s.healths, healths(c, w)); d != "" {
				t.Errorf("healths (-want +got):\n%s", d)
			}
			got := f.hooks.take()
			sort.Strings(got)
			if d := cmp.Diff(s.alerts, got); d != "" {
				t.Errorf("alerts (-want +got):\n%s", d)
			}
		})
	}

	t.Run("the payload names the offered playbook and hides the secret", func(t *testing.T) {
		f.set("alpha", false)
		f.cycle(w)
		f.hooks.mu.Lock()
		p := f.hooks.payloads[0].body
		f.hooks.mu.Unlock()
		data, _ := json.Marshal(p)
		if strings.Contains(string(data), "tok-3x4mpl3") {
			t.Errorf("payload holds the sensitive token: %s", data)
		}
		tr := p["transitions"].([]any)[0].(map[string]any)
		if tr["message"] != "alpha is missing (token (sensitive))" || tr["previous"] != "HEALTHY" {
			t.Errorf("transition: got %v", tr)
		}
		pbs := tr["playbooks"].([]any)
		pb := pbs[0].(map[string]any)
		want := map[string]any{"name": "restore_alpha", "title": "Put alpha back", "auto": false, "action": "offered",
			"command": "runbook exec testdata/watch.hcl --state " + f.state + " --playbook restore_alpha"}
		if d := cmp.Diff(want, pb); d != "" {
			t.Errorf("playbook (-want +got):\n%s", d)
		}
		if _, err := os.Stat(filepath.Join(f.dir, "playbook-ran")); err == nil {
			t.Error("the playbook ran although auto is false")
		}
	})

	t.Run("transitions are logged", func(t *testing.T) {
		var got []string
		for _, l := range f.logLines("transition") {
			got = append(got, l["check"].(string)+" "+l["from"].(string)+"→"+l["to"].(string)+" "+l["level"].(string))
		}
		want := []string{
			"alpha HEALTHY→CRITICAL ERROR", "gamma HEALTHY→UNKNOWN WARN", "beta HEALTHY→WARNING WARN",
			"alpha CRITICAL→HEALTHY INFO", "beta WARNING→HEALTHY INFO", "gamma UNKNOWN→HEALTHY INFO",
			"alpha HEALTHY→CRITICAL ERROR", "gamma HEALTHY→UNKNOWN WARN",
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("transition lines (-want +got):\n%s", d)
		}
		if n := len(f.logLines("cycle")); n != 6 {
			t.Errorf("cycle lines: got %d want 6", n)
		}
	})
}

func TestInformationalCheckDoesNotAlert(t *testing.T) {
	f := newFixture(t)
	f.file = "testdata/informational.hcl"
	w := f.watcher(nil)
	c := f.cycle(w)
	if c.Run.Status != record.Passed || c.Health != "HEALTHY" {
		t.Errorf("run %s, health %s; want passed and HEALTHY", c.Run.Status, c.Health)
	}
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("alerts: %v; want none", got)
	}
	if cs, ok := w.Status().Checks["diagnostic"]; ok {
		t.Errorf("the informational check is watched: %+v", cs)
	}
}

func TestRestartDoesNotAlertAgain(t *testing.T) {
	f := newFixture(t)
	f.set("alpha", false)
	w1 := f.watcher(nil)
	f.cycle(w1)
	if got := f.hooks.take(); len(got) != 1 {
		t.Fatalf("first process: got alerts %v, want one", got)
	}
	w1.Close()

	w2 := f.watcher(nil)
	if s := w2.Status(); s.Health != "UNKNOWN" {
		t.Errorf("before its first cycle: got health %s want UNKNOWN", s.Health)
	}
	c := f.cycle(w2)
	if got := f.hooks.take(); len(got) != 0 || len(c.Events) != 0 {
		t.Errorf("restarted process: got alerts %v events %v, want none", got, c.Events)
	}
	f.set("alpha", true)
	f.cycle(w2)
	got := f.hooks.take()
	sort.Strings(got)
	if d := cmp.Diff([]string{"/hook/recoveries: alpha RECOVERED", "/hook: alpha RECOVERED"}, got); d != "" {
		t.Errorf("recovery after restart (-want +got):\n%s", d)
	}
}

func TestOnlyTheLeaderAlerts(t *testing.T) {
	f := newFixture(t)
	f.set("alpha", false)
	leader := f.watcher(nil)
	follower := f.watcher(nil)

	lc := f.cycle(leader)
	fc := f.cycle(follower)
	if !lc.Leading || fc.Leading {
		t.Fatalf("leading: got leader %v follower %v, want true false", lc.Leading, fc.Leading)
	}
	if got := f.hooks.take(); len(got) != 1 {
		t.Errorf("got alerts %v, want one from the leader only", got)
	}
	if fc.Health != "CRITICAL" || len(fc.Events) != 0 {
		t.Errorf("follower: got health %s events %v, want CRITICAL and no events", fc.Health, fc.Events)
	}

	// The leader goes away: the follower takes over with the state the
	// leader saved, so it does not alert about alpha again.
	leader.Close()
	fc = f.cycle(follower)
	if !fc.Leading || len(fc.Events) != 0 {
		t.Errorf("after the leader left: got leading %v events %v, want leading and no events", fc.Leading, fc.Events)
	}
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("new leader re-alerted: %v", got)
	}
	f.set("alpha", true)
	fc = f.cycle(follower)
	if len(fc.Events) != 1 || fc.Events[0].Event != "RECOVERED" {
		t.Errorf("new leader on recovery: got events %v, want alpha RECOVERED", fc.Events)
	}
}

func TestAutoPlaybook(t *testing.T) {
	tests := []struct {
		name       string
		auto       bool
		stop       bool
		wantRan    bool
		wantAction string
	}{
		{name: "auto runs it", auto: true, wantRan: true, wantAction: "started"},
		{name: "without auto it is only offered", auto: false, wantAction: "offered"},
		{name: "the emergency stop refuses it", auto: true, stop: true, wantAction: "refused: the emergency stop is on"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := []string{}
			if tt.auto {
				vars = append(vars, "auto=true")
			}
			f := newFixture(t, vars...)
			if tt.stop {
				if _, err := state.NewDir(f.state).SetStop(context.Background(), true, state.AuditEntry{
					Time: time.Now(), Action: "enable", User: "tester", Host: "test-host", Reason: "drill",
				}); err != nil {
					t.Fatal(err)
				}
			}
			w := f.watcher(nil)
			f.set("alpha", false)
			c := f.cycle(w)
			if len(c.Events) != 1 || len(c.Events[0].Playbooks) != 1 {
				t.Fatalf("got events %+v, want alpha CRITICAL naming one playbook", c.Events)
			}
			if got := c.Events[0].Playbooks[0].Action; got != tt.wantAction {
				t.Errorf("action: got %q want %q", got, tt.wantAction)
			}
			_, err := os.Stat(filepath.Join(f.dir, "playbook-ran"))
			if ran := err == nil; ran != tt.wantRan {
				t.Errorf("playbook ran: got %v want %v", ran, tt.wantRan)
			}
			if tt.wantRan {
				if len(c.Playbooks) != 1 || c.Playbooks[0].Status != record.Passed || *c.Playbooks[0].Playbook != "restore_alpha" {
					t.Fatalf("playbook runs: got %+v", c.Playbooks)
				}
				if _, err := state.NewDir(f.state).LoadRun(context.Background(), c.Playbooks[0].ID); err != nil {
					t.Errorf("the playbook's run record was not kept: %v", err)
				}
				// The playbook put alpha back: the next cycle recovers,
				// and does not run the playbook again.
				os.Remove(filepath.Join(f.dir, "playbook-ran"))
				c = f.cycle(w)
				if c.Health != "HEALTHY" || len(c.Playbooks) != 0 {
					t.Errorf("after the playbook: got health %s playbooks %d, want HEALTHY and none", c.Health, len(c.Playbooks))
				}
			}
		})
	}
}

func TestUndeliveredAlertIsSentLater(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(func(o *watch.Options) {
		o.Sender.Policy = alert.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
	})
	f.cycle(w)
	f.hooks.setDown(true)
	f.set("alpha", false)
	c := f.cycle(w)
	if got := c.Queued["hook"]; len(got) != 1 || got[0].Check != "alpha" || got[0].Event != "CRITICAL" {
		t.Fatalf("while down: queued %+v, want alpha CRITICAL", c.Queued)
	}
	if got := len(f.logLines("alert failed; it stays queued and is sent again")); got < 1 {
		t.Errorf("alert failed lines: got %d want at least 1", got)
	}
	if st := w.Status(); st.Checks["alpha"].Notification != "failing" || !strings.Contains(st.Checks["alpha"].NotificationError, "503") ||
		!st.Alerts["hook"].Failing || st.Alerts["hook"].Queued != 1 {
		t.Errorf("healthz while the receiver fails: got check %+v alert %+v, want failing with the 503", st.Checks["alpha"], st.Alerts["hook"])
	}
	f.hooks.setDown(false)
	c = f.cycle(w)
	if len(c.Events) != 0 {
		t.Errorf("got new events %v, want none", c.Events)
	}
	if got := f.hooks.take(); !cmp.Equal(got, []string{"/hook: alpha CRITICAL"}) {
		t.Errorf("after the receiver came back: got %v, want the pending alpha CRITICAL", got)
	}
	// Delivered: not sent a third time.
	f.cycle(w)
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("got %v, want nothing more", got)
	}
}

func TestRunRecordsOnlyOnChange(t *testing.T) {
	tests := []struct {
		name  string
		every bool
		want  int
	}{
		{name: "first cycle and changes", every: false, want: 3},
		{name: "every cycle", every: true, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			w := f.watcher(func(o *watch.Options) { o.RecordEveryCycle = tt.every })
			f.cycle(w) // first: kept
			f.cycle(w) // no change
			f.set("alpha", false)
			c := f.cycle(w) // change: kept
			if c.RunPath == "" || c.Run.Mode != "watch" {
				t.Errorf("changing cycle: got path %q mode %q, want a kept watch record", c.RunPath, c.Run.Mode)
			}
			f.cycle(w) // no change
			f.set("alpha", true)
			f.cycle(w) // change: kept
			ids, err := state.NewDir(f.state).RunIDs(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(ids) != tt.want {
				t.Errorf("run records: got %d want %d", len(ids), tt.want)
			}
		})
	}
}

func TestHTTP(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(nil)
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	steps := []struct {
		name   string
		change func()
		code   int
		health string
	}{
		{name: "before the first cycle", code: 503, health: "UNKNOWN"},
		{name: "healthy", change: func() { f.cycle(w) }, code: 200, health: "HEALTHY"},
		{name: "warning", change: func() { f.set("beta-warn", true); f.cycle(w) }, code: 200, health: "WARNING"},
		{name: "critical", change: func() { f.set("alpha", false); f.cycle(w) }, code: 503, health: "CRITICAL"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.change != nil {
				s.change()
			}
			code, body := get("/healthz")
			var st watch.Status
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("healthz body: %v\n%s", err, body)
			}
			if code != s.code || st.Health != s.health {
				t.Errorf("healthz: got %d %s want %d %s", code, st.Health, s.code, s.health)
			}
		})
	}
	code, body := get("/healthz")
	var st watch.Status
	_ = json.Unmarshal([]byte(body), &st)
	if code != 503 || st.Checks["alpha"].Health != "CRITICAL" || st.Checks["gamma"].Health != "UNKNOWN" || !st.Checks["gamma"].Suppressed || !st.Leader {
		t.Errorf("healthz checks: got %d %+v", code, st)
	}

	code, metrics := get("/metrics")
	if code != 200 {
		t.Fatalf("metrics: got %d", code)
	}
	for _, want := range []string{
		`runbook_watch_cycles_total{runbook="flags"} 3`,
		`runbook_watch_health{runbook="flags"} 2`,
		`runbook_watch_leader{runbook="flags"} 1`,
		`runbook_watch_alerts_sent_total{alert="hook",channel="webhook",runbook="flags"} 2`,
		`runbook_watch_alert_attempts_total{alert="hook",channel="webhook",runbook="flags"} 2`,
		`runbook_watch_alert_queue_length{alert="hook",channel="webhook",runbook="flags"} 0`,
		`runbook_watch_alert_queue_oldest_seconds{alert="hook",channel="webhook",runbook="flags"} 0`,
		`runbook_check_status{check="alpha",informational="false",mode="watch",runbook="flags",status="failed"} 1`,
		`runbook_check_health{check="beta",mode="watch",runbook="flags"} 1`,
		`runbook_check_duration_seconds{check="alpha",mode="watch",runbook="flags"}`,
		`runbook_run_timestamp_seconds{mode="watch",runbook="flags"}`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code, _ := get("/nope"); code != 404 {
		t.Errorf("/nope: got %d want 404", code)
	}
}

// fakeAfter is an injected timer: each call returns a channel the test
// fires.
type fakeAfter struct {
	mu    sync.Mutex
	calls []time.Duration
	ch    chan time.Time
}

func (a *fakeAfter) After(d time.Duration) <-chan time.Time {
	a.mu.Lock()
	a.calls = append(a.calls, d)
	a.mu.Unlock()
	return a.ch
}

func TestRunLoop(t *testing.T) {
	f := newFixture(t)
	fa := &fakeAfter{ch: make(chan time.Time)}
	w := f.watcher(func(o *watch.Options) { o.After = fa.After })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	// Each send lets one more cycle start; the loop waits on the timer
	// between cycles, so cycles never overlap.
	for i := 0; i < 2; i++ {
		fa.ch <- time.Now()
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := len(f.logLines("cycle")); got != 3 {
		t.Errorf("cycles: got %d want 3", got)
	}
	fa.mu.Lock()
	defer fa.mu.Unlock()
	for _, d := range fa.calls {
		if d <= 0 || d > time.Minute {
			t.Errorf("waited %s between cycles, want up to a minute", d)
		}
	}
}

func TestShutdownFinishesTheCycle(t *testing.T) {
	tests := []struct {
		name            string
		graceExpires    bool
		wantInterrupted bool
	}{
		{name: "cycle in flight completes", graceExpires: false, wantInterrupted: false},
		{name: "past the grace period it is interrupted", graceExpires: true, wantInterrupted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			var fired chan time.Time
			if tt.graceExpires {
				fired = make(chan time.Time, 1)
				fired <- time.Now()
			}
			src := filepath.Join(t.TempDir(), "slow.hcl")
			if err := os.WriteFile(src, []byte(`
runbook "slow" {}
check "slow" {
  shell {
    command = "sleep 1"
  }
}
`), 0o644); err != nil {
				t.Fatal(err)
			}
			reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
			cfg, diags := engine.Load(src, reg)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			b, _ := engine.Bind(cfg, reg, engine.Inputs{})
			w, err := watch.New(context.Background(), watch.Options{
				Bound: b, Store: state.NewDir(f.state), After: func(time.Duration) <-chan time.Time { return fired },
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // the signal came before the cycle started
			c, err := w.Once(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.Run.Interrupted != tt.wantInterrupted {
				t.Errorf("interrupted: got %v want %v (status %s)", c.Run.Interrupted, tt.wantInterrupted, c.Run.Status)
			}
			if !tt.wantInterrupted && c.Run.Status != record.Passed {
				t.Errorf("status: got %s want passed", c.Run.Status)
			}
		})
	}
}

// TestRecoveryAfterACycleNotWatched: a check that alerted, then was not
// watched for a cycle (--skip, its when), still gets its RECOVERED.
func TestRecoveryAfterACycleNotWatched(t *testing.T) {
	f := newFixture(t)
	run := func(skip []string) []string {
		w := f.watcher(func(o *watch.Options) { o.Skip = skip })
		f.cycle(w)
		w.Close()
		got := f.hooks.take()
		sort.Strings(got)
		return got
	}
	f.set("alpha", false)
	if got := run(nil); !cmp.Equal(got, []string{"/hook: alpha CRITICAL"}) {
		t.Fatalf("first cycle sent %v", got)
	}
	if got := run([]string{"alpha"}); len(got) != 0 {
		t.Errorf("the cycle without alpha sent %v", got)
	}
	f.set("alpha", true)
	want := []string{"/hook/recoveries: alpha RECOVERED", "/hook: alpha RECOVERED"}
	if got := run(nil); !cmp.Equal(got, want) {
		t.Errorf("after alpha came back healthy: sent %v, want %v", got, want)
	}
}

// TestAlertHearsRecoveriesOfProblemsItHeard: an alert whose `on` leaves
// WARNING out hears a CRITICAL check's recovery, but not the recovery of a
// warning it never heard.
func TestAlertHearsRecoveriesOfProblemsItHeard(t *testing.T) {
	f := newFixture(t)
	f.vars = append(f.vars, "critical_url="+f.hooks.URL+"/critical")
	w := f.watcher(nil)
	only := func(prefix string) []string {
		var out []string
		for _, a := range f.hooks.take() {
			if strings.HasPrefix(a, prefix) {
				out = append(out, a)
			}
		}
		return out
	}
	f.cycle(w)
	f.set("alpha", false)
	f.set("beta-warn", true)
	f.cycle(w)
	if got := only("/critical:"); !cmp.Equal(got, []string{"/critical: alpha CRITICAL"}) {
		t.Errorf("problems: the CRITICAL-only alert got %v", got)
	}
	f.set("alpha", true)
	f.set("beta-warn", false)
	f.cycle(w)
	if got := only("/critical:"); !cmp.Equal(got, []string{"/critical: alpha RECOVERED"}) {
		t.Errorf("recoveries: the CRITICAL-only alert got %v, want alpha's only", got)
	}
}
