package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/runbookhq/runbook/record"
)

// Silence holds back a watch's alerts for some checks (or all) until End.
// While it lasts checks still run and their health is still served and
// recorded; a problem still there when it ends is alerted then.
type Silence struct {
	ID string `json:"id"`
	// Checks names the silenced checks; empty silences every check.
	Checks []string `json:"checks,omitempty"`
	Reason string   `json:"reason"`
	// By and Host say who set it, from where.
	By    string    `json:"by"`
	Host  string    `json:"host"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Covers reports whether the silence holds back check's alerts.
func (s Silence) Covers(check string) bool {
	return len(s.Checks) == 0 || slices.Contains(s.Checks, check)
}

// Active reports whether the silence lasts at t.
func (s Silence) Active(t time.Time) bool { return !t.Before(s.Start) && t.Before(s.End) }

// The actions of silences in the audit trail.
const (
	ActionSilence   = "silence"
	ActionUnsilence = "unsilence"
)

// knownAction reports whether an audit trail line's action is one this
// build writes.
func knownAction(a string) bool {
	switch a {
	case ActionEnable, ActionDisable, ActionSilence, ActionUnsilence:
		return true
	}
	return false
}

// completeSilence checks a new silence and fills in its id and, when
// zero, its start.
func completeSilence(s Silence, now time.Time) (Silence, error) {
	s.Reason = strings.TrimSpace(s.Reason)
	if s.Reason == "" {
		return s, errors.New("silence: a reason is required")
	}
	if strings.TrimSpace(s.By) == "" || strings.TrimSpace(s.Host) == "" {
		return s, errors.New("silence: who sets it and from which host are required")
	}
	for _, c := range s.Checks {
		if strings.TrimSpace(c) == "" {
			return s, errors.New("silence: a check name is empty")
		}
	}
	if s.ID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return s, fmt.Errorf("silence: make an id: %w", err)
		}
		s.ID = "s-" + hex.EncodeToString(b[:])
	}
	if s.Start.IsZero() {
		s.Start = now
	}
	s.Start = s.Start.UTC().Truncate(time.Microsecond)
	s.End = s.End.UTC().Truncate(time.Microsecond)
	if !s.End.After(s.Start) {
		return s, errors.New("silence: it must end after it starts")
	}
	return s, nil
}

// silenceAudit is the audit trail line of a silence added (or removed,
// with entry's user, host and reason).
func silenceAudit(s Silence, action string, entry AuditEntry) AuditEntry {
	what := "all checks"
	if len(s.Checks) > 0 {
		what = strings.Join(s.Checks, ", ")
	}
	e := AuditEntry{Time: entry.Time, Action: action, User: entry.User, Host: entry.Host}
	if action == ActionSilence {
		e.Time, e.User, e.Host = s.Start, s.By, s.Host
		e.Reason = fmt.Sprintf("%s: %s until %s: %s", s.ID, what, s.End.Format(time.RFC3339), s.Reason)
	} else {
		e.Reason = fmt.Sprintf("%s: %s", s.ID, what)
		if r := strings.TrimSpace(entry.Reason); r != "" {
			e.Reason += ": " + r
		}
	}
	return e
}

func (d *Dir) silencesPath() string { return filepath.Join(d.Path, "silences.json") }

// readSilences reads silences.json; a missing file is none.
func (d *Dir) readSilences() ([]Silence, error) {
	data, err := os.ReadFile(d.silencesPath())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read silences: %w", err)
	}
	var out []Silence
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("parse silences %q: %w", d.silencesPath(), err)
	}
	return out, nil
}

// writeSilences replaces silences.json atomically, leaving out the
// silences ended before now.
func (d *Dir) writeSilences(all []Silence, now time.Time) error {
	kept := []Silence{}
	for _, s := range all {
		if s.End.After(now) {
			kept = append(kept, s)
		}
	}
	data, err := json.MarshalIndent(kept, "", "  ")
	if err != nil {
		return fmt.Errorf("encode silences: %w", err)
	}
	if err := record.WriteFileAtomic(d.silencesPath(), append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write silences: %w", err)
	}
	return nil
}

// AddSilence stores a silence and appends it to the audit trail, under the
// directory's lock. An empty ID is made up; a zero Start is now.
func (d *Dir) AddSilence(ctx context.Context, s Silence) (Silence, error) {
	now := time.Now()
	s, err := completeSilence(s, now)
	if err != nil {
		return Silence{}, err
	}
	line, err := json.Marshal(silenceAudit(s, ActionSilence, AuditEntry{}))
	if err != nil {
		return Silence{}, fmt.Errorf("encode audit entry: %w", err)
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return Silence{}, err
	}
	defer unlock()
	all, err := d.readSilences()
	if err != nil {
		return Silence{}, err
	}
	for _, o := range all {
		if o.ID == s.ID {
			return Silence{}, fmt.Errorf("silence %s exists already", s.ID)
		}
	}
	undo, err := appendLine(d.auditPath(), line)
	if err != nil {
		return Silence{}, err
	}
	if err := d.writeSilences(append(all, s), now); err != nil {
		// All or nothing, as for the stop: the line goes with the change.
		if uerr := undo(); uerr != nil {
			return Silence{}, fmt.Errorf("the audit trail records the silence but it was not stored: %w", err)
		}
		return Silence{}, fmt.Errorf("silence not stored, nothing changed: %w", err)
	}
	return s, nil
}

// Silences returns the silences that have not ended, by start.
func (d *Dir) Silences(ctx context.Context) ([]Silence, error) {
	unlock, err := d.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	all, err := d.readSilences()
	if err != nil {
		return nil, err
	}
	return current(all, time.Now()), nil
}

// current keeps the silences not ended at now, sorted by start then id.
func current(all []Silence, now time.Time) []Silence {
	var out []Silence
	for _, s := range all {
		if s.End.After(now) {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// RemoveSilence ends a silence now and appends that to the audit trail
// with entry's user, host and reason. A silence that is not there (or has
// ended) is an error.
func (d *Dir) RemoveSilence(ctx context.Context, id string, entry AuditEntry) (Silence, error) {
	if strings.TrimSpace(entry.User) == "" || strings.TrimSpace(entry.Host) == "" {
		return Silence{}, errors.New("remove silence: who removes it and from which host are required")
	}
	now := time.Now()
	if entry.Time.IsZero() {
		entry.Time = now
	}
	entry.Time = entry.Time.UTC().Truncate(time.Microsecond)
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return Silence{}, err
	}
	defer unlock()
	all, err := d.readSilences()
	if err != nil {
		return Silence{}, err
	}
	i := slices.IndexFunc(all, func(s Silence) bool { return s.ID == id && s.End.After(now) })
	if i < 0 {
		return Silence{}, fmt.Errorf("no silence %q in %s (runbook silence list shows them)", id, d.Path)
	}
	s := all[i]
	line, err := json.Marshal(silenceAudit(s, ActionUnsilence, entry))
	if err != nil {
		return Silence{}, fmt.Errorf("encode audit entry: %w", err)
	}
	undo, err := appendLine(d.auditPath(), line)
	if err != nil {
		return Silence{}, err
	}
	if err := d.writeSilences(slices.Delete(all, i, i+1), now); err != nil {
		if uerr := undo(); uerr != nil {
			return Silence{}, fmt.Errorf("the audit trail records the removal but the silence was not removed: %w", err)
		}
		return Silence{}, fmt.Errorf("silence not removed, nothing changed: %w", err)
	}
	return s, nil
}
