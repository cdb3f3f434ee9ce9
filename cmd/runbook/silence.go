package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/state"
	"github.com/spf13/cobra"
)

// silenceFlags are the flags every silence subcommand takes.
type silenceFlags struct {
	state    string
	runbook  string
	operator string
}

func newSilenceCmd(a *app) *cobra.Command {
	var f silenceFlags
	cmd := &cobra.Command{
		Use:   "silence add|list|remove",
		Short: "Hold back the alerts of runbook watch for some checks, for a while",
		Long: `A silence holds back the alerts that runbook watch sends about some checks
(or all of them) for a while: during maintenance, or while someone is on the
problem already. Checks still run, and their health is still served on
/healthz and recorded; only the alerts wait. A problem still there when the
silence ends (or is removed) is alerted then; one that is gone by then is
not.

Silences live in the state the watch reads, which you name: --state,
$RUNBOOK_STATE, or --runbook FILE|DIR, the runbook the watch runs (its
.runbook/ state). With --runbook, the checks you name must be the
runbook's. Point every host at one postgres:// state and one silence holds
for the fleet. Adding and removing one is appended to the audit trail
(runbook stop status --audit).`,
		Example: `  runbook silence add disk_root api_health --for 2h --reason "disk swap, CHG-1042" --runbook runbooks/mon.hcl
  runbook silence add --all --for 30m --reason "deploy" --state postgres://ops@db/runbook
  runbook silence list --runbook runbooks/mon.hcl
  runbook silence remove s-1a2b3c4d --runbook runbooks/mon.hcl`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitWith(2, fmt.Errorf("unknown command %q for \"runbook silence\": use add, list or remove", args[0]))
			}
			return cmd.Help()
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.state, "state", "", "the state holding the silences: a directory or a postgres:// URL (default $RUNBOOK_STATE, else .runbook/ beside --runbook)")
	pf.StringVar(&f.runbook, "runbook", "", "the runbook `FILE|DIR` the watch runs: its checks are the ones a silence may name, and its .runbook/ state is used when neither --state nor $RUNBOOK_STATE is set")
	pf.StringVar(&f.operator, "operator", "", "who sets or removes the silence (default $SUDO_USER, then $USER)")
	cmd.AddCommand(newSilenceAddCmd(a, &f), newSilenceListCmd(a, &f), newSilenceRemoveCmd(a, &f))
	return cmd
}

func newSilenceAddCmd(a *app, f *silenceFlags) *cobra.Command {
	var (
		all    bool
		dur    time.Duration
		reason string
	)
	c := &cobra.Command{
		Use:   "add [CHECK…|--all] --for DURATION --reason TEXT",
		Short: "Silence the alerts of some checks, or all, for a while",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch {
			case all && len(args) > 0:
				return exitWith(2, errors.New("name checks or give --all, not both"))
			case !all && len(args) == 0:
				return exitWith(2, errors.New("name the checks to silence, or give --all"))
			case dur <= 0:
				return exitWith(2, errors.New("--for is required: a positive duration such as 30m or 2h"))
			case strings.TrimSpace(reason) == "":
				return exitWith(2, errors.New("--reason is required: say why, for the audit trail and the on-call"))
			}
			checks, err := a.silenceChecks(f.runbook, args)
			if err != nil {
				return err
			}
			store, err := f.open(ctx, a)
			if err != nil {
				return err
			}
			defer store.Close()
			now := time.Now()
			s, err := store.AddSilence(ctx, state.Silence{Checks: checks, Reason: reason, By: a.operator(f.operator), Host: hostname(),
				Start: now, End: now.Add(dur)})
			if err != nil {
				return exitWith(1, err)
			}
			fmt.Fprintf(a.stdout, "Silence %s: alerts about %s are held back until %s.\nState: %s\n",
				s.ID, silenced(s), stamp(s.End, now), store.Location())
			return nil
		},
	}
	c.Flags().BoolVar(&all, "all", false, "silence every check")
	c.Flags().DurationVar(&dur, "for", 0, "how long (required): 30m, 2h")
	c.Flags().StringVar(&reason, "reason", "", "why (required): kept with the silence and in the audit trail")
	return c
}

func newSilenceListCmd(a *app, f *silenceFlags) *cobra.Command {
	var format string
	c := &cobra.Command{
		Use:   "list",
		Short: "List the silences that have not ended",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if format != "table" && format != "json" {
				return exitWith(2, fmt.Errorf("--format: %q is not one of table, json", format))
			}
			store, err := f.open(ctx, a)
			if err != nil {
				return err
			}
			defer store.Close()
			list, err := store.Silences(ctx)
			if err != nil {
				return exitWith(1, err)
			}
			if format == "json" {
				if list == nil {
					list = []state.Silence{}
				}
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			printSilences(a.stdout, a.tableStyle(a.stdout), list, time.Now())
			return nil
		},
	}
	c.Flags().StringVar(&format, "format", "table", "output format: table or json")
	return c
}

func newSilenceRemoveCmd(a *app, f *silenceFlags) *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "remove ID",
		Short: "End a silence now: problems it held back are alerted at the next cycle",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			store, err := f.open(ctx, a)
			if err != nil {
				return err
			}
			defer store.Close()
			s, err := store.RemoveSilence(ctx, args[0], state.AuditEntry{User: a.operator(f.operator), Host: hostname(), Reason: reason})
			if err != nil {
				return exitWith(1, err)
			}
			fmt.Fprintf(a.stdout, "Silence %s removed: alerts about %s go out again.\n", s.ID, silenced(s))
			return nil
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why, for the audit trail")
	return c
}

// open opens the state holding the silences. It must be named (--state,
// $RUNBOOK_STATE or --runbook): a silence written to ./.runbook while the
// watch reads another state would never be seen.
func (f *silenceFlags) open(ctx context.Context, a *app) (state.Store, error) {
	if f.state == "" && a.getenv("RUNBOOK_STATE") == "" && f.runbook == "" {
		return nil, exitWith(2, errors.New("say which state holds the silences: --runbook FILE|DIR (the runbook the watch runs; its .runbook/ state), --state DIR|URL, or $RUNBOOK_STATE; a silence in another state than the watch's is never seen"))
	}
	return a.openState(ctx, f.state, f.runbook)
}

// silenceChecks returns the checks named, each as the runbook at path
// (when given) names it: a "check." prefix is accepted, and a name the
// runbook does not have is an error (exit 2) with a suggestion.
func (a *app) silenceChecks(path string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, strings.TrimPrefix(n, "check."))
	}
	if path == "" || len(out) == 0 {
		return out, nil
	}
	cfg, diags := engine.Load(path, registry())
	if diags.HasErrors() {
		var first error = diags
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				first = d
				break
			}
		}
		return nil, exitWith(2, fmt.Errorf("--runbook %s: cannot read its checks (%w); name the runbook the watch runs, or give --state", path, first))
	}
	var unknown []string
	for i, n := range out {
		if _, ok := cfg.Checks[n]; ok {
			continue
		}
		unknown = append(unknown, fmt.Sprintf("%q is not a check of %s.%s", names[i], path, engine.Suggest(n, cfg.CheckOrder)))
	}
	if len(unknown) > 0 {
		return nil, exitWith(2, fmt.Errorf("%s Its checks: %s", strings.Join(unknown, " "), strings.Join(cfg.CheckOrder, ", ")))
	}
	return out, nil
}

// silenced names what a silence covers.
func silenced(s state.Silence) string {
	if len(s.Checks) == 0 {
		return "every check"
	}
	return strings.Join(s.Checks, ", ")
}

func printSilences(w io.Writer, style table.Style, list []state.Silence, now time.Time) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No silences.")
		return
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(style)
	t.AppendHeader(table.Row{"id", "checks", "until", "by", "host", "reason"})
	for _, s := range list {
		until := s.End.UTC().Format(time.RFC3339)
		if s.Start.After(now) {
			until = "from " + s.Start.UTC().Format(time.RFC3339) + " to " + until
		} else {
			until += fmt.Sprintf(" (%s left)", s.End.Sub(now).Round(time.Second))
		}
		t.AppendRow(table.Row{s.ID, silenced(s), until, s.By, s.Host, s.Reason})
	}
	t.Render()
}
