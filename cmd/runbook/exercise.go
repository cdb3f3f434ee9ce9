package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
	"github.com/spf13/cobra"
)

// Environment variables an exercise exports to the commands its steps run:
// a `runbook stop enable` run by a step of an exercise is audited as a
// drill of that run.
const (
	envExercise = "RUNBOOK_EXERCISE"
	envRunID    = "RUNBOOK_RUN_ID"
)

// exportEnv sets an environment variable for the run's commands and
// returns what puts it back.
func exportEnv(name, value string) (restore func()) {
	old, had := os.LookupEnv(name)
	_ = os.Setenv(name, value)
	return func() {
		if had {
			_ = os.Setenv(name, old)
		} else {
			_ = os.Unsetenv(name)
		}
	}
}

// drillRun returns the run id of the exercise this process is a step of,
// or "" outside an exercise.
func drillRun() string {
	if os.Getenv(envExercise) != "1" {
		return ""
	}
	if id := os.Getenv(envRunID); id != "" {
		return id
	}
	return "unknown"
}

// statePauser reads the facilitator's pause from the state, at most every
// pausePoll: `runbook exercise pause` and the console's button write it.
type statePauser struct {
	store state.Store
	runID string
	warn  io.Writer

	mu     sync.Mutex
	last   *record.Pause
	readAt time.Time
	warned bool
}

// pausePoll bounds how often a run reads its pause from the state.
var pausePoll = 500 * time.Millisecond

var _ engine.Pauser = (*statePauser)(nil)

func (p *statePauser) Paused(ctx context.Context) *record.Pause {
	p.mu.Lock()
	defer p.mu.Unlock()
	if time.Since(p.readAt) < pausePoll {
		return p.last
	}
	p.readAt = time.Now()
	pause, err := state.LoadExercisePause(ctx, p.store, p.runID)
	if err != nil {
		// The clock keeps its last known state while the state is out
		// of reach.
		if !p.warned {
			fmt.Fprintf(p.warn, "runbook: warning: the exercise pause cannot be read: %v\n", err)
			p.warned = true
		}
		return p.last
	}
	p.last = pause
	return pause
}

// injectDeliverer delivers an exercise's injects: to the named alert
// channels, to the console's feed (through the state), and to the
// terminal.
type injectDeliverer struct {
	store  state.Store
	runID  string
	b      *engine.Bound
	alerts map[string]*alert.Alert
	sender *alert.Sender
	out    io.Writer

	mu        sync.Mutex
	delivered []record.Inject
}

func (a *app) newInjectDeliverer(b *engine.Bound, store state.Store, runID string, out io.Writer) (*injectDeliverer, error) {
	d := &injectDeliverer{store: store, runID: runID, b: b, alerts: map[string]*alert.Alert{}, out: out,
		sender: &alert.Sender{Redactor: b.Redactor, UserAgent: "runbook/" + engine.Version}}
	needed := false
	for _, name := range append([]string{""}, b.Config.PlaybookOrder...) {
		for _, in := range b.Injects(name) {
			needed = needed || len(in.To) > 0
		}
	}
	if !needed {
		return d, nil
	}
	alerts, diags := alert.Load(b)
	if diags.HasErrors() {
		a.printDiagsRedacted(diags, b.Config.Files, b.Redactor)
		return nil, exitWith(2, nil)
	}
	for _, al := range alerts {
		d.alerts[al.Name] = al
	}
	return d, nil
}

// Deliver is the engine's InjectDeliverer.
func (d *injectDeliverer) Deliver(ctx context.Context, in record.Inject) []string {
	fmt.Fprintf(d.out, "EXERCISE inject %s: %s\n", in.Name, in.Message)
	var errs []string
	for _, name := range in.To {
		al := d.alerts[name]
		if al == nil {
			errs = append(errs, fmt.Sprintf("alert %q: not loaded", name))
			continue
		}
		n := &alert.Notification{
			Runbook: d.b.Info.Name, Title: d.b.Info.Title, Host: hostname(), Time: in.DeliveredAt,
			RunID: d.runID, Exercise: true, Inject: &alert.Inject{Name: in.Name, Message: in.Message},
			Transitions: []alert.Transition{},
		}
		if res := d.sender.Send(ctx, al, n); res.Err != nil {
			errs = append(errs, res.Err.Error())
			fmt.Fprintf(d.out, "runbook: warning: inject %s: %v\n", in.Name, res.Err)
		}
	}
	in.Errors = errs
	d.mu.Lock()
	d.delivered = append(d.delivered, in)
	all := append([]record.Inject(nil), d.delivered...)
	d.mu.Unlock()
	if err := state.SaveInjects(context.WithoutCancel(ctx), d.store, d.runID, all); err != nil {
		fmt.Fprintf(d.out, "runbook: warning: the console cannot show inject %s: %v\n", in.Name, err)
	}
	return errs
}

// setupExercise prepares an exercise run: the banner on the terminal, the
// pause and the injects' delivery, the environment of its commands. It
// returns what undoes the environment.
func (a *app) setupExercise(b *engine.Bound, store state.Store, opts *engine.Options, startPaused bool, out io.Writer) (func(), error) {
	if !opts.Exercise && !b.Info.Exercise {
		return func() {}, nil
	}
	opts.Exercise = true
	fmt.Fprintf(out, "EXERCISE — run %s of %s is an exercise: every page, message and report says so.\n", opts.ID, b.Info.Name)
	if startPaused {
		p := &record.Pause{From: time.Now().UTC(), By: opts.Operator, Surface: record.SurfaceTerminal, Reason: "paused at the start (--pause)"}
		if err := state.SetExercisePause(context.Background(), store, opts.ID, p); err != nil {
			return nil, exitWith(1, fmt.Errorf("pause the exercise: %w", err))
		}
		fmt.Fprintf(out, "The exercise clock is paused: `runbook exercise resume %s%s` (or the console) starts it.\n", opts.ID, stateArg(store))
	}
	opts.Pauser = &statePauser{store: store, runID: opts.ID, warn: a.stderr}
	d, err := a.newInjectDeliverer(b, store, opts.ID, out)
	if err != nil {
		return nil, err
	}
	opts.Deliver = d.Deliver
	r1 := exportEnv(envExercise, "1")
	r2 := exportEnv(envRunID, opts.ID)
	return func() { r2(); r1() }, nil
}

// stateArg is the --state argument that names store in a command printed
// for the user to type, so the command finds the run wherever it is typed.
func stateArg(store state.Store) string {
	return " --state " + shellWord(store.Location())
}

// shellWord quotes s for a POSIX shell when it holds anything but the
// characters a shell leaves alone.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// scoreSource gives the engine the facilitator's scores: those of the
// answers file, then those given in the console while the run went on
// (a later score of the same step wins).
func (a *app) scoreSource(store state.Store, runID string, fromAnswers state.ExerciseScores) engine.ScoreSource {
	return func(ctx context.Context) map[string]record.Score {
		out := map[string]record.Score{}
		for k, v := range fromAnswers {
			out[k] = v
		}
		scores, err := state.LoadScores(ctx, store, runID)
		if err != nil {
			fmt.Fprintf(a.stderr, "runbook: warning: the scores given in the console cannot be read: %v\n", err)
			return out
		}
		for k, v := range scores {
			out[k] = v
		}
		return out
	}
}

// exerciseNote is the line that ends the output of an exercise run.
func exerciseNote(run *record.Run) string {
	delivered := 0
	for _, in := range run.Exercise.Injects {
		if !in.DeliveredAt.IsZero() {
			delivered++
		}
	}
	return fmt.Sprintf("EXERCISE — run %s was an exercise: %d of %d inject(s) delivered, paused %d time(s).",
		run.ID, delivered, len(run.Exercise.Injects), len(run.Exercise.Pauses))
}

func newExerciseCmd(a *app) *cobra.Command {
	var stateFlag, reason, operator string
	cmd := &cobra.Command{
		Use:   "exercise",
		Short: "Pause or resume the clock of a running exercise",
		Long: `An exercise (exercise = true in the runbook block, or exec --exercise)
delivers its inject blocks at their times on the exercise clock. The
facilitator pauses that clock (a briefing, a question from the room) and
resumes it; the paused time does not count, so every inject still to come
arrives that much later. The console's run page has the same buttons.`,
		Example: `  runbook exercise pause 20261201-0930-ab12 --reason "questions from the room"
  runbook exercise resume 20261201-0930-ab12`,
	}
	set := func(pause bool) *cobra.Command {
		use, short := "resume RUN", "Let the exercise clock run again"
		if pause {
			use, short = "pause RUN", "Hold the exercise clock: no inject is delivered until resume"
		}
		c := &cobra.Command{
			Use:   use,
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				ctx := cmd.Context()
				store, err := a.openState(ctx, stateFlag, "")
				if err != nil {
					return err
				}
				defer store.Close()
				run, err := store.LoadRun(ctx, args[0])
				if err != nil {
					return exitWith(2, err)
				}
				if run.Exercise == nil {
					return exitWith(2, fmt.Errorf("run %s is not an exercise", run.ID))
				}
				if state.Final(run) {
					return exitWith(2, fmt.Errorf("run %s has finished: its exercise clock stopped with it", run.ID))
				}
				var p *record.Pause
				if pause {
					p = &record.Pause{From: time.Now().UTC(), By: a.operator(operator), Surface: record.SurfaceTerminal, Reason: strings.TrimSpace(reason)}
				}
				if err := state.SetExercisePause(ctx, store, run.ID, p); err != nil {
					return exitWith(1, err)
				}
				if pause {
					fmt.Fprintf(a.stdout, "Exercise %s paused: no inject is delivered until `runbook exercise resume %s%s`.\n", run.ID, run.ID, stateArg(store))
				} else {
					fmt.Fprintf(a.stdout, "Exercise %s resumed: the injects still to come are delivered later by the time it was paused.\n", run.ID)
				}
				return nil
			},
		}
		c.Flags().StringVar(&stateFlag, "state", "", "the state the run is in (default $RUNBOOK_STATE, else ./.runbook)")
		c.Flags().StringVar(&operator, "operator", "", "who pauses it (default $RUNBOOK_OPERATOR, then $SUDO_USER, then $USER)")
		if pause {
			c.Flags().StringVar(&reason, "reason", "", "why, for the record")
		}
		return c
	}
	cmd.AddCommand(set(true), set(false))
	return cmd
}
