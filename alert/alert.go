// Package alert sends a watch's health transitions to people: a generic
// JSON webhook (optionally HMAC-signed), a Slack incoming webhook, or
// PagerDuty's Events API v2.
//
// Each channel publishes an hcldec spec (Specs), so an alert block is
// decoded like a provider block: a misspelt argument is a diagnostic with
// its source range. Every channel block also takes a rate limit, flap
// damping settings and recurring maintenance windows (settings.go).
//
// A watch delivers through an Outbox per alert: a bounded queue holding
// each check's latest transition, emptied by its own worker under the
// alert's rate limit, with jittered exponential backoff and Retry-After
// honoured across cycles, so that receivers never hold up the checks and a
// receiver that is down for ten minutes sees a few attempts, not a storm.
// Sender.Send sends one notification synchronously, with bounded retries.
package alert

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/engine"
	"github.com/zclconf/go-cty/cty"
)

// Notification is what one watch cycle has to say: the transitions it
// saw, with the runbook's overall health. Every text in it is redacted
// again by the Sender before it leaves the process.
type Notification struct {
	Runbook string    `json:"runbook"`
	Title   string    `json:"title,omitempty"`
	Host    string    `json:"host,omitempty"`
	Time    time.Time `json:"time"`
	// Health is the runbook's overall health after this cycle;
	// PreviousHealth before it.
	Health         string `json:"health"`
	PreviousHealth string `json:"previous_health"`
	// RunID names the cycle's run record, when one was kept.
	RunID       string       `json:"run_id,omitempty"`
	Transitions []Transition `json:"transitions"`
	// LeaseGeneration is the fencing token of the watch instance that
	// sent it: the generation of its lead. A receiver that has seen a
	// higher one may discard this alert as sent by an earlier leader.
	LeaseGeneration int64 `json:"lease_generation,omitempty"`
	// StateUnreachable marks an alert sent without the lead because the
	// state could not be reached: other instances may send it too.
	StateUnreachable bool `json:"state_unreachable,omitempty"`
	// Exercise marks a message sent during an exercise: a drill, not a
	// real incident. Receivers should say so.
	Exercise bool `json:"exercise,omitempty"`
	// Inject is the exercise inject this message delivers; it then has
	// no transitions.
	Inject *Inject `json:"inject,omitempty"`
}

// Inject is an exercise's scenario message.
type Inject struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// ExerciseBanner starts every text of a message sent during an exercise.
const ExerciseBanner = "EXERCISE"

// Transition is one check changing health.
type Transition struct {
	// Event is CRITICAL, WARNING, UNKNOWN or RECOVERED (engine.Event*),
	// or FLAPPING (EventFlapping).
	Event string `json:"event"`
	Check string `json:"check"`
	Title string `json:"title,omitempty"`
	// Health and Previous are the check's health now and before.
	Health   string `json:"health"`
	Previous string `json:"previous"`
	// Status is the check's status in the run record.
	Status string `json:"status"`
	// Message says what is wrong: the failed assert's message or the
	// provider's error.
	Message string `json:"message,omitempty"`
	// Playbooks are the playbooks this check triggers, when it turned
	// CRITICAL.
	Playbooks []Playbook `json:"playbooks,omitempty"`
	// Time is when the watch saw the change; a transition whose delivery
	// failed is sent again with a later notification, keeping its time.
	Time time.Time `json:"time"`
}

// Playbook is a playbook named in a transition.
type Playbook struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	Auto  bool   `json:"auto"`
	// Action is what the watch does with it: "offered" (run it by hand),
	// "started", "refused: the emergency stop is on", or "left to the
	// leading instance".
	Action string `json:"action"`
	// Command runs it by hand.
	Command string `json:"command,omitempty"`
}

// Filter returns a copy of n keeping only the transitions whose event
// wants keeps; the result has none when nothing is left.
func (n *Notification) Filter(wants func(event string) bool) *Notification {
	out := *n
	out.Transitions = nil
	for _, t := range n.Transitions {
		if wants(t.Event) {
			out.Transitions = append(out.Transitions, t)
		}
	}
	return &out
}

// Headline is a one-line summary: "CRITICAL shadow-monitor: disk_root
// CRITICAL (was HEALTHY)".
func (n *Notification) Headline() string {
	if n.Inject != nil {
		return fmt.Sprintf("%s %s inject %s: %s", ExerciseBanner, n.Runbook, n.Inject.Name, n.Inject.Message)
	}
	var parts []string
	for _, t := range n.Transitions {
		switch t.Event {
		case engine.EventRecovered:
			parts = append(parts, fmt.Sprintf("%s recovered", t.Check))
		case EventFlapping:
			parts = append(parts, fmt.Sprintf("%s FLAPPING", t.Check))
		case EventEscalation:
			parts = append(parts, t.Message)
		default:
			parts = append(parts, fmt.Sprintf("%s %s (was %s)", t.Check, t.Health, t.Previous))
		}
	}
	h := fmt.Sprintf("%s %s: %s", n.Health, n.Runbook, strings.Join(parts, ", "))
	if n.StateUnreachable {
		h += " (state unreachable, possible duplicates)"
	}
	if n.Exercise {
		h = ExerciseBanner + ": " + h
	}
	return h
}

// Alert is one place alerts go: an alert block of the runbook, or
// --webhook.
type Alert struct {
	Name    string
	Channel string
	// On lists the events this alert wants; empty means every event.
	On []string
	// Disabled is true when the block's url (webhook, slack) or
	// routing_key (pagerduty) is the empty string, so that a variable
	// whose default is "" turns the alert off until it is set.
	Disabled bool
	// Rate limits the messages sent; more are batched.
	Rate Rate
	// Flap is the alert's flap damping.
	Flap Flap
	// Windows are the alert's recurring maintenance windows.
	Windows []Window
	ch      channel
}

// Wants reports whether the alert is sent for an event.
func (a *Alert) Wants(event string) bool {
	if len(a.On) == 0 {
		return true
	}
	for _, e := range a.On {
		if e == event {
			return true
		}
	}
	return false
}

// Specs returns the decode spec of each channel type, for
// engine.Bound.Alerts.
func Specs() map[string]hcldec.Spec {
	return map[string]hcldec.Spec{
		"webhook":   webhookSpec,
		"slack":     slackSpec,
		"pagerduty": pagerdutySpec,
	}
}

// New builds an alert from an evaluated alert block. Arguments that are
// not known yet (validate's variables without values) are not checked;
// such an alert cannot be sent.
func New(spec engine.AlertSpec) (*Alert, error) {
	a := &Alert{Name: spec.Name, Channel: spec.Channel, On: spec.On}
	var err error
	switch spec.Channel {
	case "webhook":
		a.ch, err = newWebhook(spec.Config)
	case "slack":
		a.ch, err = newSlack(spec.Config)
	case "pagerduty":
		a.ch, err = newPagerDuty(spec.Config)
	default:
		err = fmt.Errorf("unknown alert channel %q", spec.Channel)
	}
	if err != nil {
		return nil, err
	}
	if err := a.settings(spec.Config); err != nil {
		return nil, err
	}
	a.Disabled = a.ch.disabled()
	return a, nil
}

// NewWebhook is a generic JSON webhook receiver for every event, as
// --webhook URL adds.
func NewWebhook(name, rawURL string) (*Alert, error) {
	if err := checkURL("url", rawURL); err != nil {
		return nil, err
	}
	a := &Alert{Name: name, Channel: "webhook", ch: &webhook{url: rawURL, ok: true}}
	if err := a.settings(cty.NilVal); err != nil {
		return nil, err
	}
	return a, nil
}

// Load evaluates and builds the runbook's alerts. Problems are
// diagnostics on the alert block, with redacted text.
func Load(b *engine.Bound) ([]*Alert, hcl.Diagnostics) {
	specs, diags := b.Alerts(Specs())
	var out []*Alert
	for _, s := range specs {
		a, err := New(s)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Invalid %s alert", s.Channel),
				Detail:   b.Redactor.String(err.Error()) + ".",
				Subject:  s.Range.Ptr(),
			})
			continue
		}
		out = append(out, a)
	}
	return out, diags
}

// checkURL accepts an absolute http or https URL; an unknown value (from
// validate) passes.
func checkURL(name, raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s must be an http:// or https:// URL", name)
	}
	return nil
}

// known reports whether every part of a channel's config is known, so it
// can be sent.
func known(cfg cty.Value) bool { return cfg != cty.NilVal && cfg.IsWhollyKnown() }
