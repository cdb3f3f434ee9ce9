package main

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/spf13/cobra"
)

func newProvidersCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "providers [NAME]",
		Short: "List the check providers, or describe one",
		Long: `Without NAME, list every check provider this build carries with what it
observes. With NAME, show that provider's arguments (from the schema the
engine decodes its block with) and its result attributes (self.…).
docs/providers/NAME.md has the full reference.`,
		Example: `  runbook providers
  runbook providers http`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				t := table.NewWriter()
				t.SetOutputMirror(a.stdout)
				t.SetStyle(a.tableStyle(a.stdout))
				t.AppendHeader(table.Row{"provider", "observes"})
				for _, name := range builtin.Names() {
					t.AppendRow(table.Row{name, providerDoc(name).Summary})
				}
				t.Render()
				return nil
			}
			name := args[0]
			f, ok := builtin.Providers[name]
			if !ok {
				return exitWith(2, fmt.Errorf("no provider named %q (see runbook providers)", name))
			}
			doc := providerDoc(name)
			fmt.Fprintf(a.stdout, "%s — %s\n\nArguments:\n", name, doc.Summary)
			if spec, ok := f().Schema().(hcldec.ObjectSpec); ok {
				for _, key := range sortedSpecKeys(spec) {
					fmt.Fprintf(a.stdout, "  %s\n", describeSpec(spec[key]))
				}
			}
			fmt.Fprintln(a.stdout, "\nResult (self.…):")
			for _, attr := range checks.SortedKeys(doc.Result) {
				fmt.Fprintf(a.stdout, "  %-22s %s\n", attr, doc.Result[attr])
			}
			fmt.Fprintln(a.stdout, "  duration_ms            how long the provider ran (every result has it)")
			fmt.Fprintln(a.stdout, "  attempts               which attempt this is (every result has it)")
			return nil
		},
	}
}

// providerDoc returns a provider's documentation, or a placeholder.
func providerDoc(name string) checks.Doc {
	if d, ok := builtin.Providers[name]().(checks.Documented); ok {
		return d.Doc()
	}
	return checks.Doc{Summary: "(undocumented)"}
}

func sortedSpecKeys(spec hcldec.ObjectSpec) []string {
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// describeSpec renders one argument of a provider's schema.
func describeSpec(s hcldec.Spec) string {
	switch x := s.(type) {
	case *hcldec.AttrSpec:
		req := ""
		if x.Required {
			req = ", required"
		}
		return fmt.Sprintf("%-22s %s%s", x.Name, x.Type.FriendlyNameForConstraint(), req)
	case *hcldec.BlockSpec:
		return fmt.Sprintf("%-22s block", x.TypeName)
	case *hcldec.BlockListSpec:
		return fmt.Sprintf("%-22s blocks", x.TypeName)
	default:
		return strings.TrimPrefix(fmt.Sprintf("%T", s), "*hcldec.")
	}
}
