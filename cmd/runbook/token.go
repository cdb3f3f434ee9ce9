package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/state"
	"github.com/spf13/cobra"
)

func newTokenCmd(a *app) *cobra.Command {
	var stateFlag string
	cmd := &cobra.Command{
		Use:   "token add|list|revoke",
		Short: "Manage the access tokens of the console (runbook serve)",
		Long: `Access tokens let people and scripts into the console: a viewer reads
everything; an operator also answers steps, confirms, signs reports and
flips the emergency stop. A token is printed once, when made: the state
keeps only its hash.`,
		Example: `  runbook token add alice --role operator
  runbook token list
  runbook token revoke alice`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return exitWith(2, fmt.Errorf("unknown command %q for \"runbook token\": use add, list or revoke", args[0]))
			}
			return cmd.Help()
		},
	}
	cmd.PersistentFlags().StringVar(&stateFlag, "state", "", "the state holding the tokens: a directory or a postgres:// URL (default $RUNBOOK_STATE, else ./.runbook)")
	open := func(cmd *cobra.Command) (state.Store, state.Console, error) {
		store, err := a.openState(cmd.Context(), stateFlag, "")
		if err != nil {
			return nil, nil, err
		}
		c, ok := state.ConsoleOf(store)
		if !ok {
			store.Close()
			return nil, nil, exitWith(2, fmt.Errorf("the state %s keeps no tokens", store.Location()))
		}
		return store, c, nil
	}
	var role string
	add := &cobra.Command{
		Use:   "add NAME --role viewer|operator",
		Short: "Make a token for NAME and print it (once)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if role == "" {
				return exitWith(2, errors.New("--role is required: viewer or operator"))
			}
			store, c, err := open(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			secret, t, err := c.AddToken(cmd.Context(), args[0], role)
			if err != nil {
				return exitWith(2, err)
			}
			fmt.Fprintf(a.stderr, "Token for %s (%s) in %s; it is shown only now:\n", t.Name, t.Role, store.Location())
			fmt.Fprintln(a.stdout, secret)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", "", "viewer (reads) or operator (also answers, signs, flips the stop)")
	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens: names, roles, created, last used",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, c, err := open(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			all, err := c.Tokens(cmd.Context())
			if err != nil {
				return exitWith(1, err)
			}
			if len(all) == 0 {
				fmt.Fprintf(a.stdout, "No tokens in %s: the console is read-only on loopback. Make one with runbook token add NAME --role operator.\n", store.Location())
				return nil
			}
			tw := table.NewWriter()
			tw.SetStyle(a.tableStyle(a.stdout))
			tw.AppendHeader(table.Row{"NAME", "ROLE", "CREATED", "LAST USED"})
			for _, t := range all {
				used := "never"
				if !t.LastUsed.IsZero() {
					used = t.LastUsed.Local().Format(time.DateTime)
				}
				tw.AppendRow(table.Row{t.Name, t.Role, t.Created.Local().Format(time.DateTime), used})
			}
			fmt.Fprintln(a.stdout, tw.Render())
			return nil
		},
	}
	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke NAME's token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, c, err := open(cmd)
			if err != nil {
				return err
			}
			defer store.Close()
			if err := c.RevokeToken(cmd.Context(), args[0]); err != nil {
				if errors.Is(err, state.ErrNoToken) {
					return exitWith(2, err)
				}
				return exitWith(1, err)
			}
			fmt.Fprintf(a.stdout, "Revoked the token of %s.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, revoke)
	return cmd
}
