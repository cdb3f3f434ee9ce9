package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/record"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// InjectBlock is an `inject` block: a scenario message that an exercise
// delivers at a time relative to the run's start, to the console and to
// the named alert channels.
type InjectBlock struct {
	Name      string
	At        hcl.Expression
	Message   hcl.Expression
	To        []string
	ToRange   hcl.Range
	DeclRange hcl.Range
}

// InjectSpec is an evaluated inject block.
type InjectSpec struct {
	Name    string
	Message string
	// At is the offset as written ("+10m"); Offset is its duration of
	// exercise time.
	At     string
	Offset time.Duration
	// To names the alert blocks it goes to.
	To []string
}

// Pauser tells whether a facilitator holds the exercise clock, and who:
// the engine asks it while injects are pending and records each pause.
type Pauser interface {
	// Paused reports the pause in effect, nil when the clock runs.
	Paused(ctx context.Context) *record.Pause
}

// InjectDeliverer hands a due inject to the world (the console, the alert
// channels). It returns what could not be reached; the inject counts as
// delivered all the same.
type InjectDeliverer func(ctx context.Context, in record.Inject) []string

// injectPoll is how often the inject clock looks at the time and at the
// facilitator's pause; a variable for tests.
var injectPoll = 100 * time.Millisecond

var injectSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "at", Required: true}, {Name: "message", Required: true}, {Name: "to"},
	},
}

// addInject decodes an inject block and appends it to the injects of its
// procedure, where its name is unique.
func addInject(injects []*InjectBlock, b *hcl.Block) ([]*InjectBlock, hcl.Diagnostics) {
	diags := validName(b)
	content, cdiags := b.Body.Content(injectSchema)
	diags = append(diags, cdiags...)
	if cdiags.HasErrors() {
		return injects, diags
	}
	for _, prev := range injects {
		if prev.Name == b.Labels[0] {
			return injects, append(diags, duplicate("inject", prev.Name, b.DefRange, prev.DeclRange))
		}
	}
	in := &InjectBlock{
		Name:      b.Labels[0],
		At:        content.Attributes["at"].Expr,
		Message:   content.Attributes["message"].Expr,
		DeclRange: b.DefRange,
	}
	if a, ok := content.Attributes["to"]; ok {
		in.ToRange = a.Expr.Range()
		exprs, d := hcl.ExprList(a.Expr)
		if d.HasErrors() {
			return injects, append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid inject recipients",
				Detail:   "to is a list of alert blocks, like to = [alert.oncall].",
				Subject:  a.Expr.Range().Ptr(),
			})
		}
		for _, e := range exprs {
			tr, td := hcl.AbsTraversalForExpr(e)
			if td.HasErrors() || len(tr) != 2 || tr.RootName() != "alert" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid inject recipient",
					Detail:   "Each of to names an alert block, like alert.oncall.",
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			name, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid inject recipient",
					Detail:   "Each of to names an alert block, like alert.oncall.",
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			in.To = append(in.To, name.Name)
		}
	}
	return append(injects, in), diags
}

// bindExercise evaluates the runbook's exercise setting and every inject
// block, at top level and in playbooks: `at` an offset like "+10m", `to`
// alert blocks that exist.
func (b *Bound) bindExercise() hcl.Diagnostics {
	var diags hcl.Diagnostics
	if a, ok := b.Config.Runbook.Attrs["exercise"]; ok {
		v, d := plainValue(a.Expr, b.base, b.Redactor)
		diags = append(diags, d...)
		if !d.HasErrors() && v.IsKnown() {
			c, err := convert.Convert(v, cty.Bool)
			if err != nil || c.IsNull() {
				diags = append(diags, typeDiag(a.Expr, "exercise", "true or false"))
			} else {
				b.Info.Exercise = c.True()
			}
		}
	}
	alerts := map[string]bool{}
	var alertNames []string
	for _, a := range b.Config.Alerts {
		alerts[a.Name] = true
		alertNames = append(alertNames, a.Name)
	}
	b.injects = map[string][]InjectSpec{}
	bind := func(key string, blocks []*InjectBlock) {
		for _, in := range blocks {
			spec, d := b.bindInject(in, alerts, alertNames)
			diags = append(diags, d...)
			if !d.HasErrors() {
				b.injects[key] = append(b.injects[key], spec)
			}
		}
		// In order of delivery; equal offsets keep the file's order.
		sort.SliceStable(b.injects[key], func(i, j int) bool { return b.injects[key][i].Offset < b.injects[key][j].Offset })
	}
	bind("", b.Config.Injects)
	for _, name := range b.Config.PlaybookOrder {
		bind(name, b.Config.Playbooks[name].Injects)
	}
	return diags
}

func (b *Bound) bindInject(in *InjectBlock, alerts map[string]bool, alertNames []string) (InjectSpec, hcl.Diagnostics) {
	spec := InjectSpec{Name: in.Name, To: in.To}
	var diags hcl.Diagnostics
	at, d := evalString(in.At, b.base, b.Redactor, "at")
	diags = append(diags, d...)
	if !d.HasErrors() {
		off, err := parseOffset(at)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid inject time",
				Detail:   fmt.Sprintf("at is a time after the run's start, like at = \"+10m\" or \"+1h30m\": %s.", err),
				Subject:  in.At.Range().Ptr(),
			})
		}
		spec.At, spec.Offset = at, off
	}
	msg, d := evalString(in.Message, b.base, b.Redactor, "message")
	diags = append(diags, d...)
	spec.Message = msg
	for _, name := range in.To {
		if !alerts[name] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown alert",
				Detail:   fmt.Sprintf("The inject %q goes to alert.%s, but no alert block has that name.%s", in.Name, name, suggest(name, alertNames)),
				Subject:  in.ToRange.Ptr(),
			})
		}
	}
	return spec, diags
}

// parseOffset parses an inject's "+DURATION".
func parseOffset(s string) (time.Duration, error) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "+")
	if !ok {
		return 0, fmt.Errorf("%q does not start with +", s)
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is before the start", s)
	}
	return d, nil
}

// Injects returns the evaluated injects of a procedure: the top level's
// (playbook "") or a playbook's, in order of delivery.
func (b *Bound) Injects(playbook string) []InjectSpec {
	return b.injects[playbook]
}

// exercise is the clock of an exercise run: it delivers the injects at
// their offsets of exercise time, which stands still while the
// facilitator pauses it.
type exercise struct {
	r       *runner
	specs   []InjectSpec
	rec     *record.Exercise
	stop    chan struct{}
	stopped chan struct{}
}

// newExercise returns the exercise clock of an exercise run, not yet
// started; nil for a real run.
func (r *runner) newExercise() *exercise {
	if !r.opts.Exercise && !r.b.Info.Exercise {
		return nil
	}
	ex := &exercise{r: r, specs: r.b.Injects(r.opts.Playbook), rec: &record.Exercise{Injects: []record.Inject{}},
		stop: make(chan struct{}), stopped: make(chan struct{})}
	for _, s := range ex.specs {
		// (Redacted: a message may name a sensitive value.)
		ex.rec.Injects = append(ex.rec.Injects, record.Inject{Name: s.Name, Message: r.b.Redactor.String(s.Message), At: s.At, OffsetMS: s.Offset.Milliseconds(), To: s.To})
	}
	return ex
}

// planned is the exercise as planned: every inject, none delivered yet.
func (ex *exercise) planned() *record.Exercise {
	return &record.Exercise{Injects: append([]record.Inject{}, ex.rec.Injects...)}
}

// start runs the clock from the run's start until finish.
func (ex *exercise) start(ctx context.Context, at time.Time) { go ex.run(ctx, at) }

// finish stops the clock and returns the exercise's record.
func (ex *exercise) finish() *record.Exercise {
	close(ex.stop)
	<-ex.stopped
	if n := len(ex.rec.Pauses); n > 0 && ex.rec.Pauses[n-1].Until.IsZero() {
		ex.rec.Pauses[n-1].Until = ex.r.now().UTC()
	}
	return ex.rec
}

func (ex *exercise) run(ctx context.Context, start time.Time) {
	defer close(ex.stopped)
	r := ex.r
	tick := time.NewTicker(injectPoll)
	defer tick.Stop()
	var held time.Duration // paused time so far
	var pause *record.Pause
	next := 0
	for {
		if r.opts.Pauser != nil {
			p := r.opts.Pauser.Paused(ctx)
			now := r.now().UTC()
			switch {
			case p != nil && pause == nil:
				from := p.From
				if from.IsZero() || from.After(now) || from.Before(start) {
					from = now
				}
				pause = &record.Pause{From: from, By: p.By, Surface: p.Surface, Reason: p.Reason}
				ex.rec.Pauses = append(ex.rec.Pauses, *pause)
				r.emit(record.Event{Type: record.EventPause, OccurredAt: from, Actor: p.By, Surface: p.Surface, Data: jsonData(pause)})
			case p == nil && pause != nil:
				held += now.Sub(pause.From)
				ex.rec.Pauses[len(ex.rec.Pauses)-1].Until = now
				r.emit(record.Event{Type: record.EventResume, OccurredAt: now, Data: jsonData(ex.rec.Pauses[len(ex.rec.Pauses)-1])})
				pause = nil
			}
		}
		if pause == nil {
			elapsed := r.now().Sub(start) - held
			for next < len(ex.specs) && ex.specs[next].Offset <= elapsed {
				ex.deliver(ctx, next)
				next++
			}
		}
		select {
		case <-ex.stop:
			return
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// deliver hands inject i over and records it.
func (ex *exercise) deliver(ctx context.Context, i int) {
	r := ex.r
	in := ex.rec.Injects[i]
	in.DeliveredAt = r.now().UTC()
	if r.opts.Deliver != nil {
		in.Errors = r.opts.Deliver(ctx, in)
	}
	ex.rec.Injects[i] = in
	r.emit(record.Event{Type: record.EventInject, OccurredAt: in.DeliveredAt, Surface: record.SurfaceEngine, Data: jsonData(in)})
}

func jsonData(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return data
}
