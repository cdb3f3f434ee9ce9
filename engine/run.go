package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/internal/secret"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/remote"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Modes of a run.
const (
	ModeExec  = "exec"
	ModeCheck = "check"
)

// Prompter asks the operator at a terminal. The engine is given none when
// there is no terminal, and then never blocks on a person.
type Prompter interface {
	// Confirm asks whether a mutating step may run.
	Confirm(ctx context.Context, item *record.Item) (bool, error)
	// Answer asks for the outcome of a manual step.
	Answer(ctx context.Context, item *record.Item) (*record.Answer, error)
}

// Decider is a Prompter that also says who decided a confirm prompt and
// where (a console, a terminal): the engine records that decision as it
// is, instead of one by the operator at a prompt.
type Decider interface {
	Decide(ctx context.Context, item *record.Item) (*record.Decision, error)
}

// Observer hears about items as they start and finish, for live progress.
// Calls may come from several goroutines; the items are redacted copies.
type Observer interface {
	Started(item record.Item)
	Finished(item record.Item)
}

// EventObserver is an Observer that also hears the run's other events:
// approvals, acknowledgements, escalations, injects, scores. The engine
// fills Type, Item, OccurredAt, Actor, Surface and Data; the journal
// numbers and chains them.
type EventObserver interface {
	Event(e record.Event)
}

// Options control one run.
type Options struct {
	// Mode is ModeExec (steps, or checks when there are none) or ModeCheck.
	Mode string
	// Playbook runs that playbook's steps instead of the top-level ones.
	Playbook string
	// Only and Skip select items by name ("x", "check.x", "step.x").
	Only, Skip []string
	// Yes answers confirm prompts.
	Yes bool
	// Answers are answers to manual steps by step name.
	Answers map[string]record.Answer
	// Prompter asks a person; nil when there is no terminal.
	Prompter Prompter
	// Observer hears progress; may be nil.
	Observer Observer
	// Concurrency overrides the runbook's; 0 keeps it.
	Concurrency int
	// Operator and Host are recorded as who ran it, where.
	Operator, Host string
	// Source is the runbook path as given on the command line.
	Source string
	// Resume carries over the passed items of an earlier run.
	Resume *record.Run
	// Standing are results that stand instead of running, by check
	// name: a watch's scheduled checks between their runs. Each is kept
	// whatever its status and marked CarriedOver.
	Standing map[string]*record.Item
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ID is the run's id (record.NewRunID), when the caller needs it
	// before the run starts; empty means a new one.
	ID string
	// Begin, when set, is called once the run is planned and before any
	// item runs, with the run's header and every item as planned (a copy):
	// the start of the run's journal, which the Observer then follows.
	Begin func(run *record.Run)
	// CleanupCtx is the context cleanup blocks run under once the
	// procedure has ended; nil means the run's context without its
	// cancellation, so an interrupted run still cleans up. Each cleanup
	// is further bounded by its own timeout. Cancelling CleanupCtx
	// abandons the cleanups still running or to run (a second Ctrl-C):
	// they are recorded as skipped, "cleanup abandoned".
	CleanupCtx context.Context
	// Escalate sends an owned step's escalation (a deadline passed) to
	// the runbook's alert channels and names those that took it; nil
	// records the escalation as not sent. See clocks.go.
	Escalate func(ctx context.Context, e Escalation) ([]string, error)
	// Exercise makes the run an exercise (exec --exercise), as
	// exercise = true in the runbook block does.
	Exercise bool
	// Pauser tells the exercise clock when a facilitator pauses it; nil
	// means it never pauses.
	Pauser Pauser
	// Deliver hands an exercise's due injects to the console and the
	// alert channels; nil records them as delivered and nothing more.
	Deliver InjectDeliverer
	// Scores gives the facilitator's scores of the steps, asked once the
	// steps are over; nil means none.
	Scores ScoreSource
}

// emit passes an event to the Observer when it hears events.
func (r *runner) emit(e record.Event) {
	if eo, ok := r.opts.Observer.(EventObserver); ok {
		if e.OccurredAt.IsZero() {
			e.OccurredAt = r.now()
		}
		eo.Event(e)
	}
}

// node is one item scheduled in a run.
type node struct {
	item *Item // the declared check or step
	src  *Item // where the provider and asserts come from
	set  *settings
	rec  record.Item
	deps []*node
	// prev is the step before a step: steps run in order.
	prev  *node
	scope map[string]*node // "check.NAME"/"step.NAME" → the node that provides it
	done  chan struct{}
	// result is the provider's last result; value is what check.NAME or
	// step.NAME evaluates to, built only when another item refers to it.
	result     outcome
	value      cty.Value
	referenced bool
	// selected is false for items left out by --only/--skip.
	selected   bool
	skipReason string
	// late marks the cleanup phase: cleanups, and checks that only a
	// cleanup needs. They run after every other node, on the cleanup
	// context.
	late bool
	// target is the target the node runs on; empty for this host.
	target string
	// subs are the checks a step is made of (checks = […]), run by the
	// step itself; parent is that step, on a sub.
	subs   []*node
	parent *node
}

// runner holds one run's state.
type runner struct {
	b         *Bound
	opts      Options
	now       func() time.Time
	providers map[string]checks.Provider
	provMu    sync.Mutex
	work      chan func() // to the concurrency workers
	conc      int         // how many workers
	stopMu    sync.Mutex
	stopped   map[string]string // kind → why its items stopped early
	nodes     []*node
	// pool holds the run's connections to targets, made on first use.
	pool     *remote.Pool
	poolOnce sync.Once
}

// Run executes the bound runbook and returns its run record. The record is
// complete even when items fail, time out or ctx is cancelled (then it is
// marked interrupted). The error is for a request that cannot run at all
// (an unknown playbook or item name), when nothing ran.
func Run(ctx context.Context, b *Bound, opts Options) (*record.Run, error) {
	r := &runner{b: b, opts: opts, now: opts.Now, providers: map[string]checks.Provider{}}
	if r.now == nil {
		r.now = time.Now
	}
	if err := r.plan(); err != nil {
		return nil, err
	}
	conc := opts.Concurrency
	if conc <= 0 {
		conc = b.Info.Concurrency
	}
	if conc <= 0 {
		conc = 1
	}
	// conc workers run the items; a goroutine per item waits for what the
	// item waits for and then hands it over. Workers keep their grown
	// stacks from item to item, where a goroutine per item would grow one
	// (HCL evaluation and cty's string normalization are stack-hungry).
	r.conc = conc
	r.work = make(chan func())
	var workers sync.WaitGroup
	for i := 0; i < conc; i++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for f := range r.work {
				f()
			}
		}()
	}
	defer func() {
		close(r.work)
		workers.Wait()
	}()

	run := r.header()
	ex := r.newExercise()
	if opts.Begin != nil {
		planned := *run
		if ex != nil {
			planned.Exercise = ex.planned()
		}
		planned.Items = make([]record.Item, 0, len(r.nodes))
		for _, n := range r.nodes {
			planned.Items = append(planned.Items, n.rec)
		}
		b.Redactor.Run(&planned)
		opts.Begin(&planned)
	}
	if ex != nil {
		ex.start(ctx, run.StartedAt)
	}
	r.runPhase(ctx, false)
	// However the procedure ended, its cleanups run now, on a context the
	// run's interruption does not cancel.
	cctx := opts.CleanupCtx
	if cctx == nil {
		cctx = context.WithoutCancel(ctx)
	}
	r.runPhase(cctx, true)
	if ex != nil {
		run.Exercise = ex.finish()
	}
	r.applyScores(cctx)
	r.closeProviders()
	r.closePool()

	run.FinishedAt = r.now().UTC()
	run.DurationMS = run.FinishedAt.Sub(run.StartedAt).Milliseconds()
	run.Interrupted = ctx.Err() != nil
	// (Grown once: appending 10,000 items of ~450 bytes one by one
	// copied them over and over, 3% of a 10,000-check run's CPU.)
	run.Items = slices.Grow(run.Items, len(r.nodes))
	for _, n := range r.nodes {
		run.Items = append(run.Items, n.rec)
	}
	// On the way out, everything the record holds is redacted once more
	// with every secret the run learned of, derived ones included.
	b.Redactor.Run(run)
	run.Tally()
	return run, nil
}

// runPhase runs the nodes of one phase (the procedure, or its cleanups)
// and returns when every one of them is done.
//
// A node is taken up once the nodes of the phase it waits for are done,
// by one of at most 2×concurrency goroutines: 10,000 checks no longer
// park 10,000 goroutines for the whole run (BenchmarkLiveHeap10000: the
// run's stacks went from 50 MB to under 1 MB). The nodes a node waits
// for are in the phase (prev, deps) or are a step's own checks, which
// that step (a dep too) finishes; earlier phases are done.
func (r *runner) runPhase(ctx context.Context, late bool) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	pending := map[*node]int{}     // how many of the phase's nodes a node waits for
	waiting := map[*node][]*node{} // a node → the nodes that wait for it
	for _, n := range r.nodes {
		if n.late == late {
			pending[n] = 0
		}
	}
	for _, n := range r.nodes {
		if n.late != late {
			continue
		}
		for _, w := range append([]*node{n.prev}, n.deps...) {
			if _, ok := pending[w]; ok && w != nil {
				pending[n]++
				waiting[w] = append(waiting[w], n)
			}
		}
	}
	var queue []*node // ready to be taken up, in plan order
	for _, n := range r.nodes {
		if n.late == late && pending[n] == 0 {
			queue = append(queue, n)
		}
	}
	limit := 2 * max(r.conc, 1)
	active := 0
	var spawn func() // under mu
	take := func() {
		defer wg.Done()
		for {
			mu.Lock()
			if len(queue) == 0 {
				active--
				mu.Unlock()
				return
			}
			n := queue[0]
			queue = queue[1:]
			mu.Unlock()
			r.execute(ctx, n)
			close(n.done)
			mu.Lock()
			for _, d := range waiting[n] {
				if pending[d]--; pending[d] == 0 {
					queue = append(queue, d)
				}
			}
			spawn()
			mu.Unlock()
		}
	}
	spawn = func() {
		for active < limit && active < len(queue)+1 {
			active++
			wg.Add(1)
			go take()
		}
	}
	mu.Lock()
	spawn()
	mu.Unlock()
	wg.Wait()
}

func (r *runner) header() *record.Run {
	b := r.b
	if r.opts.ID == "" {
		r.opts.ID = newRunID(r.now())
	}
	run := &record.Run{
		ID:            r.opts.ID,
		Runbook:       b.Info.Name,
		Title:         b.Info.Title,
		Description:   b.Info.Description,
		Document:      b.Info.Document,
		Owner:         b.Info.Owner,
		Tags:          b.Info.Tags,
		Source:        r.opts.Source,
		SourceSHA256:  b.Config.SourceSHA256,
		Mode:          r.opts.Mode,
		Operator:      r.opts.Operator,
		Host:          r.opts.Host,
		EngineVersion: Version,
		StartedAt:     r.now().UTC(),
		Variables:     b.RecordVariables(),
	}
	if run.Source == "" {
		run.Source = b.Config.Path
	}
	if r.opts.Playbook != "" {
		pb := r.opts.Playbook
		run.Playbook = &pb
		if p := b.Config.Playbooks[pb]; p != nil && p.Title != nil {
			if t, _ := evalString(p.Title, b.base, b.Redactor, "title"); t != "" {
				run.Title = t
			}
		}
	}
	if r.opts.Resume != nil {
		run.ResumedFrom = r.opts.Resume.ID
	}
	return run
}

// RecordVariables returns the variables as they appear in a run record:
// sensitive ones as "(sensitive)".
func (b *Bound) RecordVariables() map[string]any {
	out := map[string]any{}
	for name, v := range b.Values {
		if b.Sensitive[name] {
			out[name] = Redacted
			continue
		}
		out[name] = maskJSON(checks.JSONValue(v))
	}
	return out
}

// maskJSON masks connection-string passwords in every string of a JSON
// value: a variable holding postgres://u:PASS@db shows u:xxxxx, sensitive
// or not.
func maskJSON(v any) any {
	switch x := v.(type) {
	case string:
		return secret.MaskText(x)
	case map[string]any:
		for k, e := range x {
			x[k] = maskJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = maskJSON(e)
		}
	}
	return v
}

func newRunID(t time.Time) string {
	return record.NewRunID(t)
}

// plan decides which items run, in what order, with which dependencies.
func (r *runner) plan() error {
	cfg := r.b.Config
	var steps []*Item
	late := false // set while planning the cleanups
	switch {
	case r.opts.Playbook != "":
		pb, ok := cfg.Playbooks[r.opts.Playbook]
		if !ok {
			return fmt.Errorf("no playbook named %q in this runbook%s", r.opts.Playbook, suggest(r.opts.Playbook, cfg.PlaybookOrder))
		}
		steps = pb.Steps
	case r.opts.Mode == ModeExec:
		steps = cfg.Steps
	}

	// A check that a step needs observes the system as it is when that
	// step's turn comes: it waits for the step before (after), not the
	// start of the run.
	checkNodes := map[string]*node{}
	var newCheck func(name string, after *node) *node
	newCheck = func(name string, after *node) *node {
		if n, ok := checkNodes[name]; ok {
			return n
		}
		it := cfg.Checks[name]
		n := r.newNode(it, it)
		n.prev = after
		n.late = late
		checkNodes[name] = n
		for _, ref := range it.refs {
			if ref.Kind == "check" {
				dep := newCheck(ref.Name, after)
				n.deps = append(n.deps, dep)
				n.scope["check."+ref.Name] = dep
			}
		}
		r.nodes = append(r.nodes, n)
		return n
	}

	stepNodes := map[string]*node{}
	aliases := map[string]*node{} // check name → step that ran it
	// sequential makes the node of a step or cleanup that runs after prev,
	// with what it refers to: earlier steps, the step that already ran a
	// check it names, or the check itself.
	sequential := func(it *Item, prev *node) *node {
		src := it
		if it.CheckRef != "" {
			src = cfg.Checks[it.CheckRef]
		}
		n := r.newNode(it, src)
		n.prev = prev
		n.late = late
		r.planComposite(n, prev, newCheck, aliases)
		refs := append([]Ref(nil), it.refs...)
		if src != it {
			refs = append(refs, src.refs...)
		}
		for _, ref := range refs {
			var dep *node
			switch {
			case ref.Kind == "step":
				dep = stepNodes[ref.Name]
			case ref.Name == it.CheckRef:
				continue
			case n.scope[ref.Address()] != nil && contains(it.CheckRefs, ref.Name):
				continue // one of the step's own checks
			case aliases[ref.Name] != nil:
				dep = aliases[ref.Name]
			default:
				dep = newCheck(ref.Name, prev)
			}
			if dep == nil {
				continue
			}
			if dep.parent != nil {
				// A check a step is made of: --only brings that step.
				n.deps = append(n.deps, dep.parent)
			}
			n.deps = append(n.deps, dep)
			n.scope[ref.Address()] = dep
		}
		r.nodes = append(r.nodes, n)
		return n
	}
	if len(steps) == 0 {
		for _, name := range cfg.CheckOrder {
			newCheck(name, nil)
		}
	} else {
		var prev *node
		for _, st := range steps {
			n := sequential(st, prev)
			if st.CheckRef != "" && aliases[st.CheckRef] == nil {
				aliases[st.CheckRef] = n
			}
			stepNodes[st.Name] = n
			prev = n
		}
	}
	// Cleanups run in declaration order after the procedure; a check only
	// a cleanup needs runs just before it.
	late = true
	var prev *node
	for _, c := range cfg.cleanupsOf(r.opts) {
		prev = sequential(c, prev)
	}
	r.fanOut()
	if err := r.selectNodes(); err != nil {
		return err
	}
	if err := r.checkRequiredAnswers(); err != nil {
		return err
	}
	for _, n := range r.nodes {
		for _, d := range n.scope {
			d.referenced = true
		}
	}
	r.carryOver()
	r.standFor()
	return nil
}

func (r *runner) newNode(it, src *Item) *node {
	s := r.b.settings[it]
	if s == nil {
		s = &settings{Attempts: 1, Timeout: DefaultTimeout, OnFailure: "continue"}
	}
	n := &node{
		item: it, src: src, set: s,
		scope:    map[string]*node{},
		done:     make(chan struct{}),
		selected: true,
	}
	n.rec = record.Item{
		Kind:        it.Kind,
		Name:        it.Name,
		Title:       s.Title,
		Description: s.Description,
		Expected:    s.Expected,
		Check:       it.CheckRef,
		Provider:    src.ProviderType,
		Confirm:     s.Confirm,
		Required:    s.Required,
		Assignee:    s.Assignee,
		Status:      record.Pending,
		Asserts:     []record.Assert{},

		Informational: s.Informational,
	}
	n.rec.ApprovalsNeeded = s.Approvals // four eyes: see approvals.go
	if src.Manual != nil {
		n.rec.Provider = "manual"
		n.rec.Manual = true
		if ins, _ := evalString(src.Manual.Instructions, r.b.base, r.b.Redactor, "instructions"); ins != "" {
			n.rec.Instructions = ins
		}
	}
	return n
}

// matches reports whether a --only/--skip name selects the node. Cleanups
// are never selected by name: they always run with their procedure.
func (n *node) matches(name string) bool {
	if n.item.Kind == record.KindCleanup {
		return false
	}
	return name == n.item.Name || name == n.item.Address() ||
		(n.target != "" && (name == n.rec.Name || name == n.item.Kind+"."+n.rec.Name))
}

// selectNodes applies --only (with dependencies) and --skip.
func (r *runner) selectNodes() error {
	known := func(name string) bool {
		for _, n := range r.nodes {
			if n.matches(name) {
				return true
			}
		}
		return false
	}
	var names []string
	for _, n := range r.nodes {
		if n.item.Kind != record.KindCleanup {
			names = append(names, n.item.Name)
		}
	}
	for _, name := range append(append([]string(nil), r.opts.Only...), r.opts.Skip...) {
		if !known(name) {
			return fmt.Errorf("--only/--skip: nothing named %q runs here%s", name, suggest(name, names))
		}
	}
	if len(r.opts.Only) > 0 {
		keep := map[*node]bool{}
		var mark func(n *node)
		mark = func(n *node) {
			if keep[n] {
				return
			}
			keep[n] = true
			for _, d := range n.deps {
				mark(d)
			}
		}
		for _, n := range r.nodes {
			for _, name := range r.opts.Only {
				if n.matches(name) {
					mark(n)
				}
			}
		}
		for _, n := range r.nodes {
			// The cleanup phase always runs; its cleanups' when
			// conditions see which steps were left out.
			if !keep[n] && !n.late {
				n.selected, n.skipReason = false, "not selected (--only)"
			}
		}
	}
	for _, n := range r.nodes {
		for _, name := range r.opts.Skip {
			if n.matches(name) {
				n.selected, n.skipReason = false, "skipped by --skip"
			}
		}
	}
	return nil
}

// carryOver keeps the passed items of the run being resumed.
func (r *runner) carryOver() {
	old := r.opts.Resume
	if old == nil {
		return
	}
	for _, n := range r.nodes {
		if n.late {
			continue // cleanups (and their checks) run again after every run
		}
		prev := old.Item(n.item.Kind, n.rec.Name)
		if prev == nil || prev.Status != record.Passed || !n.selected {
			continue
		}
		n.rec = *prev
		n.rec.CarriedOver = true
		n.selected = false
		n.skipReason = ""
		n.value = valueFromRecord(prev)
	}
}

// valueFromRecord rebuilds the reference object of a carried-over item.
func valueFromRecord(it *record.Item) cty.Value {
	res := cty.EmptyObjectVal
	if it.Result != nil {
		res = checks.FromGo(it.Result)
	}
	return itemObject(it.Status, res, it.DurationMS, it.Attempts, it.Answer)
}

// itemObject is what check.NAME and step.NAME evaluate to: the result's
// attributes, then status, duration_ms, attempts, and result (the whole
// provider result, for attributes whose names status would shadow).
func itemObject(status string, result cty.Value, durMS int64, attempts int, ans *record.Answer) cty.Value {
	attrs := map[string]cty.Value{}
	if result != cty.NilVal && result.IsKnown() && !result.IsNull() && result.Type().IsObjectType() {
		for name := range result.Type().AttributeTypes() {
			attrs[name] = result.GetAttr(name)
		}
	} else {
		result = cty.EmptyObjectVal
	}
	attrs["result"] = result
	attrs["status"] = cty.StringVal(status)
	attrs["duration_ms"] = cty.NumberIntVal(durMS)
	attrs["attempts"] = cty.NumberIntVal(int64(attempts))
	if ans != nil {
		attrs["note"] = cty.StringVal(ans.Note)
		attrs["operator"] = cty.StringVal(ans.Operator)
	}
	return cty.ObjectVal(attrs)
}

// stopReason says why the items of a kind (steps, cleanups) stopped
// early, or "" while they go on.
func (r *runner) stopReason(kind string) string {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	return r.stopped[kind]
}

// stop ends the items of a kind that have not started: the first reason
// stands.
func (r *runner) stop(kind, why string) {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	if r.stopped == nil {
		r.stopped = map[string]string{}
	}
	if r.stopped[kind] == "" {
		r.stopped[kind] = why
	}
}

// interruption is the skip reason of a node whose context is done: the
// run's (interrupted) or, in the cleanup phase, the cleanup context's.
func (n *node) interruption() string {
	if n.late {
		return "cleanup abandoned"
	}
	return record.SkipInterrupted
}

func (r *runner) provider(name string) checks.Provider {
	r.provMu.Lock()
	defer r.provMu.Unlock()
	p, ok := r.providers[name]
	if !ok {
		p = r.b.reg.Providers[name]()
		if e, ok := p.(checks.Environment); ok && r.b.childEnv != nil {
			e.SetEnviron(r.b.childEnv)
		}
		r.providers[name] = p
	}
	return p
}

func (r *runner) closeProviders() {
	r.provMu.Lock()
	defer r.provMu.Unlock()
	for _, p := range r.providers {
		if c, ok := p.(interface{ Close() error }); ok {
			_ = c.Close()
		}
	}
}

// skip marks a node skipped with a reason.
func (r *runner) skip(n *node, why string) {
	n.rec.Status = record.Skipped
	n.rec.SkipReason = why
}

// execute waits for a node's dependencies and runs it.
func (r *runner) execute(ctx context.Context, n *node) {
	defer r.settle(n)
	if n.prev != nil {
		<-n.prev.done
	}
	for _, d := range n.deps {
		<-d.done
	}
	if n.rec.CarriedOver {
		return
	}
	if !n.selected {
		r.skip(n, n.skipReason)
		return
	}
	if ctx.Err() != nil {
		r.skip(n, n.interruption())
		return
	}
	if why := r.stopReason(n.item.Kind); why != "" && n.item.Kind != record.KindCheck {
		r.skip(n, why)
		return
	}
	if n.item.Kind == record.KindCheck {
		for _, d := range n.deps {
			if d.item.Kind == record.KindCheck && (d.rec.Status == record.Failed || d.rec.Status == record.Skipped) {
				r.skip(n, fmt.Sprintf("upstream %s %s", d.item.Address(), d.rec.Status))
				return
			}
		}
	}

	finished := make(chan struct{})
	select {
	case r.work <- func() {
		defer close(finished)
		r.runOnWorker(ctx, n)
	}:
	case <-ctx.Done():
		r.skip(n, n.interruption())
		return
	}
	<-finished
}

// runOnWorker runs a node whose turn has come, on one of the run's
// concurrency workers.
func (r *runner) runOnWorker(ctx context.Context, n *node) {
	start := r.now().UTC()
	n.rec.StartedAt = &start
	r.runNode(ctx, n)
	n.rec.DurationMS = r.now().Sub(*n.rec.StartedAt).Milliseconds()
	if n.rec.Status == record.Failed && n.set.OnFailure == "stop" && !n.set.Informational {
		switch n.item.Kind {
		case record.KindStep:
			r.stop(record.KindStep, fmt.Sprintf("an earlier step stopped the run (step %s failed)", n.item.Name))
		case record.KindCleanup:
			r.stop(record.KindCleanup, cleanupStopReason(n.item.Name))
		}
	}
	if r.opts.Observer != nil {
		r.opts.Observer.Finished(r.out(n.rec))
	}
}

// settle builds the node's reference value, when another item refers to
// it, before its dependents are released.
func (r *runner) settle(n *node) {
	if n.referenced && n.value == cty.NilVal {
		n.value = itemObject(n.rec.Status, n.result.value(), n.rec.DurationMS, n.rec.Attempts, n.rec.Answer)
	}
	// The result as cty is not read once the node is settled (its record
	// holds it as JSON; value, when referenced): 6 MB less live heap at
	// 10,000 shell checks (docs/performance.md, round 6).
	n.result = outcome{}
	r.settleSubs(n)
}

// scope returns the evaluation context of a node: the base context plus the
// results it references.
func (r *runner) scope(n *node, self cty.Value) *hcl.EvalContext {
	ctx := r.b.base.NewChild()
	checksObj, stepsObj := map[string]cty.Value{}, map[string]cty.Value{}
	for addr, dep := range n.scope {
		kind, name, _ := strings.Cut(addr, ".")
		if kind == "check" {
			checksObj[name] = dep.value
		} else {
			stepsObj[name] = dep.value
		}
	}
	ctx.Variables = map[string]cty.Value{
		"check": objectOrEmpty(checksObj),
		"step":  objectOrEmpty(stepsObj),
	}
	if self != cty.NilVal {
		ctx.Variables["self"] = self
	}
	return ctx
}

func (r *runner) fail(n *node, err string) {
	n.rec.Status = record.Failed
	msg := secret.MaskText(err)
	n.rec.Error = &msg
}

func diagText(diags hcl.Diagnostics) string {
	var parts []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		s := d.Summary
		if d.Detail != "" {
			s += ": " + d.Detail
		}
		if d.Subject != nil {
			s += " (" + d.Subject.String() + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// runNode runs one selected node: when, manual, confirm, provider.
func (r *runner) runNode(ctx context.Context, n *node) {
	// A step that runs a declared check honours the check's when too.
	for _, when := range []hcl.Expression{n.item.When, n.src.whenIfRef(n.item)} {
		if when == nil {
			continue
		}
		v, diags := plainValue(when, r.scope(n, cty.NilVal), r.b.Redactor)
		if diags.HasErrors() {
			r.fail(n, "when: "+diagText(diags))
			return
		}
		v, err := convert.Convert(v, cty.Bool)
		if err != nil || v.IsNull() || !v.IsKnown() {
			r.fail(n, "when must be true or false ("+when.Range().String()+")")
			return
		}
		if v.False() {
			r.skip(n, "when condition is false")
			return
		}
	}
	if r.opts.Observer != nil && n.parent == nil {
		r.opts.Observer.Started(r.out(n.rec))
	}
	if len(n.subs) > 0 {
		r.runComposite(ctx, n)
		return
	}
	if n.src.Manual != nil {
		clk := r.startClock(ctx, n)
		r.runManual(ctx, n)
		clk.stop()
		return
	}
	// Decoded and described first, so a confirmation shows what will run.
	cfgVal, p, ok := r.prepare(n)
	if !ok {
		return
	}
	if n.set.Confirm {
		clk := r.startClock(ctx, n)
		ok := r.confirm(ctx, n)
		clk.stop()
		if !ok {
			return
		}
	}
	r.runProvider(ctx, n, cfgVal, p)
}

// confirm gets a mutating step's confirmation, from --yes or the operator,
// and records the decision. It returns false when the step must not run:
// declined (the procedure ends there), interrupted at the prompt, or no
// one to ask.
func (r *runner) confirm(ctx context.Context, n *node) bool {
	if n.set.Approvals > 0 {
		return r.approve(ctx, n)
	}
	decide := func(yes bool, by string) {
		n.rec.Decision = &record.Decision{Confirmed: yes, Operator: r.opts.Operator, At: r.now().UTC(), By: by}
	}
	if r.opts.Yes {
		decide(true, "--yes")
		return true
	}
	if r.opts.Prompter == nil {
		r.fail(n, "this step changes things (confirm = true) and there is no terminal to ask for confirmation; rerun with --yes to confirm")
		return false
	}
	shown := r.out(n.rec)
	var given *record.Decision
	var ok bool
	var err error
	if d, isDecider := r.opts.Prompter.(Decider); isDecider {
		given, err = d.Decide(ctx, &shown)
		ok = err == nil && given != nil && given.Confirmed
	} else {
		ok, err = r.opts.Prompter.Confirm(ctx, &shown)
	}
	decide = func(yes bool, by string) {
		if given != nil {
			n.rec.Decision = given
			return
		}
		n.rec.Decision = &record.Decision{Confirmed: yes, Operator: r.opts.Operator, At: r.now().UTC(), By: by}
	}
	if ctx.Err() != nil {
		// Ctrl-C at the prompt interrupts the run; it is no answer.
		r.skip(n, n.interruption())
		return false
	}
	if err != nil {
		r.fail(n, "confirmation: "+err.Error())
		return false
	}
	if !ok {
		decide(false, "prompt")
		n.rec.Status = record.Declined
		r.stop(record.KindStep, fmt.Sprintf("the operator declined step %s", n.item.Name))
		return false
	}
	decide(true, "prompt")
	// The step's time is the command's, not the operator's.
	start := r.now().UTC()
	n.rec.StartedAt = &start
	return true
}

func (r *runner) runManual(ctx context.Context, n *node) {
	var ans *record.Answer
	if a, ok := r.opts.Answers[n.item.Name]; ok {
		a := a
		if a.Operator == "" {
			a.Operator = r.opts.Operator
		}
		if a.AnsweredAt.IsZero() {
			a.AnsweredAt = r.now().UTC()
		}
		ans = &a
	} else if r.opts.Prompter != nil {
		shown := r.out(n.rec)
		a, err := r.opts.Prompter.Answer(ctx, &shown)
		if ctx.Err() != nil {
			r.skip(n, n.interruption())
			return
		}
		if err != nil {
			// Nobody answered (end of input): pending, never a pass or a
			// failure of the system.
			n.rec.Status = record.Pending
			return
		}
		ans = a
	}
	if ans == nil || (ans.Status == record.Skipped && n.set.Required) {
		// A required step is done or not done: skipping it leaves it
		// pending. (Answers files cannot say skipped for it: see
		// checkRequiredAnswers.)
		n.rec.Status = record.Pending
		return
	}
	switch ans.Status {
	case record.Passed, record.Failed, record.Skipped:
	default:
		r.fail(n, fmt.Sprintf("manual answer status %q is not passed, failed or skipped", ans.Status))
		return
	}
	n.rec.Answer = ans
	n.rec.Status = ans.Status
	n.rec.Attempts = 1
	if ans.Status == record.Skipped {
		n.rec.SkipReason = "skipped by the operator"
	}
}

// checkRequiredAnswers refuses answers that skip a required manual step of
// this run, before anything runs.
func (r *runner) checkRequiredAnswers() error {
	for _, n := range r.nodes {
		if n.src.Manual == nil || !n.set.Required {
			continue
		}
		if a, ok := r.opts.Answers[n.item.Name]; ok && a.Status == record.Skipped {
			return fmt.Errorf("the answer for step %q is skipped, but the step is required: answer passed or failed, or leave it out to keep the step pending", n.item.Name)
		}
	}
	return nil
}

// prepare decodes a node's provider block and describes it in the record.
func (r *runner) prepare(n *node) (cty.Value, checks.Provider, bool) {
	src := n.src
	var cfgVal cty.Value
	if n.set.cfg.kept() {
		cfgVal = n.set.cfg.value()
	} else {
		if src.ProviderBody == nil { // released, yet not kept: never by ReleaseSyntax
			r.fail(n, fmt.Sprintf("the %s block's configuration is no longer available", src.ProviderType))
			return cty.NilVal, nil, false
		}
		spec := r.b.Config.types.get(r.b.reg, src.ProviderType).spec
		var diags hcl.Diagnostics
		ctx := r.scope(n, cty.NilVal)
		cfgVal, diags = hcldec.Decode(src.ProviderBody, spec, ctx)
		if diags.HasErrors() {
			r.fail(n, diagText(diags))
			return cty.NilVal, nil, false
		}
		if r.b.marks() && cfgVal.ContainsMarked() {
			registerDerived(src.ProviderBody, ctx, r.b.Redactor)
		}
		// (A value kept from binding is wholly known: see bindItem.)
		if !whollyKnown(cfgVal) {
			r.fail(n, fmt.Sprintf("the %s block's arguments are not all known", src.ProviderType))
			return cty.NilVal, nil, false
		}
	}
	// The provider gets plain values; every string derived from a
	// sensitive one is registered for redaction before it runs.
	if r.b.marks() {
		cfgVal, _ = unmark(cfgVal, r.b.Redactor)
	}
	p := r.provider(src.ProviderType)
	if d, ok := p.(checks.Describer); ok {
		n.rec.Action = secret.MaskText(d.Describe(cfgVal))
	}
	return cfgVal, p, true
}

// runProvider runs the provider with retries under the item's timeout, and
// judges the result with the asserts.
func (r *runner) runProvider(ctx context.Context, n *node, cfgVal cty.Value, p checks.Provider) {
	tctx, cancel := context.WithTimeout(ctx, n.set.Timeout)
	defer cancel()
	var result outcome
	for attempt := 1; ; attempt++ {
		n.rec.Attempts = attempt
		started := time.Now()
		var res outcome
		var err error
		if h := r.hostFor(n); h != nil {
			if rp, ok := p.(checks.Remote); ok {
				res.v, err = rp.RunOn(tctx, h, cfgVal)
			} else {
				err = fmt.Errorf("%s cannot run on target %q", n.src.ProviderType, n.target)
			}
		} else if rr, ok := p.(checks.ResultRunner); ok {
			res.g, err = rr.RunResult(tctx, cfgVal)
		} else {
			res.v, err = p.Run(tctx, cfgVal)
		}
		dur := time.Since(started).Milliseconds()
		result = res
		n.rec.Error = nil
		n.rec.Status = record.Passed
		if err != nil {
			msg := err.Error()
			switch {
			case ctx.Err() != nil:
				msg = n.interruption() + ": " + msg
			case tctx.Err() == context.DeadlineExceeded:
				// The item's own deadline; a provider's own timeout
				// argument is named by the provider's message.
				msg = fmt.Sprintf("timed out after %s: %s", n.set.Timeout, msg)
			}
			r.fail(n, msg)
		}
		self := lazySelf{result: &result, durMS: dur, attempt: attempt}
		r.judgeResult(n, &self)
		if n.set.until != nil {
			r.until(n, self.value(), attempt)
		}
		n.result = result
		if n.rec.Status != record.Failed || attempt >= n.set.Attempts || tctx.Err() != nil {
			break
		}
		select {
		case <-time.After(n.set.Interval):
		case <-tctx.Done():
		}
		if tctx.Err() != nil {
			msg := fmt.Sprintf("timed out after %s while waiting to retry", n.set.Timeout)
			if ctx.Err() != nil {
				msg = n.interruption() + " while waiting to retry"
			}
			r.fail(n, msg)
			break
		}
	}
	switch v := result.v; {
	case result.g != nil:
		// Straight to the record's form, whether or not an expression
		// built the result as cty: the same JSON (TestResultJSONAgrees).
		n.rec.Result = result.g.JSON()
	case v != cty.NilVal && whollyKnown(v) && !v.IsNull():
		if m, ok := checks.JSONValue(v).(map[string]any); ok {
			n.rec.Result = m
		}
	}
}

// outcome is a provider's result: a cty value (Run), or a checks.Result
// kept in Go (ResultRunner) until an expression reads it as cty. A check
// nothing reads goes from the provider to its record's JSON without cty:
// 10,000 HTTP checks, CPU −5 to −8.5% (docs/performance.md, "round 7:
// results").
type outcome struct {
	v cty.Value
	g checks.Result
}

// value is the result as cty, built from the Go result on first use;
// cty.NilVal when there is none.
func (o *outcome) value() cty.Value {
	if o.v == cty.NilVal && o.g != nil {
		o.v = o.g.Value()
	}
	return o.v
}

// selfObject is `self` in asserts: the result plus duration_ms and attempts.
func selfObject(result cty.Value, durMS int64, attempt int) cty.Value {
	attrs := map[string]cty.Value{}
	if result != cty.NilVal && result.IsKnown() && !result.IsNull() && result.Type().IsObjectType() {
		for name := range result.Type().AttributeTypes() {
			attrs[name] = result.GetAttr(name)
		}
	}
	attrs["duration_ms"] = cty.NumberIntVal(durMS)
	attrs["attempts"] = cty.NumberIntVal(int64(attempt))
	return cty.ObjectVal(attrs)
}

// lazySelf is `self` for a provider's result, built (selfObject) only
// when an expression reads it: a check judged by its provider's default
// assert in Go (defaultPasser) never needs it. Not building it for
// every check: 9 fewer allocations a check, 1% less CPU at 10,000 HTTP
// checks (docs/performance.md, "round 6: HTTP").
type lazySelf struct {
	result  *outcome
	durMS   int64
	attempt int
	self    cty.Value
}

// value is `self`, built on first use.
func (s *lazySelf) value() cty.Value {
	if s.self == cty.NilVal {
		s.self = selfObject(s.result.value(), s.durMS, s.attempt)
	}
	return s.self
}

// judge is judgeResult for a `self` already built.
func (r *runner) judge(n *node, self cty.Value) {
	r.judgeResult(n, &lazySelf{self: self})
}

// judgeResult evaluates the asserts (or the provider's default assert)
// and sets the status: an error or a false critical assert fails, a false
// warning assert warns.
func (r *runner) judgeResult(n *node, s *lazySelf) {
	asserts := append(append([]*Assert(nil), n.src.assertsIfRef(n.item)...), n.item.Asserts...)
	n.rec.Asserts = n.rec.Asserts[:0]
	if n.rec.Error != nil {
		return
	}
	warn := false
	if len(asserts) == 0 {
		da := r.b.defaults[n.src.ProviderType]
		if da == nil {
			return
		}
		a := record.Assert{Condition: da.Source, Severity: "critical", Passed: true}
		if s.self == cty.NilVal && r.b.passesByDefault(n.src.ProviderType, s.result) {
			n.rec.Asserts = append(n.rec.Asserts, a)
			return
		}
		if ok, msg := r.evalCondition(da.Condition, da.Message, r.scope(n, s.value())); !ok {
			a.Passed, a.Message = false, msg
			n.rec.Status = record.Failed
		}
		n.rec.Asserts = append(n.rec.Asserts, a)
		return
	}
	ctx := r.scope(n, s.value())
	for i, as := range asserts {
		sev := "critical"
		if i < len(n.set.Severities) {
			sev = n.set.Severities[i]
		}
		a := record.Assert{Condition: r.source(as.Condition), Severity: sev, Passed: true}
		if ok, msg := r.evalCondition(as.Condition, as.ErrorMessage, ctx); !ok {
			a.Passed, a.Message = false, msg
			if sev == "warning" {
				warn = true
			} else {
				n.rec.Status = record.Failed
			}
		}
		n.rec.Asserts = append(n.rec.Asserts, a)
	}
	if warn && n.rec.Status == record.Passed {
		n.rec.Status = record.Warning
	}
}

// evalCondition evaluates an assert; on failure it returns the rendered
// error message (redacted).
func (r *runner) evalCondition(cond, msg hcl.Expression, ctx *hcl.EvalContext) (bool, string) {
	v, diags := plainValue(cond, ctx, r.b.Redactor)
	if diags.HasErrors() {
		return false, "the condition could not be evaluated: " + diagText(diags)
	}
	v, err := convert.Convert(v, cty.Bool)
	if err != nil || !v.IsKnown() || v.IsNull() {
		return false, "the condition is not true or false"
	}
	if v.True() {
		return true, ""
	}
	text := "condition is false: " + r.source(cond)
	if msg != nil {
		if m, mdiags := msg.Value(ctx); !mdiags.HasErrors() && m.IsWhollyKnown() && !m.IsNull() {
			if m.ContainsMarked() {
				registerDerived(msg, ctx, r.b.Redactor)
			}
			// The secret's text and what functions derived from it are
			// registered, and so redacted below; the rest of the
			// message stays readable.
			m, _ = m.UnmarkDeep()
			if s, err := convert.Convert(m, cty.String); err == nil {
				text = s.AsString()
			}
		} else if mdiags.HasErrors() {
			text += " (error_message: " + diagText(mdiags) + ")"
		}
	}
	return false, text
}

// source returns the source text of an expression, for the record.
func (r *runner) source(e hcl.Expression) string {
	rng := e.Range()
	if f, ok := r.b.Config.Files[rng.Filename]; ok && rng.End.Byte <= len(f.Bytes) && rng.Start.Byte < rng.End.Byte {
		return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
	}
	return ""
}

// cut reports whether a provider result says it was cut short: an
// attribute named truncated, or ending in _truncated, that is true.
func cut(result map[string]any) bool {
	for k, v := range result {
		if b, ok := v.(bool); ok && b && (k == "truncated" || strings.HasSuffix(k, "_truncated")) {
			return true
		}
	}
	return false
}

// out is an item on its way out of the engine while the run goes on (to
// an Observer, to the operator at a prompt): a redacted copy. The record
// is redacted as a whole at the end of the run (Redactor.Run); nothing
// else in a run redacts.
func (r *runner) out(it record.Item) record.Item {
	r.b.Redactor.Item(&it)
	return it
}
