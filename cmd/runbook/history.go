package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/views"
	"github.com/spf13/cobra"
)

// runStatuses are the statuses `history --status` accepts.
var runStatuses = []string{record.Passed, record.Warning, record.Failed, record.Incomplete, record.Running, record.Abandoned}

func newHistoryCmd(a *app) *cobra.Command {
	var stateFlag, runbook, mode, playbook, status string
	var limit int
	cmd := &cobra.Command{
		Use:   "history [FILE|DIR]",
		Short: "List past runs",
		Long: `List the runs recorded in the state directory (of the runbook given, or --state,
or $RUNBOOK_STATE, or ./.runbook — and when that has none, the .runbook
directory beside runbooks below the working directory), newest first.

--runbook, --mode, --playbook and --status keep only the runs that match
(--playbook "" keeps the runs of top-level steps). A record that cannot be
read is listed as corrupt, with the error. An abandoned run (its process
died without finishing it) names the item that was running.`,
		Example: `  runbook history
  runbook history --mode exec --status failed
  runbook history --runbook deploy --playbook fix -n 5`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f := state.Filter{Runbook: runbook, Mode: mode, Status: status}
			switch mode {
			case "", engine.ModeExec, engine.ModeCheck, "watch":
			default:
				return exitWith(2, fmt.Errorf("--mode: %q is not one of exec, check, watch", mode))
			}
			if status != "" && !contains(runStatuses, status) {
				return exitWith(2, fmt.Errorf("--status: %q is not one of %s", status, strings.Join(runStatuses, ", ")))
			}
			if cmd.Flags().Changed("playbook") {
				f.Playbook = &playbook
			}
			p := "."
			if len(args) == 1 {
				p = args[0]
			}
			store, err := a.openState(ctx, stateFlag, p)
			if err != nil {
				return err
			}
			defer store.Close()
			entries, err := listRuns(ctx, store, f, limit)
			if err != nil {
				return exitWith(1, err)
			}
			if len(entries) == 0 && len(args) == 0 && stateFlag == "" && a.getenv("RUNBOOK_STATE") == "" {
				// As show and report do: runs live beside their runbooks.
				for _, dir := range discoverStateDirs(".") {
					d := state.NewDir(dir)
					if more, err := listRuns(ctx, d, f, limit); err == nil && len(more) > 0 {
						fmt.Fprintf(a.stdout, "Runs in %s:\n", absPath(d.Path))
						store, entries = d, more
						break
					}
				}
			}
			if len(entries) == 0 {
				what := "runs"
				if f != (state.Filter{}) {
					what = f.String()
				}
				fmt.Fprintf(a.stdout, "No %s recorded in %s.\n", what, stateWhere(store))
				return nil
			}
			printHistory(a.stdout, a.tableStyle(a.stdout), entries)
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most N runs (0: all)")
	cmd.Flags().StringVar(&runbook, "runbook", "", "only the runs of the runbook with this `NAME`")
	cmd.Flags().StringVar(&mode, "mode", "", "only the runs of this `MODE`: exec, check or watch")
	cmd.Flags().StringVar(&playbook, "playbook", "", "only the runs of this playbook (\"\": the top-level steps)")
	cmd.Flags().StringVar(&status, "status", "", "only the runs with this `STATUS`: "+strings.Join(runStatuses, ", "))
	return cmd
}

// listRuns collects up to limit runs (0: all) matching f, newest first,
// with the records that cannot be read.
func listRuns(ctx context.Context, s state.Store, f state.Filter, limit int) ([]state.RunEntry, error) {
	var out []state.RunEntry
	err := s.Runs(ctx, f, func(e state.RunEntry) bool {
		out = append(out, e)
		return limit <= 0 || len(out) < limit
	})
	return out, err
}

// printHistory prints the runs as a table, with a note column when a run
// is abandoned or a record corrupt.
func printHistory(w io.Writer, style table.Style, entries []state.RunEntry) {
	notes := false
	for _, e := range entries {
		notes = notes || e.Err != nil || e.Run.Status == record.Abandoned
	}
	t := table.NewWriter()
	t.SetOutputMirror(w)
	t.SetStyle(style)
	header := table.Row{"run", "runbook", "mode", "playbook", "status", "passed", "failed", "warning", "pending", "operator", "duration"}
	if notes {
		header = append(header, "note")
	}
	t.AppendHeader(header)
	for _, e := range entries {
		if e.Err != nil {
			row := table.Row{e.ID, "", "", "", "corrupt", "", "", "", "", "", ""}
			if notes {
				row = append(row, e.Err.Error())
			}
			t.AppendRow(row)
			continue
		}
		run := e.Run
		pb := ""
		if run.Playbook != nil {
			pb = *run.Playbook
		}
		row := table.Row{run.ID, run.Runbook, run.Mode, pb, run.Status, run.Summary.Passed, run.Summary.Failed, run.Summary.Warning, run.Summary.Pending, run.Operator, fmt.Sprintf("%.1fs", float64(run.DurationMS)/1000)}
		if notes {
			note := ""
			if run.Status == record.Abandoned {
				note = abandonedNote(run)
			}
			row = append(row, note)
		}
		t.AppendRow(row)
	}
	t.Render()
}

// abandonedNote says what an abandoned run was doing when its process
// went away.
func abandonedNote(run *record.Run) string {
	what := "no item was running"
	for _, it := range run.Items {
		if it.Status == record.Running {
			what = fmt.Sprintf("it was running %s %q", it.Kind, it.Name)
			if it.StartedAt != nil {
				what += " (started " + it.StartedAt.UTC().Format(time.RFC3339) + ")"
			}
			break
		}
	}
	return fmt.Sprintf("abandoned: its process (pid %d on %s) ended without finishing it; %s", run.PID, orUnknown(run.Host), what)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func newShowCmd(a *app) *cobra.Command {
	var stateFlag, format string
	var verbose, canonical bool
	var upto int64
	cmd := &cobra.Command{
		Use:   "show [RUN]",
		Short: "Print one recorded run (default: the last)",
		Long: `Print a recorded run in any output format. RUN is a run id (or a unique
prefix), a path to a run record, or last. For an abandoned run (its process
died without finishing it) the item that was running is named too.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, run, err := a.recordedRun(cmd.Context(), stateFlag, args)
			if err != nil {
				return err
			}
			defer store.Close()
			if canonical {
				// The exact bytes a signature covers (runbook sign).
				data, _, err := canonicalBytes(cmd.Context(), store, run, upto)
				if err != nil {
					return exitWith(1, fmt.Errorf("run %s: %w", run.ID, err))
				}
				_, err = a.stdout.Write(data)
				return err
			}
			r, err := views.New(format, views.Options{Color: a.useColor(a.stdout), Verbose: verbose})
			if err != nil {
				return exitWith(2, err)
			}
			if err := r.Render(a.stdout, run); err != nil {
				return err
			}
			if run.Status == record.Abandoned {
				if format == "table" {
					fmt.Fprintln(a.stdout, abandonedNote(run))
				} else {
					fmt.Fprintf(a.stderr, "runbook: run %s was %s\n", run.ID, abandonedNote(run))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL")
	cmd.Flags().StringVar(&format, "format", "table", fmt.Sprintf("output format: %v", views.Formats()))
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show asserts of passed items too")
	cmd.Flags().BoolVar(&canonical, "canonical", false, "print the exact bytes runbook sign signs: the record as its journal says, with the journal's last event")
	cmd.Flags().Int64Var(&upto, "upto", 0, "with --canonical: as of journal event `N` (what a signature made then covers)")
	return cmd
}

// recordedRun opens the state store and loads the run that args name
// (RUN: an id, a unique prefix, a record path, or last; default last).
// The caller closes the store.
func (a *app) recordedRun(ctx context.Context, stateFlag string, args []string) (state.Store, *record.Run, error) {
	ref := "last"
	if len(args) == 1 {
		ref = args[0]
	}
	return a.findRun(ctx, stateFlag, func(ctx context.Context, s state.Store) (*record.Run, error) {
		return s.LoadRun(ctx, ref)
	})
}

// findRun opens the state store and picks a run from it. Without an
// explicit state (--state, RUNBOOK_STATE), when ./.runbook has none, it
// looks in the .runbook directories beside runbooks below the working
// directory and takes the newest run picked there. The caller closes the
// store.
func (a *app) findRun(ctx context.Context, stateFlag string, pick func(context.Context, state.Store) (*record.Run, error)) (state.Store, *record.Run, error) {
	store, err := a.openState(ctx, stateFlag, ".")
	if err != nil {
		return nil, nil, err
	}
	run, err := pick(ctx, store)
	if err == nil {
		return store, run, nil
	}
	store.Close()
	// Runs live beside their runbooks (runbooks/.runbook): without an
	// explicit state, look there before giving up.
	if stateFlag == "" && a.getenv("RUNBOOK_STATE") == "" {
		var best *state.Dir
		var bestRun *record.Run
		for _, dir := range discoverStateDirs(".") {
			d := state.NewDir(dir)
			r, lerr := pick(ctx, d)
			if lerr == nil && (bestRun == nil || state.Newer(r, bestRun)) {
				best, bestRun = d, r
			}
		}
		if best != nil {
			fmt.Fprintf(a.stderr, "runbook: run %s from %s\n", bestRun.ID, best.Path)
			return best, bestRun, nil
		}
	}
	return nil, nil, exitWith(2, err)
}

// resumeRun is the run --resume names: an id, a prefix or a record path,
// or last — the newest run of the same runbook and playbook, mode exec,
// that can be resumed (failed, incomplete, interrupted or abandoned),
// never a check or a watch cycle.
func (a *app) resumeRun(ctx context.Context, store state.Store, ref, runbook, playbook string) (*record.Run, error) {
	if ref != "last" {
		return store.LoadRun(ctx, ref)
	}
	return state.Last(ctx, store, state.Filter{Runbook: runbook, Playbook: &playbook, Mode: engine.ModeExec, Resumable: true})
}

// reportRun is the run `runbook report` renders: RUN when given, else the
// newest exec run — with --template, of any runbook; without, of a
// runbook that has report blocks (--runbook's, or the run's source's).
func (a *app) reportRun(ctx context.Context, stateFlag string, args []string, runbook string, template bool) (state.Store, *record.Run, error) {
	if len(args) == 1 {
		return a.recordedRun(ctx, stateFlag, args)
	}
	f := state.Filter{Mode: engine.ModeExec}
	hasReports := func(*record.Run, state.Store) bool { return true }
	what := "exec run"
	if !template {
		what = "exec run of a runbook with report blocks"
		if runbook != "" {
			if cfg, diags := engine.Load(runbook, registry()); !diags.HasErrors() && cfg.Runbook != nil {
				f.Runbook = cfg.Runbook.Name
				what = fmt.Sprintf("exec run of runbook %q", f.Runbook)
			}
		} else {
			known := map[string]bool{}
			hasReports = func(r *record.Run, s state.Store) bool {
				// Report blocks belong to their procedure: a playbook's
				// run has its playbook's.
				pb := ""
				if r.Playbook != nil {
					pb = *r.Playbook
				}
				src := runSource(r, s)
				ok, seen := known[src+"\x00"+pb]
				if !seen {
					cfg, diags := engine.Load(src, registry())
					if !diags.HasErrors() {
						if pb == "" {
							ok = len(cfg.Reports) > 0
						} else if p := cfg.Playbooks[pb]; p != nil {
							ok = len(p.Reports) > 0
						}
					}
					known[src+"\x00"+pb] = ok
				}
				return ok
			}
		}
	}
	return a.findRun(ctx, stateFlag, func(ctx context.Context, s state.Store) (*record.Run, error) {
		var found *record.Run
		err := s.Runs(ctx, f, func(e state.RunEntry) bool {
			if e.Run != nil && hasReports(e.Run, s) {
				found = e.Run
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
		if found == nil {
			return nil, errors.New("no " + what + " in " + stateWhere(s) + " (give RUN)")
		}
		return found, nil
	})
}

// runSource is the runbook file a recorded run came from. Records keep
// its absolute path; older ones kept the path as given to exec, relative
// to the directory exec ran in, which is looked for from the working
// directory, then beside the state directory (where a default state sits
// beside its runbook): the first that exists, else the path as recorded.
func runSource(run *record.Run, s state.Store) string {
	src := run.Source
	if src == "" || filepath.IsAbs(src) {
		return src
	}
	candidates := []string{src}
	if d, ok := s.(*state.Dir); ok {
		beside := filepath.Dir(absPath(d.Path))
		candidates = append(candidates, filepath.Join(beside, src), filepath.Join(beside, filepath.Base(src)))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c
		}
	}
	return src
}

// discoverStateDirs finds .runbook state directories with runs below root,
// a few levels deep (skipping hidden directories, testdata and vendor).
func discoverStateDirs(root string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if p != root && strings.Count(filepath.ToSlash(filepath.Clean(p)), "/") >= 3 {
			return filepath.SkipDir
		}
		name := d.Name()
		if name == ".runbook" {
			if _, err := os.Stat(filepath.Join(p, "runs")); err == nil {
				out = append(out, p)
			}
			return filepath.SkipDir
		}
		if p != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "vendor" || name == "node_modules") {
			return filepath.SkipDir
		}
		return nil
	})
	return out
}
