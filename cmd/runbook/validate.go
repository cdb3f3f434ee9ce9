package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func newValidateCmd(a *app) *cobra.Command {
	var vf varFlags
	cmd := &cobra.Command{
		Use:   "validate FILE|DIR...",
		Short: "Load and type-check runbooks without running them",
		Long: `Load each runbook, check its structure, references and provider arguments,
and print any problem with its file, line, column and a source snippet.
Variables without a value are treated as unknown, so validate needs no
secrets. Exit code 2 when anything is wrong.`,
		Example: `  runbook validate runbooks/
  runbook validate runbooks/m4-tabletop.hcl runbooks/shadow-monitor.hcl`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			failed := 0
			for _, arg := range args {
				// A directory with no runbook in it is an error, as it
				// is for exec.
				if info, err := os.Stat(arg); err == nil && info.IsDir() && len(expandRunbookArgs([]string{arg})) == 0 {
					fmt.Fprintf(a.stderr, "Error: No runbook\n\n  %s holds no .hcl or .hcl.json runbook files.\n\n", arg)
					failed++
				}
			}
			for _, p := range expandRunbookArgs(args) {
				b, err := a.load(p, vf, true)
				if err != nil {
					failed++
					continue
				}
				c := b.Config
				steps, cleanups, reports := len(c.Steps), len(c.Cleanups), len(c.Reports)
				for _, pb := range c.Playbooks {
					steps += len(pb.Steps)
					cleanups += len(pb.Cleanups)
					reports += len(pb.Reports)
				}
				fmt.Fprintf(a.stdout, "✓ %s: valid (%d checks, %d steps, %d cleanups, %d playbooks, %d reports)\n",
					p, len(c.Checks), steps, cleanups, len(c.Playbooks), reports)
			}
			if failed > 0 {
				return exitWith(2, fmt.Errorf("%d of the runbooks are not valid", failed))
			}
			return nil
		},
	}
	vf.add(cmd)
	return cmd
}
