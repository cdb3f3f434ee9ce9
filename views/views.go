// Package views renders a finished run for people and for machines: table,
// JSON, JUnit, TAP, Markdown and Nagios. Every view writes to an injected
// io.Writer; ExitCode decides the process exit code in one place.
package views

import (
	"fmt"
	"io"
	"sort"

	"github.com/runbookhq/runbook/record"
)

// Renderer writes a finished run in one format.
type Renderer interface {
	Render(w io.Writer, run *record.Run) error
}

// Options tune how a run is rendered.
type Options struct {
	// Color allows ANSI colour (only on a terminal and without NO_COLOR).
	Color bool
	// Verbose adds results and asserts of passed items.
	Verbose bool
}

// RendererFunc adapts a function to Renderer.
type RendererFunc func(w io.Writer, run *record.Run) error

// Render calls f.
func (f RendererFunc) Render(w io.Writer, run *record.Run) error { return f(w, run) }

// formats is the one explicit list of output formats; cmd's --format flag,
// its help and the tests read it. A new format is one file and one line here.
var formats = map[string]func(Options) Renderer{
	"table":      newTable,
	"json":       newJSON,
	"junit":      newJUnit,
	"tap":        newTAP,
	"markdown":   newMarkdown,
	"nagios":     newNagios,
	"prometheus": newPrometheus,
}

// Formats returns the names of the output formats, sorted.
func Formats() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New returns the renderer for a format name.
func New(format string, opts Options) (Renderer, error) {
	f, ok := formats[format]
	if !ok {
		return nil, fmt.Errorf("unknown format %q (want one of %v)", format, Formats())
	}
	return f(opts), nil
}

// Exit codes of the contract.
const (
	ExitPassed      = 0
	ExitFailed      = 1
	ExitUsage       = 2
	ExitIncomplete  = 3
	ExitRefused     = 4
	ExitInterrupted = 130
)

// ExitCode maps a finished run to the process exit code: 0 passed (or
// warning), 1 failed, 3 incomplete (a step pending or declined), also for
// a run that never finished (abandoned, or a journal record still
// running), 130 interrupted; an unknown status is a failure, never a
// success. With strict, a warning fails the run. The Nagios format has its own convention, decided
// by NagiosExitCode.
func ExitCode(run *record.Run, format string, strict bool) int {
	if format == "nagios" {
		return NagiosExitCode(run)
	}
	if run.Interrupted {
		return ExitInterrupted
	}
	switch run.Status {
	case record.Passed:
		return ExitPassed
	case record.Warning:
		if strict {
			return ExitFailed
		}
		return ExitPassed
	case record.Incomplete, record.Abandoned, record.Running:
		return ExitIncomplete
	}
	return ExitFailed
}

// NagiosExitCode follows the Nagios plugin convention: 0 OK, 1 WARNING,
// 2 CRITICAL, 3 UNKNOWN. A run that is incomplete, abandoned or still
// running, or was interrupted without failing, is UNKNOWN.
func NagiosExitCode(run *record.Run) int {
	if run.Interrupted && run.Status != record.Failed {
		return 3
	}
	switch run.Status {
	case record.Passed:
		return 0
	case record.Warning:
		return 1
	case record.Failed:
		return 2
	default:
		return 3
	}
}
