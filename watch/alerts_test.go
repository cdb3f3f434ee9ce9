package watch_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/watch"
)

// clock is an injected watch clock that a test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// alphaOnHook keeps the /hook payloads' events about alpha.
func alphaOnHook(got []string) []string {
	var out []string
	for _, p := range got {
		path, evs, _ := strings.Cut(p, ": ")
		if path != "/hook" {
			continue
		}
		for _, e := range strings.Split(evs, ", ") {
			if strings.HasPrefix(e, "alpha ") {
				out = append(out, strings.TrimPrefix(e, "alpha "))
			}
		}
	}
	return out
}

// TestFlapDamping: a check whose health flips every cycle (a minute)
// alerts normally up to its alert's flap_threshold changes within
// flap_window (10 minutes), then once FLAPPING, then nothing until it
// has kept one health for the window, then once with that health.
func TestFlapDamping(t *testing.T) {
	tests := []struct {
		name      string
		threshold string
		// want are alpha's events on /hook; maxPerWindow bounds them in
		// any 10 minutes.
		want         []string
		maxPerWindow int
	}{
		{name: "flap_threshold 1: at most two alerts per window", threshold: "1",
			want: []string{"CRITICAL", "FLAPPING", "RECOVERED"}, maxPerWindow: 2},
		// The RECOVERED of minute 2 waits (a window after the CRITICAL):
		// the check is CRITICAL again when it may go out, then FLAPPING
		// at its fifth change.
		{name: "default threshold 4: at most two alerts per window", threshold: "4",
			want: []string{"CRITICAL", "FLAPPING", "RECOVERED"}, maxPerWindow: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, "flap_threshold="+tt.threshold)
			clk := &clock{now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
			w := f.watcher(func(o *watch.Options) { o.Now = clk.Now })
			var got []string
			var at []int // minute of each alert
			sawFlapping := false
			for minute := 0; minute < 60; minute++ {
				// Flapping for 30 minutes, then healthy.
				f.set("alpha", minute == 0 || minute >= 30 || minute%2 == 0)
				c := f.cycle(w)
				for _, e := range alphaOnHook(f.hooks.take()) {
					got = append(got, e)
					at = append(at, minute)
				}
				if minute == 20 {
					if !w.Status().Checks["alpha"].Flapping {
						t.Errorf("minute 20: /healthz does not show alpha FLAPPING")
					}
					for _, it := range c.Run.Items {
						if it.Name == "alpha" && it.Flapping {
							sawFlapping = true
						}
					}
				}
				clk.add(time.Minute)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("alpha's alerts (-want +got):\n%s", d)
			}
			for i := range at {
				n := 0
				for j := i; j < len(at) && at[j]-at[i] < 10; j++ {
					n++
				}
				if n > tt.maxPerWindow {
					t.Errorf("%d alerts within 10 minutes from minute %d, want at most %d (at %v)", n, at[i], tt.maxPerWindow, at)
				}
			}
			if len(at) > 0 && at[len(at)-1] < 40 {
				t.Errorf("the settled alert came at minute %d, before alpha kept one health for the window (from minute 30)", at[len(at)-1])
			}
			if !sawFlapping {
				t.Error("the run record does not mark alpha flapping")
			}
			if w.Status().Checks["alpha"].Flapping {
				t.Error("after it settled, /healthz still shows alpha FLAPPING")
			}
		})
	}
}

// TestFlappingAgainAfterSettling: a check that flaps, settles (one
// settled alert) and changes again within the window goes straight back
// to FLAPPING, without a plain alert first: never more than two alerts
// within a window.
func TestFlappingAgainAfterSettling(t *testing.T) {
	for _, threshold := range []string{"1", "4"} {
		t.Run("flap_threshold "+threshold, func(t *testing.T) {
			f := newFixture(t, "flap_threshold="+threshold)
			clk := &clock{now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
			w := f.watcher(func(o *watch.Options) { o.Now = clk.Now })
			var got []string
			for minute := 0; minute < 80; minute++ {
				// Flapping 0–29, healthy 30–44, flapping again from 45.
				healthy := minute == 0 || (minute >= 30 && minute < 45) || minute%2 == 0
				f.set("alpha", healthy)
				f.cycle(w)
				for _, e := range alphaOnHook(f.hooks.take()) {
					got = append(got, fmt.Sprintf("%d %s", minute, e))
				}
				clk.add(time.Minute)
			}
			want := []string{"1 CRITICAL", "2 FLAPPING", "40 RECOVERED", "45 FLAPPING"}
			if threshold == "4" {
				want[1] = "5 FLAPPING"
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("alpha's alerts by minute (-want +got):\n%s", d)
			}
			if st := w.Status().Checks["alpha"]; !st.Flapping || st.Notification != "notified" {
				t.Errorf("healthz alpha: got %+v, want FLAPPING, notified", st)
			}
		})
	}
}

// TestRecoveryWaitsForTheWindow: the second alert of a window is kept for
// a problem or FLAPPING; a RECOVERED that comes within a window of the
// alert before it waits until the window has passed (and /healthz says
// so), and goes out then if the check is still HEALTHY. A problem back
// meanwhile is what the receiver was told last: nothing to send.
func TestRecoveryWaitsForTheWindow(t *testing.T) {
	f := newFixture(t)
	clk := &clock{now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	w := f.watcher(func(o *watch.Options) { o.Now = clk.Now })
	step := func(minute int, healthy bool, want ...string) {
		t.Helper()
		clk.now = time.Date(2026, 3, 2, 12, minute, 0, 0, time.UTC)
		f.set("alpha", healthy)
		f.cycle(w)
		if got := alphaOnHook(f.hooks.take()); !cmp.Equal(got, want) {
			t.Errorf("minute %d: alpha's alerts %v, want %v", minute, got, want)
		}
	}
	step(0, true)
	step(1, false, "CRITICAL")
	step(3, true)  // held: within a window of the CRITICAL
	step(5, false) // the receiver was told CRITICAL: nothing to say
	if st := w.Status().Checks["alpha"]; st.Notification != "notified" {
		t.Errorf("healthz alpha at 5: got %+v, want notified", st)
	}
	step(8, true)
	step(11, true, "RECOVERED") // a window after the CRITICAL
	step(13, false, "CRITICAL") // a problem may be the second of a window
	step(14, true)              // held
	step(22, true)
	step(23, true, "RECOVERED")

	// A RECOVERED, then a problem: both go out; the FLAPPING that follows
	// within the window waits for it, and /healthz says until when.
	step(40, false, "CRITICAL")
	step(60, true, "RECOVERED")
	step(61, false, "CRITICAL")
	step(62, true)
	step(63, false)
	step(64, true)  // the fifth change: FLAPPING, held
	step(65, false) // and more
	st := w.Status().Checks["alpha"]
	if want := time.Date(2026, 3, 2, 13, 10, 0, 0, time.UTC); !st.Flapping || st.Notification != "held" || st.HeldUntil == nil || !st.HeldUntil.Equal(want) {
		t.Errorf("healthz alpha at 65: got %+v, want FLAPPING, its alert held until %s", st, want)
	}
	step(69, true)
	step(70, false, "FLAPPING")
}

// throttler is a receiver that answers its first request 429 with a
// Retry-After, then 200, and records when each request came.
type throttler struct {
	*httptest.Server
	mu     sync.Mutex
	times  []time.Time
	bodies []map[string]any
	got    chan struct{}
}

func newThrottler(t *testing.T, retryAfter string) *throttler {
	h := &throttler{got: make(chan struct{}, 100)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hook" {
			return // the other alerts of the runbook
		}
		body, _ := io.ReadAll(r.Body)
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		h.mu.Lock()
		h.times = append(h.times, time.Now())
		h.bodies = append(h.bodies, m)
		first := len(h.times) == 1
		h.mu.Unlock()
		if first {
			w.Header().Set("Retry-After", retryAfter)
			w.WriteHeader(http.StatusTooManyRequests)
		}
		h.got <- struct{}{}
	}))
	t.Cleanup(h.Close)
	return h
}

// TestRetryAfterHonouredAcrossCycles: a receiver that answers 429 with
// Retry-After: 2 gets no second attempt within 2 seconds, though cycles
// go on queueing transitions, and though the watch restarts meanwhile;
// the attempt then carries each check's latest state, once.
func TestRetryAfterHonouredAcrossCycles(t *testing.T) {
	const retryAfter = 2 * time.Second
	rcv := newThrottler(t, "2")
	// Flap damping off: this is about the queue's coalescing only.
	f := newFixture(t, "flap_threshold=0")
	f.vars = append(f.vars, "hook_url="+rcv.URL+"/hook")
	fast := func(o *watch.Options) {
		o.Sender.Policy = alert.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
	}
	w := f.watcher(fast)
	f.set("alpha", false)
	if _, err := w.Cycle(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-rcv.got // the 429
	// Cycles go on, each with a change to send.
	for i := 0; i < 4; i++ {
		f.set("beta-warn", i%2 == 0)
		if _, err := w.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// A new process takes over from the saved state.
	w.Close()
	w = f.watcher(fast)
	f.set("alpha", true)
	for i := 0; i < 3; i++ {
		if _, err := w.Cycle(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-rcv.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no second attempt at all")
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if gap := rcv.times[1].Sub(rcv.times[0]); gap < retryAfter {
		t.Errorf("second attempt %s after the 429, want at least the Retry-After of %s", gap, retryAfter)
	}
	var evs []string
	for _, tr := range rcv.bodies[1]["transitions"].([]any) {
		m := tr.(map[string]any)
		evs = append(evs, m["check"].(string)+" "+m["event"].(string))
	}
	// alpha went CRITICAL and back: its latest state; beta warned and
	// recovered twice: only its latest state, once.
	if d := cmp.Diff([]string{"alpha RECOVERED", "beta RECOVERED"}, evs); d != "" {
		t.Errorf("the attempt after the Retry-After (-want +got):\n%s", d)
	}
}

// TestReceiverFailuresDoNotSlowCycles: with a receiver that hangs and one
// that answers 500, the cycle counter keeps pace: every cycle has a
// transition to send, and cycles follow each other as the timer fires.
func TestReceiverFailuresDoNotSlowCycles(t *testing.T) {
	tests := []struct {
		name   string
		answer func(release <-chan struct{}, w http.ResponseWriter)
	}{
		{name: "hanging", answer: func(release <-chan struct{}, w http.ResponseWriter) { <-release }},
		{name: "500", answer: func(release <-chan struct{}, w http.ResponseWriter) { w.WriteHeader(http.StatusInternalServerError) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var hits atomic.Int64
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/hook" {
					return // the other alerts of the runbook
				}
				hits.Add(1)
				tt.answer(release, w)
			}))
			defer rcv.Close()
			defer close(release)
			f := newFixture(t)
			f.vars = append(f.vars, "hook_url="+rcv.URL+"/hook", "flap_threshold=0")
			var flip atomic.Bool
			w := f.watcher(func(o *watch.Options) {
				o.Every = time.Hour
				o.Sender.Policy = alert.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
				// The timer fires at once, after turning alpha over, so
				// every cycle has a transition to send.
				o.After = func(time.Duration) <-chan time.Time {
					f.set("alpha", flip.Load())
					flip.Store(!flip.Load())
					ch := make(chan time.Time, 1)
					ch <- time.Now()
					return ch
				}
			})
			defer w.Close()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			const want = 30
			deadline := time.After(20 * time.Second)
			for w.Status().Cycles < want {
				select {
				case <-deadline:
					t.Fatalf("only %d cycles ran while the receiver failed, want %d", w.Status().Cycles, want)
				case <-time.After(5 * time.Millisecond):
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if hits.Load() == 0 {
				t.Error("the receiver was never tried")
			}
			if tt.name == "hanging" && hits.Load() > 1 {
				t.Errorf("the hanging receiver got %d requests at once, want one in flight", hits.Load())
			}
		})
	}
}

// TestSilence: while a silence covers a check, it still runs and its
// health is served and recorded, but nothing is sent; a problem still
// there when the silence ends is sent then, one gone is not.
func TestSilence(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	store := state.NewDir(f.state)
	// The watch's clock runs a minute ahead, so silences made now have
	// begun for it.
	clk := &clock{now: time.Now().UTC().Add(time.Minute)}
	w := f.watcher(func(o *watch.Options) { o.Now = clk.Now })
	f.cycle(w)
	sil, err := store.AddSilence(ctx, state.Silence{Checks: []string{"alpha", "beta"}, Reason: "disk swap", By: "tester", Host: "test-host",
		End: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	f.set("alpha", false)
	c := f.cycle(w)
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("silenced: sent %v, want nothing", got)
	}
	st := w.Status()
	if c.Health != "CRITICAL" || st.Checks["alpha"].Health != "CRITICAL" || st.Checks["alpha"].Notification != "silenced" ||
		st.Checks["alpha"].SilencedUntil == nil || !st.Checks["alpha"].SilencedUntil.Equal(sil.End) {
		t.Errorf("silenced: got health %s check %+v, want CRITICAL, silenced until %s", c.Health, st.Checks["alpha"], sil.End)
	}
	if c.RunPath == "" {
		t.Error("silenced: the change was not recorded")
	}
	f.set("beta-warn", true)
	f.cycle(w)
	f.set("beta-warn", false) // gone before the silence ends: never sent
	f.cycle(w)
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("silenced: sent %v, want nothing", got)
	}

	if _, err := store.RemoveSilence(ctx, sil.ID, state.AuditEntry{User: "tester", Host: "test-host"}); err != nil {
		t.Fatal(err)
	}
	f.cycle(w)
	if p := f.hooks.previous("/hook", "alpha"); !cmp.Equal(p, []string{"UNKNOWN"}) {
		t.Errorf("silence removed: alpha's alert says it was %v, want UNKNOWN: the alert had told nothing of alpha", p)
	}
	if got := f.hooks.take(); !cmp.Equal(got, []string{"/hook: alpha CRITICAL"}) {
		t.Errorf("silence removed: sent %v, want the still-open alpha CRITICAL", got)
	}
	if n := w.Status().Checks["alpha"].Notification; n != "notified" {
		t.Errorf("after delivery: notification %q, want notified", n)
	}

	// A silence that ends by itself (the watch's clock passes its end).
	clk.add(10 * time.Minute) // a RECOVERED waits for a flap window without alerts
	f.set("alpha", true)
	f.cycle(w)
	f.hooks.take()
	if _, err := store.AddSilence(ctx, state.Silence{Reason: "all", By: "tester", Host: "test-host", End: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.set("alpha", false)
	f.cycle(w)
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("silenced (all checks): sent %v, want nothing", got)
	}
	clk.add(2 * time.Hour)
	f.cycle(w)
	if got := f.hooks.take(); !cmp.Equal(got, []string{"/hook: alpha CRITICAL"}) {
		t.Errorf("silence ended: sent %v, want alpha CRITICAL", got)
	}
}

// TestMaintenanceWindow: an alert sends nothing during its maintenance
// window (cron and duration); a problem still open when it closes goes
// out then. Another alert without the window is not held back.
func TestMaintenanceWindow(t *testing.T) {
	f := newFixture(t, "maintenance_cron=30 3 * * *") // 03:30 UTC for 2h
	clk := &clock{now: time.Date(2026, 3, 2, 3, 0, 0, 0, time.UTC)}
	w := f.watcher(func(o *watch.Options) { o.Now = clk.Now })
	f.cycle(w)
	clk.add(40 * time.Minute) // 03:40
	f.set("alpha", false)
	f.cycle(w)
	if got := alphaOnHook(f.hooks.take()); len(got) != 0 {
		t.Errorf("in the window: /hook got %v, want nothing", got)
	}
	if st := w.Status(); !st.Alerts["hook"].InMaintenance {
		t.Errorf("/healthz: got %+v, want the hook alert in maintenance", st.Alerts["hook"])
	}
	clk.add(2 * time.Hour) // 05:40
	f.cycle(w)
	if got := alphaOnHook(f.hooks.take()); !cmp.Equal(got, []string{"CRITICAL"}) {
		t.Errorf("after the window: /hook got %v, want alpha CRITICAL", got)
	}
}

// TestExpiredAlertIsNotNotifiedAndIsSentAgain: a CRITICAL the queue gave
// up on (here: expired while the receiver was down) reached no one:
// /healthz says "dropped" with why, not "notified"; once the receiver is
// back, the next cycle sends the still-open problem.
func TestExpiredAlertIsNotNotifiedAndIsSentAgain(t *testing.T) {
	f := newFixture(t)
	w := f.watcher(func(o *watch.Options) {
		o.Sender.Policy = alert.Policy{BaseDelay: 10 * time.Millisecond, MaxDelay: 20 * time.Millisecond}
		o.PendingFor = 100 * time.Millisecond
	})
	f.cycle(w)
	f.hooks.setDown(true)
	f.set("alpha", false)
	f.cycle(w)
	deadline := time.Now().Add(10 * time.Second)
	for w.Status().Checks["alpha"].Notification != "dropped" {
		if time.Now().After(deadline) {
			t.Fatalf("the alpha CRITICAL was never shown dropped: %+v", w.Status().Checks["alpha"])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := w.Status().Checks["alpha"]; !strings.Contains(st.NotificationError, "not delivered within 100ms; last error:") ||
		!strings.Contains(st.NotificationError, "503") {
		t.Errorf("dropped: notification error %q, want why, with the receiver's last error", st.NotificationError)
	}
	f.hooks.setDown(false)
	f.hooks.take()
	f.cycle(w)
	if got := f.hooks.take(); !cmp.Equal(got, []string{"/hook: alpha CRITICAL"}) {
		t.Errorf("the receiver is back and alpha still CRITICAL: sent %v, want alpha CRITICAL", got)
	}
	if st := w.Status().Checks["alpha"]; st.Notification != "notified" || st.NotificationError != "" {
		t.Errorf("after delivery: got %+v, want notified", st)
	}
	f.cycle(w)
	if got := f.hooks.take(); len(got) != 0 {
		t.Errorf("delivered once: a further cycle sent %v, want nothing", got)
	}
}

// TestRejectedAlertShowsDropped: a receiver that refuses the alert (400:
// a wrong PagerDuty routing key, a revoked Slack webhook) is not retried
// at once, but /healthz does not read "CRITICAL, notified": it says
// "dropped" with the receiver's error, the alert's last_error keeps it,
// and each cycle tries the still-open problem again.
func TestRejectedAlertShowsDropped(t *testing.T) {
	var mu sync.Mutex
	hits := 0
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hook" {
			return
		}
		mu.Lock()
		hits++
		mu.Unlock()
		http.Error(w, "invalid routing key", http.StatusBadRequest)
	}))
	defer bad.Close()
	f := newFixture(t, "hook_url="+bad.URL+"/hook")
	w := f.watcher(nil)
	f.cycle(w)
	f.set("alpha", false)
	f.cycle(w)
	wait := func() {
		deadline := time.Now().Add(10 * time.Second)
		for w.Status().Checks["alpha"].Notification != "dropped" && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait()
	st := w.Status()
	if a := st.Checks["alpha"]; a.Notification != "dropped" || !strings.Contains(a.NotificationError, "the receiver refused it") ||
		!strings.Contains(a.NotificationError, "400") {
		t.Errorf("healthz alpha: got %+v, want dropped with the 400", a)
	}
	if a := st.Alerts["hook"]; a.Failing || !strings.Contains(a.LastError, "400") || a.LastErrorAt == nil {
		t.Errorf("healthz alert: got %+v, want not retried, with the 400 as its last error", a)
	}
	f.cycle(w)
	wait()
	mu.Lock()
	defer mu.Unlock()
	if hits != 2 {
		t.Errorf("receiver hits: got %d, want 2: one per cycle while alpha stays CRITICAL", hits)
	}
}

// TestFirstAlertSaysWasUnknown: a check CRITICAL at the watch's first
// cycle is alerted as "was UNKNOWN", as the watch's own event says, not
// "was CRITICAL", which reads as "nothing changed".
func TestFirstAlertSaysWasUnknown(t *testing.T) {
	f := newFixture(t)
	f.set("alpha", false)
	w := f.watcher(nil)
	c := f.cycle(w)
	if len(c.Events) != 1 || c.Events[0].Previous != "UNKNOWN" {
		t.Errorf("the cycle's events: got %+v, want alpha was UNKNOWN", c.Events)
	}
	if p := f.hooks.previous("/hook", "alpha"); !cmp.Equal(p, []string{"UNKNOWN"}) {
		t.Errorf("alpha's first alert says it was %v, want UNKNOWN", p)
	}
}

// TestStateOfAnEarlierVersion: a state saved before alerts had queues
// keeps its meaning: an alert hears the recovery of a problem it was told
// (its "open" checks), not of one its `on` left out.
func TestStateOfAnEarlierVersion(t *testing.T) {
	f := newFixture(t)
	f.vars = append(f.vars, "critical_url="+f.hooks.URL+"/critical")
	old := `{"version":1,"health":"WARNING","checks":{
  "alpha":{"health":"HEALTHY","status":"passed","since":"2026-03-02T12:00:00Z"},
  "beta":{"health":"WARNING","status":"warning","since":"2026-03-02T12:00:00Z","notified":"WARNING"},
  "gamma":{"health":"HEALTHY","status":"passed","since":"2026-03-02T12:00:00Z"}},
 "alerts":{
  "hook":{"time":"2026-03-02T12:00:00Z","health":"WARNING","events":["beta WARNING"],"delivered":true,"attempts":1,"open":{"beta":true}},
  "recoveries":{"time":"2026-03-02T12:00:00Z","health":"WARNING","events":[],"delivered":true,"attempts":0,"open":{}},
  "critical":{"time":"2026-03-02T12:00:00Z","health":"WARNING","events":[],"delivered":true,"attempts":0,"open":{}}},
 "last_cycle":"2026-03-02T12:00:00Z","cycles":3}`
	if err := state.NewDir(f.state).SaveWatch(context.Background(), "flags", []byte(old)); err != nil {
		t.Fatal(err)
	}
	w := f.watcher(nil)
	f.cycle(w)
	got := f.hooks.take()
	sort.Strings(got)
	if d := cmp.Diff([]string{"/hook/recoveries: beta RECOVERED", "/hook: beta RECOVERED"}, got); d != "" {
		t.Errorf("beta's recovery (-want +got):\n%s", d)
	}
}
