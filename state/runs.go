package state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/runbookhq/runbook/record"
)

// Filter selects stored runs. Zero fields select everything.
type Filter struct {
	// Runbook is the runbook's name.
	Runbook string
	// Playbook, when not nil, is the playbook ("" for the top-level
	// procedure).
	Playbook *string
	// Mode is exec, check or watch. A record without a mode (written
	// before runs recorded theirs) matches no mode.
	Mode string
	// Status is the run's status as Settle sees it (abandoned for a
	// running record whose process is gone).
	Status string
	// Resumable keeps only runs that --resume can pick up: failed,
	// incomplete, abandoned or interrupted.
	Resumable bool
}

// Match reports whether a (settled) run passes the filter.
func (f Filter) Match(r *record.Run) bool {
	if r == nil {
		return false
	}
	if f.Runbook != "" && r.Runbook != f.Runbook {
		return false
	}
	if f.Playbook != nil && playbookOf(r) != *f.Playbook {
		return false
	}
	if f.Mode != "" && r.Mode != f.Mode {
		return false
	}
	if f.Status != "" && r.Status != f.Status {
		return false
	}
	if f.Resumable && !Resumable(r) {
		return false
	}
	return true
}

// String describes the filter for messages ("exec runs of playbook "fix"
// of runbook "deploy" that can be resumed").
func (f Filter) String() string {
	what := "runs"
	if f.Mode != "" {
		what = f.Mode + " runs"
	}
	if f.Status != "" {
		what = f.Status + " " + what
	}
	switch {
	case f.Playbook != nil && *f.Playbook != "" && f.Runbook != "":
		what += fmt.Sprintf(" of playbook %q of runbook %q", *f.Playbook, f.Runbook)
	case f.Playbook != nil && *f.Playbook != "":
		what += fmt.Sprintf(" of playbook %q", *f.Playbook)
	case f.Playbook != nil && f.Runbook != "":
		what += fmt.Sprintf(" of runbook %q (its top-level steps, not a playbook)", f.Runbook)
	case f.Playbook != nil:
		what += " of top-level steps (not a playbook)"
	case f.Runbook != "":
		what += fmt.Sprintf(" of runbook %q", f.Runbook)
	}
	if f.Resumable {
		what += " that can be resumed (failed, incomplete, interrupted or abandoned)"
	}
	return what
}

// Resumable reports whether --resume can pick a run up: it failed, is
// incomplete (a manual step pending, a step declined), was interrupted, or
// was abandoned by a process that died. A run still running is not.
func Resumable(r *record.Run) bool {
	switch r.Status {
	case record.Failed, record.Incomplete, record.Abandoned:
		return true
	case record.Running:
		return false
	}
	return r.Interrupted
}

func playbookOf(r *record.Run) string {
	if r.Playbook == nil {
		return ""
	}
	return *r.Playbook
}

// RunEntry is a stored run, or a stored record that cannot be read.
type RunEntry struct {
	ID  string
	Run *record.Run
	Err error
}

// Last returns the newest run matching f (records that cannot be read
// are passed over).
func Last(ctx context.Context, s Store, f Filter) (*record.Run, error) {
	var last *record.Run
	err := s.Runs(ctx, f, func(e RunEntry) bool {
		if e.Run == nil {
			return true
		}
		last = e.Run
		return false
	})
	if err != nil {
		return nil, err
	}
	if last == nil {
		return nil, fmt.Errorf("no %s in %s", f, s.Location())
	}
	return last, nil
}

// Newer reports whether run a started after run b (by start time, then by
// id).
func Newer(a, b *record.Run) bool {
	if !a.StartedAt.Equal(b.StartedAt) {
		return a.StartedAt.After(b.StartedAt)
	}
	return a.ID > b.ID
}

// orderIDs sorts run ids oldest first by the start time they carry (to the
// microsecond; ids of other forms first, by name). Ids of earlier versions
// carry the second only: where such an id shares its second with another,
// startedAt (the record's started_at) decides, never the random suffix.
func orderIDs(ids []string, startedAt func(id string) (time.Time, bool)) {
	type key struct {
		id      string
		t       time.Time
		precise bool
	}
	keys := make([]key, len(ids))
	for i, id := range ids {
		t, precise, _ := record.RunIDTime(id)
		keys[i] = key{id, t, precise}
	}
	less := func(a, b key) bool {
		if !a.t.Equal(b.t) {
			return a.t.Before(b.t)
		}
		return a.id < b.id
	}
	sort.Slice(keys, func(i, j int) bool { return less(keys[i], keys[j]) })
	// Runs of the same second, at least one of them with a legacy id.
	for i := 0; i < len(keys); {
		sec := keys[i].t.Truncate(time.Second)
		j, legacy := i, false
		for ; j < len(keys) && keys[j].t.Truncate(time.Second).Equal(sec) && !keys[j].t.IsZero(); j++ {
			legacy = legacy || !keys[j].precise
		}
		if j-i > 1 && legacy && startedAt != nil {
			for k := i; k < j; k++ {
				if t, ok := startedAt(keys[k].id); ok {
					keys[k].t = t
				}
			}
			sort.Slice(keys[i:j], func(a, b int) bool { return less(keys[i+a], keys[i+b]) })
		}
		if j == i {
			j++
		}
		i = j
	}
	for i, k := range keys {
		ids[i] = k.id
	}
}

// readRun reads a record file of the state directory, settled.
func readRun(path string) (*record.Run, error) {
	run, err := record.Read(path)
	if err != nil {
		return nil, err
	}
	return Settle(run), nil
}

// Runs calls fn for the runs matching f, newest first, and for each record
// that cannot be read.
func (d *Dir) Runs(_ context.Context, f Filter, fn func(RunEntry) bool) error {
	ids, err := d.runIDs()
	if err != nil {
		return err
	}
	for i := len(ids) - 1; i >= 0; i-- {
		run, err := readRun(filepath.Join(d.runsDir(), ids[i]+".json"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed meanwhile
			}
			if !fn(RunEntry{ID: ids[i], Err: err}) {
				return nil
			}
			continue
		}
		if f.Match(run) && !fn(RunEntry{ID: ids[i], Run: run}) {
			return nil
		}
	}
	return nil
}

// runIDs lists the ids of runs/, oldest first.
func (d *Dir) runIDs() ([]string, error) {
	entries, err := os.ReadDir(d.runsDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var ids []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			ids = append(ids, strings.TrimSuffix(n, ".json"))
		}
	}
	orderIDs(ids, func(id string) (time.Time, bool) {
		r, err := record.Read(filepath.Join(d.runsDir(), id+".json"))
		if err != nil || r.StartedAt.IsZero() {
			return time.Time{}, false
		}
		return r.StartedAt, true
	})
	return ids, nil
}
