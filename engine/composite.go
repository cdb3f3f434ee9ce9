package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
)

// A step made of checks (checks = [check.a, check.b]) is one row: the
// step runs its checks itself, in order, when its turn comes, and its
// status is the worst of theirs and of its own asserts. Their records are
// nested under the step's (record.Item.Checks); later items that refer to
// check.a see the result the step got.

// planComposite makes the nodes of the checks a step is made of. They are
// not nodes of the run: the step runs them. The checks they refer to
// (outside the step) become dependencies of the step.
func (r *runner) planComposite(n, prev *node, newCheck func(string, *node) *node, aliases map[string]*node) {
	if len(n.item.CheckRefs) == 0 {
		return
	}
	var names []string
	for _, name := range n.item.CheckRefs {
		it := r.b.Config.Checks[name]
		sub := r.newNode(it, it)
		sub.parent, sub.late, sub.prev = n, n.late, prev
		if len(it.On) == 1 && !it.OnList {
			sub.target = it.On[0]
			sub.rec.Target = sub.target
		}
		for _, ref := range it.refs {
			if ref.Kind != "check" {
				continue
			}
			dep := n.scope["check."+ref.Name]
			if dep == nil || dep.parent != n {
				if a := aliases[ref.Name]; a != nil && a.parent != n {
					// An earlier step ran it: its result, not a second
					// run; --only brings that step.
					dep = a
					if a.parent != nil {
						n.deps = append(n.deps, a.parent)
					}
				} else {
					dep = newCheck(ref.Name, prev)
				}
				n.deps = append(n.deps, dep)
			}
			dep.referenced = true
			sub.deps = append(sub.deps, dep)
			sub.scope["check."+ref.Name] = dep
		}
		n.subs = append(n.subs, sub)
		n.scope["check."+name] = sub
		if aliases[name] == nil {
			aliases[name] = sub
		}
		names = append(names, "check."+name)
		n.rec.Checks = append(n.rec.Checks, sub.rec)
	}
	n.rec.Action = strings.Join(names, ", ")
}

// runComposite runs the checks of a step made of checks, in order, then
// judges the step: the worst of their statuses, then its own asserts.
func (r *runner) runComposite(ctx context.Context, n *node) {
	for _, sub := range n.subs {
		r.runSub(ctx, sub)
	}
	n.rec.Checks = subRecords(n)
	n.rec.Attempts = 1
	status := worstStatus(n.rec.Checks)
	if status != record.Failed {
		for _, sub := range n.subs {
			if sub.rec.Status == record.Skipped && sub.rec.SkipReason == sub.interruption() {
				// An interruption kept checks from running: the step
				// did not pass.
				r.skip(n, n.interruption())
				return
			}
		}
	}
	if status == record.Skipped {
		r.skip(n, "every one of its checks was skipped")
		return
	}
	n.rec.Status = status
	dur := r.now().Sub(*n.rec.StartedAt).Milliseconds()
	r.judge(n, selfObject(cty.NilVal, dur, 1))
	if status == record.Failed {
		n.rec.Status = record.Failed
	}
}

// runSub runs one check of a step made of checks.
func (r *runner) runSub(ctx context.Context, sub *node) {
	defer func() {
		sub.value = itemObject(sub.rec.Status, sub.result.value(), sub.rec.DurationMS, sub.rec.Attempts, nil)
		sub.result = outcome{} // read no more (see settle)
	}()
	if ctx.Err() != nil {
		r.skip(sub, sub.interruption())
		return
	}
	for _, d := range sub.deps {
		if d.rec.Status == record.Failed || d.rec.Status == record.Skipped {
			r.skip(sub, fmt.Sprintf("upstream %s %s", d.item.Address(), d.rec.Status))
			return
		}
	}
	start := r.now().UTC()
	sub.rec.StartedAt = &start
	r.runNode(ctx, sub)
	sub.rec.DurationMS = r.now().Sub(start).Milliseconds()
}

// settleSubs, once a step made of checks is done however it ended, gives
// each of its checks a final status and a value for later references,
// and releases whoever waits on them.
func (r *runner) settleSubs(n *node) {
	if len(n.subs) == 0 {
		return
	}
	for _, sub := range n.subs {
		if n.rec.CarriedOver {
			for i := range n.rec.Checks {
				if n.rec.Checks[i].Name == sub.rec.Name {
					sub.rec = n.rec.Checks[i]
				}
			}
			sub.value = valueFromRecord(&sub.rec)
		}
		if sub.rec.Status == record.Pending {
			why := fmt.Sprintf("%s %s", n.item.Address(), n.rec.Status)
			if n.rec.SkipReason != "" {
				why += " (" + n.rec.SkipReason + ")"
			}
			r.skip(sub, why)
		}
		if sub.value == cty.NilVal {
			sub.value = itemObject(sub.rec.Status, sub.result.value(), sub.rec.DurationMS, sub.rec.Attempts, nil)
		}
		select {
		case <-sub.done:
		default:
			close(sub.done)
		}
	}
	if !n.rec.CarriedOver {
		n.rec.Checks = subRecords(n)
	}
}

// subRecords are the records of a step's checks, in order.
func subRecords(n *node) []record.Item {
	out := make([]record.Item, 0, len(n.subs))
	for _, sub := range n.subs {
		out = append(out, sub.rec)
	}
	return out
}

// worstStatus is the status of a step made of checks: failed over
// warning over passed; skipped only when every check was skipped. An
// informational check's verdict does not count.
func worstStatus(items []record.Item) string {
	rank := map[string]int{record.Skipped: 0, record.Passed: 1, record.Warning: 2, record.Failed: 3}
	worst := record.Skipped
	for _, it := range items {
		st := it.Status
		if record.CountsAsInformational(it) {
			st = record.Passed
		}
		if rank[st] > rank[worst] {
			worst = st
		}
	}
	return worst
}

// until applies a retry block's until after an attempt: while it is
// false the attempt counts as failed, so the item tries again (within
// attempts and its timeout); when attempts run out it stays failed, with
// the last result as evidence.
func (r *runner) until(n *node, self cty.Value, attempt int) {
	if n.set.until == nil || n.rec.Status == record.Failed {
		return
	}
	src := r.source(n.set.until)
	a := record.Assert{Condition: "until: " + src, Severity: "critical", Passed: true}
	if ok, msg := r.evalCondition(n.set.until, nil, r.scope(n, self)); !ok {
		a.Passed = false
		a.Message = fmt.Sprintf("until %s is still false after %d %s", src, attempt, map[bool]string{true: "attempt", false: "attempts"}[attempt == 1])
		if strings.HasPrefix(msg, "the condition") {
			a.Message = "until: " + msg
		}
		n.rec.Status = record.Failed
	}
	n.rec.Asserts = append(n.rec.Asserts, a)
}
