package main

import (
	"errors"
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
			valid := 0
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
				fmt.Fprintf(a.stdout, "✓ %s: valid (%s, %s, %s, %s, %s)\n", p,
					count(len(c.Checks), "check"), count(steps, "step"), count(cleanups, "cleanup"),
					count(len(c.Playbooks), "playbook"), count(reports, "report"))
				valid++
			}
			if failed > 0 {
				total := valid + failed
				if total == 1 {
					return exitWith(2, errors.New("the runbook is not valid"))
				}
				return exitWith(2, fmt.Errorf("%d of %d runbooks are not valid", failed, total))
			}
			return nil
		},
	}
	vf.add(cmd)
	return cmd
}

// count says "1 check", "2 checks".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
