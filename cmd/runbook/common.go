package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"
	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/report"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/views"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// registry is the engine's view of the one provider registry.
func registry() engine.Registry {
	return engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
}

// varFlags are the variable flags every loading command takes.
type varFlags struct {
	vars            []string
	varFiles        []string
	allowUndeclared bool
	// checksOnly is set by commands that run the checks alone: variables
	// only steps use need no value.
	checksOnly bool
}

func (f *varFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.vars, "var", nil, "set a variable: `name=value` (repeatable)")
	cmd.Flags().StringArrayVar(&f.varFiles, "var-file", nil, "read variable values from an HCL or JSON `FILE` (repeatable)")
	cmd.Flags().BoolVar(&f.allowUndeclared, "allow-undeclared", false, "warn about, rather than refuse, values for undeclared variables in --var-file and RUNBOOK_VAR_* (for files shared by several runbooks)")
}

// isTerminal reports whether w is a terminal.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// useColor reports whether output to w may be coloured.
func (a *app) useColor(w io.Writer) bool {
	_, noColor := os.LookupEnv("NO_COLOR")
	return !noColor && a.getenv("TERM") != "dumb" && isTerminal(w)
}

// tableStyle is the style of a listing (plan, history, providers…)
// written to w: box drawing on a terminal that may show colour, plain
// ASCII otherwise (piped, redirected, NO_COLOR, TERM=dumb), the choice
// exec and check make for theirs; listings keep their headers in capitals.
func (a *app) tableStyle(w io.Writer) table.Style {
	style := views.TableStyle(a.useColor(w))
	style.Format.Header = text.FormatUpper
	return style
}

// printDiags writes diagnostics with source snippets to stderr.
func (a *app) printDiags(diags hcl.Diagnostics, files map[string]*hcl.File) {
	a.printDiagsRedacted(diags, files, nil)
}

// printDiagsRedacted writes diagnostics with their source snippets, each
// position with its column, and the run's sensitive values redacted from
// everything printed: HCL shows the values of the variables an expression
// used, and a snippet may be a line of a --var-file holding a secret.
func (a *app) printDiagsRedacted(diags hcl.Diagnostics, files map[string]*hcl.File, red *engine.Redactor) {
	if len(diags) == 0 {
		return
	}
	width := uint(0)
	if f, ok := a.stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			width = uint(w)
		}
	}
	files = printableFiles(files)
	for i, d := range diags {
		if i == maxDiagnostics {
			errs, warns := 0, 0
			for _, d := range diags[i:] {
				if d.Severity == hcl.DiagError {
					errs++
				} else {
					warns++
				}
			}
			fmt.Fprintf(a.stderr, "… and %d more errors and %d more warnings not shown: fix the first ones and run again.\n", errs, warns)
			break
		}
		var buf bytes.Buffer
		wr := hcl.NewDiagnosticTextWriter(&buf, files, width, a.useColor(a.stderr))
		shown := *d
		shown.Summary, shown.Detail = report.Printable(d.Summary), report.Printable(d.Detail)
		_ = wr.WriteDiagnostic(&shown)
		text := buf.String()
		if d.Subject != nil {
			// HCL names the line; the contract promises the column too.
			on := fmt.Sprintf("on %s line %d", d.Subject.Filename, d.Subject.Start.Line)
			text = strings.Replace(text, on, fmt.Sprintf("%s, column %d", on, d.Subject.Start.Column), 1)
		}
		_, _ = io.WriteString(a.stderr, red.String(text))
	}
}

// maxDiagnostics is how many diagnostics are printed; the rest are
// counted.
const maxDiagnostics = 50

// printableFiles returns the files with every control character (except
// tab, newline and carriage return) in their text replaced by "?", byte
// for byte, so a source snippet cannot drive the terminal and every range
// still points at the same place.
func printableFiles(files map[string]*hcl.File) map[string]*hcl.File {
	var out map[string]*hcl.File
	for name, f := range files {
		if f == nil || !hasControl(f.Bytes) {
			continue
		}
		if out == nil {
			out = make(map[string]*hcl.File, len(files))
			for k, v := range files {
				out[k] = v
			}
		}
		b := append([]byte(nil), f.Bytes...)
		for i := 0; i < len(b); i++ {
			switch c := b[i]; {
			case c < 0x20 && c != '\t' && c != '\n' && c != '\r', c == 0x7f:
				b[i] = '?'
			case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f: // C1
				b[i], b[i+1] = '?', '?'
			}
		}
		out[name] = &hcl.File{Body: f.Body, Bytes: b, Nav: f.Nav}
	}
	if out == nil {
		return files
	}
	return out
}

func hasControl(b []byte) bool {
	for i, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' || c == 0x7f || c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f {
			return true
		}
	}
	return false
}

// load loads and binds a runbook, printing diagnostics; configuration
// errors become exit code 2.
func (a *app) load(path string, vf varFlags, allowMissing bool) (*engine.Bound, error) {
	cfg, diags := engine.Load(path, registry())
	if diags.HasErrors() {
		a.printDiags(diags, cfg.Files)
		return nil, exitWith(2, nil)
	}
	b, bdiags := engine.Bind(cfg, registry(), engine.Inputs{
		Environ:         os.Environ(),
		VarFiles:        vf.varFiles,
		Vars:            vf.vars,
		AllowMissing:    allowMissing,
		AllowUndeclared: vf.allowUndeclared,
		ChecksOnly:      vf.checksOnly,
	})
	diags = append(diags, bdiags...)
	var red *engine.Redactor
	if b != nil {
		red = b.Redactor
	}
	if !diags.HasErrors() {
		// Alert channels, playbook triggers and report blocks are
		// configuration too: check them now, before anything runs, rather
		// than when watch or the end of a run first needs them.
		_, adiags := alert.Load(b)
		_, tdiags := b.Triggers()
		diags = append(append(append(diags, adiags...), tdiags...), checkReportTemplates(b)...)
	}
	a.printDiagsRedacted(diags, cfg.Files, red)
	if diags.HasErrors() {
		return nil, exitWith(2, nil)
	}
	return b, nil
}

// openState opens the state store: --state, then RUNBOOK_STATE, then
// .runbook/ beside the runbook. A postgres:// or postgresql:// URL opens
// the shared PostgreSQL store (each call under the deadline
// RUNBOOK_STATE_TIMEOUT, default 10s); anything else is a directory. Run
// records spooled earlier for the store are flushed into it. The caller
// closes the store.
func (a *app) openState(ctx context.Context, flag, runbookPath string) (state.Store, error) {
	return a.openStateWith(ctx, flag, runbookPath, false, false)
}

// openStateLazy is openState for watch, which goes on without the state:
// a database out of reach is not an error (its calls fail, each within
// its deadline, until it answers again), and the pool keeps its
// connections open for the life of the process.
func (a *app) openStateLazy(ctx context.Context, flag, runbookPath string) (state.Store, error) {
	return a.openStateWith(ctx, flag, runbookPath, true, true)
}

// openStateWith is openState, lazy as openStateLazy when lazy is set,
// keeping idle connections when longLived is.
func (a *app) openStateWith(ctx context.Context, flag, runbookPath string, lazy, longLived bool) (state.Store, error) {
	p, from := flag, "--state"
	if p == "" {
		p, from = a.getenv("RUNBOOK_STATE"), "RUNBOOK_STATE"
	}
	if strings.HasPrefix(p, "postgres://") || strings.HasPrefix(p, "postgresql://") {
		opts := state.PostgresOptions{Lazy: lazy}
		if longLived {
			opts.MinConns = 2 // see PostgresOptions.MinConns
		}
		if v := a.getenv("RUNBOOK_STATE_TIMEOUT"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, exitWith(2, fmt.Errorf("RUNBOOK_STATE_TIMEOUT: %q is not a positive duration such as 10s", v))
			}
			opts.Timeout = d
		}
		s, err := state.OpenPostgresWith(ctx, p, opts)
		if err != nil {
			return nil, exitWith(2, fmt.Errorf("%s: %w", from, err))
		}
		if state.ReachabilityOf(s).Reachable {
			a.flushSpool(ctx, s)
		}
		return s, nil
	}
	if p == "" {
		dir := runbookPath
		if info, err := os.Stat(runbookPath); err == nil && !info.IsDir() {
			dir = filepath.Dir(runbookPath)
		}
		if dir == "" {
			dir = "."
		}
		p = filepath.Join(dir, ".runbook")
	}
	d := state.NewDir(p)
	a.flushSpool(ctx, d)
	return d, nil
}

// flushSpool moves the run records spooled for store into it, saying so.
func (a *app) flushSpool(ctx context.Context, store state.Store) {
	sp := state.Spool{}
	// Not once the command is cancelled (SIGTERM, Ctrl-C): it ends
	// promptly, and the records stay spooled for the next command.
	if ctx.Err() != nil || len(sp.Pending(store)) == 0 {
		return
	}
	done, err := sp.Flush(ctx, store)
	if len(done) > 0 {
		fmt.Fprintf(a.stderr, "runbook: %d run record(s) spooled earlier are now stored in %s: %s\n", len(done), store.Location(), strings.Join(done, ", "))
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "runbook: warning: run records spooled in %s are still not stored: %v\n", state.DefaultSpoolDir(), err)
	}
}

// localStateDir is the directory for files a run leaves beside its state
// (rendered reports): the state directory itself, or .runbook/ in
// runbookDir when the state is a database.
func localStateDir(store state.Store, runbookDir string) string {
	if d, ok := store.(*state.Dir); ok {
		return d.Path
	}
	return filepath.Join(runbookDir, ".runbook")
}

// operator is who runs: --operator, then RUNBOOK_OPERATOR (which a run
// exports to the commands it starts, so a step running `runbook stop
// enable` records the run's operator), then SUDO_USER, USER, the account
// name.
func (a *app) operator(flag string) string {
	for _, v := range []string{flag, a.getenv("RUNBOOK_OPERATOR"), a.getenv("SUDO_USER"), a.getenv("USER")} {
		if v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// exportOperator sets RUNBOOK_OPERATOR to the run's operator in this
// process's environment, which the commands a run starts inherit, and
// returns the function that puts the environment back.
func exportOperator(operator string) (restore func()) {
	const name = "RUNBOOK_OPERATOR"
	old, had := os.LookupEnv(name)
	_ = os.Setenv(name, operator)
	return func() {
		if had {
			_ = os.Setenv(name, old)
		} else {
			_ = os.Unsetenv(name)
		}
	}
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}

// splitList splits comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
