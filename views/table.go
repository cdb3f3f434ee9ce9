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

// newTable renders the summary table people read at the end of a run: one
// row per item and a totals line. Colour only with Options.Color (go-pretty's
// own environment sniffing is bypassed so the caller decides); Verbose adds
// one row per assert.
func newTable(opts Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		t := table.NewWriter()
		style := table.StyleDefault
		if opts.Color {
			style = table.StyleLight
		}
		style.Format.Header = text.FormatDefault
		t.SetStyle(style)
		t.AppendHeader(table.Row{"#", "Item", "Title", "Status", "Duration", "Detail"})
		t.SetColumnConfigs([]table.ColumnConfig{
			{Number: 1, Align: text.AlignRight, AlignHeader: text.AlignRight},
			{Number: 5, Align: text.AlignRight, AlignHeader: text.AlignRight},
		})
		for i, it := range run.Items {
			dur := "-"
			if report.Ran(it) {
				dur = report.Duration(it.DurationMS)
			}
			t.AppendRow(table.Row{
				i + 1,
				it.Kind + "." + it.Name,
				oneLine(tableTitleMax, it.Title),
				paint(opts.Color, it.Status, statusLabel(it)),
				dur,
				oneLine(tableDetailMax, report.Detail(it)),
			})
			if opts.Verbose {
				for _, a := range it.Asserts {
					t.AppendRow(table.Row{"", "  assert", oneLine(tableTitleMax, a.Condition), paint(opts.Color, assertStatus(a), assertLabel(a)), "", oneLine(tableDetailMax, a.Message)})
				}
			}
		}
		if _, err := io.WriteString(w, t.Render()+"\n"); err != nil {
			return err
		}
		_, err := io.WriteString(w, totalsLine(run, opts.Color)+"\n")
		return err
	})
}

// statusLabel is an item's status with what qualifies it.
func statusLabel(it record.Item) string {
	switch {
	case it.CarriedOver:
		return it.Status + " (carried over)"
	case it.Attempts > 1:
		return it.Status + " (" + strconv.Itoa(it.Attempts) + " tries)"
	}
	return it.Status
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
	}
	line := fmt.Sprintf("%d passed, %d failed, %d warning, %d skipped, %d pending — run %s in %s",
		s.Passed, s.Failed, s.Warning, s.Skipped, s.Pending,
		paint(color, run.Status, status), report.Duration(run.DurationMS))
	if run.ID != "" {
		line += " (record " + run.ID + ")"
	}
	return line
}

// statusColors colour a status in the table view.
var statusColors = map[string]text.Colors{
	record.Passed:     {text.FgGreen},
	record.Failed:     {text.FgRed, text.Bold},
	record.Warning:    {text.FgYellow},
	record.Skipped:    {text.Faint},
	record.Pending:    {text.FgCyan},
	record.Incomplete: {text.FgCyan},
}

// paint colours s by a status when color is on.
func paint(color bool, status, s string) string {
	c, ok := statusColors[status]
	if !color || !ok {
		return s
	}
	return text.Escape(s, c.EscapeSeq())
}

// oneLine makes text fit one table cell: the first line, control characters
// dropped, at most n characters.
func oneLine(n int, s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < ' ' && r != '\n', r == 0x7f:
			return -1
		}
		return r
	}, s)
	return report.Truncate(n, report.FirstLine(s))
}
