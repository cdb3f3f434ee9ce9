package alert_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
)

// receiver is a real HTTP server that records what it is sent and answers
// with what answer returns.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	heads  []http.Header
	answer func(n int, w http.ResponseWriter)
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter)) *receiver {
	t.Helper()
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, body)
		r.heads = append(r.heads, req.Header.Clone())
		n := len(r.bodies)
		r.mu.Unlock()
		if r.answer != nil {
			r.answer(n, w)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) hits() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// fakeTime is an injected clock: Sleep advances it instead of waiting.
type fakeTime struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (f *fakeTime) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeTime) Sleep(ctx context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps = append(f.sleeps, d)
	f.now = f.now.Add(d)
	return ctx.Err()
}

func newSender(ft *fakeTime, secrets ...string) *alert.Sender {
	return &alert.Sender{
		Redactor:  engine.NewRedactor(secrets),
		Sleep:     ft.Sleep,
		Now:       ft.Now,
		Jitter:    func() float64 { return 0.5 },
		UserAgent: "runbook-test",
	}
}

// load binds a runbook source and loads its alerts.
func load(t *testing.T, src string, vars ...string) (*engine.Bound, []*alert.Alert, string) {
	t.Helper()
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.LoadSource("alerts.hcl", []byte(src), reg)
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{Vars: vars})
	if diags.HasErrors() {
		t.Fatalf("bind: %s", diags.Error())
	}
	alerts, diags := alert.Load(b)
	var msgs []string
	for _, d := range diags {
		msgs = append(msgs, d.Error())
	}
	return b, alerts, strings.Join(msgs, "\n")
}

func notification(msg string) *alert.Notification {
	return &alert.Notification{
		Runbook: "shadow-monitor", Title: "Shadow run", Host: "ops-1",
		Time:   time.Date(2025, 12, 2, 13, 12, 19, 0, time.UTC),
		Health: "CRITICAL", PreviousHealth: "HEALTHY", RunID: "20251202T131219Z-3f9a",
		Transitions: []alert.Transition{
			{Event: "CRITICAL", Check: "mismatches", Health: "CRITICAL", Previous: "HEALTHY", Status: "failed", Message: msg,
				Playbooks: []alert.Playbook{{Name: "mismatch", Auto: false, Action: "offered", Command: "runbook exec x --playbook mismatch"}},
				Time:      time.Date(2025, 12, 2, 13, 12, 19, 0, time.UTC)},
			{Event: "WARNING", Check: "disk_tmp", Health: "WARNING", Previous: "HEALTHY", Status: "warning", Message: "/tmp is 91% full"},
		},
	}
}

func TestWebhookPayloadSignedAndRedacted(t *testing.T) {
	rcv := newReceiver(t, nil)
	_, alerts, diags := load(t, `
runbook "r" {}
variable "url" {}
variable "secret" {
  sensitive = true
}
alert "oncall" {
  webhook {
    url         = var.url
    hmac_secret = var.secret
    headers     = { "X-Team" = "ops" }
  }
  on = ["CRITICAL"]
}
`, "url="+rcv.URL+"/hook", "secret=s3cr3t-key")
	if diags != "" {
		t.Fatal(diags)
	}
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want 1", len(alerts))
	}
	a := alerts[0]
	n := notification("token s3cr3t-key leaked in the log").Filter(a.Wants)
	res := newSender(&fakeTime{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}, "s3cr3t-key").Send(context.Background(), a, n)
	if res.Err != nil || res.Attempts != 1 {
		t.Fatalf("send: got attempts %d err %v, want 1 attempt and no error", res.Attempts, res.Err)
	}
	body, head := rcv.bodies[0], rcv.heads[0]
	ts, sig := head.Get(alert.TimestampHeader), head.Get(alert.SignatureHeader)
	sent := time.Unix(fakeTimeUnix(t, ts), 0)
	if want := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC); !sent.Equal(want) {
		t.Errorf("timestamp header: got %s want %s (the sender's clock)", sent, want)
	}
	if !alert.Verify([]byte("s3cr3t-key"), body, ts, sig, sent.Add(time.Minute), alert.DefaultTolerance) {
		t.Errorf("signature %q with timestamp %q does not verify", sig, ts)
	}
	if alert.Verify([]byte("other"), body, ts, sig, sent, alert.DefaultTolerance) {
		t.Error("signature verifies under another secret")
	}
	// A captured request replayed later is refused, and so is the same
	// signature under a fresher timestamp.
	if alert.Verify([]byte("s3cr3t-key"), body, ts, sig, sent.Add(alert.DefaultTolerance+time.Second), alert.DefaultTolerance) {
		t.Error("an old signed request verifies past the tolerance")
	}
	fresh := strconv.FormatInt(sent.Add(time.Hour).Unix(), 10)
	if alert.Verify([]byte("s3cr3t-key"), body, fresh, sig, sent.Add(time.Hour), alert.DefaultTolerance) {
		t.Error("the signature verifies with another timestamp: it does not cover it")
	}
	if got := head.Get("X-Team"); got != "ops" {
		t.Errorf("X-Team header: got %q want %q", got, "ops")
	}
	if strings.Contains(string(body), "s3cr3t") {
		t.Errorf("payload holds the secret: %s", body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	tr := got["transitions"].([]any)
	if len(tr) != 1 {
		t.Fatalf("got %d transitions, want only the CRITICAL one: %s", len(tr), body)
	}
	want := map[string]any{
		"event": "CRITICAL", "check": "mismatches", "health": "CRITICAL", "previous": "HEALTHY",
		"status": "failed", "message": "token (sensitive) leaked in the log",
		"playbooks": []any{map[string]any{"name": "mismatch", "auto": false, "action": "offered", "command": "runbook exec x --playbook mismatch"}},
		"time":      "2025-12-02T13:12:19Z",
	}
	if d := cmp.Diff(want, tr[0]); d != "" {
		t.Errorf("transition (-want +got):\n%s", d)
	}
	for k, v := range map[string]any{"version": float64(1), "alert": "oncall", "runbook": "shadow-monitor", "health": "CRITICAL", "host": "ops-1"} {
		if got[k] != v {
			t.Errorf("payload %s: got %v want %v", k, got[k], v)
		}
	}
}

// fakeTimeUnix parses a timestamp header.
func fakeTimeUnix(t *testing.T, ts string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		t.Fatalf("timestamp header %q: %v", ts, err)
	}
	return n
}

func TestSlackPayload(t *testing.T) {
	rcv := newReceiver(t, nil)
	_, alerts, diags := load(t, `
runbook "r" {}
variable "slack_url" {
  sensitive = true
}
alert "chat" {
  slack {
    url = var.slack_url
  }
}
`, "slack_url="+rcv.URL+"/services/T0/B0/xyz")
	if diags != "" {
		t.Fatal(diags)
	}
	res := newSender(&fakeTime{}, rcv.URL+"/services/T0/B0/xyz").Send(context.Background(), alerts[0], notification("3 lines <a> & more"))
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	var got struct{ Text string }
	if err := json.Unmarshal(rcv.bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"*shadow-monitor on ops-1*: CRITICAL (was HEALTHY)", "`mismatches` is CRITICAL (was HEALTHY): 3 lines &lt;a&gt; &amp; more",
		"playbook `mismatch` offered: `runbook exec x --playbook mismatch`", ":large_yellow_circle: `disk_tmp` is WARNING"} {
		if !strings.Contains(got.Text, want) {
			t.Errorf("slack text lacks %q:\n%s", want, got.Text)
		}
	}
}

func TestPagerDutyTriggerAndResolve(t *testing.T) {
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) })
	_, alerts, diags := load(t, `
runbook "r" {}
variable "pd_key" {
  sensitive = true
}
variable "pd_url" {}
alert "pager" {
  pagerduty {
    routing_key = var.pd_key
    url         = var.pd_url
  }
  on = ["CRITICAL", "RECOVERED"]
}
`, "pd_key=R0UT1NGKEY", "pd_url="+rcv.URL+"/v2/enqueue")
	if diags != "" {
		t.Fatal(diags)
	}
	a := alerts[0]
	s := newSender(&fakeTime{}, "R0UT1NGKEY")
	trig := notification("R0UT1NGKEY in a message").Filter(a.Wants)
	if res := s.Send(context.Background(), a, trig); res.Err != nil || res.Requests != 1 {
		t.Fatalf("trigger: got %+v", res)
	}
	rec := &alert.Notification{Runbook: "shadow-monitor", Health: "HEALTHY", PreviousHealth: "CRITICAL",
		Transitions: []alert.Transition{{Event: "RECOVERED", Check: "mismatches", Health: "HEALTHY", Previous: "CRITICAL", Status: "passed"}}}
	if res := s.Send(context.Background(), a, rec.Filter(a.Wants)); res.Err != nil {
		t.Fatal(res.Err)
	}
	if rcv.hits() != 2 {
		t.Fatalf("got %d requests, want 2", rcv.hits())
	}
	var ev [2]map[string]any
	for i := range ev {
		if err := json.Unmarshal(rcv.bodies[i], &ev[i]); err != nil {
			t.Fatal(err)
		}
		if ev[i]["routing_key"] != "R0UT1NGKEY" {
			t.Errorf("event %d routing_key: got %v want the real key", i, ev[i]["routing_key"])
		}
		if ev[i]["dedup_key"] != "runbook/shadow-monitor/mismatches" {
			t.Errorf("event %d dedup_key: got %v", i, ev[i]["dedup_key"])
		}
	}
	if ev[0]["event_action"] != "trigger" || ev[1]["event_action"] != "resolve" {
		t.Errorf("actions: got %v, %v want trigger, resolve", ev[0]["event_action"], ev[1]["event_action"])
	}
	p := ev[0]["payload"].(map[string]any)
	if p["severity"] != "critical" || p["source"] != "ops-1" || p["component"] != "mismatches" {
		t.Errorf("payload: got %v", p)
	}
	if s := p["summary"].(string); s != "shadow-monitor: mismatches is CRITICAL: (sensitive) in a message" {
		t.Errorf("summary: got %q", s)
	}
}

func TestRetries(t *testing.T) {
	start := time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		// answer is given the request number and the fake time.
		answer       func(n int, now time.Time, w http.ResponseWriter)
		wantAttempts int
		wantErr      string // "" means delivered
		wantSleeps   []time.Duration
	}{
		{
			name: "503 twice then accepted",
			answer: func(n int, _ time.Time, w http.ResponseWriter) {
				if n <= 2 {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			},
			wantAttempts: 3,
			// Jitter 0.5: three quarters of 1s, then of 2s.
			wantSleeps: []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond},
		},
		{
			name: "429 with Retry-After seconds",
			answer: func(n int, _ time.Time, w http.ResponseWriter) {
				if n == 1 {
					w.Header().Set("Retry-After", "120")
					w.WriteHeader(http.StatusTooManyRequests)
				}
			},
			wantAttempts: 2,
			wantSleeps:   []time.Duration{120 * time.Second},
		},
		{
			name: "503 with Retry-After date",
			answer: func(n int, now time.Time, w http.ResponseWriter) {
				if n == 1 {
					w.Header().Set("Retry-After", now.Add(30*time.Second).Format(http.TimeFormat))
					w.WriteHeader(http.StatusServiceUnavailable)
				}
			},
			wantAttempts: 2,
			wantSleeps:   []time.Duration{30 * time.Second},
		},
		{
			name: "Retry-After past the budget gives up",
			answer: func(_ int, _ time.Time, w http.ResponseWriter) {
				w.Header().Set("Retry-After", "3600")
				w.WriteHeader(http.StatusTooManyRequests)
			},
			wantAttempts: 1,
			wantErr:      "past the 5m0s retry budget: receiver answered 429 Too Many Requests",
		},
		{
			name: "400 is not retried",
			answer: func(_ int, _ time.Time, w http.ResponseWriter) {
				http.Error(w, "invalid routing key", http.StatusBadRequest)
			},
			wantAttempts: 1,
			wantErr:      "receiver answered 400 Bad Request: invalid routing key",
		},
		{
			name: "down for ten minutes",
			answer: func(_ int, now time.Time, w http.ResponseWriter) {
				if now.Before(start.Add(10 * time.Minute)) {
					w.WriteHeader(http.StatusBadGateway)
				}
			},
			wantAttempts: 5,
			wantErr:      "gave up after 5 attempts: receiver answered 502 Bad Gateway",
			wantSleeps:   []time.Duration{750 * time.Millisecond, 1500 * time.Millisecond, 3 * time.Second, 6 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ft := &fakeTime{now: start}
			rcv := newReceiver(t, func(n int, w http.ResponseWriter) { tt.answer(n, ft.Now(), w) })
			a, err := alert.NewWebhook("hook", rcv.URL)
			if err != nil {
				t.Fatal(err)
			}
			res := newSender(ft).Send(context.Background(), a, notification("x"))
			if res.Attempts != tt.wantAttempts || rcv.hits() != tt.wantAttempts {
				t.Errorf("attempts: got %d (receiver saw %d) want %d", res.Attempts, rcv.hits(), tt.wantAttempts)
			}
			gotErr := ""
			if res.Err != nil {
				gotErr = res.Err.Error()
			}
			if (tt.wantErr == "") != (gotErr == "") || !strings.Contains(gotErr, tt.wantErr) {
				t.Errorf("error: got %q want %q", gotErr, tt.wantErr)
			}
			if d := cmp.Diff(tt.wantSleeps, ft.sleeps); d != "" {
				t.Errorf("sleeps (-want +got):\n%s", d)
			}
		})
	}
}

// TestOutageIsNotAStorm sends an alert a minute for the ten minutes a
// receiver is down: each gets a bounded number of attempts, and the one
// sent after it is back gets through at once.
func TestOutageIsNotAStorm(t *testing.T) {
	start := time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)
	ft := &fakeTime{now: start}
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) {
		if ft.Now().Before(start.Add(10 * time.Minute)) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	a, _ := alert.NewWebhook("hook", rcv.URL)
	s := newSender(ft)
	failed := 0
	for i := 0; i <= 10; i++ {
		ft.mu.Lock()
		ft.now = start.Add(time.Duration(i) * time.Minute)
		ft.mu.Unlock()
		if res := s.Send(context.Background(), a, notification("x")); res.Err != nil {
			failed++
		}
	}
	if failed != 10 {
		t.Errorf("failed alerts: got %d want 10", failed)
	}
	if max := 10*alert.DefaultPolicy.Attempts + 1; rcv.hits() > max {
		t.Errorf("receiver got %d requests in the outage, want at most %d", rcv.hits(), max)
	}
}

func TestConnectionRefusedHidesURL(t *testing.T) {
	rcv := newReceiver(t, nil)
	url := rcv.URL + "/hook?token=T0KEN"
	rcv.Close()
	a, _ := alert.NewWebhook("hook", url)
	ft := &fakeTime{}
	res := newSender(ft).Send(context.Background(), a, notification("x"))
	if res.Err == nil || res.Attempts != 5 {
		t.Fatalf("got attempts %d err %v, want 5 attempts and an error", res.Attempts, res.Err)
	}
	if strings.Contains(res.Err.Error(), "T0KEN") || strings.Contains(res.Err.Error(), rcv.URL) {
		t.Errorf("error shows the URL: %v", res.Err)
	}
	if !strings.Contains(res.Err.Error(), "connection refused") {
		t.Errorf("error: got %v, want it to say connection refused", res.Err)
	}
}

func TestAttemptTimeout(t *testing.T) {
	release := make(chan struct{})
	rcv := newReceiver(t, func(_ int, w http.ResponseWriter) { <-release })
	defer close(release)
	a, _ := alert.NewWebhook("hook", rcv.URL)
	s := newSender(&fakeTime{})
	s.Policy = alert.Policy{Attempts: 2, Timeout: 50 * time.Millisecond}
	res := s.Send(context.Background(), a, notification("x"))
	if res.Err == nil || !strings.Contains(res.Err.Error(), "no answer within 50ms") || res.Attempts != 2 {
		t.Errorf("got attempts %d err %v, want 2 attempts timing out", res.Attempts, res.Err)
	}
}

func TestLoadDiagnostics(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{
			name: "misspelt argument",
			src: `alert "a" {
  webhook {
    urll = "http://localhost/x"
  }
}`,
			want: []string{`alerts.hcl:3,5-9: Unsupported argument; An argument named "urll" is not expected here. Did you mean "url"?`},
		},
		{
			name: "missing routing key",
			src: `alert "a" {
  pagerduty {}
}`,
			want: []string{`alerts.hcl:2,13-13: Missing required argument; The argument "routing_key" is required`},
		},
		{
			name: "unknown event",
			src: `alert "a" {
  slack {
    url = "https://hooks.slack.com/services/x"
  }
  on = ["CRITICAL", "RECOVER"]
}`,
			want: []string{`alerts.hcl:5,8-31: Unknown alert event; "RECOVER" is not an event; on lists some of "CRITICAL", "WARNING", "UNKNOWN", "RECOVERED". Did you mean "RECOVERED"?`},
		},
		{
			name: "not a URL",
			src: `alert "a" {
  webhook {
    url = "localhost:9000"
  }
}`,
			want: []string{`alerts.hcl:1,1-10: Invalid webhook alert; url must be an http:// or https:// URL.`},
		},
		{
			name: "duplicate name",
			src: `alert "a" {
  slack {
    url = "https://hooks.slack.com/services/x"
  }
}
alert "a" {
  slack {
    url = "https://hooks.slack.com/services/y"
  }
}`,
			want: []string{`alerts.hcl:6,1-10: Duplicate alert`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, diags := load(t, tt.src+"\nrunbook \"r\" {}\n")
			for _, w := range tt.want {
				if !strings.Contains(diags, w) {
					t.Errorf("diagnostics: got %q want %q", diags, w)
				}
			}
		})
	}
}

func TestWantsDefaultsToEveryEvent(t *testing.T) {
	_, alerts, diags := load(t, `
runbook "r" {}
alert "all" {
  webhook {
    url = "http://127.0.0.1:1/x"
  }
}
alert "some" {
  webhook {
    url = "http://127.0.0.1:1/x"
  }
  on = ["RECOVERED"]
}
`)
	if diags != "" {
		t.Fatal(diags)
	}
	for _, ev := range engine.AlertEvents {
		if !alerts[0].Wants(ev) {
			t.Errorf("alert without on: Wants(%s) is false", ev)
		}
		if got, want := alerts[1].Wants(ev), ev == "RECOVERED"; got != want {
			t.Errorf("on = [RECOVERED]: Wants(%s) got %v want %v", ev, got, want)
		}
	}
}

func TestUnknownValuesValidateButDoNotSend(t *testing.T) {
	reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
	cfg, diags := engine.LoadSource("alerts.hcl", []byte(`
runbook "r" {}
variable "url" {}
alert "a" {
  webhook {
    url = var.url
  }
}
`), reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	b, diags := engine.Bind(cfg, reg, engine.Inputs{AllowMissing: true})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	alerts, diags := alert.Load(b)
	if diags.HasErrors() || len(alerts) != 1 {
		t.Fatalf("got %d alerts, diagnostics %v", len(alerts), diags)
	}
	res := (&alert.Sender{}).Send(context.Background(), alerts[0], notification("x"))
	if res.Err == nil || !strings.Contains(res.Err.Error(), "not all known") {
		t.Errorf("got %v, want an error saying the arguments are not known", res.Err)
	}
}

func TestEmptyAddressDisables(t *testing.T) {
	_, alerts, diags := load(t, `
runbook "r" {}
variable "hook" {
  default = ""
}
alert "hook" {
  webhook {
    url = var.hook
  }
}
alert "chat" {
  slack {
    url = ""
  }
}
alert "pager" {
  pagerduty {
    routing_key = ""
  }
}
alert "on" {
  webhook {
    url = "http://127.0.0.1:1/x"
  }
}
`)
	if diags != "" {
		t.Fatal(diags)
	}
	got := map[string]bool{}
	for _, a := range alerts {
		got[a.Name] = a.Disabled
	}
	if d := cmp.Diff(map[string]bool{"hook": true, "chat": true, "pager": true, "on": false}, got); d != "" {
		t.Errorf("disabled (-want +got):\n%s", d)
	}
	res := newSender(&fakeTime{}).Send(context.Background(), alerts[0], notification("x"))
	if res.Err == nil || res.Attempts != 0 {
		t.Errorf("sending a disabled alert: got %+v, want an error and no attempt", res)
	}
}
