package views

import (
	"io"

	"github.com/runbookhq/runbook/record"
)

// newTable renders the summary table (placeholder until the table view lands).
func newTable(opts Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error { return nil })
}
