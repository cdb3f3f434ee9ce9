package watch

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

// Healths, as record.Health spells them.
const (
	Healthy  = "HEALTHY"
	Warning  = "WARNING"
	Critical = "CRITICAL"
	Unknown  = "UNKNOWN"
)

// stateVersion is the version of the saved State; a state of another
// version is ignored (the watch then starts afresh and may alert again).
const stateVersion = 1

// State is what a watch keeps between cycles and across restarts, through
// state.Store's SaveWatch: so a restarted watch does not alert again about
// what it already said.
type State struct {
	Version int `json:"version"`
	// Health is the overall health after the last cycle.
	Health string `json:"health"`
	// Checks are the checks' healths by name.
	Checks map[string]*CheckState `json:"checks"`
	// Alerts are the last sending of each alert, by name.
	Alerts    map[string]*AlertState `json:"alerts,omitempty"`
	LastCycle time.Time              `json:"last_cycle"`
	// LastRunID is the last run record kept (not every cycle keeps one).
	LastRunID string `json:"last_run_id,omitempty"`
	Cycles    int64  `json:"cycles"`
}

// CheckState is what the watch knows of one check.
type CheckState struct {
	Health string `json:"health"`
	Status string `json:"status"`
	// Since is when the check entered this health.
	Since time.Time `json:"since"`
	// Notified is the health the watch last sent an event about; a
	// RECOVERED event goes out only after a WARNING, CRITICAL or UNKNOWN
	// one did.
	Notified string `json:"notified,omitempty"`
	Message  string `json:"message,omitempty"`
	// Suppressed marks a check skipped because a check it depends on
	// failed: it is UNKNOWN but does not alert on its own.
	Suppressed bool `json:"suppressed,omitempty"`
	// Changes are the times of the check's recent health changes, for
	// flap damping.
	Changes []time.Time `json:"changes,omitempty"`
	// Flapping is true while the check changes health more often than the
	// default flap damping allows (alert.DefaultFlapThreshold changes
	// within alert.DefaultFlapWindow), until it keeps one health for that
	// window. /healthz also shows FLAPPING when an alert with its own
	// damping settings damps the check.
	Flapping bool `json:"flapping,omitempty"`
	// SettledAt is when the check last stopped FLAPPING: a change within
	// the window after it makes it FLAPPING again at once.
	SettledAt time.Time `json:"settled_at,omitzero"`
	// LastRun is when the check last ran; its result stands until it runs
	// again.
	LastRun time.Time `json:"last_run,omitzero"`
	// Last is a scheduled check's (every or cron) last item, which stands
	// in the cycles until the check is due again; never shown.
	Last *record.Item `json:"last,omitempty"`

	// What /healthz adds about the check's result (never saved):
	// AgeSeconds is the time since LastRun; Schedule is the check's every
	// or cron and NextRun when it is due again.
	AgeSeconds *float64   `json:"age_seconds,omitempty"`
	Schedule   string     `json:"schedule,omitempty"`
	NextRun    *time.Time `json:"next_run,omitempty"`

	// What /healthz adds about the check's notification (never saved),
	// for a check that is not HEALTHY: Notification is "notified" (its
	// alert was delivered), "queued" (waiting for its turn or the rate
	// limit), "failing" (the receiver fails: NotificationError says how),
	// "dropped" (the latest alert was given up on: refused, waited too
	// long, or the queue was full; NotificationError says why, and the
	// next cycle queues the problem again), "held" (flap damping's bound
	// on alerts per window holds it back until HeldUntil) or "silenced"
	// (a silence or maintenance window holds it back until
	// SilencedUntil).
	SilencedUntil     *time.Time `json:"silenced_until,omitempty"`
	HeldUntil         *time.Time `json:"held_until,omitempty"`
	Notification      string     `json:"notification,omitempty"`
	NotificationError string     `json:"notification_error,omitempty"`
}

// AlertState is what one alert has heard, and its delivery queue.
type AlertState struct {
	// Saved holds the alert's queue: the transitions not delivered yet
	// (sent by the next process if this one stops) and when the next
	// attempt may be made.
	alert.Saved
	// Checks are what the alert last heard of each check.
	Checks map[string]*AlertCheck `json:"checks,omitempty"`
	// InMaintenance is true while one of the alert's maintenance windows
	// is open.
	InMaintenance bool `json:"in_maintenance,omitempty"`
	// Open is read from states saved by earlier versions only: the checks
	// the alert was told a problem of and no recovery since.
	Open map[string]bool `json:"open,omitempty"`
}

// AlertCheck is what one alert last heard of one check.
type AlertCheck struct {
	// Notified is the health the alert was last sent (or FLAPPING); a
	// RECOVERED goes only to an alert that heard the problem (its `on`
	// may leave WARNING out). While a silence or maintenance window holds
	// the alert back it does not change, so a problem still there when
	// it ends is sent then.
	Notified string `json:"notified,omitempty"`
	// Delivered is what the alert's receiver was last told of the check
	// for sure: a delivered alert, or a change the alert's `on` leaves
	// out. When an alert is dropped undelivered, Notified goes back to
	// Delivered, so the next cycle queues a problem still there again.
	Delivered string `json:"delivered,omitempty"`
	// Dropped says why the latest alert about the check was dropped
	// undelivered, until another is queued or delivered.
	Dropped string `json:"dropped,omitempty"`
	// Flapping is true while the alert's flap damping holds the check's
	// alerts back; SettledAt is when it last stopped.
	Flapping  bool      `json:"flapping,omitempty"`
	SettledAt time.Time `json:"settled_at,omitzero"`
	// Sent are the times of the alerts queued about the check within the
	// flap window: at most MaxAlertsPerWindow. HeldUntil is when an alert
	// that bound holds back may go out.
	Sent      []time.Time `json:"sent,omitempty"`
	HeldUntil time.Time   `json:"held_until,omitzero"`
}

func newState() *State {
	return &State{Version: stateVersion, Health: Unknown, Checks: map[string]*CheckState{}, Alerts: map[string]*AlertState{}}
}

// decodeState reads a saved state; nil data is a fresh state.
func decodeState(data []byte) (*State, error) {
	s := newState()
	if len(data) == 0 {
		return s, nil
	}
	var saved State
	if err := json.Unmarshal(data, &saved); err != nil {
		return s, fmt.Errorf("decode watch state: %w", err)
	}
	if saved.Version != stateVersion {
		return s, fmt.Errorf("watch state has version %d, not %d; starting afresh", saved.Version, stateVersion)
	}
	if saved.Checks == nil {
		saved.Checks = map[string]*CheckState{}
	}
	if saved.Alerts == nil {
		saved.Alerts = map[string]*AlertState{}
	}
	return &saved, nil
}

// observed is one check's health in one cycle.
type observed struct {
	name, title string
	health      string
	status      string
	message     string
	suppressed  bool
}

// observe computes each check's health from a run. Checks skipped for
// another reason than a failed dependency (a false `when`, --skip) are not
// watched this cycle and are left out, and so are informational checks,
// whose results are evidence only: they never alert.
func observe(run *record.Run) []observed {
	var out []observed
	for _, it := range run.Items {
		if it.Kind != record.KindCheck || it.Informational {
			continue
		}
		o := observed{name: it.Name, title: it.Title, status: it.Status, health: record.Health(it.Status), message: itemMessage(it)}
		if it.Status == record.Skipped {
			if !strings.HasPrefix(it.SkipReason, "upstream ") {
				continue
			}
			o.health, o.suppressed, o.message = Unknown, true, it.SkipReason
		}
		out = append(out, o)
	}
	return out
}

// itemMessage says what is wrong with an item: its error, or the messages
// of its failed asserts.
func itemMessage(it record.Item) string {
	if it.Error != nil && *it.Error != "" {
		return *it.Error
	}
	var msgs []string
	for _, a := range it.Asserts {
		if !a.Passed && a.Message != "" {
			msgs = append(msgs, a.Message)
		}
	}
	return strings.Join(msgs, "; ")
}

// rank orders healths from best to worst.
func rank(h string) int {
	switch h {
	case Healthy:
		return 0
	case Warning:
		return 1
	case Unknown:
		return 2
	default:
		return 3
	}
}

// overall is the worst health of the checks; with none, HEALTHY.
func overall(obs []observed) string {
	h := Healthy
	for _, o := range obs {
		if rank(o.health) > rank(h) {
			h = o.health
		}
	}
	return h
}

// event is the alert event a check's new health raises, given the health
// last notified; "" when there is nothing to say.
func event(health, notified string) string {
	switch {
	case health == Healthy && (notified == "" || notified == Healthy):
		return ""
	case health == Healthy:
		return engine.EventRecovered
	case health == notified:
		return ""
	default:
		return health
	}
}
