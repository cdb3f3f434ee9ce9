package report

import (
	"github.com/runbookhq/runbook/record"
)

// Completion statuses of a document (CompletionStatus).
const (
	StatusComplete             = "COMPLETE"
	StatusCompleteWithWarnings = "COMPLETE (with warnings)"
	StatusFailed               = "FAILED"
	StatusIncomplete           = "INCOMPLETE"
	StatusIncompleteFailed     = "INCOMPLETE (run failed)"
)

// CompletionStatus is what a completion document may claim about a run:
// COMPLETE or COMPLETE (with warnings) only when the run passed (or
// warned) and Missing finds nothing; INCOMPLETE while anything is missing
// ("INCOMPLETE (run failed)" when the run failed too); FAILED for a failed
// run with nothing missing.
func CompletionStatus(run *record.Run) string {
	if run == nil {
		return StatusIncomplete
	}
	if len(Missing(run)) > 0 {
		if run.Status == record.Failed {
			return StatusIncompleteFailed
		}
		return StatusIncomplete
	}
	switch run.Status {
	case record.Passed:
		return StatusComplete
	case record.Warning:
		return StatusCompleteWithWarnings
	case record.Failed:
		return StatusFailed
	}
	return StatusIncomplete
}

// Missing lists, as sentences, what keeps a run from being a completed
// document: a run that was interrupted, abandoned or is still running;
// every required step that did not pass (pending, skipped, declined or
// failed); every other step that is pending, declined or never finished.
// It is empty for a run that completed.
func Missing(run *record.Run) []string {
	if run == nil {
		return []string{"there is no run record"}
	}
	var out []string
	switch {
	case run.Status == record.Abandoned:
		out = append(out, "the run was abandoned: its process stopped before the run finished")
	case run.Status == record.Running:
		out = append(out, "the run has not finished")
	}
	if run.Interrupted {
		s := "the run was interrupted"
		if run.Signal != "" {
			s += " (" + run.Signal + ")"
		}
		out = append(out, s+" before it finished")
	}
	for _, it := range run.Items {
		switch {
		case it.Required && it.Status != record.Passed && it.Status != record.Warning:
			s := ItemLabel(it) + ": required, " + it.Status
			if d := Detail(it); d != "" && d != it.Status {
				s += " (" + d + ")"
			}
			out = append(out, s)
		case it.Status == record.Pending:
			out = append(out, ItemLabel(it)+": pending manual step, not answered")
		case it.Status == record.Declined:
			out = append(out, ItemLabel(it)+": "+DeclinedText(it))
		case it.Status == record.Running:
			out = append(out, ItemLabel(it)+": did not finish")
		}
	}
	if len(out) == 0 && run.Status == record.Incomplete {
		out = append(out, "the run is incomplete")
	}
	return out
}

// ItemLabel names an item for people: "step.ic_review (Incident commander
// review)", or "step.ic_review" when it has no title.
func ItemLabel(it record.Item) string {
	s := it.Kind + "." + it.Name
	if it.Title != "" {
		s += " (" + it.Title + ")"
	}
	return s
}
