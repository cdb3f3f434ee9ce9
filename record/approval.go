package record

import (
	"fmt"
	"slices"
)

// ApprovalRefusal says why an approval of a four-eyes step (ApprovalsNeeded
// above 0) by who cannot count: who started the run (operator), or
// approved the step already. It is "" when the approval counts.
func (it *Item) ApprovalRefusal(operator, who string) string {
	switch {
	case who == "":
		return "an approval must say who gives it"
	case who == operator:
		return fmt.Sprintf("%s started this run and cannot approve its step %s: four eyes means %d other people approve it", who, it.Name, it.ApprovalsNeeded)
	case slices.ContainsFunc(it.Approvals, func(d Decision) bool { return d.Operator == who }):
		return fmt.Sprintf("%s approved step %s already: it needs approvals by %d different people", who, it.Name, it.ApprovalsNeeded)
	}
	return ""
}
