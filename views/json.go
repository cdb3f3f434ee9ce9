package views

import (
	"io"

	"github.com/runbookhq/runbook/record"
)

// newJSON renders the run record itself.
func newJSON(Options) Renderer {
	return RendererFunc(func(w io.Writer, run *record.Run) error {
		data, err := run.Marshal()
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	})
}
