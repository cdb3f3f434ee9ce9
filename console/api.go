package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// RunSummary is one run in the list of runs.
type RunSummary struct {
	ID        string         `json:"id"`
	Runbook   string         `json:"runbook"`
	Title     string         `json:"title"`
	Mode      string         `json:"mode"`
	Playbook  *string        `json:"playbook"`
	Status    string         `json:"status"`
	Operator  string         `json:"operator"`
	Host      string         `json:"host"`
	StartedAt time.Time      `json:"started_at"`
	Summary   record.Summary `json:"summary"`
	// Exercise marks an exercise run.
	Exercise bool `json:"exercise,omitempty"`
}

func summarize(r *record.Run) RunSummary {
	return RunSummary{ID: r.ID, Runbook: r.Runbook, Title: r.Title, Mode: r.Mode, Playbook: r.Playbook, Status: r.Status,
		Operator: r.Operator, Host: r.Host, StartedAt: r.StartedAt, Summary: r.Summary, Exercise: r.Exercise != nil}
}

// listLimit bounds the runs a list shows.
const listLimit = 200

// listRuns returns the runs matching the query's runbook, mode and status,
// newest first; with liveFirst, the running ones before the others.
func (s *Server) listRuns(ctx context.Context, q map[string][]string, liveFirst bool) ([]RunSummary, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	f := state.Filter{Runbook: get("runbook"), Mode: get("mode"), Status: get("status")}
	out := []RunSummary{}
	err := s.store.Runs(ctx, f, func(e state.RunEntry) bool {
		if e.Err == nil && e.Run != nil {
			out = append(out, summarize(e.Run))
		}
		return len(out) < listLimit
	})
	if err != nil {
		return nil, err
	}
	if liveFirst {
		sort.SliceStable(out, func(i, j int) bool {
			return out[i].Status == record.Running && out[j].Status != record.Running
		})
	}
	return out, nil
}

func (s *Server) apiRuns(w http.ResponseWriter, r *http.Request, _ identity) error {
	runs, err := s.listRuns(r.Context(), r.URL.Query(), false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, runs)
	return nil
}

// runID is what a run id may be in a URL: never a path or a prefix.
// Compiled on first use: the bounded repeat expands to 128 states, 0.17–
// 0.25 ms and 1,700 allocations that every command paid at start-up when
// it was a package-level regexp.
var runID = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
})

// loadRun loads a run by its exact id: 404 when there is none.
func (s *Server) loadRun(ctx context.Context, id string) (*record.Run, error) {
	if !runID().MatchString(id) || strings.HasSuffix(id, ".json") {
		return nil, errorf(http.StatusNotFound, "no run %q", id)
	}
	ids, err := s.store.RunIDs(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(ids, id) {
		return nil, errorf(http.StatusNotFound, "no run %s in this state", id)
	}
	return s.store.LoadRun(ctx, id)
}

// RunView is a run record as the API serves it: the record, and the
// steps waiting for an answer while it runs.
type RunView struct {
	*record.Run
	// Waiting are the open questions: the steps that wait for an answer
	// (kind "answer") or a confirmation or approval (kind "confirm").
	Waiting []state.Question `json:"waiting"`
	// Unacknowledged names the owned steps waiting for someone to
	// acknowledge them (POST /api/runs/{id}/steps/{step}/ack).
	Unacknowledged []string `json:"unacknowledged"`
}

// openQuestions returns a running run's open questions.
func (s *Server) openQuestions(ctx context.Context, run *record.Run) ([]state.Question, error) {
	out := []state.Question{}
	if run.Status != record.Running {
		return out, nil
	}
	qs, err := s.console.Questions(ctx, run.ID)
	if err != nil {
		return nil, err
	}
	for _, q := range qs {
		if q.State == state.QuestionOpen {
			out = append(out, q)
		}
	}
	return out, nil
}

func (s *Server) apiRun(w http.ResponseWriter, r *http.Request, _ identity) error {
	run, err := s.loadRun(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	qs, err := s.openQuestions(r.Context(), run)
	if err != nil {
		return err
	}
	waiting, acks := splitAcks(qs)
	writeJSON(w, http.StatusOK, RunView{Run: run, Waiting: waiting, Unacknowledged: acks})
	return nil
}

// decodeBody decodes a JSON body strictly.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return err
		}
		if errors.Is(err, io.EOF) {
			return errorf(http.StatusBadRequest, "the request needs a JSON body")
		}
		return errorf(http.StatusBadRequest, "the body is not the JSON expected: %v", err)
	}
	return nil
}

// answerBody is the body of an answer: a manual step's outcome, or a
// confirm prompt's decision.
type answerBody struct {
	Status  string `json:"status,omitempty"`
	Note    string `json:"note,omitempty"`
	Confirm *bool  `json:"confirm,omitempty"`
}

// maxNote bounds a note's length.
const maxNote = 4000

// answer answers a waiting step of a running run.
func (s *Server) answer(ctx context.Context, id identity, runID, step string, b answerBody) (state.Question, error) {
	return s.reply(ctx, id, runID, step, b, record.SurfaceConsole)
}

// reply answers a waiting step of a running run, from surface.
func (s *Server) reply(ctx context.Context, id identity, runID, step string, b answerBody, surface string) (state.Question, error) {
	if err := mayWrite(id); err != nil {
		return state.Question{}, err
	}
	run, err := s.loadRun(ctx, runID)
	if err != nil {
		return state.Question{}, err
	}
	it := run.Item(record.KindStep, step)
	if it == nil {
		return state.Question{}, errorf(http.StatusNotFound, "run %s has no step %q", runID, step)
	}
	if run.Status != record.Running {
		return state.Question{}, errorf(http.StatusConflict, "run %s has ended (%s): it takes no more answers", runID, run.Status)
	}
	if len(b.Note) > maxNote {
		return state.Question{}, errorf(http.StatusBadRequest, "the note is longer than %d bytes", maxNote)
	}
	if b.Status == record.Skipped && it.Required {
		return state.Question{}, errorf(http.StatusBadRequest, "step %s is required: it cannot be skipped; answer passed or failed", step)
	}
	if b.Confirm != nil && *b.Confirm {
		if err := s.checkApproval(ctx, id, run, it); err != nil {
			return state.Question{}, err
		}
	}
	q, err := s.console.Reply(ctx, runID, step, state.Reply{Status: b.Status, Note: b.Note, Confirm: b.Confirm, By: id.Name, Surface: surface, At: s.opts.Now()})
	if errors.Is(err, state.ErrNotWaiting) {
		return state.Question{}, errorf(http.StatusConflict, "step %s of run %s is not waiting for an answer (answered already, or not reached yet)", step, runID)
	}
	if err != nil {
		if errors.Is(err, state.ErrBadReply) {
			return state.Question{}, errorf(http.StatusBadRequest, "%v", err)
		}
		return state.Question{}, err
	}
	s.hub.poke()
	return q, nil
}

func (s *Server) apiAnswer(w http.ResponseWriter, r *http.Request, id identity) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	var b answerBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	q, err := s.answer(r.Context(), id, r.PathValue("id"), r.PathValue("step"), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, q)
	return nil
}

// signoffBody is the body of a sign-off.
type signoffBody struct {
	Statement string `json:"statement"`
	// Signature is an armored SSH signature (ssh-keygen -Y sign -n
	// runbook) of the bytes runbook show RUN --canonical --upto Upto
	// prints; optional.
	Signature string `json:"signature,omitempty"`
	Upto      int64  `json:"upto,omitempty"`
}

// signOff signs a role of a finished run's report.
func (s *Server) signOff(ctx context.Context, id identity, runID, role string, b signoffBody) (*record.Run, error) {
	statement := b.Statement
	if err := mayWrite(id); err != nil {
		return nil, err
	}
	run, err := s.loadRun(ctx, runID)
	if err != nil {
		return nil, err
	}
	roles := reportRoles(run)
	if !slices.Contains(roles, role) {
		if len(roles) == 0 {
			return nil, errorf(http.StatusNotFound, "the report of run %s asks for no sign-off", runID)
		}
		return nil, errorf(http.StatusNotFound, "the report of run %s has no role %q to sign (roles: %s)", runID, role, strings.Join(roles, ", "))
	}
	if len(statement) > maxNote {
		return nil, errorf(http.StatusBadRequest, "the statement is longer than %d bytes", maxNote)
	}
	so := record.Signoff{Role: role, Name: id.Name, Statement: statement, At: s.opts.Now(), Surface: record.SurfaceConsole}
	if strings.TrimSpace(b.Signature) != "" {
		if err := s.keySignature(ctx, id.Name, runID, b.Upto, strings.TrimSpace(b.Signature)+"\n", &so); err != nil {
			return nil, err
		}
	}
	signed, err := s.console.SignOff(ctx, runID, so)
	switch {
	case errors.Is(err, state.ErrRunRunning), errors.Is(err, state.ErrSigned):
		return nil, errorf(http.StatusConflict, "%v", err)
	case err != nil:
		return nil, err
	}
	s.hub.poke()
	return signed, nil
}

// reportRoles are the roles a run's reports ask to sign, in order, once.
func reportRoles(run *record.Run) []string {
	var out []string
	for _, rep := range run.Reports {
		for _, role := range rep.Roles {
			if !slices.Contains(out, role) {
				out = append(out, role)
			}
		}
	}
	return out
}

func (s *Server) apiSignoff(w http.ResponseWriter, r *http.Request, id identity) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	var b signoffBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	run, err := s.signOff(r.Context(), id, r.PathValue("id"), r.PathValue("role"), b)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, run.Signoffs)
	return nil
}

// StopView is the emergency stop with its audit trail.
type StopView struct {
	state.StopState
	Audit []state.AuditEntry `json:"audit"`
	// AuditProblem says what part of the trail could not be read.
	AuditProblem string `json:"audit_problem,omitempty"`
}

func (s *Server) stopView(ctx context.Context) (StopView, error) {
	st, err := s.store.Stop(ctx)
	if err != nil {
		return StopView{}, err
	}
	v := StopView{StopState: st}
	audit, err := s.store.Audit(ctx)
	var damage *state.AuditDamageError
	if errors.As(err, &damage) {
		v.AuditProblem = damage.Error()
	} else if err != nil {
		return StopView{}, err
	}
	if audit == nil {
		audit = []state.AuditEntry{}
	}
	v.Audit = audit
	return v, nil
}

func (s *Server) apiStop(w http.ResponseWriter, r *http.Request, _ identity) error {
	v, err := s.stopView(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// stopBody is the body of a change of the emergency stop.
type stopBody struct {
	On     *bool  `json:"on"`
	Reason string `json:"reason"`
}

// setStop turns the emergency stop on or off.
func (s *Server) setStop(ctx context.Context, id identity, on bool, reason string) (state.StopChange, error) {
	if err := mayWrite(id); err != nil {
		return state.StopChange{}, err
	}
	reason = strings.TrimSpace(reason)
	if on && reason == "" {
		return state.StopChange{}, errorf(http.StatusBadRequest, "a reason is required to turn the emergency stop on")
	}
	if len(reason) > maxNote {
		return state.StopChange{}, errorf(http.StatusBadRequest, "the reason is longer than %d bytes", maxNote)
	}
	ch, err := s.store.ChangeStop(ctx, state.StopRequest{On: on, Entry: state.AuditEntry{
		User: id.Name, Host: fmt.Sprintf("%s (console)", s.opts.Host), Reason: reason,
	}})
	if err != nil {
		return state.StopChange{}, err
	}
	s.hub.poke()
	return ch, nil
}

func (s *Server) apiSetStop(w http.ResponseWriter, r *http.Request, id identity) error {
	if err := mayWrite(id); err != nil {
		return err
	}
	var b stopBody
	if err := decodeBody(r, &b); err != nil {
		return err
	}
	if b.On == nil {
		return errorf(http.StatusBadRequest, `say whether the stop is to be on: {"on": true, "reason": "…"} or {"on": false}`)
	}
	ch, err := s.setStop(r.Context(), id, *b.On, b.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ch.After)
	return nil
}
