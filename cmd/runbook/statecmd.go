package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/runbookhq/runbook/state"
	"github.com/spf13/cobra"
)

func newStateCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Manage the shared PostgreSQL state",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newStateMigrateCmd(a))
	return cmd
}

func newStateMigrateCmd(a *app) *cobra.Command {
	var stateFlag string
	var grants []string
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the schema of a PostgreSQL state",
		Long: `Create the schema "runbook" of a PostgreSQL state, or bring it to the version
this runbook needs, in one transaction. Run it once (and after each upgrade of
runbook) as the role that owns the schema; every other command then only checks
the schema's version, and needs nothing but the table privileges that
--grant ROLE gives. Running it again on a current schema changes nothing.

Exit codes: 0 the schema is current, 1 the migration failed, 2 usage error.`,
		Example: `  runbook state migrate --state postgres://runbook_owner@db.internal/ops
  runbook state migrate --state postgres://runbook_owner@db.internal/ops --grant runbook_app`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.stateMigrate(cmd.Context(), stateFlag, grants)
		},
	}
	cmd.Flags().StringVar(&stateFlag, "state", "", "the PostgreSQL state: a postgres:// URL (default $RUNBOOK_STATE)")
	cmd.Flags().StringArrayVar(&grants, "grant", nil, "then give `ROLE` exactly the privileges ordinary commands need (repeatable)")
	return cmd
}

// stateMigrate is `runbook state migrate`.
func (a *app) stateMigrate(ctx context.Context, flag string, grants []string) error {
	dsn, from := flag, "--state"
	if dsn == "" {
		dsn, from = a.getenv("RUNBOOK_STATE"), "RUNBOOK_STATE"
	}
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return exitWith(2, errors.New("state migrate needs a PostgreSQL state: --state postgres://… (or RUNBOOK_STATE); a state directory needs no migration"))
	}
	p, err := state.OpenPostgresWith(ctx, dsn, state.PostgresOptions{ForMigration: true})
	if err != nil {
		return exitWith(2, fmt.Errorf("%s: %w", from, err))
	}
	defer p.Close()
	before, after, err := p.Migrate(ctx)
	if err != nil {
		return exitWith(1, fmt.Errorf("migrate the state schema in %s: %w", p.Location(), err))
	}
	if before == after {
		fmt.Fprintf(a.stdout, "the state schema in %s is current (version %d)\n", p.Location(), after)
	} else {
		fmt.Fprintf(a.stdout, "migrated the state schema in %s from version %d to %d\n", p.Location(), before, after)
	}
	for _, role := range grants {
		if err := p.Grant(ctx, role); err != nil {
			return exitWith(1, err)
		}
		fmt.Fprintf(a.stdout, "granted role %q the privileges of runbook's commands\n", role)
	}
	return nil
}
