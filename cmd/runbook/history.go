package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/views"
	"github.com/spf13/cobra"
)

func newHistoryCmd(a *app) *cobra.Command {
	var stateFlag string
	var limit int
	cmd := &cobra.Command{
		Use:   "history [FILE|DIR]",
		Short: "List past runs",
		Long:  "List the runs recorded in the state directory (of the runbook given, or --state, or $RUNBOOK_STATE, or ./.runbook — and when that has none, the .runbook directory beside runbooks below the working directory), newest first.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p := "."
			if len(args) == 1 {
				p = args[0]
			}
			store, err := a.openState(cmd.Context(), stateFlag, p)
			if err != nil {
				return err
			}
			defer store.Close()
			ids, err := store.RunIDs(cmd.Context())
			if err != nil {
				return exitWith(1, err)
			}
			if len(ids) == 0 && len(args) == 0 && stateFlag == "" && a.getenv("RUNBOOK_STATE") == "" {
				// As show and report do: runs live beside their runbooks.
				for _, dir := range discoverStateDirs(".") {
					d := state.NewDir(dir)
					if more, err := d.RunIDs(cmd.Context()); err == nil && len(more) > 0 {
						fmt.Fprintf(a.stdout, "Runs in %s:\n", d.Path)
						store, ids = d, more
						break
					}
				}
			}
			t := table.NewWriter()
			t.SetOutputMirror(a.stdout)
			t.SetStyle(table.StyleLight)
			t.AppendHeader(table.Row{"run", "runbook", "playbook", "status", "passed", "failed", "warning", "pending", "operator", "duration"})
			n := 0
			for i := len(ids) - 1; i >= 0 && (limit <= 0 || n < limit); i-- {
				run, err := store.LoadRun(cmd.Context(), ids[i])
				if err != nil {
					continue
				}
				pb := ""
				if run.Playbook != nil {
					pb = *run.Playbook
				}
				t.AppendRow(table.Row{run.ID, run.Runbook, pb, run.Status, run.Summary.Passed, run.Summary.Failed, run.Summary.Warning, run.Summary.Pending, run.Operator, fmt.Sprintf("%.1fs", float64(run.DurationMS)/1000)})
				n++
			}
			if n == 0 {
				fmt.Fprintf(a.stdout, "No runs recorded in %s.\n", store.Location())
				return nil
			}
			t.Render()
			return nil
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL")
	cmd.Flags().IntVarP(&limit, "limit", "n", 20, "show at most N runs (0: all)")
	return cmd
}

func newShowCmd(a *app) *cobra.Command {
	var stateFlag, format string
	var verbose bool
	cmd := &cobra.Command{
		Use:   "show [RUN]",
		Short: "Print one recorded run (default: the last)",
		Long:  "Print a recorded run in any output format. RUN is a run id (or a unique prefix), a path to a run record, or last.",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, run, err := a.recordedRun(cmd.Context(), stateFlag, args)
			if err != nil {
				return err
			}
			defer store.Close()
			r, err := views.New(format, views.Options{Color: a.useColor(a.stdout), Verbose: verbose})
			if err != nil {
				return exitWith(2, err)
			}
			return r.Render(a.stdout, run)
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL")
	cmd.Flags().StringVar(&format, "format", "table", fmt.Sprintf("output format: %v", views.Formats()))
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show asserts of passed items too")
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
	store, err := a.openState(ctx, stateFlag, ".")
	if err != nil {
		return nil, nil, err
	}
	run, err := store.LoadRun(ctx, ref)
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
			r, lerr := d.LoadRun(ctx, ref)
			if lerr == nil && (bestRun == nil || r.ID > bestRun.ID) {
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
