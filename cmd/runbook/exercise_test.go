package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// hook records the JSON bodies posted to it, with when each arrived.
type hook struct {
	mu   sync.Mutex
	got  []map[string]any
	when []time.Time
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	data, _ := io.ReadAll(r.Body)
	var body map[string]any
	_ = json.Unmarshal(data, &body)
	h.mu.Lock()
	h.got = append(h.got, body)
	h.when = append(h.when, time.Now())
	h.mu.Unlock()
}

const exerciseRunbook = `runbook "drill" {
  title = "Pager drill"
}

alert "oncall" {
  webhook { url = "%s" }
}

inject "pager_storm" {
  at      = "+1s"
  message = "PagerDuty shows 40 alerts from shard 3."
  to      = [alert.oncall]
}

inject "ceo_asks" {
  at      = "+2s"
  message = "The CEO asks whether data was lost."
  to      = [alert.oncall]
}

step "stop_writes" {
  title = "Turn the emergency stop on"
  shell { command = "\"$RB\" stop enable --state \"$ST\" --reason 'shard 3 writes' && sleep 3" }
}

step "page" {
  title = "Page the on-call lead"
  manual { instructions = "Page the lead." }
}

report "tabletop" {
  template = "tabletop"
  output   = "out/tabletop.md"
}
`

// TestExerciseEndToEnd runs a short exercise: its injects reach the alert
// channel in order and no earlier than their times; the stop its step
// turns on is a drill in the audit trail, in stop status and in the
// metrics; the answers file's score and the EXERCISE banner are in the
// report.
func TestExerciseEndToEnd(t *testing.T) {
	h := &hook{}
	srv := httptest.NewServer(h)
	defer srv.Close()
	st := t.TempDir()
	dir := writeFiles(t, map[string]string{
		"drill.hcl":         fmt.Sprintf(exerciseRunbook, srv.URL),
		"drill.answers.hcl": `page = { status = "passed", note = "paged", score = 4, comment = "quick and clear" }`,
	})
	cmd := exec.Command(binary(t), "exec", "drill.hcl", "--exercise", "--state", st, "--answers", "drill.answers.hcl",
		"--operator", "fran", "--out", "run.json", "--textfile", "run.prom")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RB="+binary(t), "ST="+st)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("exec: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "EXERCISE — run") || !strings.Contains(string(out), "2 of 2 inject(s) delivered") {
		t.Errorf("the terminal shows no EXERCISE banner and note:\n%s", out)
	}
	run, err := record.Read(filepath.Join(dir, "run.json"))
	if err != nil {
		t.Fatal(err)
	}
	if run.Exercise == nil || len(run.Exercise.Injects) != 2 {
		t.Fatalf("exercise in the record: %+v", run.Exercise)
	}

	// The injects, in order, each after its offset from the run's start.
	h.mu.Lock()
	got, when := h.got, h.when
	h.mu.Unlock()
	var names []string
	for i, body := range got {
		in, _ := body["inject"].(map[string]any)
		name, _ := in["name"].(string)
		names = append(names, name)
		if body["exercise"] != true || !strings.HasPrefix(fmt.Sprint(body["summary"]), "EXERCISE") {
			t.Errorf("webhook body %d is not marked an exercise: %v", i, body)
		}
		for _, rec := range run.Exercise.Injects {
			if rec.Name == name {
				if off := time.Duration(rec.OffsetMS) * time.Millisecond; when[i].Sub(run.StartedAt) < off {
					t.Errorf("inject %s arrived %s after the start, before its time %s", name, when[i].Sub(run.StartedAt), off)
				}
			}
		}
	}
	if strings.Join(names, ",") != "pager_storm,ceo_asks" {
		t.Errorf("webhook got injects %v, want pager_storm then ceo_asks", names)
	}

	// The stop is a drill: in the audit trail, in stop status, in the
	// textfile's labels.
	trail, err := state.NewDir(st).Audit(context.Background())
	if err != nil || len(trail) != 1 || trail[0].Exercise != run.ID {
		t.Errorf("audit trail %+v (%v), want one line marked as a drill of run %s", trail, err, run.ID)
	}
	code, stdout, stderr := runCLI(t, "", "stop", "status", "--state", st, "--audit")
	if code != 0 || !strings.Contains(stdout, "drill") || !strings.Contains(stdout, "exercise "+run.ID) {
		t.Errorf("stop status (exit %d) does not call the stop a drill:\n%s%s", code, stdout, stderr)
	}
	prom, err := os.ReadFile(filepath.Join(dir, "run.prom"))
	if err != nil || !strings.Contains(string(prom), `exercise="true"`) {
		t.Errorf("the textfile does not label the exercise (%v):\n%s", err, prom)
	}

	// The score, its totals and the banner in the report.
	page := run.Item(record.KindStep, "page")
	if page == nil || page.Score == nil || page.Score.Value != 4 || page.Score.Surface != record.SurfaceAnswersFile {
		t.Errorf("step page's score: %+v", page)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "out", "tabletop.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EXERCISE", "## Scoring", "| Page the on-call lead | 4/5 | quick and clear | fran |", "**Total:** 4 of 5", "## Injects", "pager_storm"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("the report lacks %q:\n%s", want, doc)
		}
	}

	// The journal has the injects, the drill stop and the score; verify
	// passes.
	evs, err := state.NewDir(st).Events(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range evs {
		count[e.Type]++
	}
	if count[record.EventInject] != 2 || count[record.EventStop] != 1 || count[record.EventScore] != 1 {
		t.Errorf("the journal's events by type: %v, want 2 injects, 1 stop and 1 score", count)
	}
	if code, stdout, stderr := runCLI(t, dir, "verify", run.ID, "--state", st); code != 0 {
		t.Errorf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
}

func TestExerciseFlagsAndAnswers(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"real.hcl": `runbook "real" {}
step "s" {
  manual { instructions = "x" }
}`,
		"bad.answers.hcl": `s = { status = "passed", score = 9 }`,
	})
	code, _, stderr := runCLI(t, dir, "exec", "real.hcl", "--pause", "--state", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "--pause pauses an exercise") {
		t.Errorf("--pause without an exercise: exit %d, %s", code, stderr)
	}
	code, _, stderr = runCLI(t, dir, "exec", "real.hcl", "--answers", "bad.answers.hcl", "--state", t.TempDir())
	if code != 2 || !strings.Contains(stderr, "score that is not a whole number from 1 to 5") {
		t.Errorf("score 9: exit %d, %s", code, stderr)
	}
}

// TestExercisePauseCommand: `runbook exercise pause` holds the clock of a
// running exercise, `resume` lets it go; a finished run or a real one is
// refused.
func TestExercisePauseCommand(t *testing.T) {
	st := t.TempDir()
	d := state.NewDir(st)
	ctx := context.Background()
	running := &record.Run{ID: "20261201T000000Z-aaaa", Runbook: "drill", Status: record.Running, StartedAt: time.Now(), Exercise: &record.Exercise{}}
	real := &record.Run{ID: "20261201T000000Z-bbbb", Runbook: "real", Status: record.Passed, StartedAt: time.Now(), FinishedAt: time.Now()}
	for _, r := range []*record.Run{running, real} {
		if _, err := d.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	code, stdout, stderr := runCLI(t, "", "exercise", "pause", running.ID, "--state", st, "--reason", "questions", "--operator", "fran")
	if code != 0 || !strings.Contains(stdout, "paused") {
		t.Fatalf("pause: exit %d: %s%s", code, stdout, stderr)
	}
	p, err := state.LoadExercisePause(ctx, d, running.ID)
	if err != nil || p == nil || p.By != "fran" || p.Reason != "questions" {
		t.Errorf("pause in the state: %+v (%v)", p, err)
	}
	if code, _, stderr := runCLI(t, "", "exercise", "resume", running.ID, "--state", st); code != 0 {
		t.Fatalf("resume: exit %d: %s", code, stderr)
	}
	if p, err := state.LoadExercisePause(ctx, d, running.ID); err != nil || p != nil {
		t.Errorf("after resume: %+v (%v)", p, err)
	}
	if code, _, stderr := runCLI(t, "", "exercise", "pause", real.ID, "--state", st); code != 2 || !strings.Contains(stderr, "not an exercise") {
		t.Errorf("pause of a real run: exit %d, %s", code, stderr)
	}
}

// TestExerciseHintsNameTheState: the `runbook exercise resume` that exec
// --pause and `exercise pause` print names the state the run is in, so it
// works as printed from wherever it is typed.
func TestExerciseHintsNameTheState(t *testing.T) {
	st := filepath.Join(t.TempDir(), "drill state")
	dir := writeFiles(t, map[string]string{
		"drill.hcl": `runbook "drill" {
  exercise = true
}
step "s" {
  shell { command = ["true"] }
}`,
	})
	code, stdout, stderr := runCLI(t, dir, "exec", "drill.hcl", "--pause", "--state", st)
	if code != 0 {
		t.Fatalf("exec: exit %d: %s%s", code, stdout, stderr)
	}
	want := fmt.Sprintf(" --state '%s'`", st)
	if !strings.Contains(stdout, "runbook exercise resume ") || !strings.Contains(stdout, want) {
		t.Errorf("exec --pause: got\n%s\nwant a resume command ending in %q", stdout, want)
	}

	running := &record.Run{ID: "20261201T000000Z-aaaa", Runbook: "drill", Status: record.Running, StartedAt: time.Now(), Exercise: &record.Exercise{}}
	if _, err := state.NewDir(st).SaveRun(context.Background(), running); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "", "exercise", "pause", running.ID, "--state", st)
	if want := fmt.Sprintf("`runbook exercise resume %s --state '%s'`", running.ID, st); code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("exercise pause: exit %d, got\n%s%s\nwant %q", code, stdout, stderr, want)
	}
}
