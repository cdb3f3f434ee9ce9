package views

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/jedib0t/go-pretty/v6/table"
	"github.com/jedib0t/go-pretty/v6/text"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// Column widths of the table view, in characters.
const (
	tableTitleMax  = 40
	tableDetailMax = 72
)

// TableStyle is the one style of every table runbook prints: box drawing
// when boxes is set (output to a terminal), plain ASCII (+, -, |)
// otherwise, so piped output, files and logs stay ASCII. Headers are shown
// as written.
func TableStyle(boxes bool) table.Style {
	style := table.StyleDefault
	if boxes {
		style = table.StyleLight
	}
	style.Format.Header = text.FormatDefault
	return style
}

// newTable renders the summary table people read at the end of a run: one
// row per item and a totals line. Colour only with Options.Color (go-pretty's
// own environment sniffing is bypassed so the caller decides); Verbose adds
// one row per assert.
func newTable(opts Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		t := table.NewWriter()
		t.SetStyle(TableStyle(opts.Color))
		t.AppendHeader(table.Row{"#", "Item", "Title", "Status", "Duration", "Detail"})
		t.SetColumnConfigs([]table.ColumnConfig{
			{Number: 1, Align: text.AlignRight, AlignHeader: text.AlignRight},
			{Number: 5, Align: text.AlignRight, AlignHeader: text.AlignRight},
		})
		addRow := func(n int, it record.Item) {
			dur := "-"
			if report.Ran(it) {
				dur = report.Duration(it.DurationMS)
			}
			t.AppendRow(table.Row{
				n,
				it.Kind + "." + it.Name,
				oneLine(tableTitleMax, it.Title),
				paint(opts.Color, it.Status, statusLabel(it)),
				dur,
				oneLine(tableDetailMax, tableDetail(it)),
			})
			if opts.Verbose {
				for _, a := range it.Asserts {
					t.AppendRow(table.Row{"", "  assert", oneLine(tableTitleMax, a.Condition), paint(opts.Color, assertStatus(a), assertLabel(a)), "", oneLine(tableDetailMax, a.Message)})
				}
			}
			for _, c := range it.Checks {
				t.AppendRow(subRow(opts, c))
			}
		}
		// Items --only left out keep their number, and are counted once
		// under the table rather than listed (the record keeps them).
		notSelected := 0
		proc := report.Procedure(run.Items)
		for i, it := range proc {
			if NotSelected(it) {
				notSelected++
				continue
			}
			addRow(i+1, it)
		}
		// Cleanup blocks ran after the procedure: their own group, under a
		// label row, numbered on from the steps.
		procedure := len(proc)
		labelled := false
		for i, it := range report.Cleanups(run.Items) {
			if NotSelected(it) {
				notSelected++
				continue
			}
			if !labelled {
				labelled = true
				t.AppendSeparator()
				t.AppendRow(table.Row{"", "cleanup", "after the procedure", "", "", ""})
			}
			addRow(procedure+i+1, it)
		}
		if _, err := io.WriteString(w, t.Render()+"\n"); err != nil {
			return err
		}
		if notSelected > 0 {
			if _, err := fmt.Fprintf(w, "%d %s not selected (--only)\n", notSelected, plural(notSelected, "item", "items")); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, totalsLine(run, opts.Color)+"\n")
		return err
	})
}

// notSelectedReason is the skip reason of an item --only left out.
const notSelectedReason = "not selected (--only)"

// NotSelected reports whether it was skipped only because --only left it
// out.
func NotSelected(it record.Item) bool {
	return it.Status == record.Skipped && it.SkipReason == notSelectedReason
}

// plural is one or many, by n.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// statusLabel is an item's status with what qualifies it.
func statusLabel(it record.Item) string {
	s := it.Status
	switch {
	case it.CarriedOver:
		s += " (carried over)"
	case it.Attempts > 1 && report.Ran(it):
		s += " (" + strconv.Itoa(it.Attempts) + " tries)"
	}
	if it.Required && it.Status != record.Passed {
		s += " (required)"
	}
	if it.Informational {
		s += " (informational)"
	}
	return s
}

// subRow is the row of one check of a step made of checks, under the
// step's row.
func subRow(opts Options, c record.Item) table.Row {
	dur := "-"
	if report.Ran(c) {
		dur = report.Duration(c.DurationMS)
	}
	return table.Row{"", "  check." + c.Name, oneLine(tableTitleMax, c.Title), paint(opts.Color, c.Status, statusLabel(c)), dur, oneLine(tableDetailMax, tableDetail(c))}
}

// tableDetail is an item's detail, after a mark when a provider cut what
// it captured (first, so the cell's width limit cannot hide it).
func tableDetail(it record.Item) string {
	d := report.Detail(it)
	note := report.TruncationNote(it)
	switch {
	case note == "":
		return d
	case d == "":
		return "[" + note + "]"
	}
	return "[" + note + "] " + d
}

// assertStatus is the status an assert's outcome stands for.
func assertStatus(a record.Assert) string {
	switch {
	case a.Passed:
		return record.Passed
	case a.Severity == "warning":
		return record.Warning
	}
	return record.Failed
}

// assertLabel names an assert's outcome in the table.
func assertLabel(a record.Assert) string {
	if a.Passed {
		return "ok"
	}
	return assertStatus(a)
}

// totalsLine is the line under the table: counts, run status, duration and
// the record id.
func totalsLine(run *record.Run, color bool) string {
	s := run.Summary
	status := run.Status
	if run.Interrupted {
		status += ", interrupted"
		if run.Signal != "" {
			status += " (" + run.Signal + ")"
		}
	}
	counts := fmt.Sprintf("%d passed, %d failed, %d warning, %d skipped, %d pending",
		s.Passed, s.Failed, s.Warning, s.Skipped, s.Pending)
	if s.Declined > 0 {
		counts += fmt.Sprintf(", %d declined", s.Declined)
	}
	if s.Informational > 0 {
		counts += fmt.Sprintf(", %d informational", s.Informational)
	}
	line := fmt.Sprintf("%s — run %s in %s", counts, paint(color, run.Status, RunStatusText(run.Status, status)), report.Duration(run.DurationMS))
	if run.ID != "" {
		line += " (record " + run.ID + ")"
	}
	return line
}

// RunStatusText is how a summary line words a run's status: a warning
// run passed, with warnings. text is the status as qualified so far
// (", interrupted").
func RunStatusText(status, text string) string {
	if status == record.Warning {
		return "passed with warnings" + strings.TrimPrefix(text, record.Warning)
	}
	return text
}

// statusColors colour a status in the table view.
var statusColors = map[string]text.Colors{
	record.Passed:     {text.FgGreen},
	record.Failed:     {text.FgRed, text.Bold},
	record.Warning:    {text.FgYellow},
	record.Skipped:    {text.Faint},
	record.Pending:    {text.FgCyan},
	record.Incomplete: {text.FgCyan},
	record.Declined:   {text.FgMagenta, text.Bold},
	record.Running:    {text.FgCyan},
	record.Abandoned:  {text.FgRed, text.Bold},
}

// paint colours s by a status when color is on.
func paint(color bool, status, s string) string {
	c, ok := statusColors[status]
	if !color || !ok {
		return s
	}
	return text.Escape(s, c.EscapeSeq())
}

// oneLine makes text fit one table cell: the first line, control
// characters replaced visibly (report.Printable), at most n characters.
func oneLine(n int, s string) string {
	s = strings.ReplaceAll(report.Printable(s), "\t", " ")
	return report.Truncate(n, report.FirstLine(s))
}
