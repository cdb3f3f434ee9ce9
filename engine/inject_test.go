package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

func (e *events) ofType(types ...string) []record.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []record.Event
	for _, ev := range e.got {
		for _, t := range types {
			if ev.Type == t {
				out = append(out, ev)
			}
		}
	}
	return out
}

const exerciseSrc = `
runbook "drill" {
  exercise = true
}
alert "oncall" {
  webhook { url = "http://127.0.0.1:9/hook" }
}
inject "second" {
  at      = "+400ms"
  message = "the database is slow"
  to      = [alert.oncall]
}
inject "first" {
  at      = "+200ms"
  message = "the pager goes off"
}
inject "never" {
  at      = "+1h"
  message = "too late"
}
step "wait" {
  shell { command = "sleep 1" }
}
`

func TestInjectsArriveInOrderAfterTheirOffsets(t *testing.T) {
	var mu sync.Mutex
	var delivered []record.Inject
	obs := &events{}
	r := run(t, exerciseSrc, engine.Options{
		Observer: obs,
		Deliver: func(_ context.Context, in record.Inject) []string {
			mu.Lock()
			defer mu.Unlock()
			delivered = append(delivered, in)
			return nil
		},
	})
	if r.Exercise == nil {
		t.Fatal("the record of an exercise has no exercise")
	}
	var names []string
	for _, in := range delivered {
		names = append(names, in.Name)
		if got, want := in.DeliveredAt.Sub(r.StartedAt), time.Duration(in.OffsetMS)*time.Millisecond; got < want {
			t.Errorf("inject %s delivered %s after the start, before its offset %s", in.Name, got, want)
		}
	}
	if got, want := names, []string{"first", "second"}; !equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
	if got := r.Exercise.Injects; len(got) != 3 || got[0].Name != "first" || got[2].Name != "never" || !got[2].DeliveredAt.IsZero() || got[1].To[0] != "oncall" {
		t.Errorf("recorded injects %+v, want first and second delivered, never not", got)
	}
	evs := obs.ofType(record.EventInject)
	if len(evs) != 2 {
		t.Fatalf("got %d inject events, want 2", len(evs))
	}
	var in record.Inject
	if err := json.Unmarshal(evs[0].Data, &in); err != nil || in.Name != "first" || in.Message != "the pager goes off" {
		t.Errorf("first inject event %s (%v), want the first inject", evs[0].Data, err)
	}
}

func TestRealRunHasNoExercise(t *testing.T) {
	src := `runbook "real" {}
step "s" {
  shell { command = "true" }
}`
	if r := run(t, src, engine.Options{}); r.Exercise != nil {
		t.Errorf("a real run has exercise %+v", r.Exercise)
	}
	if r := run(t, src, engine.Options{Exercise: true}); r.Exercise == nil {
		t.Error("a run with Options.Exercise has no exercise in its record")
	}
}

// pauser holds the clock until released.
type pauser struct {
	mu       sync.Mutex
	released bool
	from     time.Time
}

func (p *pauser) Paused(context.Context) *record.Pause {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.released {
		return nil
	}
	return &record.Pause{From: p.from, By: "fran", Surface: record.SurfaceConsole, Reason: "briefing"}
}

func TestPauseDelaysInjects(t *testing.T) {
	p := &pauser{from: time.Now()}
	var deliveredAt time.Time
	var resumedAt time.Time
	obs := &events{}
	src := `runbook "drill" {}
inject "only" {
  at      = "+100ms"
  message = "go"
}
step "wait" {
  shell { command = "sleep 1" }
}`
	go func() {
		time.Sleep(500 * time.Millisecond)
		p.mu.Lock()
		p.released = true
		p.mu.Unlock()
	}()
	r := run(t, src, engine.Options{Exercise: true, Pauser: p, Observer: obs,
		Deliver: func(_ context.Context, in record.Inject) []string {
			deliveredAt = in.DeliveredAt
			return []string{"alert x: down"}
		}})
	if deliveredAt.IsZero() {
		t.Fatal("the inject was not delivered")
	}
	if len(r.Exercise.Pauses) != 1 {
		t.Fatalf("pauses %+v, want one", r.Exercise.Pauses)
	}
	pause := r.Exercise.Pauses[0]
	resumedAt = pause.Until
	if pause.By != "fran" || pause.Reason != "briefing" || resumedAt.IsZero() {
		t.Errorf("pause %+v, want fran's briefing, ended", pause)
	}
	if !deliveredAt.After(resumedAt) && !deliveredAt.Equal(resumedAt) {
		t.Errorf("inject delivered at %s, before the pause ended at %s", deliveredAt, resumedAt)
	}
	held := resumedAt.Sub(pause.From)
	if got := deliveredAt.Sub(r.StartedAt) - held; got < 100*time.Millisecond {
		t.Errorf("inject delivered %s of exercise time after the start, want at least 100ms", got)
	}
	if errs := r.Exercise.Injects[0].Errors; len(errs) != 1 {
		t.Errorf("inject errors %v, want the channel's error", errs)
	}
	if got := len(obs.ofType(record.EventPause)); got != 1 {
		t.Errorf("%d pause events, want 1", got)
	}
	if got := len(obs.ofType(record.EventResume)); got != 1 {
		t.Errorf("%d resume events, want 1", got)
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
