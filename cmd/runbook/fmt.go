package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/spf13/cobra"
)

func newFmtCmd(a *app) *cobra.Command {
	var check bool
	cmd := &cobra.Command{
		Use:   "fmt [--check] [FILE|DIR...]",
		Short: "Rewrite runbooks in canonical HCL formatting",
		Long: `Rewrite .hcl files (recursively under directories; default: the current
directory) in the canonical HCL style. With --check, change nothing: list the
files that are not formatted and exit 1 when there are any.`,
		Example: `  runbook fmt runbooks/
  runbook fmt --check runbooks/   # in CI`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				args = []string{"."}
			}
			files, err := hclFiles(args)
			if err != nil {
				return exitWith(2, err)
			}
			var unformatted []string
			for _, name := range files {
				if strings.HasSuffix(name, ".json") {
					fmt.Fprintf(a.stderr, "runbook: fmt: %s is JSON; only native HCL files are formatted\n", name)
					continue
				}
				src, err := os.ReadFile(name)
				if err != nil {
					return exitWith(2, err)
				}
				// The same limits as loading: hclwrite's parser recurses
				// once per level of nesting too.
				if diags := engine.CheckText(name, src); diags.HasErrors() {
					a.printDiags(diags, nil)
					return exitWith(2, fmt.Errorf("%s cannot be formatted; nothing was formatted", name))
				}
				if _, diags := hclsyntax.ParseConfig(src, name, hcl.InitialPos); diags.HasErrors() {
					f, _ := hclsyntax.ParseConfig(src, name, hcl.InitialPos)
					a.printDiags(diags, map[string]*hcl.File{name: f})
					return exitWith(2, fmt.Errorf("%s has syntax errors; nothing was formatted", name))
				}
				out := hclwrite.Format(src)
				if bytes.Equal(src, out) {
					continue
				}
				unformatted = append(unformatted, name)
				if check {
					fmt.Fprintln(a.stdout, name)
					continue
				}
				info, _ := os.Stat(name)
				if err := record.WriteFileAtomic(name, out, info.Mode().Perm()); err != nil {
					return exitWith(1, err)
				}
				fmt.Fprintln(a.stdout, name)
			}
			if check && len(unformatted) > 0 {
				return exitWith(1, nil)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&check, "check", false, "list unformatted files and exit 1 if any; change nothing")
	return cmd
}

// hclFiles lists .hcl files named by args, walking directories (skipping
// hidden ones and testdata).
func hclFiles(args []string) ([]string, error) {
	var out []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, arg)
			continue
		}
		err = filepath.WalkDir(arg, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != arg && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(p, ".hcl") {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// expandRunbookArgs turns validate's arguments into runbooks: a file is one
// runbook; a directory holding .hcl files is one runbook; a directory
// holding only subdirectories (like runbooks/) is each runbook file below.
func expandRunbookArgs(args []string) []string {
	var out []string
	for _, arg := range args {
		info, err := os.Stat(arg)
		if err != nil || !info.IsDir() {
			out = append(out, arg)
			continue
		}
		direct, _ := filepath.Glob(filepath.Join(arg, "*.hcl"))
		directJSON, _ := filepath.Glob(filepath.Join(arg, "*.hcl.json"))
		if len(direct)+len(directJSON) > 0 && !isCollection(arg) {
			out = append(out, arg)
			continue
		}
		files, _ := hclFiles([]string{arg})
		for _, f := range files {
			if engine.IsRunbookFile(filepath.Base(f)) {
				out = append(out, f)
			}
		}
	}
	return out
}

// isCollection reports whether a directory is a collection of runbooks
// (each .hcl file declares its own runbook block) rather than one runbook
// split over files.
//
// A directory where only some files declare a runbook block is one
// runbook, loaded as exec loads it: two runbook blocks in it are then the
// same error for validate as for exec.
func isCollection(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.hcl"))
	n, parts := 0, 0
	for _, f := range files {
		if !engine.IsRunbookFile(filepath.Base(f)) {
			continue
		}
		parts++
		src, err := os.ReadFile(f)
		if err == nil && bytes.Contains(src, []byte("runbook \"")) {
			n++
		}
	}
	return n > 1 && n == parts
}
