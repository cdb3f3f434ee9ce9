// Command runbook turns operations runbooks written in HCL into executable,
// reviewable checks, procedures and reports. See docs/cli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/runbookhq/runbook/views"
)

func main() {
	os.Exit(runMain())
}

// runMain runs the command line of this process. The first Ctrl-C,
// SIGTERM or SIGHUP (an ssh session that drops) cancels the run: providers
// stop their commands' process groups, and the partial run record is
// written before exiting 128 + the signal's number (130, 143, 129). A
// second one quits sooner. SIGPIPE never kills the process: output to a
// closed pipe (runbook exec x.hcl | head -1) is dropped and the run goes on.
func runMain() int {
	tuneGC()
	if path := os.Getenv("RUNBOOK_CPUPROFILE"); path != "" {
		// A developer's knob: profile this process (go tool pprof).
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	// Heard, so that a write to a closed pipe fails with EPIPE instead of
	// killing the process; a handled (not ignored) signal is reset to the
	// default in the commands runbook starts, so they still see SIGPIPE.
	pipes := make(chan os.Signal, 1)
	signal.Notify(pipes, syscall.SIGPIPE)
	go func() {
		for range pipes {
		}
	}()
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	intr := &interrupts{}
	go func() {
		sig, ok := <-sigs
		if !ok {
			return
		}
		// Nothing here may fail the run: after a hangup stderr may be gone.
		fmt.Fprintf(os.Stderr, "\nrunbook: %s: stopping and writing the run record (press Ctrl-C again to quit sooner)\n", signalName(sig))
		cancel(&signalError{sig: sig})
		for again := 1; ; again++ {
			if _, ok := <-sigs; !ok {
				return
			}
			// The second may be the running command's to handle (exec
			// abandons its cleanup blocks); otherwise, and on the third,
			// give the commands' process groups their SIGTERM→SIGKILL
			// grace (1 s) so nothing is left running, then go.
			if again == 1 && intr.handleAgain() {
				continue
			}
			fmt.Fprintln(os.Stderr, "runbook: quitting")
			time.Sleep(forceExitDelay)
			os.Exit(signalExitCode(sig))
		}
	}()
	return runWith(ctx, intr, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
}

// interrupts lets the running command handle the signal after the first
// (the first always cancels the run's context).
type interrupts struct {
	mu    sync.Mutex
	again func() bool
}

// onAgain sets the handler of a second signal; it returns true when it
// handled it (the process then waits for the command to finish). The
// returned function removes the handler.
func (i *interrupts) onAgain(f func() bool) (remove func()) {
	if i == nil {
		return func() {}
	}
	i.mu.Lock()
	i.again = f
	i.mu.Unlock()
	return func() {
		i.mu.Lock()
		i.again = nil
		i.mu.Unlock()
	}
}

func (i *interrupts) handleAgain() bool {
	i.mu.Lock()
	f := i.again
	i.mu.Unlock()
	return f != nil && f()
}

// signalError is the cause of a run's cancellation by a signal.
type signalError struct{ sig os.Signal }

func (e *signalError) Error() string { return signalName(e.sig) }

// signalName is how the record and messages name a signal.
func signalName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "interrupt"
	case syscall.SIGTERM:
		return "terminated"
	case syscall.SIGHUP:
		return "hangup"
	}
	return sig.String()
}

// signalExitCode is the shell's convention for a process ended by a
// signal: 128 + its number (130 for Ctrl-C, 143 for SIGTERM, 129 for
// SIGHUP).
func signalExitCode(sig os.Signal) int {
	if s, ok := sig.(syscall.Signal); ok {
		return 128 + int(s)
	}
	return 130
}

// interruptedBy returns the signal that cancelled ctx, if one did.
func interruptedBy(ctx context.Context) (os.Signal, bool) {
	var se *signalError
	if errors.As(context.Cause(ctx), &se) {
		return se.sig, true
	}
	return nil, false
}

// forceExitDelay is how long a second Ctrl-C waits before exiting: just
// over the shell provider's grace between SIGTERM and SIGKILL.
const forceExitDelay = 1500 * time.Millisecond

// tuneGC trades memory for CPU: runbook's runs are short and allocate
// mostly short-lived configuration and results, so collecting at 4× the
// live heap (instead of 2×), under a soft 256 MiB ceiling, saves most of
// the collector's work. GOGC and GOMEMLIMIT still take precedence.
// Measured (docs/performance.md, "What the collector settings trade"):
// GOGC=200 peaks a fifth lower at 1,000 checks but costs 5–10% CPU on
// HTTP checks and 12% on parsing 10,000; a lower fixed limit slows
// 10,000-check runs 2.4–5×. Round 3 (a smaller live heap): 300 instead
// of 400 peaks 8–9 MB lower at 1,000 checks (75 → 66 MB HTTP, 63 → 55 MB
// shell) for 1.5–1.9% more CPU on HTTP, 0.2% on shell; at 10,000 the
// ceiling still decides the peak, and a 160 MiB one would cost 26% CPU;
// validate of 10,000 checks peaks at 152 MB, not 213, for the same CPU.
// Round 8 (loading keeps less; the run's live heap sets the peak): a
// 160 MiB ceiling takes 40 MB off 10,000 HTTP checks for 1% CPU but
// costs 10,000 checks with asserts 25%; GOGC=200 costs HTTP checks 5–9%
// for 4–20 MB. Neither serves both, so both stay.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(256 << 20)
	}
}

// app carries what every command needs: the streams it may print to and
// the process environment. Only commands print; everything below them
// returns values and diagnostics.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// intr routes a second Ctrl-C to the running command; nil in-process.
	intr *interrupts
}

// exitError carries an exit code out of a command. A nil err means the
// command already said what it had to say.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// exitWith returns an error that makes the process exit with code,
// printing err (if any) as "runbook: err".
func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

// run executes the command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(ctx, nil, args, stdin, stdout, stderr)
}

// runWith is run with the process's signal routing (nil in tests that run
// commands in-process).
func runWith(ctx context.Context, intr *interrupts, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	// A Nagios check that cannot start still answers with one status line.
	// (Its diagnostics still go to stderr; the line names the first.)
	var nagios *countingWriter
	var diag *firstLineWriter
	if wantsNagios(args) {
		nagios = &countingWriter{w: stdout}
		diag = &firstLineWriter{w: stderr}
		stdout, stderr = nagios, diag
	}
	code := runCmd(ctx, intr, args, stdin, stdout, stderr)
	if nagios != nil && code != 0 && nagios.n == 0 {
		why := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(diag.first), "runbook: "), "Error: ")
		if why == "" {
			why = "the check could not run"
		}
		_ = views.NagiosUnknown(nagios.w, why)
		return 3
	}
	return code
}

// firstLineWriter keeps the first non-empty line written through it.
type firstLineWriter struct {
	w     io.Writer
	buf   []byte
	first string
}

func (f *firstLineWriter) Write(p []byte) (int, error) {
	if f.first == "" && len(f.buf) < 4096 {
		f.buf = append(f.buf, p...)
		lines := strings.Split(string(f.buf), "\n")
		for _, line := range lines[:len(lines)-1] { // whole lines only
			if strings.TrimSpace(line) != "" {
				f.first = line
				break
			}
		}
	}
	return f.w.Write(p)
}

// wantsNagios reports whether args ask exec or check for --format nagios.
func wantsNagios(args []string) bool {
	if len(args) == 0 || (args[0] != "exec" && args[0] != "check") {
		return false
	}
	for i, arg := range args {
		if arg == "--" {
			return false
		}
		if arg == "--format=nagios" || (arg == "--format" && i+1 < len(args) && args[i+1] == "nagios") {
			return true
		}
	}
	return false
}

// countingWriter counts what was written through it.
type countingWriter struct {
	w io.Writer
	n int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += n
	return n, err
}

// runCmd is runWith without the Nagios fallback.
func runCmd(ctx context.Context, intr *interrupts, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, intr: intr}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetContext(ctx)
	cmd, err := root.ExecuteC()
	if err == nil {
		return 0
	}
	// A reader that went away (runbook history | head -1) ends a command
	// that only prints as quietly as SIGPIPE would, with its exit code.
	// (exec and check go on and keep the run's own code: see runbookRun.)
	if errors.Is(err, syscall.EPIPE) {
		return 128 + int(syscall.SIGPIPE)
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "runbook: %v\n", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors: unknown command, wrong number of arguments.
	fmt.Fprintf(stderr, "runbook: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return 2
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "runbook",
		Short: "Executable, reviewable operations runbooks",
		Long: `runbook runs operations runbooks written in HCL: checks with assertions,
tabletop procedures mixing automated and manual steps, incident playbooks,
monitors and sign-off reports. Every run leaves a JSON run record.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return exitWith(2, fmt.Errorf("%w\nSee '%s --help'.", err, c.CommandPath()))
	})
	root.AddCommand(
		newExecCmd(a),
		newCheckCmd(a),
		newPlanCmd(a),
		newGoldenCmd(a),
		newValidateCmd(a),
		newProvidersCmd(a),
		newFmtCmd(a),
		newReportCmd(a),
		newHistoryCmd(a),
		newShowCmd(a),
		newVerifyCmd(a),
		newSignCmd(a),
		newWatchCmd(a),
		newStopCmd(a),
		newExerciseCmd(a),
		newSilenceCmd(a),
		newStateCmd(a),
		newServeCmd(a),
		newTokenCmd(a),
		newVersionCmd(a),
	)
	return root
}
