package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// exerciseView is what the run page shows of an exercise: the injects
// delivered so far (or all of them, once it has finished), and the
// facilitator's pause.
type exerciseView struct {
	Injects []record.Inject
	// Planned counts the injects still to come.
	Planned int
	Pauses  []record.Pause
	Paused  *record.Pause
}

// exerciseOf builds the exercise view of a run; nil for a real run.
func (s *Server) exerciseOf(ctx context.Context, run *record.Run) (*exerciseView, error) {
	if run.Exercise == nil {
		return nil, nil
	}
	v := &exerciseView{Pauses: run.Exercise.Pauses}
	if run.Status != record.Running {
		for _, in := range run.Exercise.Injects {
			if !in.DeliveredAt.IsZero() {
				v.Injects = append(v.Injects, in)
			}
		}
		v.Planned = len(run.Exercise.Injects) - len(v.Injects)
		return v, nil
	}
	in, err := state.LoadInjects(ctx, s.store, run.ID)
	if err != nil {
		return nil, err
	}
	v.Injects = in
	v.Planned = len(run.Exercise.Injects) - len(in)
	if v.Paused, err = state.LoadExercisePause(ctx, s.store, run.ID); err != nil {
		return nil, err
	}
	return v, nil
}

// pauseBody is the body of a pause of an exercise.
type pauseBody struct {
	Reason string `json:"reason"`
}

// setPause pauses (or, with pause false, resumes) a running exercise's
// clock.
func (s *Server) setPause(ctx context.Context, id identity, runID string, pause bool, reason string) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	run, err := s.loadRun(ctx, runID)
	if err != nil {
		return err
	}
	if run.Exercise == nil {
		return errorf(http.StatusBadRequest, "run %s is not an exercise", runID)
	}
	if run.Status != record.Running {
		return errorf(http.StatusConflict, "run %s has ended (%s): its exercise clock stopped with it", runID, run.Status)
	}
	reason = strings.TrimSpace(reason)
	if len(reason) > maxNote {
		return errorf(http.StatusBadRequest, "the reason is longer than %d bytes", maxNote)
	}
	var p *record.Pause
	if pause {
		p = &record.Pause{From: s.opts.Now().UTC(), By: id.Name, Surface: record.SurfaceConsole, Reason: reason}
	}
	if err := state.SetExercisePause(ctx, s.store, runID, p); err != nil {
		return err
	}
	s.hub.poke()
	return nil
}

func (s *Server) apiPause(pause bool) func(http.ResponseWriter, *http.Request, identity) error {
	return func(w http.ResponseWriter, r *http.Request, id identity) error {
		if err := mayWrite(id); err != nil {
			return err
		}
		var b pauseBody
		if err := decodeBody(r, &b); err != nil {
			return err
		}
		if err := s.setPause(r.Context(), id, r.PathValue("id"), pause, b.Reason); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"paused": pause})
		return nil
	}
}

func (s *Server) formPause(pause bool) func(*http.Request, identity) (string, error) {
	return func(r *http.Request, id identity) (string, error) {
		runID := r.PathValue("id")
		if err := s.setPause(r.Context(), id, runID, pause, r.PostForm.Get("reason")); err != nil {
			return "", err
		}
		return "/runs/" + runID + "#exercise", nil
	}
}

// scoreBody is the body of a facilitator's score of a step.
type scoreBody struct {
	Score   int    `json:"score"`
	Comment string `json:"comment"`
}

// score records a facilitator's score of a step. While the run goes on,
// the run takes it into its record when it ends; a finished run's record
// takes it at once.
func (s *Server) score(ctx context.Context, id identity, runID, step string, b scoreBody) (record.Score, error) {
	if err := mayWrite(id); err != nil {
		return record.Score{}, err
	}
	if b.Score < record.MinScore || b.Score > record.MaxScore {
		return record.Score{}, errorf(http.StatusBadRequest, "a score is a whole number from %d to %d", record.MinScore, record.MaxScore)
	}
	if len(b.Comment) > maxNote {
		return record.Score{}, errorf(http.StatusBadRequest, "the comment is longer than %d bytes", maxNote)
	}
	run, err := s.loadRun(ctx, runID)
	if err != nil {
		return record.Score{}, err
	}
	it := run.Item(record.KindStep, step)
	if it == nil {
		return record.Score{}, errorf(http.StatusNotFound, "run %s has no step %q", runID, step)
	}
	if it.Status == record.Pending || it.Status == record.Running {
		return record.Score{}, errorf(http.StatusConflict, "step %s is %s: score it once it has been carried out", step, it.Status)
	}
	sc := record.Score{Value: b.Score, Comment: strings.TrimSpace(b.Comment), By: id.Name, At: s.opts.Now().UTC(), Surface: record.SurfaceConsole}
	if err := state.AddScore(ctx, s.store, runID, step, sc); err != nil {
		if errors.Is(err, state.ErrBadReply) {
			return record.Score{}, errorf(http.StatusBadRequest, "%v", err)
		}
		return record.Score{}, err
	}
	if state.Final(run) {
		// A run with a journal gets the score there first, so its
		// record stays what the journal says (runbook verify).
		if el, ok := s.store.(state.EventLog); ok {
			evs, err := el.Events(ctx, runID)
			if err != nil {
				return record.Score{}, err
			}
			if len(evs) > 0 {
				data, err := json.Marshal(sc)
				if err != nil {
					return record.Score{}, fmt.Errorf("encode score: %w", err)
				}
				e := record.Event{Type: record.EventScore, Item: record.KindStep + "." + step, OccurredAt: sc.At, Actor: sc.By, Surface: sc.Surface, Data: data}
				if _, err := el.AppendEvents(ctx, runID, []record.Event{e}); err != nil {
					return record.Score{}, err
				}
			}
		}
		state.MergeScores(run, state.ExerciseScores{step: sc})
		if _, err := s.store.SaveRun(ctx, run); err != nil {
			return record.Score{}, err
		}
	}
	s.hub.poke()
	return sc, nil
}

func (s *Server) apiScore(w http.ResponseWriter, r *http.Request, id identity) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	var b scoreBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	sc, err := s.score(r.Context(), id, r.PathValue("id"), r.PathValue("step"), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sc)
	return nil
}

func (s *Server) formScore(r *http.Request, id identity) (string, error) {
	runID, step := r.PathValue("id"), r.PathValue("step")
	n, err := strconv.Atoi(r.PostForm.Get("score"))
	if err != nil {
		return "", errorf(http.StatusBadRequest, "a score is a whole number from %d to %d", record.MinScore, record.MaxScore)
	}
	if _, err := s.score(r.Context(), id, runID, step, scoreBody{Score: n, Comment: r.PostForm.Get("comment")}); err != nil {
		return "", err
	}
	return "/runs/" + runID + "#step-" + step, nil
}
