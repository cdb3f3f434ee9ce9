package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/views"
	"github.com/runbookhq/runbook/watch"
	"github.com/spf13/cobra"
)

// watchFlags are the flags of watch.
type watchFlags struct {
	varFlags
	every       time.Duration
	state       string
	key         string
	listen      string
	webhooks    []string
	logFormat   string
	once        bool
	strict      bool
	record      string
	grace       time.Duration
	operator    string
	concurrency int
	only, skip  []string
}

func newWatchCmd(a *app) *cobra.Command {
	var f watchFlags
	cmd := &cobra.Command{
		Use:   "watch FILE|DIR",
		Short: "Re-run the checks on an interval; log, alert and serve health",
		Long: `Run the runbook's checks every --every, never two cycles at once. Each cycle
computes every check's health (HEALTHY, WARNING, CRITICAL, UNKNOWN) and the
overall health, and logs it; a check whose health changes is logged as a
transition and sent to the runbook's alert blocks (and to --webhook), once,
not on every cycle, and again as RECOVERED when it is healthy again. A check
skipped because a check it depends on failed does not alert on its own.
Alerts are queued and delivered apart from the cycles, under each alert's
rate limit, so a slow or failing receiver never delays the checks. A check
that keeps changing health is reported FLAPPING once, then not until it
settles; runbook silence and an alert's maintenance windows hold alerts back.

A playbook whose trigger check turns CRITICAL is named in the alert; with
auto = true the watch runs it, confirm steps included, unless the emergency
stop is on. The watch keeps its state in the state store, so a restart does
not alert again; several instances may share one store (--state
postgres://…): only the one holding the lead alerts and runs playbooks.

With --listen it serves GET /healthz (200 when HEALTHY or WARNING, else 503,
with the states as JSON) and GET /metrics (Prometheus). SIGTERM or Ctrl-C
stops it after the cycle in flight (at most --grace later).

Exit codes: 0 stopped cleanly (with --once: passed or warning), 1 with --once
when a check failed, 2 configuration error.`,
		Example: `  runbook watch runbooks/shadow-monitor.hcl --every 5m --listen :9108
  runbook watch runbooks/shadow-monitor.hcl --webhook https://hooks.example.com/ops --log-format json
  runbook watch runbooks/shadow-monitor.hcl --once      # one cycle, for a test or a timer`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.watch(cmd.Context(), args[0], f)
		},
	}
	f.varFlags.add(cmd)
	fl := cmd.Flags()
	fl.DurationVar(&f.every, "every", watch.DefaultEvery, "time from the start of one cycle to the start of the next")
	fl.StringVar(&f.state, "state", "", "where run records, the watch state and the emergency stop live: a directory or a postgres:// URL (default $RUNBOOK_STATE, else .runbook/ beside the runbook)")
	fl.StringVar(&f.key, "key", "", "name of this watch in the state store (default: the runbook's name); watches of one runbook with different --var need different keys")
	fl.StringVar(&f.listen, "listen", "", "serve /healthz and /metrics on `ADDR` (\"127.0.0.1:9108\", \":9108\")")
	fl.StringArrayVar(&f.webhooks, "webhook", nil, "also send every transition as JSON to `URL` (repeatable)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log lines as text or json")
	fl.BoolVar(&f.once, "once", false, "run one cycle and exit with the run's exit code")
	fl.BoolVar(&f.strict, "strict", false, "with --once: exit 1 on warnings too")
	fl.StringVar(&f.record, "record", "changes", "which cycles keep a run record: changes (the first, and those where a check's health changed) or all")
	fl.DurationVar(&f.grace, "grace", watch.DefaultGrace, "on SIGTERM, how long the cycle in flight may go on before it is interrupted")
	fl.StringVar(&f.operator, "operator", "", "recorded as who runs the checks (default $SUDO_USER, then $USER)")
	fl.IntVar(&f.concurrency, "concurrency", 0, "checks run in parallel (default: the runbook's, else the number of CPUs)")
	fl.StringSliceVar(&f.only, "only", nil, "watch only these checks (and what they depend on): `a,b`")
	fl.StringSliceVar(&f.skip, "skip", nil, "do not watch these checks: `a,b`")
	return cmd
}

// watch is the watch command: load, build alerts, loop (or one cycle).
func (a *app) watch(ctx context.Context, path string, f watchFlags) error {
	var handler slog.Handler
	switch f.logFormat {
	case "text":
		handler = slog.NewTextHandler(a.stdout, nil)
	case "json":
		handler = slog.NewJSONHandler(a.stdout, nil)
	default:
		return exitWith(2, fmt.Errorf("--log-format: %q is not text or json", f.logFormat))
	}
	if f.every <= 0 {
		return exitWith(2, errors.New("--every must be a positive duration such as 30s or 5m"))
	}
	if f.record != "changes" && f.record != "all" {
		return exitWith(2, fmt.Errorf("--record: %q is not changes or all", f.record))
	}
	b, err := a.load(path, f.varFlags, false)
	if err != nil {
		return err
	}
	alerts, diags := alert.Load(b)
	triggers, tdiags := b.Triggers()
	diags = append(diags, tdiags...)
	if len(diags) > 0 {
		a.printDiags(diags, b.Config.Files)
		if diags.HasErrors() {
			return exitWith(2, nil)
		}
	}
	// Every round runs the bound runbook; nothing plans it again.
	b.ReleaseSyntax()
	for i, u := range f.webhooks {
		name := "--webhook"
		if len(f.webhooks) > 1 {
			name = fmt.Sprintf("--webhook[%d]", i+1)
		}
		wh, err := alert.NewWebhook(name, u)
		if err != nil {
			return exitWith(2, fmt.Errorf("--webhook: %w", err))
		}
		alerts = append(alerts, wh)
	}
	store, err := a.openStateLazy(ctx, f.state, path)
	if err != nil {
		return err
	}
	defer store.Close()

	operator := a.operator(f.operator)
	// Commands of the playbooks the watch starts (a `runbook stop` among
	// them) are audited under the watch's operator.
	defer exportOperator(operator)()
	w, err := watch.New(ctx, watch.Options{
		Bound:    b,
		Store:    store,
		Key:      f.key,
		Every:    f.every,
		Alerts:   alerts,
		Sender:   &alert.Sender{Redactor: b.Redactor, UserAgent: "runbook/" + engine.Version},
		Triggers: triggers,
		Logger:   slog.New(handler),
		Operator: operator,
		// An automatic playbook is refused as `runbook exec --playbook`
		// would be: by any emergency stop that covers it (the host-wide
		// one too), and while the same playbook runs elsewhere.
		BeforePlaybook: func(ctx context.Context, playbook string) (func(), error) {
			eo := engine.Options{Mode: engine.ModeExec, Playbook: playbook, Operator: operator, Host: hostname()}
			if err := a.refuseIfStopped(ctx, store, b, eo); err != nil {
				return nil, err
			}
			lock, err := a.lockProcedure(ctx, store, b, eo)
			if err != nil {
				return nil, err
			}
			return lock.Release, nil
		},
		Host:             hostname(),
		Source:           absPath(path),
		VarFiles:         f.varFiles,
		Vars:             f.vars,
		Concurrency:      f.concurrency,
		Only:             splitList(f.only),
		Skip:             splitList(f.skip),
		RecordEveryCycle: f.record == "all",
		Grace:            f.grace,
	})
	if err != nil {
		return exitWith(1, err)
	}
	defer w.Close()

	if f.listen != "" {
		ln, err := net.Listen("tcp", f.listen)
		if err != nil {
			return exitWith(2, fmt.Errorf("--listen: %w", err))
		}
		srv := &http.Server{Handler: w.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		defer func() {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		slog.New(handler).Info("serving /healthz and /metrics", "address", ln.Addr().String())
	}

	if f.once {
		c, err := w.Once(ctx)
		if err != nil {
			return exitWith(2, err)
		}
		// Deliver what the cycle queued before exiting: at most --grace,
		// then what is left stays queued in the state for the next run.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.grace)
		if err := w.Flush(fctx); err != nil {
			slog.New(handler).Warn("alerts still queued at exit; the next watch sends them", "grace", f.grace.String())
		}
		cancel()
		if code := views.ExitCode(c.Run, "table", f.strict); code != 0 {
			return exitWith(code, nil)
		}
		return nil
	}
	if err := w.Run(ctx); err != nil {
		return exitWith(2, err)
	}
	return nil
}
