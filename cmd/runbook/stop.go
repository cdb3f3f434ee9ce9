package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
		Use:   "stop enable|disable|status [FILE|DIR]",
		Short: "Turn the emergency stop on or off, or show it",
		Long: `The emergency stop refuses every run with mutating steps (confirm = true):
runbook exec exits 4 and names who turned the stop on, when, from which host
and why. Checks still run: runbook check, and exec of a runbook without
mutating steps, only observe.

The stop lives in the state (--state, $RUNBOOK_STATE, or .runbook/ beside
the runbook FILE|DIR given, else ./.runbook): point every host at one
postgres:// state and one stop halts the fleet. Every change is appended to
an audit trail (time, action, user, host, reason) that nothing rewrites.`,
		Example: `  runbook stop enable --reason "golden mismatch on shard 3, investigating"
  runbook stop status
  runbook stop status --audit
  runbook stop disable --reason "fixed in PIN-016"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitWith(2, fmt.Errorf("unknown command %q for \"runbook stop\": use enable, disable or status", args[0]))
			}
			return cmd.Help()
		},
	}
	cmd.PersistentFlags().StringVar(&f.state, "state", "", "the state holding the stop: a directory or a postgres:// URL (default $RUNBOOK_STATE, else .runbook/ beside FILE|DIR)")
	cmd.PersistentFlags().StringVar(&f.operator, "operator", "", "who is changing the stop (default $SUDO_USER, then $USER)")
	cmd.AddCommand(newStopSetCmd(a, &f, true), newStopSetCmd(a, &f, false), newStopStatusCmd(a, &f))
	return cmd
}

// newStopSetCmd is `stop enable` (on) or `stop disable`.
func newStopSetCmd(a *app, f *stopFlags, on bool) *cobra.Command {
	var reason string
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
			store, err := a.openState(ctx, f.state, pathArg(args))
			if err != nil {
				return err
			}
			defer store.Close()
			before, err := store.Stop(ctx)
			if err != nil {
				return exitWith(1, err)
			}
			st, err := store.SetStop(ctx, on, state.AuditEntry{User: a.operator(f.operator), Host: hostname(), Reason: reason})
			if err != nil {
				return exitWith(1, err)
			}
			if before.On == on {
				fmt.Fprintf(a.stdout, "The emergency stop was already %s: %s. This change is recorded too.\n", onOff(on), describeChange(before, time.Now()))
			}
			if on {
				fmt.Fprintf(a.stdout, "Emergency stop ON: %s.\nRuns with mutating steps are refused (exit 4) until `runbook stop disable`. State: %s\n",
					describeChange(st, time.Now()), store.Location())
			} else {
				fmt.Fprintf(a.stdout, "Emergency stop OFF: %s.\nState: %s\n", describeChange(st, time.Now()), store.Location())
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
	return c
}

func newStopStatusCmd(a *app, f *stopFlags) *cobra.Command {
	var (
		format string
		audit  bool
	)
	c := &cobra.Command{
		Use:   "status [FILE|DIR]",
		Short: "Show whether the emergency stop is on (exit 0 either way)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if format != "table" && format != "json" {
				return exitWith(2, fmt.Errorf("--format: %q is not one of table, json", format))
			}
			store, err := a.openState(ctx, f.state, pathArg(args))
			if err != nil {
				return err
			}
			defer store.Close()
			st, err := store.Stop(ctx)
			if err != nil {
				return exitWith(1, err)
			}
			var trail []state.AuditEntry
			if audit {
				if trail, err = store.Audit(ctx); err != nil {
					return exitWith(1, err)
				}
			}
			if format == "json" {
				out := struct {
					Location string             `json:"location"`
					Stop     state.StopState    `json:"stop"`
					Audit    []state.AuditEntry `json:"audit,omitempty"`
				}{store.Location(), st, trail}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(out)
			}
			printStop(a.stdout, st, store.Location(), time.Now())
			if audit {
				fmt.Fprintln(a.stdout)
				printAudit(a.stdout, trail)
			}
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "table", "output format: table or json")
	c.Flags().BoolVar(&audit, "audit", false, "also print the audit trail, oldest first")
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
	return s
}

// stamp renders a time as RFC 3339 UTC with its age.
func stamp(t, now time.Time) string {
	age := now.Sub(t).Round(time.Second)
	if age < 0 {
		age = 0
	}
	return fmt.Sprintf("%s (%s ago)", t.UTC().Format(time.RFC3339), age)
}

func printStop(w io.Writer, st state.StopState, location string, now time.Time) {
	fmt.Fprintf(w, "Emergency stop: %s\n", onOff(st.On))
	if !st.Since.IsZero() {
		fmt.Fprintf(w, "  since   %s\n", stamp(st.Since, now))
		fmt.Fprintf(w, "  by      %s\n", st.By)
		fmt.Fprintf(w, "  host    %s\n", st.Host)
		if st.Reason != "" {
			fmt.Fprintf(w, "  reason  %s\n", st.Reason)
		}
	} else {
		fmt.Fprintln(w, "  (never enabled)")
	}
	fmt.Fprintf(w, "  state   %s\n", location)
	if st.On {
		fmt.Fprintln(w, "Runs with mutating steps (confirm = true) are refused with exit 4; checks still run.")
	}
}

func printAudit(w io.Writer, trail []state.AuditEntry) {
	if len(trail) == 0 {
		fmt.Fprintln(w, "The audit trail is empty.")
		return
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(table.StyleLight)
	t.AppendHeader(table.Row{"time", "action", "user", "host", "reason"})
	for _, e := range trail {
		t.AppendRow(table.Row{e.Time.UTC().Format(time.RFC3339), e.Action, e.User, e.Host, e.Reason})
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
func (a *app) refuseIfStopped(ctx context.Context, store state.Store, b *engine.Bound, opts engine.Options) error {
	mutating := mutatingSteps(b, opts)
	if len(mutating) == 0 {
		return nil
	}
	st, err := store.Stop(ctx)
	if err != nil {
		return exitWith(2, fmt.Errorf("cannot tell whether the emergency stop is on, and this run has mutating steps (%s): %w", strings.Join(mutating, ", "), err))
	}
	if !st.On {
		// Fail safe: `runbook stop enable` typed in this directory
		// (./.runbook) stops runs from here too, even when the runbook's
		// own state lives elsewhere (runbooks/.runbook).
		if d, ok := store.(*state.Dir); ok && !samePath(d.Path, ".runbook") {
			if local := state.NewDir(".runbook"); local.HasStop() {
				if lst, err := local.Stop(ctx); err == nil && lst.On {
					st, store = lst, local
				}
			}
		}
	}
	if !st.On {
		return nil
	}
	return exitWith(4, fmt.Errorf("refused: the emergency stop is ON: %s.\n"+
		"This run has mutating steps (confirm = true): %s.\n"+
		"Checks still run (runbook check). To lift the stop: runbook stop disable --reason \"…\" (state %s).",
		describeChange(st, time.Now()), strings.Join(mutating, ", "), store.Location()))
}

// samePath reports whether two paths name the same directory.
func samePath(a, b string) bool {
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}
