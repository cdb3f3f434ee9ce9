package console

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// exerciseRun saves a running exercise with one step answered.
func (f *fixture) exerciseRun(id string) *record.Run {
	f.t.Helper()
	run := f.liveRun(id)
	run.Exercise = &record.Exercise{Injects: []record.Inject{
		{Name: "pager_storm", Message: "40 alerts from shard 3", At: "+1s", OffsetMS: 1000},
		{Name: "ceo_asks", Message: "Was data lost?", At: "+2s", OffsetMS: 2000},
	}}
	run.Items[2].Status = record.Passed
	run.Items[2].Answer = &record.Answer{Status: record.Passed, Operator: "alice", AnsweredAt: time.Now().UTC()}
	if _, err := f.store.SaveRun(context.Background(), run); err != nil {
		f.t.Fatal(err)
	}
	return run
}

func TestExerciseFeedPauseAndScores(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("fran", state.RoleOperator)
	f.exerciseRun("x1")
	events := f.events(op)
	// What exec writes as it delivers the injects, and the facilitator's
	// pause.
	go func() {
		time.Sleep(300 * time.Millisecond)
		in := []record.Inject{{Name: "pager_storm", Message: "40 alerts from shard 3", DeliveredAt: time.Now()}}
		_ = state.SaveInjects(context.Background(), f.store, "x1", in)
		time.Sleep(200 * time.Millisecond)
		in = append(in, record.Inject{Name: "ceo_asks", Message: "Was data lost?", DeliveredAt: time.Now()})
		_ = state.SaveInjects(context.Background(), f.store, "x1", in)
		time.Sleep(200 * time.Millisecond)
		f.do("POST", "/api/runs/x1/pause", op, `{"reason":"questions from the room"}`)
	}()
	var injects []string
	paused := false
	for !paused {
		ev, ok := <-events
		if !ok {
			t.Fatalf("the stream ended without a pause event; injects %v", injects)
		}
		switch ev.Type {
		case "inject":
			if ev.Run != "x1" || !ev.Exercise {
				t.Errorf("inject event %+v", ev)
			}
			injects = append(injects, ev.Inject)
		case "pause":
			paused = true
			if ev.By != "fran" || ev.Message != "questions from the room" {
				t.Errorf("pause event %+v", ev)
			}
		}
	}
	if strings.Join(injects, ",") != "pager_storm,ceo_asks" {
		t.Errorf("inject events %v, want pager_storm then ceo_asks", injects)
	}

	// The run page: banner, injects, the pause and its Resume button.
	code, page := f.do("GET", "/runs/x1", op, "")
	for _, want := range []string{"EXERCISE", "40 alerts from shard 3", "Was data lost?", "The exercise clock is paused", "Resume exercise"} {
		if code != 200 || !strings.Contains(page, want) {
			t.Errorf("run page (%d) lacks %q", code, want)
		}
	}
	if code, body := f.do("POST", "/api/runs/x1/resume", op, "{}"); code != 200 {
		t.Errorf("resume: %d %s", code, body)
	}
	if p, err := state.LoadExercisePause(context.Background(), f.store, "x1"); err != nil || p != nil {
		t.Errorf("after resume the pause is %+v (%v)", p, err)
	}

	// Scores: of an answered step, 1 to 5.
	for _, tc := range []struct {
		step, body string
		code       int
	}{
		{"later", `{"score":4,"comment":"calm and clear"}`, 200},
		{"later", `{"score":6}`, 400},
		{"review", `{"score":3}`, 409}, // still waiting
		{"nope", `{"score":3}`, 404},
	} {
		if code, body := f.do("POST", "/api/runs/x1/scores/"+tc.step, op, tc.body); code != tc.code {
			t.Errorf("score %s %s: got %d %s, want %d", tc.step, tc.body, code, body, tc.code)
		}
	}
	scores, err := state.LoadScores(context.Background(), f.store, "x1")
	if err != nil || scores["later"].Value != 4 || scores["later"].By != "fran" {
		t.Errorf("scores in the state: %+v (%v)", scores, err)
	}
	if _, page := f.do("GET", "/runs/x1", op, ""); !strings.Contains(page, "4/5") || !strings.Contains(page, "calm and clear") {
		t.Error("the run page does not show the score")
	}
}

func TestScoringAFinishedRunUpdatesItsRecord(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("fran", state.RoleOperator)
	run := f.exerciseRun("x2")
	run.Status, run.FinishedAt = record.Incomplete, time.Now().UTC()
	if _, err := f.store.SaveRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("POST", "/api/runs/x2/scores/later", op, `{"score":2}`); code != 200 {
		t.Fatalf("score: %d %s", code, body)
	}
	got, err := f.store.LoadRun(context.Background(), "x2")
	if err != nil {
		t.Fatal(err)
	}
	if it := got.Item(record.KindStep, "later"); it.Score == nil || it.Score.Value != 2 || it.Score.Surface != record.SurfaceConsole {
		t.Errorf("the record's score: %+v", it.Score)
	}
	if code, _ := f.do("POST", "/api/runs/x2/pause", op, "{}"); code != http.StatusConflict {
		t.Errorf("pausing a finished exercise: %d, want 409", code)
	}
}

// A score given after the run ended joins the run's journal, and the
// record stays what the journal folds to (runbook verify passes); a hand
// edit of the score is still caught.
func TestScoringAFinishedRunJoinsItsJournal(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, Options{})
	op := f.token("fran", state.RoleOperator)
	run := f.exerciseRun("x3")
	run.Status, run.FinishedAt = record.Incomplete, time.Now().UTC()
	for _, typ := range []string{record.EventRunStarted, record.EventRunFinished} {
		data, _ := json.Marshal(run)
		if _, err := state.AppendEvents(ctx, f.store, "x3", record.Event{Type: typ, Data: data}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.store.SaveRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("POST", "/api/runs/x3/scores/later", op, `{"score":2,"comment":"slow"}`); code != 200 {
		t.Fatalf("score: %d %s", code, body)
	}
	events, err := f.store.(state.EventLog).Events(ctx, "x3")
	if err != nil {
		t.Fatal(err)
	}
	if err := record.CheckChain(events); err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Type != record.EventScore || last.Item != "step.later" || last.Actor != "fran" {
		t.Errorf("the journal's last event: %s by %s", last.Label(), last.Actor)
	}
	folded, err := record.Fold(events)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.store.LoadRun(ctx, "x3")
	if err != nil {
		t.Fatal(err)
	}
	if d, err := record.Diff(got, folded); err != nil || d != "" {
		t.Errorf("the record does not match its journal: %s (%v)", d, err)
	}
	if it := got.Item(record.KindStep, "later"); it.Score == nil || it.Score.Value != 2 {
		t.Errorf("the record's score: %+v", it.Score)
	}
	got.Item(record.KindStep, "later").Score.Value = 5
	if d, _ := record.Diff(got, folded); d == "" {
		t.Error("a hand-edited score matches the journal")
	}
}
