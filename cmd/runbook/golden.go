package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/runbookhq/runbook/golden"
	"github.com/runbookhq/runbook/record"
	"github.com/spf13/cobra"
)

// newGoldenCmd is `runbook golden`: determinism diffs of golden JSON files
// against their shadow-run replays.
func newGoldenCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "golden",
		Short: "Compare golden JSON files with their replays",
		Long: `Compare the JSON output of workflow runs ("golden files") with their
replays, field by field, and classify every difference: VOLATILE_LEAK,
SEED_MISMATCH, UNSEEDED_RNG, EXTERNAL_CALL_VARIATION, DETERMINISM_VIOLATION,
and for directories MISSING, EXTRA and UNREADABLE. See docs/golden.md.

Exit codes: 0 when no critical class was found, 1 when one was, 2 on a usage
error (bad flag, missing path, no pairs).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newGoldenDiffCmd(a), newGoldenSummaryCmd(a))
	return cmd
}

// goldenFlags are the comparison flags of both subcommands.
type goldenFlags struct {
	pair              string
	volatile          []string
	noDefaultVolatile bool
	seedField         string
	external          []string
	output            string
	workers           int
}

func (f *goldenFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.pair, "pair", "", "pairing rule `LEFT:RIGHT`, such as '{id}.json:{id}.replay.json'")
	fl.StringSliceVar(&f.volatile, "volatile", nil, "volatile field `pattern`: a name (trace_id, *_token) or a path (steps[*].output.host); repeatable")
	fl.BoolVar(&f.noDefaultVolatile, "no-default-volatile", false, "do not treat *_at, timestamp, duration*, elapsed*, *_ms … and timestamp values as volatile")
	fl.StringVar(&f.seedField, "seed-field", golden.DefaultSeedField, "the seed field: a `name` or path pattern")
	fl.StringSliceVar(&f.external, "external", nil, "path `pattern` of external call responses (default "+strings.Join(golden.DefaultExternal, ", ")+"); repeatable, --external= for none")
	fl.StringVar(&f.output, "output", "", "also write the result as JSON to `FILE`")
	fl.IntVar(&f.workers, "workers", 0, "files compared in parallel (default: the number of CPUs)")
}

// comparer builds the comparer and the pairing rule (nil for the default).
func (f *goldenFlags) comparer(cmd *cobra.Command) (*golden.Comparer, *golden.PairRule, error) {
	opts := golden.Options{
		Volatile:          f.volatile,
		NoDefaultVolatile: f.noDefaultVolatile,
		SeedField:         f.seedField,
	}
	if cmd.Flags().Changed("external") {
		opts.External = []string{}
		for _, e := range f.external {
			if strings.TrimSpace(e) != "" {
				opts.External = append(opts.External, e)
			}
		}
	}
	c, err := golden.NewComparer(opts)
	if err != nil {
		return nil, nil, exitWith(2, err)
	}
	if f.pair == "" {
		return c, nil, nil
	}
	rule, err := golden.ParsePairRule(f.pair)
	if err != nil {
		return nil, nil, exitWith(2, fmt.Errorf("--pair: %w", err))
	}
	return c, &rule, nil
}

func newGoldenDiffCmd(a *app) *cobra.Command {
	var f goldenFlags
	cmd := &cobra.Command{
		Use:   "diff A B",
		Short: "Compare two golden files, or two directories paired by relative path",
		Long: `Compare two golden files, or two directories whose files pair by relative
path (--pair for another rule), and print every classified difference.`,
		Example: `  runbook golden diff golden/wf-0042.json replay/wf-0042.json
  runbook golden diff shadow/primary shadow/replay --volatile trace_id --output findings.json`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, rule, err := f.comparer(cmd)
			if err != nil {
				return err
			}
			pairs, err := golden.Resolve(args[0], args[1], rule)
			if err != nil {
				return exitWith(2, err)
			}
			if len(pairs) == 0 {
				return exitWith(2, fmt.Errorf("no golden files in %s and %s", args[0], args[1]))
			}
			single := len(pairs) == 1 && pairs[0].Name == args[0]

			var report *golden.ReportWriter
			var commit func() error
			if f.output != "" {
				out, err := createGoldenOutput(f.output)
				if err != nil {
					return exitWith(2, err)
				}
				defer out.abort()
				report = golden.NewReportWriter(out, args[0], args[1])
				commit = out.commit
			}

			w := bufio.NewWriter(a.stdout)
			var tally golden.Tally
			err = c.Scan(cmd.Context(), pairs, f.workers, func(r *golden.PairResult) error {
				tally.Add(r)
				for i := range r.Findings {
					printGoldenFinding(w, &r.Findings[i], single)
				}
				if r.Dropped > 0 {
					fmt.Fprintf(w, "%-23s  %s  … %d more findings not shown\n", "", r.Pair.Name, r.Dropped)
				}
				if report != nil {
					return report.Add(r)
				}
				return nil
			})
			if err != nil {
				w.Flush()
				return exitWith(1, err)
			}
			if report != nil {
				if err := report.Close(); err != nil {
					return exitWith(1, fmt.Errorf("write %s: %w", f.output, err))
				}
				if err := commit(); err != nil {
					return exitWith(1, err)
				}
			}
			if tally.Files > 0 && tally.Identical < tally.Files {
				fmt.Fprintln(w)
			}
			printGoldenTally(w, &tally)
			if err := w.Flush(); err != nil {
				return exitWith(1, err)
			}
			if tally.Critical() {
				return exitWith(1, nil)
			}
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func newGoldenSummaryCmd(a *app) *cobra.Command {
	var f goldenFlags
	var top int
	cmd := &cobra.Command{
		Use:   "summary DIR...",
		Short: "Summarize shadow-run directories: counts per class, worst files",
		Long: `Scan every pair in each shadow-run directory and summarize: counts per class,
files and bytes scanned, the worst files with their first differing paths.

A directory holds its own pairs: primary/PATH against replay/PATH when it has
both subdirectories, else NAME.json against NAME.replay.json; --pair sets
another rule, such as 'out/{id}.json:replay/{id}.json'.`,
		Example: `  runbook golden summary /tmp/shadow_simulation_* --output summary.json`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, rule, err := f.comparer(cmd)
			if err != nil {
				return err
			}
			type dirPairs struct {
				dir   string
				rule  golden.PairRule
				pairs []golden.Pair
			}
			// List every directory first, so a typo fails before a long scan.
			var dirs []dirPairs
			for _, dir := range args {
				info, err := os.Stat(dir)
				if err != nil {
					return exitWith(2, fmt.Errorf("golden input: %w", err))
				}
				if !info.IsDir() {
					return exitWith(2, fmt.Errorf("golden input %q is not a directory", dir))
				}
				r := golden.DetectRule(dir)
				if rule != nil {
					r = *rule
				}
				pairs, err := golden.Pairs(dir, dir, r)
				if err != nil {
					return exitWith(2, err)
				}
				if len(pairs) == 0 {
					return exitWith(2, fmt.Errorf("no golden file pairs in %s (rule %s)", dir, r))
				}
				dirs = append(dirs, dirPairs{dir, r, pairs})
			}

			s := golden.NewSummary(top)
			for i, d := range dirs {
				s.StartDir(d.dir, d.rule)
				err := c.Scan(cmd.Context(), d.pairs, f.workers, func(r *golden.PairResult) error {
					r.Pair.Name = filepath.Join(d.dir, r.Pair.Name)
					s.Add(r)
					return nil
				})
				if err != nil {
					return exitWith(1, err)
				}
				dirs[i].pairs = nil // let the listing go before the next scan
			}
			if f.output != "" {
				var buf bytes.Buffer
				if err := s.WriteJSON(&buf); err != nil {
					return exitWith(1, err)
				}
				if err := record.WriteFileAtomic(f.output, buf.Bytes(), 0o644); err != nil {
					return exitWith(1, err)
				}
			}
			printGoldenSummary(a.stdout, s)
			if s.Critical {
				return exitWith(1, nil)
			}
			return nil
		},
	}
	f.add(cmd)
	cmd.Flags().IntVar(&top, "top", golden.DefaultWorst, "how many worst files to list")
	return cmd
}

// printFinding writes one finding on a line (and its related findings
// under it); single leaves out the file name of a two-file diff.
func printGoldenFinding(w io.Writer, fd *golden.Finding, single bool) {
	where := fd.Path
	if !single {
		where = fd.File
		if fd.Path != "" {
			where += "  " + fd.Path
		}
	}
	var what string
	switch fd.Class {
	case golden.Unreadable:
		side, msg := "left", fd.Left
		if msg == "" {
			side, msg = "right", fd.Right
		}
		what = side + ": " + msg
	default:
		what = fd.Left + " → " + fd.Right
	}
	if where != "" {
		fmt.Fprintf(w, "%-23s  %s  %s", fd.Class, where, what)
	} else {
		fmt.Fprintf(w, "%-23s  %s", fd.Class, what)
	}
	if fd.Hint != "" && fd.Class != golden.Unreadable {
		fmt.Fprintf(w, "  (%s)", fd.Hint)
	}
	fmt.Fprintln(w)
	for i := range fd.Related {
		r := &fd.Related[i]
		fmt.Fprintf(w, "    not judged: %s  %s  %s → %s\n", r.Class, r.Path, r.Left, r.Right)
	}
	if n := fd.RelatedTotal - len(fd.Related); n > 0 {
		fmt.Fprintf(w, "    not judged: … %d more\n", n)
	}
}

// printTally writes the counts of a diff.
func printGoldenTally(w io.Writer, t *golden.Tally) {
	fmt.Fprintf(w, "%s, %d identical, %s read\n", goldenPlural(t.Files, "pair"), t.Identical, goldenBytes(t.Bytes))
	for _, c := range golden.Classes {
		if n := t.Counts.Get(c); n > 0 {
			fmt.Fprintf(w, "  %-23s  %6d in %s  %s\n", c, n, goldenPlural(t.FilesWith.Get(c), "file"), c.Severity())
		}
	}
	if t.Critical() {
		fmt.Fprintln(w, "critical differences found")
	}
}

// printSummary writes a summary as tables.
func printGoldenSummary(w io.Writer, s *golden.Summary) {
	fmt.Fprintf(w, "Golden summary: %s, %s, %d identical, %s read\n\n",
		goldenPlural(len(s.Dirs), "directory"), goldenPlural(s.Files, "pair"), s.Identical, goldenBytes(s.Bytes))
	fmt.Fprintf(w, "%-23s  %8s  %5s  %s\n", "CLASS", "FINDINGS", "FILES", "SEVERITY")
	for _, c := range golden.Classes {
		fmt.Fprintf(w, "%-23s  %8d  %5d  %s\n", c, s.Counts.Get(c), s.FilesWith.Get(c), c.Severity())
	}
	if len(s.Dirs) > 1 {
		fmt.Fprintln(w, "\nDirectories:")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, d := range s.Dirs {
			fmt.Fprintf(tw, "  %s\t%s\t%d identical\t%s\t%s\n", d.Dir, goldenPlural(d.Files, "pair"), d.Identical,
				goldenPlural(d.Counts.Critical(), "critical finding"), d.Rule)
		}
		tw.Flush()
	}
	if len(s.Worst) > 0 {
		fmt.Fprintln(w, "\nWorst files:")
		for _, f := range s.Worst {
			fmt.Fprintf(w, "  %s  %d critical, %s\n", f.File, f.Critical, goldenPlural(f.Findings, "finding"))
			for _, p := range f.First {
				if p.Path == "" {
					fmt.Fprintf(w, "      %s\n", p.Class)
					continue
				}
				fmt.Fprintf(w, "      %-40s  %s\n", p.Path, p.Class)
			}
		}
	}
	fmt.Fprintln(w)
	if s.Critical {
		fmt.Fprintln(w, "critical differences found")
	} else {
		fmt.Fprintln(w, "no critical differences")
	}
}

func goldenPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "y") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func goldenBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// goldenOutputFile is a file written under a temporary name and renamed into
// place by commit, so a reader never sees half a report.
type goldenOutputFile struct {
	*os.File
	path string
	done bool
}

func createGoldenOutput(path string) (*goldenOutputFile, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create directory %q: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create %q: %w", path, err)
	}
	return &goldenOutputFile{File: f, path: path}, nil
}

func (f *goldenOutputFile) commit() error {
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("chmod %q: %w", f.path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %q: %w", f.path, err)
	}
	if err := os.Rename(f.Name(), f.path); err != nil {
		return fmt.Errorf("rename into %q: %w", f.path, err)
	}
	f.done = true
	return nil
}

func (f *goldenOutputFile) abort() {
	if !f.done {
		f.Close()
		os.Remove(f.Name())
	}
}
