package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/state"
	"github.com/spf13/cobra"
)

// stopFlags are the flags every stop subcommand takes.
type stopFlags struct {
	state    string
	operator string
}

func newStopCmd(a *app) *cobra.Command {
	var f stopFlags
	cmd := &cobra.Command{
		Use:   "stop enable|disable|status|check [FILE|DIR]",
		Short: "Turn the emergency stop on or off, or show it",
		Long: `The emergency stop refuses every run with mutating steps (confirm = true):
runbook exec exits 4 and names who turned the stop on, when, from which host
and why. Checks still run: runbook check, and exec of a runbook without
mutating steps, only observe.

The stop lives in the state (--state, $RUNBOOK_STATE, or .runbook/ beside
the runbook FILE|DIR given, else ./.runbook): point every host at one
postgres:// state and one stop halts the fleet. Typed without --state (and
without $RUNBOOK_STATE), a change is also written to the host-wide state
directory ($XDG_STATE_HOME/runbook, else ~/.local/state/runbook), which
every runbook exec on the host honours whatever its own state. Every change
is appended to an audit trail (time, action, user, host, reason) that
nothing rewrites.`,
		Example: `  runbook stop enable --reason "golden mismatch on shard 3, investigating"
  runbook stop status
  runbook stop status --audit
  runbook stop disable --reason "fixed in PIN-016"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitWith(2, fmt.Errorf("unknown command %q for \"runbook stop\": use enable, disable, status or check", args[0]))
			}
			return cmd.Help()
		},
	}
	cmd.PersistentFlags().StringVar(&f.state, "state", "", "the state holding the stop: a directory or a postgres:// URL (default $RUNBOOK_STATE, else .runbook/ beside FILE|DIR and the host-wide state directory)")
	cmd.PersistentFlags().StringVar(&f.operator, "operator", "", "who is changing the stop (default $RUNBOOK_OPERATOR, then $SUDO_USER, then $USER)")
	cmd.AddCommand(newStopSetCmd(a, &f, true), newStopSetCmd(a, &f, false), newStopStatusCmd(a, &f), newStopCheckCmd(a, &f))
	return cmd
}

// stopTarget is one state whose stop a stop command reads or changes.
type stopTarget struct {
	store state.Store
	// where is the state's absolute path, or its URL.
	where string
	// covers says which runs this state's stop refuses.
	covers   string
	hostWide bool
}

// stopTargets opens the states a stop command works on: the state it was
// given (--state, RUNBOOK_STATE) alone, or, given none, the default one
// (.runbook beside FILE|DIR) and the host-wide one. hostErr says why there
// is no host-wide state when there should be one. The caller closes the
// stores.
func (a *app) stopTargets(ctx context.Context, f *stopFlags, runbookPath string) (targets []stopTarget, hostErr error, err error) {
	explicit := f.state != "" || a.getenv("RUNBOOK_STATE") != ""
	store, err := a.openState(ctx, f.state, runbookPath)
	if err != nil {
		return nil, nil, err
	}
	primary := stopTarget{store: store, where: stateWhere(store)}
	switch d, isDir := store.(*state.Dir); {
	case !isDir:
		primary.covers = "every run, on every host, whose state is this database"
	case explicit:
		primary.covers = "the runs whose state is this directory"
	default:
		parent := filepath.Dir(absPath(d.Path))
		primary.covers = fmt.Sprintf("runbook exec of the runbooks in %s, and any runbook exec started in %s", parent, parent)
	}
	targets = append(targets, primary)
	if explicit {
		return targets, nil, nil
	}
	hd, herr := state.HostDir(a.getenv)
	if herr != nil {
		return targets, herr, nil
	}
	if d, ok := store.(*state.Dir); ok && samePath(d.Path, hd) {
		targets[0].hostWide, targets[0].covers = true, hostWideCovers
		return targets, nil, nil
	}
	targets = append(targets, stopTarget{store: state.NewDir(hd), where: hd, covers: hostWideCovers, hostWide: true})
	return targets, nil, nil
}

const hostWideCovers = "every runbook exec on this host that sees this directory (the same $XDG_STATE_HOME, else $HOME), whatever its own state"

// hostWideTarget is the host-wide state, for commands given a state of
// their own: exec honours its stop all the same. ok is false when there is
// none, or it is the state given.
func (a *app) hostWideTarget(given state.Store) (stopTarget, bool) {
	hd, err := state.HostDir(a.getenv)
	if err != nil {
		return stopTarget{}, false
	}
	if d, ok := given.(*state.Dir); ok && samePath(d.Path, hd) {
		return stopTarget{}, false
	}
	return stopTarget{store: state.NewDir(hd), where: hd, covers: hostWideCovers, hostWide: true}, true
}

func closeTargets(ts []stopTarget) {
	for _, t := range ts {
		t.store.Close()
	}
}

// stateWhere names a state for people: a directory's absolute path, or
// the database's URL (without its password).
func stateWhere(s state.Store) string {
	if d, ok := s.(*state.Dir); ok {
		return absPath(d.Path)
	}
	return s.Location()
}

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// newStopSetCmd is `stop enable` (on) or `stop disable`.
func newStopSetCmd(a *app, f *stopFlags, on bool) *cobra.Command {
	var reason string
	var force bool
	verb := "disable"
	if on {
		verb = "enable"
	}
	c := &cobra.Command{
		Use:   "disable [FILE|DIR]",
		Short: "Turn the emergency stop off",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			reason = strings.TrimSpace(reason)
			if on && reason == "" {
				return exitWith(2, fmt.Errorf("--reason is required to enable the emergency stop: say why, for the audit trail"))
			}
			targets, hostErr, err := a.stopTargets(ctx, f, pathArg(args))
			if err != nil {
				return err
			}
			defer closeTargets(targets)
			entry := state.AuditEntry{User: a.operator(f.operator), Host: hostname(), Reason: reason, Exercise: drillRun()}
			var changes []state.StopChange
			var done []stopTarget
			for _, t := range targets {
				c, err := t.store.ChangeStop(ctx, state.StopRequest{On: on, Entry: entry, Force: force})
				if err != nil {
					var damaged *state.DamagedStopError
					if errors.As(err, &damaged) {
						err = fmt.Errorf("%w\n`runbook stop %s --force` rewrites it (the repair is recorded in the audit trail)", err, verb)
					}
					if len(done) > 0 {
						err = fmt.Errorf("%w\nThe stop is %s in %s; it was not changed in %s", err, onOff(on), describeWheres(done), t.where)
					}
					return exitWith(1, err)
				}
				changes = append(changes, c)
				done = append(done, t)
			}
			now := time.Now()
			for i, c := range changes {
				if c.Before.On == on {
					fmt.Fprintf(a.stdout, "The emergency stop in %s was already %s: %s. This change is recorded too.\n", done[i].where, onOff(on), describeChange(c.Before, now))
				}
				if c.Entry.Repair != "" {
					fmt.Fprintf(a.stdout, "Repaired %s: %s.\n", done[i].where, c.Entry.Repair)
				}
			}
			if on {
				fmt.Fprintf(a.stdout, "Emergency stop ON: %s.\nRuns with mutating steps are refused (exit 4) until `runbook stop disable`.\n",
					describeChange(changes[0].After, now))
			} else {
				fmt.Fprintf(a.stdout, "Emergency stop OFF: %s.\n", describeChange(changes[0].After, now))
			}
			for _, t := range done {
				printWhere(a.stdout, t)
			}
			if hostErr != nil {
				fmt.Fprintf(a.stderr, "runbook: warning: %v: the stop was changed only in %s\n", hostErr, describeWheres(done))
			}
			if len(targets) == 1 && !targets[0].hostWide {
				if h, ok := a.hostWideTarget(targets[0].store); ok {
					defer h.store.Close()
					if st, err := h.store.Stop(ctx); err == nil && st.On {
						fmt.Fprintf(a.stdout, "Note: the host-wide stop in %s is ON too (%s); `runbook stop disable` typed without --state lifts it.\n", h.where, describeChange(st, now))
					}
				}
			}
			return nil
		},
	}
	if on {
		c.Use = "enable --reason TEXT [FILE|DIR]"
		c.Short = "Turn the emergency stop on: runs with mutating steps are refused"
		c.Flags().StringVar(&reason, "reason", "", "why (required): kept in the audit trail and shown to everyone refused")
	} else {
		c.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
	}
	c.Flags().BoolVar(&force, "force", false, "replace a damaged stop (a stop.json that does not parse); the repair is audited")
	return c
}

// printWhere prints a state a stop command used: where, and what its stop
// covers.
func printWhere(w io.Writer, t stopTarget) {
	where := t.where
	if t.hostWide {
		where += " (host-wide)"
	}
	fmt.Fprintf(w, "  state   %s\n  covers  %s\n", where, t.covers)
}

func describeWheres(ts []stopTarget) string {
	var ws []string
	for _, t := range ts {
		ws = append(ws, t.where)
	}
	return strings.Join(ws, " and ")
}

// stopStatusJSON is one state's stop in `stop status --format json`.
type stopStatusJSON struct {
	Location      string               `json:"location"`
	Covers        string               `json:"covers"`
	HostWide      bool                 `json:"host_wide,omitempty"`
	Stop          state.StopState      `json:"stop"`
	Audit         []state.AuditEntry   `json:"audit,omitempty"`
	AuditProblems []state.AuditProblem `json:"audit_problems,omitempty"`
}

func newStopStatusCmd(a *app, f *stopFlags) *cobra.Command {
	var (
		format string
		audit  bool
	)
	c := &cobra.Command{
		Use:   "status [FILE|DIR]",
		Short: "Show whether the emergency stop is on (exit 0 either way)",
		Long: `Show the emergency stop of the state (--state, $RUNBOOK_STATE, or .runbook/
beside FILE|DIR) and the host-wide one, with their absolute paths and what
each covers. Exit 0 whether the stop is on or off; 1 when a stop cannot be
read or the audit trail has a damaged line (the rest of the trail is still
printed). An incomplete last line (a write cut short by a full disk or a
crash, whose change was never made) is skipped with a warning.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if format != "table" && format != "json" {
				return exitWith(2, fmt.Errorf("--format: %q is not one of table, json", format))
			}
			targets, _, err := a.stopTargets(ctx, f, pathArg(args))
			if err != nil {
				return err
			}
			defer closeTargets(targets)
			if len(targets) == 1 && !targets[0].hostWide {
				if h, ok := a.hostWideTarget(targets[0].store); ok {
					targets = append(targets, h)
					defer h.store.Close()
				}
			}
			var states []stopStatusJSON
			failed := false
			for i, t := range targets {
				st, err := t.store.Stop(ctx)
				if err != nil {
					var damaged *state.DamagedStopError
					if errors.As(err, &damaged) {
						err = fmt.Errorf("%w\n`runbook stop enable|disable --force` rewrites it (the repair is recorded in the audit trail)", err)
					}
					if i == 0 {
						return exitWith(1, err)
					}
					fmt.Fprintf(a.stderr, "runbook: %v\n", err)
					failed = true
					continue
				}
				s := stopStatusJSON{Location: t.where, Covers: t.covers, HostWide: t.hostWide, Stop: st}
				if audit {
					trail, err := t.store.Audit(ctx)
					var damage *state.AuditDamageError
					switch {
					case errors.As(err, &damage):
						s.AuditProblems = damage.Problems
						for _, p := range damage.Problems {
							if p.Torn {
								fmt.Fprintf(a.stderr, "runbook: warning: audit trail %s line %d is incomplete, skipped: a write cut short (a full disk, a crash); the change it began was never made\n", damage.Where, p.Line)
							} else {
								fmt.Fprintf(a.stderr, "runbook: audit trail %s line %d is damaged: %s\n", damage.Where, p.Line, p.Err)
								failed = true
							}
						}
					case err != nil:
						return exitWith(1, err)
					}
					s.Audit = trail
				}
				states = append(states, s)
			}
			inEffect := false
			for _, s := range states {
				inEffect = inEffect || s.Stop.On
			}
			if format == "json" {
				out := struct {
					stopStatusJSON
					InEffect     bool            `json:"in_effect"`
					HostWideStop *stopStatusJSON `json:"host_wide_stop,omitempty"`
				}{stopStatusJSON: states[0], InEffect: inEffect}
				if len(states) > 1 {
					out.HostWideStop = &states[1]
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			} else {
				now := time.Now()
				for i, s := range states {
					if i > 0 {
						fmt.Fprintln(a.stdout)
					}
					title := "Emergency stop"
					if s.HostWide && i > 0 {
						title = "Host-wide emergency stop"
					}
					printStop(a.stdout, title, s, now)
					if audit {
						printAudit(a.stdout, a.tableStyle(a.stdout), s.Audit)
					}
				}
				if inEffect {
					fmt.Fprintln(a.stdout, "\nRuns with mutating steps (confirm = true) are refused with exit 4; checks still run.")
				}
			}
			if failed {
				return exitWith(1, nil)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "table", "output format: table or json")
	c.Flags().BoolVar(&audit, "audit", false, "also print the audit trail, oldest first")
	return c
}

// newStopCheckCmd is `runbook stop check`: the stop as an exit code, for
// deploy scripts and the systems a runbook operates.
func newStopCheckCmd(a *app, f *stopFlags) *cobra.Command {
	var verbose bool
	c := &cobra.Command{
		Use:   "check [FILE|DIR]",
		Short: "Exit 4 if the emergency stop is on, 0 if it is off (for scripts)",
		Long: `Answer with the exit code whether the emergency stop that runbook exec
would honour here is on: the state's (--state, $RUNBOOK_STATE, or .runbook/
beside FILE|DIR), ./.runbook's, or the host-wide one. Exit 0 when it is off,
4 when it is on, 2 when it cannot be read (treat that as on). Prints nothing
unless -v.`,
		Example: `  runbook stop check --state postgres://runbook@db/ops || { echo "emergency stop is on"; exit 1; }`,
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, err := a.openState(ctx, f.state, pathArg(args))
			if err != nil {
				return err // exit 2
			}
			defer store.Close()
			st, _, where, err := a.stopInEffect(ctx, store)
			if err != nil {
				return exitWith(2, fmt.Errorf("cannot tell whether the emergency stop (%s) is on: %w", where, err))
			}
			if !st.On {
				if verbose {
					fmt.Fprintf(a.stdout, "Emergency stop: OFF (state %s)\n", stateWhere(store))
				}
				return nil
			}
			if verbose {
				fmt.Fprintf(a.stdout, "Emergency stop: ON: %s\n", describeChange(st, time.Now()))
			}
			return exitWith(4, nil)
		},
	}
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "say whether the stop is on, and who turned it on, when and why")
	return c
}

func pathArg(args []string) string {
	if len(args) == 1 {
		return args[0]
	}
	return "."
}

func onOff(on bool) string {
	if on {
		return "ON"
	}
	return "OFF"
}

// describeChange says who last changed the stop, where, when and why.
func describeChange(st state.StopState, now time.Time) string {
	if st.Since.IsZero() {
		return "never changed"
	}
	verb := "disabled"
	if st.On {
		verb = "enabled"
	}
	s := fmt.Sprintf("%s by %s on %s at %s", verb, st.By, st.Host, stamp(st.Since, now))
	if st.Reason != "" {
		s += fmt.Sprintf(", reason: %q", st.Reason)
	}
	if st.Exercise != "" {
		s += fmt.Sprintf(" (a drill, by exercise %s)", st.Exercise)
	}
	return s
}

// stamp renders a time as RFC 3339 UTC with its age, or how far off it
// is when it is to come.
func stamp(t, now time.Time) string {
	age := now.Sub(t).Round(time.Second)
	if age < 0 {
		return fmt.Sprintf("%s (in %s)", t.UTC().Format(time.RFC3339), -age)
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), age)
}

func printStop(w io.Writer, title string, s stopStatusJSON, now time.Time) {
	st := s.Stop
	fmt.Fprintf(w, "%s: %s\n", title, onOff(st.On))
	if !st.Since.IsZero() {
		fmt.Fprintf(w, "  since   %s\n", stamp(st.Since, now))
		fmt.Fprintf(w, "  by      %s\n", st.By)
		fmt.Fprintf(w, "  host    %s\n", st.Host)
		if st.Reason != "" {
			fmt.Fprintf(w, "  reason  %s\n", st.Reason)
		}
		if st.Exercise != "" {
			fmt.Fprintf(w, "  drill   exercise %s (a step of an exercise set it; it holds like a real stop)\n", st.Exercise)
		}
	} else {
		fmt.Fprintln(w, "  (never enabled)")
	}
	fmt.Fprintf(w, "  state   %s\n", s.Location)
	fmt.Fprintf(w, "  covers  %s\n", s.Covers)
}

func printAudit(w io.Writer, style table.Style, trail []state.AuditEntry) {
	if len(trail) == 0 {
		fmt.Fprintln(w, "  The audit trail is empty.")
		return
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(style)
	repaired, drills := false, false
	for _, e := range trail {
		repaired = repaired || e.Repair != ""
		drills = drills || e.Exercise != ""
	}
	header := table.Row{"time", "action", "user", "host", "reason"}
	if repaired {
		header = append(header, "repair")
	}
	if drills {
		header = append(header, "drill")
	}
	t.AppendHeader(header)
	for _, e := range trail {
		row := table.Row{e.Time.UTC().Format(time.RFC3339), e.Action, e.User, e.Host, e.Reason}
		if repaired {
			row = append(row, e.Repair)
		}
		if drills {
			drill := ""
			if e.Exercise != "" {
				drill = "drill: exercise " + e.Exercise
			}
			row = append(row, drill)
		}
		t.AppendRow(row)
	}
	t.Render()
}

// mutatingSteps names the items of the run opts describe that would run
// with confirm = true. A plan error is left for engine.Run to report.
func mutatingSteps(b *engine.Bound, opts engine.Options) []string {
	items, err := engine.Plan(b, opts)
	if err != nil {
		return nil
	}
	var names []string
	for _, it := range items {
		if it.Confirm && it.Selected {
			names = append(names, it.Name)
		}
	}
	return names
}

// refuseIfStopped returns exit 4 when the emergency stop is on and the run
// has mutating steps; a run without them (it only observes) always goes.
// The stops that count: the run's own state's, ./.runbook's (typed in the
// directory the run starts from), and the host-wide one.
func (a *app) refuseIfStopped(ctx context.Context, store state.Store, b *engine.Bound, opts engine.Options) error {
	mutating := mutatingSteps(b, opts)
	if len(mutating) == 0 {
		return nil
	}
	cannotTell := func(where string, err error) error {
		return exitWith(2, fmt.Errorf("cannot tell whether the emergency stop (%s) is on, and this run has mutating steps (%s): %w", where, strings.Join(mutating, ", "), err))
	}
	st, lift, where, err := a.stopInEffect(ctx, store)
	if err != nil {
		return cannotTell(where, err)
	}
	if !st.On {
		return nil
	}
	return exitWith(4, fmt.Errorf("refused: the emergency stop is ON: %s.\n"+
		"This run has mutating steps (confirm = true): %s.\n"+
		"Checks still run (runbook check). To lift the stop: %s.",
		describeChange(st, time.Now()), strings.Join(mutating, ", "), lift))
}

// stopInEffect is the stop that holds for an exec on store: the state's
// own, ./.runbook's (typed in the directory the run starts from), or the
// host-wide one, whichever is on. lift says how to lift it. A stop that
// cannot be read is an error naming where it is.
func (a *app) stopInEffect(ctx context.Context, store state.Store) (st state.StopState, lift, where string, err error) {
	st, err = store.Stop(ctx)
	if err != nil {
		return st, "", stateWhere(store), err
	}
	lift = fmt.Sprintf("runbook stop disable --reason \"…\" (state %s)", stateWhere(store))
	if !st.On {
		// Fail safe: `runbook stop enable` typed in this directory
		// (./.runbook) stops runs from here too, even when the runbook's
		// own state lives elsewhere (runbooks/.runbook).
		if d, ok := store.(*state.Dir); ok && !samePath(d.Path, ".runbook") {
			if local := state.NewDir(".runbook"); local.HasStop() {
				if lst, err := local.Stop(ctx); err == nil && lst.On {
					st = lst
					lift = fmt.Sprintf("runbook stop disable --reason \"…\" (state %s)", absPath(local.Path))
				}
			}
		}
	}
	if !st.On {
		// The host-wide stop halts every exec on the host, whatever its
		// state.
		if h, ok := a.hostWideTarget(store); ok {
			if hd := h.store.(*state.Dir); hd.HasStop() {
				hst, err := hd.Stop(ctx)
				if err != nil {
					return st, "", h.where + ", host-wide", err
				}
				if hst.On {
					st = hst
					lift = fmt.Sprintf("runbook stop disable --reason \"…\" typed without --state (host-wide state %s)", h.where)
				}
			}
		}
	}
	return st, lift, "", nil
}

// lockProcedure takes the lock that keeps two execs of one procedure (a
// runbook's steps, or one of its playbooks) on one state from
// interleaving: a second one is refused with exit 4, naming the first.
// Checks take no lock: they only observe. A lock left by a process that is
// gone is taken over, with a warning.
func (a *app) lockProcedure(ctx context.Context, store state.Store, b *engine.Bound, opts engine.Options) (*state.Lock, error) {
	key := state.ProcKey(b.Info.Name, opts.Playbook)
	what := fmt.Sprintf("runbook %q", b.Info.Name)
	if opts.Playbook != "" {
		what = fmt.Sprintf("playbook %q of runbook %q", opts.Playbook, b.Info.Name)
	}
	l, err := store.Acquire(ctx, key, state.Holder{Operator: opts.Operator, Host: opts.Host, PID: os.Getpid(), Since: time.Now().UTC(), RunID: opts.ID})
	var held *state.HeldError
	if errors.As(err, &held) {
		h := held.Holder
		since := "an unknown time"
		if !h.Since.IsZero() {
			since = stamp(h.Since, time.Now())
		}
		if h.RunID != "" {
			since += " as run " + h.RunID
		}
		return nil, exitWith(4, fmt.Errorf("refused: %s is already running: started by %s on %s (pid %d) at %s.\n"+
			"Two runs of one procedure must not interleave: wait for that one to end (a lock whose process is gone is taken over). Lock: %s.",
			what, orUnknown(h.Operator), orUnknown(h.Host), h.PID, since, held.Where))
	}
	if err != nil {
		return nil, exitWith(2, fmt.Errorf("cannot take the lock of %s: %w", what, err))
	}
	if w := l.Warning(key); w != "" {
		fmt.Fprintf(a.stderr, "runbook: warning: %s\n", w)
	}
	return l, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// samePath reports whether two paths name the same directory.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
