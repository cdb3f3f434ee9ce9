package record

import (
	"fmt"
	"slices"
	"strings"
)

// ApprovalRefusal says why an approval of a four-eyes step (ApprovalsNeeded
// above 0) by who cannot count: who started the run (operator), or
// approved the step already (names compared as SamePerson does). It is ""
// when the approval counts.
func (it *Item) ApprovalRefusal(operator, who string) string {
	who = strings.TrimSpace(who)
	switch {
	case strings.TrimSpace(who) == "":
		return "an approval must say who gives it"
	case SamePerson(who, operator):
		return fmt.Sprintf("%s started this run and cannot approve its step %s: four eyes means %d other people approve it", who, it.Name, it.ApprovalsNeeded)
	case slices.ContainsFunc(it.Approvals, func(d Decision) bool { return SamePerson(d.Operator, who) }):
		return fmt.Sprintf("%s approved step %s already: it needs approvals by %d different people", who, it.Name, it.ApprovalsNeeded)
	}
	return ""
}

// SamePerson reports whether two names given for people (an operator, a
// console user) name the same one: alike but for case and the white space
// around them.
func SamePerson(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}
