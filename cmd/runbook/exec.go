package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/views"
	"github.com/spf13/cobra"
)

// runFlags are the flags of exec and check.
type runFlags struct {
	varFlags
	format      string
	out         string
	textfile    string
	quiet       bool
	strict      bool
	state       string
	only, skip  []string
	yes         bool
	answers     string
	operator    string
	playbook    string
	resume      string
	noReport    bool
	concurrency int
	verbose     bool
	wait        time.Duration
	exercise    bool
	pause       bool
}

func (f *runFlags) add(cmd *cobra.Command, exec bool) {
	f.varFlags.add(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.format, "format", "table", fmt.Sprintf("output format: %v", views.Formats()))
	fl.StringVar(&f.out, "out", "", "also write the run record to `FILE`")
	fl.StringVar(&f.textfile, "textfile", "", "also write the run as Prometheus metrics to `FILE`, atomically (node_exporter's textfile collector)")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print nothing when everything passed (for cron)")
	fl.BoolVar(&f.strict, "strict", false, "exit 1 on warnings too")
	fl.StringVar(&f.state, "state", "", "where run records and the emergency stop live: a directory or a postgres:// URL (default $RUNBOOK_STATE, else .runbook/ beside the runbook)")
	fl.StringSliceVar(&f.only, "only", nil, "run only these items (and what they depend on): `a,b`")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these items: `a,b`")
	fl.StringVar(&f.operator, "operator", "", "who is running this (default $SUDO_USER, then $USER)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "checks run in parallel (default: the runbook's, else the number of CPUs)")
	fl.BoolVarP(&f.verbose, "verbose", "v", false, "show asserts of passed items too")
	if exec {
		fl.BoolVarP(&f.yes, "yes", "y", false, "answer yes to confirm prompts of mutating steps")
		fl.StringVar(&f.answers, "answers", "", "answers for manual steps, for non-interactive runs: an HCL or JSON `FILE`")
		fl.StringVar(&f.playbook, "playbook", "", "run this playbook instead of the top-level steps")
		fl.StringVar(&f.resume, "resume", "", "run again only what failed, was skipped or is pending in `RUN` (an id, a record path, or last)")
		fl.BoolVar(&f.noReport, "no-report", false, "do not render the runbook's report blocks")
		fl.DurationVar(&f.wait, "wait", 0, "manual steps and confirm prompts wait up to `DURATION` for an answer from the terminal or the console (runbook serve), whichever comes first")
		fl.BoolVar(&f.exercise, "exercise", false, "run as an exercise: marked EXERCISE everywhere, with the runbook's inject blocks delivered on the exercise clock")
		fl.BoolVar(&f.pause, "pause", false, "with an exercise: start with its clock paused, until `runbook exercise resume RUN` or the console's Resume")
	}
}

func newExecCmd(a *app) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "exec FILE|DIR",
		Short: "Run a runbook's steps (or, with no steps, its checks)",
		Long: `Run the runbook's steps in file order (or a playbook's, with --playbook);
a runbook without steps runs its checks. Prints a line per item and a summary,
writes the run record to the state directory, and renders the runbook's
report blocks.

Exit codes: 0 passed (or warning), 1 failed, 2 configuration error,
3 incomplete (manual steps pending, or a step declined), 4 refused by the
emergency stop, 5 passed but the record is not stored in the state yet
(spooled to $TMPDIR/runbook-spool), 130 interrupted by Ctrl-C (143 by
SIGTERM, 129 by SIGHUP).`,
		Example: `  runbook exec runbooks/quickstart.hcl
  runbook exec runbooks/m4-tabletop.hcl --answers answers.hcl --yes
  runbook exec runbooks/playbooks/golden-mismatch.hcl --playbook golden_mismatch`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runbookRun(cmd, args[0], f, engine.ModeExec)
		},
	}
	f.add(cmd, true)
	return cmd
}

func newCheckCmd(a *app) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "check FILE|DIR",
		Short: "Run only the runbook's checks, in parallel",
		Long: `Run every check of the runbook in parallel (up to the runbook's concurrency),
ignoring steps. With --quiet it prints nothing when everything passed, for
cron; with --format nagios it follows the Nagios plugin convention.

The checks run even when a PostgreSQL state cannot be reached: the record is
then spooled to $TMPDIR/runbook-spool, stored by the next command that reaches
the state, and the exit code is 5 (unless a check failed).`,
		Example: `  runbook check runbooks/shadow-monitor.hcl
  runbook check runbooks/shadow-monitor.hcl --quiet   # in cron
  runbook check runbooks/shadow-monitor.hcl --format nagios`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runbookRun(cmd, args[0], f, engine.ModeCheck)
		},
	}
	f.add(cmd, false)
	return cmd
}

// runbookRun is exec and check: load, run, record, render, exit code.
func (a *app) runbookRun(cmd *cobra.Command, path string, f runFlags, mode string) error {
	renderer, err := views.New(f.format, views.Options{Color: a.useColor(a.stdout), Verbose: f.verbose})
	if err != nil {
		return exitWith(2, err)
	}
	vf := f.varFlags
	vf.checksOnly = mode == engine.ModeCheck
	b, err := a.load(path, vf, false)
	if err != nil {
		return err
	}
	if f.pause && !f.exercise && !b.Info.Exercise {
		return exitWith(2, fmt.Errorf("--pause pauses an exercise's clock: add --exercise, or exercise = true in the runbook block"))
	}
	// check goes on without the state (its record is spooled); exec
	// needs it to read the emergency stop.
	store, err := a.openStateWith(cmd.Context(), f.state, path, mode == engine.ModeCheck, false)
	if err != nil {
		return err
	}
	defer store.Close()
	opts := engine.Options{
		Mode:        mode,
		Playbook:    f.playbook,
		Only:        splitList(f.only),
		Skip:        splitList(f.skip),
		Yes:         f.yes,
		Concurrency: f.concurrency,
		Operator:    a.operator(f.operator),
		Host:        hostname(),
		Source:      absPath(path),
		ID:          record.NewRunID(time.Now()),
		Exercise:    f.exercise,
	}
	var answerScores state.ExerciseScores
	if f.answers != "" {
		ans, file, diags := loadAnswers(f.answers, b)
		if diags.HasErrors() {
			files := b.Config.Files
			if file != nil {
				files[f.answers] = file
			}
			a.printDiags(diags, files)
			return exitWith(2, nil)
		}
		opts.Answers = ans
		answerScores = scoresOf(file, ans, opts.Operator)
		for _, w := range unknownAnswers(ans, b) {
			fmt.Fprintf(a.stderr, "runbook: warning: %s\n", w)
		}
	}
	if f.resume != "" {
		prev, err := a.resumeRun(cmd.Context(), store, f.resume, b.Info.Name, opts.Playbook)
		if err != nil {
			return exitWith(2, fmt.Errorf("--resume: %w", err))
		}
		if prev.Runbook != b.Info.Name {
			return exitWith(2, fmt.Errorf("--resume: run %s is of runbook %q, not %q", prev.ID, prev.Runbook, b.Info.Name))
		}
		if opts.Playbook == "" && prev.Playbook != nil {
			opts.Playbook = *prev.Playbook
		}
		prevPlaybook := ""
		if prev.Playbook != nil {
			prevPlaybook = *prev.Playbook
		}
		if prevPlaybook != opts.Playbook {
			return exitWith(2, fmt.Errorf("--resume: run %s ran playbook %q, not %q", prev.ID, prevPlaybook, opts.Playbook))
		}
		if prev.SourceSHA256 != b.Config.SourceSHA256 {
			fmt.Fprintf(a.stderr, "runbook: warning: the runbook changed since run %s; results carried over were produced by the earlier version\n", prev.ID)
		}
		opts.Resume = prev
		// The rerun of an exercise is an exercise too.
		opts.Exercise = opts.Exercise || prev.Exercise != nil
	}
	// The run of a procedure lock taken over from a process that died.
	staleRun := ""
	if mode == engine.ModeExec {
		if err := a.refuseIfStopped(cmd.Context(), store, b, opts); err != nil {
			return err
		}
		lock, err := a.lockProcedure(cmd.Context(), store, b, opts)
		if err != nil {
			return err
		}
		defer lock.Release()
		if lock.Stale != nil {
			staleRun = lock.Stale.RunID
		}
	}
	defer exportOperator(opts.Operator)()
	if mode == engine.ModeExec {
		undo, err := a.setupExercise(b, store, &opts, f.pause, progressOutFor(a, f))
		if err != nil {
			return err
		}
		defer undo()
	}
	// Live progress goes to stdout for the table view and to stderr for
	// machine formats, so their output stays parseable. --quiet buffers it
	// and prints it only if something did not pass.
	progressOut := progressOutFor(a, f)
	var quietBuf bytes.Buffer
	if f.quiet {
		progressOut = &quietBuf
	}
	prog := newProgress(progressOut, !f.quiet && isTerminal(progressOut), a.useColor(progressOut))
	if mode == engine.ModeExec {
		// (Not for check: cron's checks run often and change nothing.)
		warnAbandoned(cmd.Context(), store, a.stderr, staleRun)
	}
	jr := newJournal(store, a.stderr)
	cl := &cleanupPhase{}
	opts.Begin = func(run *record.Run) {
		cl.begin(run)
		jr.Begin(run)
	}
	opts.Observer = observers{cl, jr, prog}
	opts.Escalate = escalator(b, opts.ID, opts.Host, opts.Exercise)
	var tp *terminalPrompter
	if isTerminal(a.stdin) && isTerminal(a.stdout) {
		tp = newTerminalPrompter(a.stdin, a.stdout, opts.Operator)
		tp.before = prog.Pause
		opts.Prompter = tp
	}
	if f.wait > 0 {
		wp, err := a.waitPrompter(store, tp, jr, opts, f.wait)
		if err != nil {
			return err
		}
		opts.Prompter = wp
	}
	// The first Ctrl-C stops the procedure; its cleanup blocks still run.
	// A second one abandons them: at once without a terminal (a service
	// manager's second SIGTERM), after asking on one.
	cctx, abandon := context.WithCancel(context.WithoutCancel(cmd.Context()))
	defer abandon()
	opts.CleanupCtx = cctx
	askCtx, stopAsking := context.WithCancel(context.WithoutCancel(cmd.Context()))
	removeAgain := a.intr.onAgain(func() bool {
		if !cl.unfinished() {
			return false
		}
		if tp == nil {
			fmt.Fprintln(a.stderr, "runbook: abandoning the cleanup blocks")
			abandon()
			return true
		}
		go func() {
			if tp.AbandonCleanup(askCtx) {
				abandon()
			}
		}()
		return true
	})

	if mode == engine.ModeExec {
		opts.Scores = a.scoreSource(store, opts.ID, answerScores)
	}
	// Nothing plans this runbook again: free its syntax tree for the run.
	b.ReleaseSyntax()
	run, err := engine.Run(cmd.Context(), b, opts)
	removeAgain()
	stopAsking()
	prog.Close()
	jr.Close()
	if err != nil {
		return exitWith(2, err)
	}
	sig, bySignal := interruptedBy(cmd.Context())
	if run.Interrupted && bySignal {
		run.Signal = signalName(sig)
	}

	var reportErr error
	// An interrupted run renders no report (runbook report RUN still
	// can); a check run has none.
	if mode == engine.ModeExec && !f.noReport && !run.Interrupted {
		reportErr = a.renderRunReports(b, run, store)
	}
	// Not cancelled by Ctrl-C: an interrupted run's record is still saved.
	// A record the state cannot take (a full disk, a database out of
	// reach) is spooled locally; the run's output still follows, and the
	// exit code is 5 (unless the run itself failed).
	enc := jr.Finish(cmd.Context(), run)
	saveErr := a.saveRecord(cmd.Context(), store, run, enc)
	if f.out != "" {
		data, err := run.Marshal()
		if err == nil {
			err = record.WriteFileAtomic(f.out, data, 0o644)
		}
		if err != nil {
			return exitWith(1, fmt.Errorf("write --out: %w", err))
		}
	}
	if f.textfile != "" {
		if err := views.WriteTextfile(f.textfile, run); err != nil {
			return exitWith(1, fmt.Errorf("write --textfile: %w", err))
		}
	}
	code := views.ExitCode(run, f.format, f.strict)
	if run.Interrupted && bySignal && f.format != "nagios" {
		code = signalExitCode(sig)
	}
	if reportErr != nil && code == 0 {
		code = 1 // a report the run promised was not written
	}
	if f.quiet && code == 0 && run.Status == record.Passed && saveErr == nil {
		return nil
	}
	if f.quiet {
		_, _ = io.Copy(a.stdout, &quietBuf)
	}
	if f.format == "table" {
		fmt.Fprintln(a.stdout)
	}
	// A reader that went away (| head) loses the rest of the output, not
	// the run's exit code.
	if err := renderer.Render(a.stdout, run); err != nil && !errors.Is(err, syscall.EPIPE) {
		return exitWith(1, fmt.Errorf("render %s: %w", f.format, err))
	}
	for _, r := range run.Reports {
		fmt.Fprintf(progressOutFor(a, f), "report %s → %s\n", r.Name, r.Path)
	}
	if reportErr != nil {
		fmt.Fprintf(a.stderr, "runbook: the report was not written: %v\n", reportErr)
	}
	if run.Interrupted && saveErr == nil {
		fmt.Fprintf(a.stderr, "runbook: interrupted; the partial run record was written (run %s)\n", run.ID)
	}
	if run.Exercise != nil {
		fmt.Fprintln(progressOutFor(a, f), exerciseNote(run))
	}
	if saveErr != nil && code == 0 && f.format != "nagios" {
		return exitWith(5, saveErr)
	}
	if saveErr != nil {
		fmt.Fprintf(a.stderr, "runbook: %v\n", saveErr)
	}
	if code != 0 {
		return exitWith(code, nil)
	}
	return nil
}

// progressOutFor is where notes about a run go: stdout for the table
// view, stderr for machine formats.
func progressOutFor(a *app, f runFlags) io.Writer {
	if f.format == "table" {
		return a.stdout
	}
	return a.stderr
}
