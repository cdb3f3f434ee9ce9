package alert

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/robfig/cron/v3"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

// Defaults of the settings every channel block takes.
const (
	// DefaultFlapThreshold is how many health changes within
	// DefaultFlapWindow a check may make before it is FLAPPING.
	DefaultFlapThreshold = 4
	// DefaultFlapWindow is the window flap damping counts changes in, and
	// how long a flapping check must stay stable to be settled.
	DefaultFlapWindow = 10 * time.Minute
)

// EventFlapping is the event of a check that changes health too often: one
// alert says so, then nothing until it settles.
const EventFlapping = "FLAPPING"

// EventEscalation is the event of an owned step of a run whose deadline
// passed (ack_within, answer_within): its Check is "step.NAME" and its
// Message says who it is for and how long it has waited.
const EventEscalation = "ESCALATION"

// Default rate limits per channel: PagerDuty well under the Events API
// v2's limit of about 120 events a minute per routing key; Slack one
// message a second, as Slack asks of incoming webhooks.
var defaultRates = map[string]Rate{
	"webhook":   {N: 60, Per: time.Minute},
	"slack":     {N: 1, Per: time.Second},
	"pagerduty": {N: 60, Per: time.Minute},
}

// maxPagerDutyRate is the fastest rate_limit a pagerduty block may set:
// the Events API throttles a routing key at about 120 events a minute.
var maxPagerDutyRate = Rate{N: 100, Per: time.Minute}

// common adds the settings every channel block takes to a channel's
// spec: rate_limit, flap_threshold, flap_window and maintenance blocks.
func common(s hcldec.ObjectSpec) hcldec.ObjectSpec {
	s["rate_limit"] = &hcldec.AttrSpec{Name: "rate_limit", Type: cty.String}
	s["flap_threshold"] = &hcldec.AttrSpec{Name: "flap_threshold", Type: cty.Number}
	s["flap_window"] = &hcldec.AttrSpec{Name: "flap_window", Type: cty.String}
	s["maintenance"] = &hcldec.BlockListSpec{
		TypeName: "maintenance",
		Nested: hcldec.ObjectSpec{
			"cron":     &hcldec.AttrSpec{Name: "cron", Type: cty.String, Required: true},
			"duration": &hcldec.AttrSpec{Name: "duration", Type: cty.String, Required: true},
		},
	}
	return s
}

// Rate is a rate limit: at most N messages in any Per.
type Rate struct {
	N   int
	Per time.Duration
}

// String renders a rate as rate_limit spells it: "60/1m0s".
func (r Rate) String() string { return fmt.Sprintf("%d/%s", r.N, r.Per) }

// ParseRate parses a rate_limit: "N/DURATION" ("60/1m", "1/1s"), or
// "N/s", "N/m", "N/h".
func ParseRate(s string) (Rate, error) {
	n, per, ok := strings.Cut(strings.TrimSpace(s), "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate_limit: %q is not COUNT/DURATION such as \"60/1m\" or \"1/1s\"", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count < 1 {
		return Rate{}, fmt.Errorf("rate_limit: %q must start with a whole number of messages of at least 1", s)
	}
	per = strings.TrimSpace(per)
	if per == "s" || per == "m" || per == "h" {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("rate_limit: %q must end with a positive duration such as 1m or 1s", s)
	}
	return Rate{N: count, Per: d}, nil
}

// faster reports whether r lets more messages through than o over time.
func (r Rate) faster(o Rate) bool {
	return float64(r.N)/r.Per.Seconds() > float64(o.N)/o.Per.Seconds()
}

// Flap is an alert's flap damping: a check that changes health more than
// Threshold times within Window is FLAPPING. A zero Threshold turns
// damping off.
type Flap struct {
	Threshold int
	Window    time.Duration
}

// Window is a recurring maintenance window: from every time Cron fires,
// for Duration, the alert sends nothing.
type Window struct {
	Cron     string
	Duration time.Duration
	sched    cron.Schedule
}

// Active reports whether t falls in the window, and when that window
// ends.
func (w Window) Active(t time.Time) (bool, time.Time) {
	start := w.sched.Next(t.Add(-w.Duration - time.Second))
	for !start.IsZero() && !start.After(t) {
		if end := start.Add(w.Duration); end.After(t) {
			return true, end
		}
		start = w.sched.Next(start)
	}
	return false, time.Time{}
}

// cronParser reads the five standard fields, descriptors such as @daily,
// and a leading CRON_TZ=Area/City.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseWindow parses a maintenance window. Times are UTC unless the
// expression starts with CRON_TZ=Area/City.
func ParseWindow(expr string, d time.Duration) (Window, error) {
	if d <= 0 {
		return Window{}, errors.New("maintenance: duration must be positive")
	}
	if strings.HasPrefix(strings.TrimSpace(cronSpec(expr)), "@every") {
		// robfig/cron reads "@every D" as "D after each time asked
		// about": such a window would never be open.
		return Window{}, fmt.Errorf("maintenance: cron %q: @every names an interval, not a time a window opens; use a cron expression such as \"0 3 * * SUN\" or a descriptor such as @daily", expr)
	}
	s, err := cronParser.Parse(expr)
	if err != nil {
		return Window{}, fmt.Errorf("maintenance: cron %q: %w", expr, err)
	}
	return Window{Cron: expr, Duration: d, sched: s}, nil
}

// cronSpec is expr without its leading CRON_TZ= or TZ= setting.
func cronSpec(expr string) string {
	expr = strings.TrimSpace(expr)
	if strings.HasPrefix(expr, "CRON_TZ=") || strings.HasPrefix(expr, "TZ=") {
		if _, rest, ok := strings.Cut(expr, " "); ok {
			return rest
		}
	}
	return expr
}

// settings reads the common settings of a channel block into a.
func (a *Alert) settings(cfg cty.Value) error {
	a.Rate = defaultRates[a.Channel]
	a.Flap = Flap{Threshold: DefaultFlapThreshold, Window: DefaultFlapWindow}
	if cfg == cty.NilVal || cfg.IsNull() || !cfg.Type().IsObjectType() {
		return nil
	}
	if s := checks.String(cfg, "rate_limit", ""); s != "" {
		r, err := ParseRate(s)
		if err != nil {
			return err
		}
		if a.Channel == "pagerduty" && r.faster(maxPagerDutyRate) {
			return fmt.Errorf("rate_limit: %q is faster than PagerDuty accepts; at most %d per minute", s, maxPagerDutyRate.N)
		}
		a.Rate = r
	}
	if v := cfg.GetAttr("flap_threshold"); !v.IsNull() && v.IsKnown() {
		n := checks.Int(cfg, "flap_threshold", -1)
		if n < 0 || !v.AsBigFloat().IsInt() {
			return errors.New("flap_threshold must be a whole number, 0 to turn flap damping off")
		}
		a.Flap.Threshold = int(n)
	}
	d, err := checks.Duration(cfg, "flap_window", DefaultFlapWindow)
	if err != nil {
		return err
	}
	if d <= 0 {
		return errors.New("flap_window must be a positive duration such as \"10m\"")
	}
	a.Flap.Window = d
	mw := cfg.GetAttr("maintenance")
	if mw.IsNull() || !mw.IsKnown() {
		return nil
	}
	for it := mw.ElementIterator(); it.Next(); {
		_, b := it.Element()
		if !b.IsWhollyKnown() {
			continue
		}
		d, err := checks.Duration(b, "duration", 0)
		if err != nil {
			return fmt.Errorf("maintenance: %w", err)
		}
		w, err := ParseWindow(checks.String(b, "cron", ""), d)
		if err != nil {
			return err
		}
		a.Windows = append(a.Windows, w)
	}
	return nil
}

// InMaintenance reports whether one of the alert's maintenance windows is
// open at t, and when the latest-ending one closes.
func (a *Alert) InMaintenance(t time.Time) (bool, time.Time) {
	var in bool
	var until time.Time
	for _, w := range a.Windows {
		if ok, end := w.Active(t.UTC()); ok {
			in = true
			if end.After(until) {
				until = end
			}
		}
	}
	return in, until
}
