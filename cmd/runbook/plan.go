package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/report"
	"github.com/spf13/cobra"
)

func newPlanCmd(a *app) *cobra.Command {
	var (
		vf        varFlags
		playbook  string
		only      []string
		skip      []string
		format    string
		checkMode bool
	)
	cmd := &cobra.Command{
		Use:   "plan FILE|DIR",
		Short: "Show what would run, in which order, with what arguments; run nothing",
		Long: `Load the runbook, resolve its variables and print every item that exec would
run (or check, with --checks), in order: its provider and arguments (values
that depend on earlier results show as "(known after run)", sensitive values
as "(sensitive)"), what it waits for, its when condition, whether it needs
confirmation, and whether it is a manual step. Cleanup blocks come last: they
run after the procedure, however it ends.`,
		Example: `  runbook plan runbooks/m4-tabletop.hcl
  runbook plan runbooks/playbooks/redis-failure.hcl --playbook redis_failure --format json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := a.load(args[0], vf, false)
			if err != nil {
				return err
			}
			mode := engine.ModeExec
			if checkMode {
				mode = engine.ModeCheck
			}
			items, err := engine.Plan(b, engine.Options{Mode: mode, Playbook: playbook, Only: splitList(only), Skip: splitList(skip)})
			if err != nil {
				return exitWith(2, err)
			}
			switch format {
			case "json":
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(map[string]any{"runbook": b.Info.Name, "playbook": playbook, "variables": b.RecordVariables(), "items": items})
			case "table":
				a.printPlan(b, playbook, items)
				return nil
			default:
				return exitWith(2, fmt.Errorf("plan: unknown format %q (want table or json)", format))
			}
		},
	}
	vf.add(cmd)
	cmd.Flags().StringVar(&playbook, "playbook", "", "plan this playbook instead of the top-level steps")
	cmd.Flags().StringSliceVar(&only, "only", nil, "plan only these items (and what they depend on)")
	cmd.Flags().StringSliceVar(&skip, "skip", nil, "leave these items out")
	cmd.Flags().BoolVar(&checkMode, "checks", false, "plan `runbook check` (all checks) instead of exec")
	cmd.Flags().StringVar(&format, "format", "table", "table or json")
	return cmd
}

func (a *app) printPlan(b *engine.Bound, playbook string, items []engine.PlanItem) {
	what := b.Info.Name
	if playbook != "" {
		what += " / playbook " + playbook
	}
	fmt.Fprintf(a.stdout, "Plan: %s — %s\n\n", what, report.Printable(b.Info.Title))
	t := table.NewWriter()
	t.SetOutputMirror(a.stdout)
	t.SetStyle(a.tableStyle(a.stdout))
	t.AppendHeader(table.Row{"#", "item", "type", "runs", "after", "notes"})
	t.SetColumnConfigs([]table.ColumnConfig{
		{Number: 4, WidthMax: 48},
		{Number: 5, WidthMax: 24},
		{Number: 6, WidthMax: 48},
	})
	manual, confirm := 0, 0
	for _, it := range items {
		kind := it.Provider
		switch {
		case it.Manual:
			kind = "manual"
			manual++
		case it.Confirm:
			kind += " ⚠ confirm"
			confirm++
		}
		runs := it.Action
		if runs == "" && len(it.Args) > 0 {
			var parts []string
			for _, k := range engine.SortedNames(it.Args) {
				parts = append(parts, k+"="+engine.FormatArg(it.Args[k]))
			}
			runs = strings.Join(parts, " ")
		}
		var notes []string
		if it.Title != "" {
			notes = append(notes, it.Title)
		}
		if it.Target != "" {
			notes = append(notes, "on "+it.Target)
		}
		if it.Kind == "cleanup" {
			notes = append(notes, "runs after the procedure, however it ends")
		}
		if it.Required {
			notes = append(notes, "required")
		}
		if it.When != "" {
			notes = append(notes, "when "+it.When)
		}
		if it.Attempts > 1 {
			notes = append(notes, fmt.Sprintf("%d attempts", it.Attempts))
		}
		if !it.Selected {
			notes = append(notes, "SKIPPED: "+it.SkipReason)
		}
		for _, v := range engine.SortedNames(it.Variables) {
			notes = append(notes, fmt.Sprintf("var.%s=%s", v, engine.FormatArg(it.Variables[v])))
		}
		// Argument values and titles come from variables and files: no
		// control character of theirs reaches the terminal.
		t.AppendRow(table.Row{it.Order, it.Kind + "." + it.Name, kind, report.Printable(runs), strings.Join(it.DependsOn, ", "), report.Printable(strings.Join(notes, "; "))})
	}
	t.Render()
	fmt.Fprintf(a.stdout, "\n%d items: %d automated, %d manual, %d need confirmation. Nothing was run.\n",
		len(items), len(items)-manual, manual, confirm)
	for _, name := range b.InsecureTargets() {
		fmt.Fprintf(a.stdout, "⚠ target %s: insecure_ignore_host_key = true — its host key is NOT verified; anyone on the path can impersonate it and read what runs there.\n", name)
	}
}
