package views

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// tapOutputLines caps the captured output in a TAP diagnostic block.
const tapOutputLines = 20

// newTAP renders the run as TAP version 13: one test point per item,
// "# SKIP" for skipped items, "not ok" for failed items and for the ones
// that keep a run from being done (pending, declined, running), a YAML
// diagnostic block for those and for warnings, and a "# warning" comment
// line under a warning (which passes). A "# output truncated" comment
// marks an item whose provider cut what it captured. A run that did not
// finish (interrupted, abandoned, still running) ends with a failed "run"
// test point.
func newTAP(Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		bw := bufio.NewWriter(w)
		problem := runProblem(run)
		points := len(run.Items)
		if problem != "" {
			points++
		}
		fmt.Fprintf(bw, "TAP version 13\n1..%d\n", points)
		for i, it := range run.Items {
			ok := "ok"
			info := record.CountsAsInformational(it) && it.Status != record.Passed
			if !itemPasses(it) || info {
				ok = "not ok"
			}
			desc := it.Kind + "." + it.Name
			if it.Title != "" {
				desc += " - " + it.Title
			}
			fmt.Fprintf(bw, "%s %d - %s", ok, i+1, tapEscape(desc))
			switch it.Status {
			case record.Skipped:
				fmt.Fprintf(bw, " # SKIP %s", tapEscape(report.Detail(it)))
			}
			if info {
				// TODO: a harness reports it and does not fail the run.
				fmt.Fprintf(bw, " # TODO informational, %s", it.Status)
				if d := report.Detail(it); d != "" {
					fmt.Fprintf(bw, ": %s", tapEscape(d))
				}
			}
			bw.WriteByte('\n')
			if !itemPasses(it) || it.Status == record.Warning {
				writeTAPDiagnostics(bw, it)
			}
			if it.Status == record.Warning {
				fmt.Fprintf(bw, "# warning: %s: %s\n", it.Kind+"."+it.Name, oneLine(200, cmp.Or(report.Detail(it), "passed with a warning")))
			}
			if note := report.TruncationNote(it); note != "" {
				fmt.Fprintf(bw, "# %s: %s\n", note, it.Kind+"."+it.Name)
			}
		}
		if problem != "" {
			fmt.Fprintf(bw, "not ok %d - run\n", points)
			bw.WriteString("  ---\n")
			yamlField(bw, "    ", "message", problem)
			yamlField(bw, "    ", "severity", "fail")
			yamlField(bw, "    ", "status", run.Status)
			bw.WriteString("  ...\n")
		}
		s := run.Summary
		counts := fmt.Sprintf("%d passed, %d failed, %d warning, %d skipped, %d pending", s.Passed, s.Failed, s.Warning, s.Skipped, s.Pending)
		if s.Declined > 0 {
			counts += fmt.Sprintf(", %d declined", s.Declined)
		}
		if s.Informational > 0 {
			counts += fmt.Sprintf(", %d informational", s.Informational)
		}
		fmt.Fprintf(bw, "# %s; run %s in %s\n", counts, RunStatusText(run.Status, run.Status), report.Duration(run.DurationMS))
		return bw.Flush()
	})
}

// tapEscape makes text safe in a test line: one line, "#" and "\" escaped
// so a harness does not read a directive.
func tapEscape(s string) string {
	s = oneLine(200, s)
	s = strings.ReplaceAll(s, `\`, `\\`)
	return strings.ReplaceAll(s, "#", `\#`)
}

// writeTAPDiagnostics writes an item's YAML diagnostic block.
func writeTAPDiagnostics(w *bufio.Writer, it record.Item) {
	severity := "fail"
	if it.Status == record.Warning {
		severity = "warning"
	}
	w.WriteString("  ---\n")
	yamlField(w, "    ", "message", unfinishedMessage(it))
	yamlField(w, "    ", "severity", severity)
	yamlField(w, "    ", "status", it.Status)
	if it.Action != "" {
		yamlField(w, "    ", "action", it.Action)
	}
	if it.Expected != "" {
		yamlField(w, "    ", "expected", it.Expected)
	}
	if it.Error != nil {
		yamlField(w, "    ", "error", *it.Error)
	}
	var failed []record.Assert
	for _, a := range it.Asserts {
		if !a.Passed {
			failed = append(failed, a)
		}
	}
	if len(failed) > 0 {
		w.WriteString("    asserts:\n")
		for _, a := range failed {
			sev := a.Severity
			if sev == "" {
				sev = "critical"
			}
			yamlField(w, "      - ", "condition", a.Condition)
			yamlField(w, "        ", "severity", sev)
			if a.Message != "" {
				yamlField(w, "        ", "message", a.Message)
			}
		}
	}
	if len(it.Checks) > 0 {
		w.WriteString("    checks:\n")
		for _, c := range it.Checks {
			yamlField(w, "      - ", "name", "check."+c.Name)
			yamlField(w, "        ", "status", c.Status)
			if d := report.Detail(c); d != "" {
				yamlField(w, "        ", "detail", d)
			}
		}
	}
	if it.Decision != nil {
		w.WriteString("    decision:\n")
		fmt.Fprintf(w, "      confirmed: %t\n", it.Decision.Confirmed)
		yamlField(w, "      ", "operator", it.Decision.Operator)
		yamlField(w, "      ", "at", report.DateTime(it.Decision.At))
	}
	if note := report.TruncationNote(it); note != "" {
		yamlField(w, "    ", "truncated", note)
	}
	if it.Answer != nil {
		w.WriteString("    answer:\n")
		yamlField(w, "      ", "status", it.Answer.Status)
		yamlField(w, "      ", "operator", it.Answer.Operator)
		yamlField(w, "      ", "note", it.Answer.Note)
	}
	if out := report.Output(it); out != "" {
		yamlField(w, "    ", "output", report.Excerpt(tapOutputLines, out))
	}
	if errOut := report.Stderr(it); errOut != "" {
		yamlField(w, "    ", "stderr", report.Excerpt(tapOutputLines, errOut))
	}
	fmt.Fprintf(w, "    duration_ms: %d\n", it.DurationMS)
	fmt.Fprintf(w, "    attempts: %d\n", it.Attempts)
	w.WriteString("  ...\n")
}

// yamlField writes "key: value" with the value as a YAML literal block when
// it is multi-line plain text, else as a double-quoted scalar (JSON string
// syntax, which YAML accepts).
func yamlField(w *bufio.Writer, prefix, key, value string) {
	fmt.Fprintf(w, "%s%s: ", prefix, key)
	indent := strings.Repeat(" ", len(prefix)+2)
	if strings.Contains(value, "\n") && yamlBlockSafe(value) {
		w.WriteString("|-\n")
		for _, line := range strings.Split(strings.TrimRight(value, "\n"), "\n") {
			if line == "" {
				w.WriteString("\n")
				continue
			}
			w.WriteString(indent + line + "\n")
		}
		return
	}
	enc := json.NewEncoder(w) // a JSON string is a YAML double-quoted scalar
	enc.SetEscapeHTML(false)
	_ = enc.Encode(value) // a string always encodes; Encode ends the line
}

// yamlBlockSafe reports whether text can be a YAML literal block as is:
// printable, no carriage returns, first line not indented.
func yamlBlockSafe(s string) bool {
	if strings.HasPrefix(s, " ") || strings.HasPrefix(s, "\t") || strings.HasPrefix(s, "\n") {
		return false
	}
	for _, r := range s {
		if r == '\n' || r == '\t' {
			continue
		}
		if !unicode.IsPrint(r) && r != ' ' || r == '\uFEFF' {
			return false
		}
	}
	return true
}
