package main

import (
	"fmt"

	"github.com/runbookhq/runbook/engine"
	"github.com/spf13/cobra"
)

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of runbook",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(a.stdout, "runbook %s\n", engine.Version)
			return nil
		},
	}
}
