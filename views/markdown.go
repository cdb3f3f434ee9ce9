package views

import (
	"io"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// newMarkdown renders the run summary as GitHub-flavoured Markdown: a
// heading, the run's metadata, one table row per item, totals and a
// failures section. It is the built-in "summary" report template, so
// `--format markdown` and `runbook report --template summary` agree.
func newMarkdown(Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		spec := report.Spec{Name: "summary", Template: "summary"}
		finished := run.FinishedAt
		return report.Render(w, spec, run, report.Options{Now: func() time.Time { return finished }})
	})
}
