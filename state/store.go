package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/runbookhq/runbook/record"
)

// Store is where everything that outlives a run lives: run records, the
// emergency stop with its audit trail, watch state, and the lease that
// elects one watch instance to alert. Dir keeps it in a local directory;
// Postgres shares it between every host of a team.
type Store interface {
	// Location names the store for messages ("runbooks/.runbook",
	// "postgres://ops@db/runbook"), never with a password.
	Location() string

	// SaveRun stores a run record atomically and returns where it went.
	// An interrupted run saves its partial record with a context that is
	// not cancelled (context.WithoutCancel). A final record (see Final)
	// is never replaced by one that is not (a journal's "running" copy,
	// an older spooled one): that save leaves the final record as it is
	// and is not an error.
	SaveRun(ctx context.Context, run *record.Run) (string, error)
	// LoadRun loads a run by id (or unique id prefix), by "last", or by a
	// path to a record file.
	LoadRun(ctx context.Context, ref string) (*record.Run, error)
	// RunIDs lists stored run ids, oldest first.
	RunIDs(ctx context.Context) ([]string, error)

	// Stop returns the emergency stop's state.
	Stop(ctx context.Context) (StopState, error)
	// SetStop turns the emergency stop on or off and appends the change to
	// the audit trail, atomically with respect to other processes and hosts.
	// The entry's Action is set from on; a zero Time is filled in by the
	// store. Every call is recorded, also one that leaves the stop as it
	// was; the returned state describes this change.
	SetStop(ctx context.Context, on bool, entry AuditEntry) (StopState, error)
	// ChangeStop is SetStop that also says what it replaced: it reads the
	// stop, appends the entry and writes the new stop under one lock (or
	// in one transaction), taking the entry's time there, never earlier
	// than the trail's last entry. A stop that cannot be read is a
	// *DamagedStopError, unless req.Force replaces it (the entry's Repair
	// says what was replaced).
	ChangeStop(ctx context.Context, req StopRequest) (StopChange, error)
	// Audit returns the audit trail, oldest first. Lines that are not
	// entries come back as an *AuditDamageError along with every entry
	// that could be read.
	Audit(ctx context.Context) ([]AuditEntry, error)

	// Acquire takes the lock that lets one process at a time run a
	// procedure (key: see ProcKey). A lock held by a live process is a
	// *HeldError naming its holder; one whose holder is gone (a dead
	// process on this host, an expired lease) is taken over, and the
	// returned Lock says from whom. Release the lock when the run ends;
	// closing the store releases it too.
	Acquire(ctx context.Context, key string, holder Holder) (*Lock, error)

	// Runs calls fn for the stored runs matching f, newest first, each
	// passed through Settle, and for each stored record that cannot be
	// read (RunEntry.Err), until fn returns false.
	Runs(ctx context.Context, f Filter, fn func(RunEntry) bool) error

	// LoadWatch returns the saved state of a watch (by key, e.g. the
	// runbook's name), or nil when there is none.
	LoadWatch(ctx context.Context, key string) ([]byte, error)
	// SaveWatch saves a watch's state.
	SaveWatch(ctx context.Context, key string, data []byte) error

	// Lead tries to become the one instance allowed to alert for key. It
	// returns the lease when this process leads, nil (and no error) when
	// another one does. A lease lasts until released, lost (a database
	// lease not renewed in time: see Lease), the store is closed, or the
	// process dies. Calling Lead again for a key this store leads returns
	// the same lease while it is valid instead of competing with itself,
	// so a watch may call it before every cycle.
	Lead(ctx context.Context, key string) (*Lease, error)

	// Close releases the store's resources.
	Close() error

	// AddSilence stores a silence of a watch's alerts and appends it to
	// the audit trail (action "silence"). An empty ID is made up; a zero
	// Start is now.
	AddSilence(ctx context.Context, s Silence) (Silence, error)
	// Silences returns the silences that have not ended, by start.
	Silences(ctx context.Context) ([]Silence, error)
	// RemoveSilence ends a silence and appends that to the audit trail
	// (action "unsilence") with entry's user, host and reason.
	RemoveSilence(ctx context.Context, id string, entry AuditEntry) (Silence, error)
}

// EncodedRunSaver is a Store that saves a run record already encoded
// (record.EncodedRun), as SaveRun saves run: run gives the record's id,
// runbook, status, start and whether it is final, and its items are not
// read. A run's final record is encoded once, for both its journal's
// last event and the store; a journal writes the running record from
// each item's encoding kept (docs/performance.md, "round 7: the run's
// records").
type EncodedRunSaver interface {
	SaveEncodedRun(ctx context.Context, run *record.Run, enc record.EncodedRun) (string, error)
}

// Final reports whether a run record is final: its run finished (or was
// written back as abandoned), so it has a finish time. A journal's record
// of a run still going on has none.
func Final(run *record.Run) bool { return run != nil && !run.FinishedAt.IsZero() }

// detached is ctx without its cancellation but with its deadline, if any:
// for a save that an interrupted run still makes.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	d := context.WithoutCancel(ctx)
	if t, ok := ctx.Deadline(); ok {
		return context.WithDeadline(d, t)
	}
	return d, func() {}
}

// StopState is the emergency stop.
type StopState struct {
	On bool `json:"on"`
	// Since, By, Host and Reason describe the last change.
	Since  time.Time `json:"since,omitzero"`
	By     string    `json:"by,omitempty"`
	Host   string    `json:"host,omitempty"`
	Reason string    `json:"reason,omitempty"`
	// Exercise is the run id of the exercise whose step made the last
	// change: a drill. The stop holds all the same (a drill rehearses
	// the real stop of the system it drills).
	Exercise string `json:"exercise,omitempty"`
}

// AuditEntry is one line of the emergency stop's append-only audit trail.
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Action string    `json:"action"` // ActionEnable, ActionDisable, ActionSilence or ActionUnsilence
	User   string    `json:"user"`
	Host   string    `json:"host"`
	Reason string    `json:"reason,omitempty"`
	// Repair is set on a change forced over a stop that could not be read
	// (`runbook stop enable|disable --force`): what was wrong with it.
	Repair string `json:"repair,omitempty"`
	// Exercise is the run id of the exercise a change was made in (a
	// step of an exercise ran `runbook stop`): a drill, never to be
	// confused with a real stop.
	Exercise string `json:"exercise,omitempty"`
}

// StopRequest is a change of the emergency stop.
type StopRequest struct {
	On    bool
	Entry AuditEntry
	// Force replaces a stop that cannot be read (a damaged stop.json)
	// instead of failing.
	Force bool
}

// StopChange is what a change of the emergency stop did.
type StopChange struct {
	// Before is the stop the change replaced: zero when it was damaged and
	// replaced by force.
	Before StopState
	// After is the stop as the change left it.
	After StopState
	// Entry is the line appended to the audit trail.
	Entry AuditEntry
}

// DamagedStopError is an emergency stop whose state cannot be read.
type DamagedStopError struct {
	Where string
	Err   error
}

func (e *DamagedStopError) Error() string {
	return fmt.Sprintf("the emergency stop in %s is damaged: %v", e.Where, e.Err)
}

func (e *DamagedStopError) Unwrap() error { return e.Err }

// AuditProblem is a line of an audit trail that is not an entry.
type AuditProblem struct {
	Line int `json:"line"`
	// Torn marks an incomplete line: a write cut short (a full disk, a
	// crash) by a version of runbook that did not roll it back. The change
	// it began was never made: the stop is written only after its line.
	Torn bool   `json:"torn"`
	Err  string `json:"error"`
}

// AuditDamageError lists the lines of an audit trail that are not
// entries. Audit returns it along with every entry it could read.
type AuditDamageError struct {
	Where    string
	Problems []AuditProblem
}

func (e *AuditDamageError) Error() string {
	parts := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		if p.Torn {
			parts = append(parts, fmt.Sprintf("line %d is incomplete (a write cut short; skipped): %s", p.Line, p.Err))
		} else {
			parts = append(parts, fmt.Sprintf("line %d: %s", p.Line, p.Err))
		}
	}
	return fmt.Sprintf("audit trail %s: %s", e.Where, strings.Join(parts, "; "))
}

// Damaged reports whether a line is damaged, as opposed to merely torn.
func (e *AuditDamageError) Damaged() bool {
	for _, p := range e.Problems {
		if !p.Torn {
			return true
		}
	}
	return false
}

// The actions of the audit trail.
const (
	ActionEnable  = "enable"
	ActionDisable = "disable"
)

// completeEntry checks an audit entry and fills in its action and, when
// zero and now is not nil, its time from now.
func completeEntry(on bool, e AuditEntry, now func() time.Time) (AuditEntry, error) {
	e.Action = ActionDisable
	if on {
		e.Action = ActionEnable
	}
	if strings.TrimSpace(e.User) == "" {
		return e, errors.New("audit entry: the user is required")
	}
	if strings.TrimSpace(e.Host) == "" {
		return e, errors.New("audit entry: the host is required")
	}
	if on && strings.TrimSpace(e.Reason) == "" {
		return e, fmt.Errorf("audit entry: a reason is required to enable the emergency stop")
	}
	if e.Time.IsZero() && now != nil {
		e.Time = now()
	}
	if !e.Time.IsZero() {
		e.Time = e.Time.UTC().Truncate(time.Microsecond) // what PostgreSQL keeps
	}
	return e, nil
}

// state is the stop as this entry leaves it.
func (e AuditEntry) state() StopState {
	return StopState{On: e.Action == ActionEnable, Since: e.Time, By: e.User, Host: e.Host, Reason: e.Reason, Exercise: e.Exercise}
}
