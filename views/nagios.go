package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// nagiosNamesMax caps how many failing items the status line names.
const nagiosNamesMax = 3

// nagiosStates are the Nagios service states by exit code (NagiosExitCode).
var nagiosStates = [...]string{"OK", "WARNING", "CRITICAL", "UNKNOWN"}

// newNagios renders the Nagios plugin output: one status line
//
//	RUNBOOK <NAME> OK|WARNING|CRITICAL|UNKNOWN - <summary> | <perfdata>
//
// with run counts and one '<name>_ms' duration per item that ran. Only a
// passed run is OK: a pending or declined step, or a run that never
// finished, is UNKNOWN.
// NagiosExitCode gives the matching exit code.
func newNagios(Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		name := run.Runbook
		if run.Playbook != nil && *run.Playbook != "" {
			name += "/" + *run.Playbook
		}
		line := fmt.Sprintf("RUNBOOK %s %s - %s | %s",
			strings.ToUpper(nagiosText(name)), nagiosStates[NagiosExitCode(run)],
			nagiosSummary(run), nagiosPerfdata(run))
		_, err := io.WriteString(w, line+"\n")
		return err
	})
}

// NagiosUnknown writes the status line of a run that could not start (a
// configuration error: a missing variable, a bad flag, a missing file):
//
//	RUNBOOK UNKNOWN - <why>
func NagiosUnknown(w io.Writer, why string) error {
	_, err := io.WriteString(w, "RUNBOOK UNKNOWN - "+nagiosText(why)+"\n")
	return err
}

// nagiosSummary says what is wrong, worst first, or that all is well.
func nagiosSummary(run *record.Run) string {
	s := run.Summary
	total := len(run.Items)
	var parts []string
	for _, status := range []string{record.Failed, record.Declined, record.Running, record.Warning, record.Pending} {
		var named []string
		n := 0
		for _, it := range run.Items {
			if it.Status != status || record.CountsAsInformational(it) {
				continue
			}
			n++
			if len(named) < nagiosNamesMax {
				d := it.Name
				if detail := report.Detail(it); detail != "" && status != record.Pending && status != record.Running {
					d += " (" + report.Truncate(60, detail) + ")"
				}
				named = append(named, d)
			}
		}
		if n == 0 {
			continue
		}
		if n > len(named) {
			named = append(named, fmt.Sprintf("%d more", n-len(named)))
		}
		parts = append(parts, fmt.Sprintf("%d %s: %s", n, status, strings.Join(named, ", ")))
	}
	if len(parts) == 0 {
		msg := fmt.Sprintf("%d of %d passed in %s", s.Passed, total, report.Duration(run.DurationMS))
		if s.Skipped > 0 {
			msg += fmt.Sprintf(", %d skipped", s.Skipped)
		}
		if s.Informational > 0 {
			msg += fmt.Sprintf(", %d informational", s.Informational)
		}
		if total == 0 {
			msg = "nothing ran"
		}
		parts = append(parts, msg)
	}
	msg := strings.Join(parts, "; ")
	switch {
	case run.Status == record.Abandoned:
		msg = "abandoned; " + msg
	case run.Status == record.Running:
		msg = "still running; " + msg
	case run.Interrupted:
		msg = "interrupted; " + msg
	}
	return nagiosText(msg)
}

// nagiosPerfdata is the performance data: counts, run duration and each
// item's duration in milliseconds.
func nagiosPerfdata(run *record.Run) string {
	s := run.Summary
	fields := []string{
		fmt.Sprintf("passed=%d", s.Passed), fmt.Sprintf("failed=%d", s.Failed),
		fmt.Sprintf("warning=%d", s.Warning), fmt.Sprintf("skipped=%d", s.Skipped),
		fmt.Sprintf("pending=%d", s.Pending), fmt.Sprintf("declined=%d", s.Declined),
		fmt.Sprintf("duration=%.3fs", float64(run.DurationMS)/1000),
	}
	seen := map[string]int{}
	for _, it := range run.Items {
		seen[it.Name]++
	}
	for _, it := range run.Items {
		if !report.Ran(it) {
			continue
		}
		label := it.Name
		if seen[it.Name] > 1 {
			label = it.Kind + "." + it.Name
		}
		fields = append(fields, fmt.Sprintf("%s=%dms", perfLabel(label+"_ms"), it.DurationMS))
	}
	return strings.Join(fields, " ")
}

// perfLabel quotes a perfdata label: "=" is not allowed, a quote is doubled.
func perfLabel(s string) string {
	s = strings.ReplaceAll(nagiosText(s), "=", "_")
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// nagiosText keeps text on one line and out of the perfdata: a "|" would
// start perfdata early.
func nagiosText(s string) string {
	s = strings.ReplaceAll(report.Printable(s), "|", "/")
	return strings.Join(strings.Fields(s), " ")
}
