package alert

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/engine"
	"github.com/zclconf/go-cty/cty"
)

// SignatureHeader carries a webhook request's HMAC-SHA256 when the alert
// has an hmac_secret: "sha256=" and the hex digest of the timestamp (as
// sent in TimestampHeader), a ".", and the exact body bytes.
const SignatureHeader = "X-Runbook-Signature"

// TimestampHeader carries when a signed webhook request was sent, in
// seconds since the Unix epoch; the signature covers it, so a receiver
// that rejects old timestamps cannot be fed a captured request again.
const TimestampHeader = "X-Runbook-Timestamp"

// PagerDutyURL is the Events API v2 endpoint.
const PagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PayloadVersion is the version of the webhook payload; it changes only
// when a field changes meaning or goes away.
const PayloadVersion = 1

var webhookSpec = common(hcldec.ObjectSpec{
	"url":         &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
	"hmac_secret": &hcldec.AttrSpec{Name: "hmac_secret", Type: cty.String},
	"headers":     &hcldec.AttrSpec{Name: "headers", Type: cty.Map(cty.String)},
})

var slackSpec = common(hcldec.ObjectSpec{
	"url": &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
})

var pagerdutySpec = common(hcldec.ObjectSpec{
	"routing_key": &hcldec.AttrSpec{Name: "routing_key", Type: cty.String, Required: true},
	"url":         &hcldec.AttrSpec{Name: "url", Type: cty.String},
})

// request is one HTTP POST a channel wants sent.
type request struct {
	url    string
	header http.Header
	body   []byte
	// secret, when set, signs the request as it is sent: a timestamp
	// header and an HMAC over it and the body.
	secret []byte
	// what names the request in errors and logs, never with its URL.
	what string
}

// channel turns a notification into requests; redact hides sensitive
// values in the payload data before it is encoded.
type channel interface {
	requests(a *Alert, n *Notification, redact func(any) any) ([]request, error)
	// sendable is false when the config held unknown values.
	sendable() bool
	// disabled is true when the address is known to be empty.
	disabled() bool
}

// webhook posts the notification as JSON.
type webhook struct {
	url, secret string
	headers     map[string]string
	ok          bool
}

func newWebhook(cfg cty.Value) (*webhook, error) {
	w := &webhook{
		url:     checks.String(cfg, "url", ""),
		secret:  checks.String(cfg, "hmac_secret", ""),
		headers: checks.StringMap(cfg, "headers"),
		ok:      known(cfg),
	}
	if err := checkURL("url", w.url); err != nil {
		return nil, err
	}
	for k := range w.headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			return nil, fmt.Errorf("headers: %q is not a header name", k)
		}
	}
	return w, nil
}

func (w *webhook) sendable() bool { return w.ok }
func (w *webhook) disabled() bool { return w.ok && w.url == "" }

// webhookPayload is the generic JSON body.
type webhookPayload struct {
	Version int    `json:"version"`
	Alert   string `json:"alert"`
	Summary string `json:"summary"`
	*Notification
}

func (w *webhook) requests(a *Alert, n *Notification, redact func(any) any) ([]request, error) {
	body, err := redactedJSON(webhookPayload{Version: PayloadVersion, Alert: a.Name, Summary: n.Headline(), Notification: n}, redact)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	for k, v := range w.headers {
		h.Set(k, v)
	}
	h.Set("Content-Type", "application/json")
	r := request{url: w.url, header: h, body: body, what: "webhook"}
	if w.secret != "" {
		r.secret = []byte(w.secret)
	}
	return []request{r}, nil
}

// Sign returns the X-Runbook-Signature value of a request: "sha256=" and
// the hex HMAC-SHA256, under secret, of the X-Runbook-Timestamp value, a
// ".", and the body.
func Sign(secret []byte, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// DefaultTolerance is how far a signed request's timestamp may be from the
// receiver's clock for Verify to accept it.
const DefaultTolerance = 5 * time.Minute

// Verify reports whether signature is the X-Runbook-Signature of body sent
// at timestamp (the X-Runbook-Timestamp value) under secret, comparing in
// constant time, and whether that timestamp is within tolerance of now: a
// request captured and sent again later is refused.
func Verify(secret, body []byte, timestamp, signature string, now time.Time, tolerance time.Duration) bool {
	sec, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, timestamp, body)), []byte(signature))
}

// slack posts to a Slack incoming webhook.
type slack struct {
	url string
	ok  bool
}

func newSlack(cfg cty.Value) (*slack, error) {
	s := &slack{url: checks.String(cfg, "url", ""), ok: known(cfg)}
	if err := checkURL("url", s.url); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *slack) sendable() bool { return s.ok }
func (s *slack) disabled() bool { return s.ok && s.url == "" }

// slackIcons mark events in Slack's text.
var slackIcons = map[string]string{
	engine.EventCritical:  ":red_circle:",
	engine.EventWarning:   ":large_yellow_circle:",
	engine.EventUnknown:   ":white_circle:",
	engine.EventRecovered: ":large_green_circle:",
	EventFlapping:         ":warning:",
	EventEscalation:       ":alarm_clock:",
}

func (s *slack) requests(a *Alert, n *Notification, redact func(any) any) ([]request, error) {
	var b strings.Builder
	if n.Exercise || n.Inject != nil {
		fmt.Fprintf(&b, "*%s* ", ExerciseBanner)
	}
	if n.Inject != nil {
		fmt.Fprintf(&b, "`%s` inject `%s`: %s", slackEscape(n.Runbook), slackEscape(n.Inject.Name), slackEscape(firstLine(n.Inject.Message, 3000)))
	}
	title := n.Runbook
	if n.Host != "" {
		title += " on " + n.Host
	}
	if n.Inject == nil {
		fmt.Fprintf(&b, "*%s*: %s", slackEscape(title), n.Health)
	}
	if n.Inject == nil && n.PreviousHealth != "" && n.PreviousHealth != n.Health {
		fmt.Fprintf(&b, " (was %s)", n.PreviousHealth)
	}
	for _, t := range n.Transitions {
		icon := slackIcons[t.Event]
		switch t.Event {
		case engine.EventRecovered:
			fmt.Fprintf(&b, "\n%s `%s` recovered", icon, slackEscape(t.Check))
		case EventFlapping:
			fmt.Fprintf(&b, "\n%s `%s` is FLAPPING (now %s)", icon, slackEscape(t.Check), t.Health)
		case EventEscalation:
			fmt.Fprintf(&b, "\n%s `%s` is overdue", icon, slackEscape(t.Check))
		default:
			fmt.Fprintf(&b, "\n%s `%s` is %s (was %s)", icon, slackEscape(t.Check), t.Health, t.Previous)
		}
		if t.Message != "" {
			fmt.Fprintf(&b, ": %s", slackEscape(firstLine(t.Message, 300)))
		}
		for _, p := range t.Playbooks {
			fmt.Fprintf(&b, "\n    playbook `%s` %s", slackEscape(p.Name), slackEscape(p.Action))
			if p.Command != "" && p.Action == "offered" {
				fmt.Fprintf(&b, ": `%s`", slackEscape(p.Command))
			}
		}
	}
	body, err := redactedJSON(map[string]any{"text": b.String()}, redact)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Content-Type": {"application/json"}}
	return []request{{url: s.url, header: h, body: body, what: "slack"}}, nil
}

// slackEscape escapes the three characters Slack's mrkdwn reserves.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// firstLine cuts text to its first line and at most max bytes.
func firstLine(s string, max int) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// pagerduty sends Events API v2 events: one per transition, triggered
// with a dedup key per runbook and check and resolved on recovery.
type pagerduty struct {
	url, key string
	ok       bool
}

func newPagerDuty(cfg cty.Value) (*pagerduty, error) {
	p := &pagerduty{
		url: checks.String(cfg, "url", PagerDutyURL),
		key: checks.String(cfg, "routing_key", ""),
		ok:  known(cfg),
	}
	if err := checkURL("url", p.url); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *pagerduty) sendable() bool { return p.ok }
func (p *pagerduty) disabled() bool { return p.ok && strings.TrimSpace(p.key) == "" }

// pagerdutySeverity maps events to PagerDuty's severities.
var pagerdutySeverity = map[string]string{
	engine.EventCritical: "critical",
	engine.EventWarning:  "warning",
	engine.EventUnknown:  "error",
}

// severity is a trigger's PagerDuty severity: a FLAPPING check's is that
// of its health now, at least warning.
func severity(t Transition) string {
	if t.Event == EventEscalation {
		return "warning"
	}
	if t.Event == EventFlapping {
		if s, ok := pagerdutySeverity[t.Health]; ok {
			return s
		}
		return "warning"
	}
	return pagerdutySeverity[t.Event]
}

// DedupKey is the PagerDuty dedup key of a runbook's check: every event
// of one check, trigger and resolve, lands on the same incident.
func DedupKey(runbook, check string) string {
	return "runbook/" + runbook + "/" + check
}

func (p *pagerduty) requests(a *Alert, n *Notification, redact func(any) any) ([]request, error) {
	var out []request
	transitions := n.Transitions
	if n.Inject != nil {
		// An inject pages like a warning whose summary says it is a drill.
		transitions = []Transition{{Event: engine.EventWarning, Check: "inject/" + n.Inject.Name, Health: "WARNING", Message: n.Inject.Message}}
	}
	for _, t := range transitions {
		ev := map[string]any{
			"dedup_key": DedupKey(n.Runbook, t.Check),
		}
		if t.Event == engine.EventRecovered {
			ev["event_action"] = "resolve"
		} else {
			ev["event_action"] = "trigger"
			summary := fmt.Sprintf("%s: %s is %s", n.Runbook, t.Check, t.Health)
			if t.Message != "" {
				summary += ": " + firstLine(t.Message, 600)
			}
			if n.Exercise || n.Inject != nil {
				summary = ExerciseBanner + ": " + summary
			}
			source := n.Host
			if source == "" {
				source = "runbook"
			}
			details := map[string]any{
				"previous": t.Previous, "status": t.Status, "message": t.Message,
				"runbook_title": n.Title, "run_id": n.RunID,
			}
			if len(t.Playbooks) > 0 {
				details["playbooks"] = t.Playbooks
			}
			ev["payload"] = map[string]any{
				"summary":        firstLine(summary, 1024),
				"source":         source,
				"severity":       severity(t),
				"timestamp":      n.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
				"component":      t.Check,
				"group":          n.Runbook,
				"class":          "runbook check",
				"custom_details": details,
			}
		}
		// The routing key goes in after redaction: it may well be a
		// sensitive variable, and PagerDuty needs it as it is.
		data, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		var generic map[string]any
		if err := unmarshalNumbers(data, &generic); err != nil {
			return nil, err
		}
		red, _ := redact(generic).(map[string]any)
		if red == nil {
			red = generic
		}
		red["routing_key"] = p.key
		body, err := json.Marshal(red)
		if err != nil {
			return nil, err
		}
		out = append(out, request{
			url: p.url, header: http.Header{"Content-Type": {"application/json"}},
			body: body, what: "pagerduty " + t.Check,
		})
	}
	return out, nil
}
