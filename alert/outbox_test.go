package alert_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/alert"
)

// stamped is a receiver that records when each request came.
type stamped struct {
	*receiver
	times []time.Time
}

func newStamped(t *testing.T, answer func(n int, w http.ResponseWriter)) *stamped {
	s := &stamped{}
	s.receiver = newReceiver(t, func(n int, w http.ResponseWriter) {
		s.mu.Lock()
		s.times = append(s.times, time.Now())
		s.mu.Unlock()
		if answer != nil {
			answer(n, w)
		}
	})
	return s
}

// run starts an outbox's worker until the test ends.
func run(t *testing.T, ob *alert.Outbox) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ob.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func flush(t *testing.T, ob *alert.Outbox) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ob.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

func note(ts ...alert.Transition) *alert.Notification {
	return &alert.Notification{Runbook: "r", Health: "CRITICAL", Time: time.Now(), Transitions: ts}
}

func tr(check, event string) alert.Transition {
	health := event
	if event == "RECOVERED" {
		health = "HEALTHY"
	}
	return alert.Transition{Check: check, Event: event, Health: health}
}

// events lists a webhook body's transitions as "check EVENT".
func events(t *testing.T, body []byte) []string {
	t.Helper()
	var p struct{ Transitions []alert.Transition }
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, x := range p.Transitions {
		out = append(out, x.Check+" "+x.Event)
	}
	return out
}

// TestOutboxRateLimitBatchesAndCoalesces: over the rate limit, what waits
// goes out in one message when the limit allows, one transition per
// check (the latest), nothing dropped.
func TestOutboxRateLimitBatchesAndCoalesces(t *testing.T) {
	rcv := newStamped(t, nil)
	_, alerts, diags := load(t, `
runbook "r" {}
variable "url" {}
alert "hook" {
  webhook {
    url        = var.url
    rate_limit = "1/500ms"
  }
}
`, "url="+rcv.URL)
	if diags != "" {
		t.Fatal(diags)
	}
	ob := alert.NewOutbox(alerts[0], &alert.Sender{}, alert.OutboxOptions{})
	run(t, ob)
	ob.Enqueue(note(tr("c1", "CRITICAL")))
	flush(t, ob)
	for _, n := range []*alert.Notification{
		note(tr("c2", "CRITICAL")), note(tr("c3", "WARNING")), note(tr("c1", "RECOVERED")), note(tr("c2", "RECOVERED")),
	} {
		ob.Enqueue(n)
	}
	flush(t, ob)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bodies) != 2 {
		t.Fatalf("got %d messages, want 2 (the first, then one batch)", len(rcv.bodies))
	}
	if d := cmp.Diff([]string{"c1 CRITICAL"}, events(t, rcv.bodies[0])); d != "" {
		t.Errorf("first message (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"c2 RECOVERED", "c3 WARNING", "c1 RECOVERED"}, events(t, rcv.bodies[1])); d != "" {
		t.Errorf("batch (-want +got):\n%s", d)
	}
	// The limit spaces the sends; the receiver sees arrivals, and the
	// first one also waited for its connection to be set up: allow for it.
	if gap := rcv.times[1].Sub(rcv.times[0]); gap < 400*time.Millisecond {
		t.Errorf("second message %s after the first, want about the rate limit's 500ms", gap)
	}
	if s := ob.Stats(); s.Queued != 0 || s.Drops != 0 || s.Attempts != 2 {
		t.Errorf("stats: got %+v, want nothing queued or dropped and 2 attempts", s)
	}
}

// TestOutboxPagerDuty: one event per check (its latest state), each with
// the check's dedup_key, each one attempt against the rate limit.
func TestOutboxPagerDuty(t *testing.T) {
	rcv := newStamped(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) })
	_, alerts, diags := load(t, `
runbook "r" {}
variable "url" {}
alert "pd" {
  pagerduty {
    routing_key = "R0UT1NG"
    url         = var.url
  }
}
`, "url="+rcv.URL)
	if diags != "" {
		t.Fatal(diags)
	}
	ob := alert.NewOutbox(alerts[0], &alert.Sender{}, alert.OutboxOptions{})
	ob.Enqueue(note(tr("a", "CRITICAL"), tr("b", "CRITICAL"), tr("c", "WARNING")))
	ob.Enqueue(note(tr("a", "RECOVERED")))
	run(t, ob)
	flush(t, ob)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	var got []string
	for _, b := range rcv.bodies {
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		got = append(got, ev["dedup_key"].(string)+" "+ev["event_action"].(string))
	}
	want := []string{"runbook/r/a resolve", "runbook/r/b trigger", "runbook/r/c trigger"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	if s := ob.Stats(); s.Attempts != 3 {
		t.Errorf("attempts: got %d, want 3: each event counts against the rate limit", s.Attempts)
	}
}

// TestOutboxDrops: a full queue drops its oldest check, a rejected
// message (4xx) is not retried, a transition waiting too long is dropped;
// each is reported and counted.
func TestOutboxDrops(t *testing.T) {
	t.Run("overflow", func(t *testing.T) {
		a, _ := alert.NewWebhook("hook", "http://127.0.0.1:1/never")
		var got []alert.Delivery
		ob := alert.NewOutbox(a, &alert.Sender{}, alert.OutboxOptions{Limit: 2, Report: func(d alert.Delivery) { got = append(got, d) }})
		ob.Enqueue(note(tr("a", "CRITICAL"), tr("b", "CRITICAL")))
		ob.Enqueue(note(tr("b", "RECOVERED"))) // replaces b: no overflow
		ob.Enqueue(note(tr("c", "CRITICAL")))
		if s := ob.Stats(); s.Queued != 2 || s.Drops != 1 || !cmp.Equal(s.Checks, []string{"b", "c"}) {
			t.Errorf("stats: got %+v, want b and c queued, one drop", s)
		}
		if len(got) != 1 || got[0].Dropped != alert.DropOverflow || got[0].Transitions[0].Check != "a" {
			t.Errorf("reports: got %+v, want a dropped for overflow", got)
		}
	})
	t.Run("rejected", func(t *testing.T) {
		rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusBadRequest) })
		a, _ := alert.NewWebhook("hook", rcv.URL)
		reports := make(chan alert.Delivery, 10)
		ob := alert.NewOutbox(a, &alert.Sender{}, alert.OutboxOptions{Report: func(d alert.Delivery) { reports <- d }})
		run(t, ob)
		ob.Enqueue(note(tr("a", "CRITICAL")))
		d := <-reports
		flush(t, ob)
		if d.Dropped != alert.DropRejected || d.Err == nil || !strings.Contains(d.Err.Error(), "400") {
			t.Errorf("report: got %+v, want rejected with the 400", d)
		}
		if rcv.hits() != 1 || ob.Stats().Queued != 0 {
			t.Errorf("got %d attempts, %d queued; want 1 and none", rcv.hits(), ob.Stats().Queued)
		}
	})
	t.Run("expired", func(t *testing.T) {
		rcv := newReceiver(t, nil)
		a, _ := alert.NewWebhook("hook", rcv.URL)
		ft := &fakeTime{now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
		reports := make(chan alert.Delivery, 10)
		ob := alert.NewOutbox(a, &alert.Sender{Now: ft.Now}, alert.OutboxOptions{MaxAge: time.Hour, Report: func(d alert.Delivery) { reports <- d }})
		ob.Enqueue(note(tr("a", "CRITICAL")))
		ft.Sleep(context.Background(), 61*time.Minute)
		run(t, ob)
		d := <-reports
		if d.Dropped != alert.DropExpired || rcv.hits() != 0 {
			t.Errorf("report: got %+v and %d requests, want a dropped as expired, nothing sent", d, rcv.hits())
		}
	})
}

// TestOutboxCoalescedTransitionKeepsItsOwnAge: a transition that replaces
// an older one of its check does not inherit the older one's queue time.
// Check a went CRITICAL at 12:00 (undelivered), RECOVERED at 12:59; at
// 13:01 the RECOVERED is two minutes old, well within MaxAge (1h): it is
// delivered, not dropped as expired.
func TestOutboxCoalescedTransitionKeepsItsOwnAge(t *testing.T) {
	rcv := newReceiver(t, nil)
	a, _ := alert.NewWebhook("hook", rcv.URL)
	ft := &fakeTime{now: time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)}
	reports := make(chan alert.Delivery, 10)
	ob := alert.NewOutbox(a, &alert.Sender{Now: ft.Now}, alert.OutboxOptions{MaxAge: time.Hour, Report: func(d alert.Delivery) { reports <- d }})
	ob.Enqueue(note(tr("a", "CRITICAL")))
	_ = ft.Sleep(context.Background(), 59*time.Minute)
	ob.Enqueue(note(tr("a", "RECOVERED")))
	if s := ob.Stats(); !s.Oldest.Equal(ft.Now()) {
		t.Errorf("oldest queued: got %s, want %s, when the RECOVERED was queued", s.Oldest, ft.Now())
	}
	if p := ob.Save().Pending; len(p) != 1 || !p[0].Time.Equal(ft.Now()) {
		t.Errorf("saved: got %+v, want the RECOVERED queued at %s", p, ft.Now())
	}
	_ = ft.Sleep(context.Background(), 2*time.Minute)
	run(t, ob)
	d := <-reports
	if d.Dropped != "" || d.Err != nil || len(d.Transitions) != 1 || d.Transitions[0].Event != "RECOVERED" {
		t.Fatalf("got %+v (dropped %q), want the 2-minute-old RECOVERED delivered", d.Transitions, d.Dropped)
	}
}

// TestOutboxSaveRestore: what a queue holds, and a Retry-After in force,
// survive a new process.
func TestOutboxSaveRestore(t *testing.T) {
	a, _ := alert.NewWebhook("hook", "http://127.0.0.1:1/never")
	ob := alert.NewOutbox(a, &alert.Sender{}, alert.OutboxOptions{})
	ob.Enqueue(note(tr("a", "CRITICAL"), tr("b", "WARNING")))
	saved := ob.Save()
	saved.NotBefore, saved.RetryAfter = time.Now().Add(time.Hour), true
	data, err := json.Marshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	var back alert.Saved
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	ob2 := alert.NewOutbox(a, &alert.Sender{}, alert.OutboxOptions{})
	ob2.Restore(back, alert.Notification{Runbook: "r"})
	s := ob2.Stats()
	if s.Queued != 2 || !s.RetryAfter || !s.NotBefore.Equal(back.NotBefore) {
		t.Errorf("restored: got %+v, want 2 queued, held by the Retry-After", s)
	}
	// Held by a Retry-After, Flush does not wait for it.
	flush(t, ob2)
}

func TestSettings(t *testing.T) {
	tests := []struct {
		name, block string
		want        alert.Rate
		flap        alert.Flap
		windows     int
		err         string
	}{
		{name: "webhook defaults", block: `webhook { url = "http://h/x" }`,
			want: alert.Rate{N: 60, Per: time.Minute}, flap: alert.Flap{Threshold: 4, Window: 10 * time.Minute}},
		{name: "slack: one a second", block: `slack { url = "https://hooks.slack.com/x" }`,
			want: alert.Rate{N: 1, Per: time.Second}, flap: alert.Flap{Threshold: 4, Window: 10 * time.Minute}},
		{name: "pagerduty: well under its limit", block: `pagerduty { routing_key = "k" }`,
			want: alert.Rate{N: 60, Per: time.Minute}, flap: alert.Flap{Threshold: 4, Window: 10 * time.Minute}},
		{name: "set", block: `webhook {
  url            = "http://h/x"
  rate_limit     = "5/m"
  flap_threshold = 0
  flap_window    = "30m"
  maintenance {
    cron     = "0 3 * * SUN"
    duration = "2h"
  }
  maintenance {
    cron     = "CRON_TZ=Europe/Paris 30 1 1 * *"
    duration = "30m"
  }
}`, want: alert.Rate{N: 5, Per: time.Minute}, flap: alert.Flap{Threshold: 0, Window: 30 * time.Minute}, windows: 2},
		{name: "bad rate", block: `webhook {
  url        = "http://h/x"
  rate_limit = "lots"
}`, err: `rate_limit: "lots" is not COUNT/DURATION`},
		{name: "pagerduty too fast", block: `pagerduty {
  routing_key = "k"
  rate_limit  = "3/1s"
}`, err: "faster than PagerDuty accepts"},
		{name: "negative threshold", block: `webhook {
  url            = "http://h/x"
  flap_threshold = -1
}`, err: "flap_threshold must be a whole number"},
		{name: "bad cron", block: `webhook {
  url = "http://h/x"
  maintenance {
    cron     = "every sunday"
    duration = "2h"
  }
}`, err: `maintenance: cron "every sunday"`},
		{name: "bad duration", block: `webhook {
  url = "http://h/x"
  maintenance {
    cron     = "@daily"
    duration = "two hours"
  }
}`, err: `maintenance: duration: "two hours" is not a duration`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, alerts, diags := load(t, "runbook \"r\" {}\nalert \"a\" {\n"+tt.block+"\n}\n")
			if tt.err != "" {
				if !strings.Contains(diags, tt.err) {
					t.Errorf("diagnostics: got %q, want %q", diags, tt.err)
				}
				return
			}
			if diags != "" {
				t.Fatal(diags)
			}
			a := alerts[0]
			if a.Rate != tt.want || a.Flap != tt.flap || len(a.Windows) != tt.windows {
				t.Errorf("got rate %v flap %+v windows %d, want %v %+v %d", a.Rate, a.Flap, len(a.Windows), tt.want, tt.flap, tt.windows)
			}
		})
	}
}

// TestMaintenanceWindowEveryRefused: robfig/cron reads "@every D" as "D
// after the time asked about", so such a window would never be open; it
// is refused when the runbook is loaded, not silently never applied.
func TestMaintenanceWindowEveryRefused(t *testing.T) {
	for _, expr := range []string{"@every 1h", "CRON_TZ=Europe/Paris @every 30m", " @every 1h"} {
		_, err := alert.ParseWindow(expr, 30*time.Minute)
		if err == nil || !strings.Contains(err.Error(), "@every names an interval") {
			t.Errorf("ParseWindow(%q): got %v, want @every refused", expr, err)
		}
	}
	_, _, diags := load(t, `runbook "r" {}
alert "a" {
  webhook {
    url = "http://h/x"
    maintenance {
      cron     = "@every 1h"
      duration = "30m"
    }
  }
}
`)
	if !strings.Contains(diags, `Invalid webhook alert; maintenance: cron "@every 1h": @every names an interval`) {
		t.Errorf("diagnostics: got %q, want the @every window refused", diags)
	}
}

func TestMaintenanceWindowActive(t *testing.T) {
	w, err := alert.ParseWindow("0 3 * * SUN", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	sunday := func(h, m int) time.Time { return time.Date(2026, 3, 1, h, m, 0, 0, time.UTC) } // a Sunday
	tests := []struct {
		at     time.Time
		active bool
		end    time.Time
	}{
		{at: sunday(2, 59)},
		{at: sunday(3, 0), active: true, end: sunday(5, 0)},
		{at: sunday(4, 59), active: true, end: sunday(5, 0)},
		{at: sunday(5, 0)},
		{at: sunday(3, 0).Add(24 * time.Hour)}, // Monday
	}
	for _, tt := range tests {
		t.Run(tt.at.Format(time.RFC3339), func(t *testing.T) {
			active, end := w.Active(tt.at)
			if active != tt.active || !end.Equal(tt.end) {
				t.Errorf("got %v until %s, want %v until %s", active, end, tt.active, tt.end)
			}
		})
	}
	paris, err := alert.ParseWindow("CRON_TZ=Europe/Paris 0 3 * * *", time.Hour)
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	if ok, _ := paris.Active(time.Date(2026, 3, 2, 2, 30, 0, 0, time.UTC)); !ok {
		t.Error("03:00 in Paris is 02:00 UTC in March: 02:30 UTC is in the window")
	}
}

// TestFlappingPayloads: PagerDuty triggers a FLAPPING check with the
// severity of its health now (an empty severity would be refused); Slack
// and the webhook summary name it FLAPPING.
func TestFlappingPayloads(t *testing.T) {
	rcv := newReceiver(t, nil)
	_, alerts, diags := load(t, `
runbook "r" {}
variable "url" {}
alert "pd" {
  pagerduty {
    routing_key = "k"
    url         = var.url
  }
}
alert "chat" {
  slack {
    url = var.url
  }
}
`, "url="+rcv.URL)
	if diags != "" {
		t.Fatal(diags)
	}
	n := note(alert.Transition{Check: "a", Event: alert.EventFlapping, Health: "CRITICAL", Previous: "HEALTHY"})
	for _, a := range alerts {
		if res := (&alert.Sender{}).Send(context.Background(), a, n); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	var ev struct {
		Action  string `json:"event_action"`
		Payload struct{ Severity string }
	}
	if err := json.Unmarshal(rcv.bodies[0], &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Action != "trigger" || ev.Payload.Severity != "critical" {
		t.Errorf("pagerduty: got %+v, want a critical trigger", ev)
	}
	if !strings.Contains(string(rcv.bodies[1]), "`a` is FLAPPING (now CRITICAL)") {
		t.Errorf("slack: got %s", rcv.bodies[1])
	}
	if got := n.Headline(); got != "CRITICAL r: a FLAPPING" {
		t.Errorf("headline: got %q", got)
	}
}
