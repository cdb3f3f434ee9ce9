package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// Event is one message of the event stream (GET /api/events).
type Event struct {
	// Type is "run" (a run started, changed or finished), "answer" (a
	// waiting step was answered), "ack" (an owned step was acknowledged)
	// or "stop" (the emergency stop changed).
	Type string `json:"type"`
	// Run and Step name what changed; Status is the run's status, Change
	// "started", "updated" or "finished" for a run.
	Run    string `json:"run,omitempty"`
	Step   string `json:"step,omitempty"`
	Status string `json:"status,omitempty"`
	Change string `json:"change,omitempty"`
	By     string `json:"by,omitempty"`
	// On is the stop's state.
	On *bool `json:"on,omitempty"`
	// Inject and Message are an exercise's inject, delivered (type
	// "inject"); a pause or a resume of its clock is type "pause" or
	// "resume", with By and Message (the reason).
	Inject  string `json:"inject,omitempty"`
	Message string `json:"message,omitempty"`
	// Exercise marks the events of an exercise run.
	Exercise bool `json:"exercise,omitempty"`
	// Drill marks a stop set by a step of an exercise.
	Drill bool `json:"drill,omitempty"`
}

// hub follows the state and hands its changes to the event streams.
type hub struct {
	s    *Server
	kick chan struct{}
	// lookMu makes looks one at a time.
	lookMu sync.Mutex

	mu   sync.Mutex
	subs map[chan Event]struct{}
	last *snapshot
}

func newHub(s *Server) *hub {
	return &hub{s: s, kick: make(chan struct{}, 1), subs: map[chan Event]struct{}{}}
}

// poke makes the hub look at the state now.
func (h *hub) poke() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

// listener is a store that announces its changes (PostgreSQL).
type listener interface {
	Listen(ctx context.Context, fn func(string)) error
}

// run looks at the state every Poll, and at once when the store announces
// a change, until ctx is done.
func (h *hub) run(ctx context.Context) {
	if l, ok := h.s.store.(listener); ok {
		go func() {
			for ctx.Err() == nil {
				if err := l.Listen(ctx, func(string) { h.poke() }); err != nil {
					h.s.opts.Logf("console: %v (polling meanwhile)", err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(5 * time.Second):
				}
			}
		}()
	}
	t := time.NewTicker(h.s.opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-h.kick:
		}
		h.look(ctx)
	}
}

// snapshot is what the hub compares to find changes.
type snapshot struct {
	runs      map[string]string // id → status + updated_at + sign-offs
	status    map[string]string
	questions map[string]state.Question // run id + "/" + step
	stop      state.StopState
	injects   map[string][]record.Inject // run id → delivered, of running exercises
	pauses    map[string]*record.Pause   // run id → the pause, of running exercises
}

// watched bounds how many of the newest runs the hub follows.
const watched = 50

func (h *hub) subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// look reads the state and announces what changed since the last look.
func (h *hub) look(ctx context.Context) {
	h.lookMu.Lock()
	defer h.lookMu.Unlock()
	if h.subscribers() == 0 {
		h.mu.Lock()
		h.last = nil
		h.mu.Unlock()
		return
	}
	snap := &snapshot{runs: map[string]string{}, status: map[string]string{}, questions: map[string]state.Question{},
		injects: map[string][]record.Inject{}, pauses: map[string]*record.Pause{}}
	err := h.s.store.Runs(ctx, state.Filter{}, func(e state.RunEntry) bool {
		if e.Err == nil && e.Run != nil {
			r := e.Run
			snap.runs[r.ID] = fmt.Sprintf("%s %s %d %d", r.Status, r.UpdatedAt.Format(time.RFC3339Nano), len(r.Signoffs), r.Summary.Passed+r.Summary.Failed+r.Summary.Skipped+r.Summary.Warning)
			snap.status[r.ID] = r.Status
			if r.Status == record.Running {
				qs, err := h.s.console.Questions(ctx, r.ID)
				if err == nil {
					for _, q := range qs {
						snap.questions[r.ID+"/"+q.Step] = q
					}
				}
				if r.Exercise != nil {
					if in, err := state.LoadInjects(ctx, h.s.store, r.ID); err == nil {
						snap.injects[r.ID] = in
					}
					if p, err := state.LoadExercisePause(ctx, h.s.store, r.ID); err == nil {
						snap.pauses[r.ID] = p
					}
				}
			}
		}
		return len(snap.runs) < watched
	})
	if err != nil {
		return
	}
	if snap.stop, err = h.s.store.Stop(ctx); err != nil {
		return
	}
	h.mu.Lock()
	prev := h.last
	h.last = snap
	h.mu.Unlock()
	if prev == nil {
		return
	}
	var events []Event
	for id, mark := range snap.runs {
		old, seen := prev.runs[id]
		switch {
		case !seen:
			events = append(events, Event{Type: "run", Run: id, Status: snap.status[id], Change: "started"})
		case old != mark && snap.status[id] != record.Running && prev.status[id] == record.Running:
			events = append(events, Event{Type: "run", Run: id, Status: snap.status[id], Change: "finished"})
		case old != mark:
			events = append(events, Event{Type: "run", Run: id, Status: snap.status[id], Change: "updated"})
		}
	}
	for k, q := range snap.questions {
		old, seen := prev.questions[k]
		if step, ok := ackOf(q.Step); ok && q.Kind == record.QuestionAck {
			// An owned step acknowledged (see approvals.go).
			if q.State == state.QuestionAnswered && (!seen || old.State != state.QuestionAnswered) && q.Reply != nil {
				events = append(events, Event{Type: "ack", Run: q.RunID, Step: step, By: q.Reply.By})
			}
			continue
		}
		if q.State == state.QuestionAnswered && (!seen || old.State != state.QuestionAnswered) && q.Reply != nil {
			events = append(events, Event{Type: "answer", Run: q.RunID, Step: q.Step, By: q.Reply.By})
		}
		if q.State == state.QuestionOpen && (!seen || old.State != state.QuestionOpen) {
			events = append(events, Event{Type: "run", Run: q.RunID, Step: q.Step, Status: record.Running, Change: "waiting"})
		}
	}
	if snap.stop != prev.stop {
		on := snap.stop.On
		events = append(events, Event{Type: "stop", On: &on, By: snap.stop.By, Drill: snap.stop.Exercise != ""})
	}
	events = append(events, exerciseEvents(prev, snap)...)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, e := range events {
		for ch := range h.subs {
			select {
			case ch <- e:
			default: // a slow reader misses events; its page reloads anyway
			}
		}
	}
}

// exerciseEvents are the injects delivered, and the pauses and resumes
// of exercise clocks, between two looks.
func exerciseEvents(prev, snap *snapshot) []Event {
	var events []Event
	for id, in := range snap.injects {
		for _, x := range in[min(len(prev.injects[id]), len(in)):] {
			events = append(events, Event{Type: "inject", Run: id, Inject: x.Name, Message: x.Message, Exercise: true})
		}
	}
	for id, p := range snap.pauses {
		old, seen := prev.pauses[id]
		switch {
		case p != nil && (old == nil || !seen):
			events = append(events, Event{Type: "pause", Run: id, By: p.By, Message: p.Reason, Exercise: true})
		case p == nil && old != nil:
			events = append(events, Event{Type: "resume", Run: id, Exercise: true})
		}
	}
	return events
}

// subscribe adds an event stream. The hub has looked at the state when it
// returns, so every change after that is announced to the stream; a page
// reads itself again once its stream is open, for the changes before.
func (h *hub) subscribe(ctx context.Context) chan Event {
	ch := make(chan Event, 64)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	h.look(ctx)
	return ch
}

func (h *hub) unsubscribe(ch chan Event) {
	h.mu.Lock()
	delete(h.subs, ch)
	h.mu.Unlock()
}

// events serves the event stream (Server-Sent Events).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	id, err := s.identify(r)
	if err != nil {
		code, msg := s.statusOf(r, err)
		writeJSON(w, code, apiError{Error: msg})
		return
	}
	rc := http.NewResponseController(w)
	// A stream outlives the server's read and write timeouts.
	_ = rc.SetWriteDeadline(time.Time{})
	_ = rc.SetReadDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	ch := s.hub.subscribe(r.Context())
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		s.hub.unsubscribe(ch)
		return
	}
	defer s.hub.unsubscribe(ch)
	keep := time.NewTicker(15 * time.Second)
	defer keep.Stop()
	for {
		var e Event
		select {
		case <-r.Context().Done():
			return
		case <-keep.C:
		case e = <-ch:
		}
		// A stream lasts as long as its caller's access: a revoked token
		// or an ended login ends it before the next word.
		if ok, err := s.stillValid(r.Context(), id); err != nil || !ok {
			return
		}
		switch {
		case e.Type == "":
			fmt.Fprint(w, ": keep-alive\n\n")
		default:
			data, err := json.Marshal(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", e.Type, data)
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
