package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
)

// m4World stands up everything runbooks/m4-tabletop.hcl talks to, for
// real: an HTTP API and a Prometheus API (httptest), PostgreSQL and Redis
// (testserver), a live shadow-run process with its pid file and log, a
// golden directory, the team's quick shadow script as a shell script, and
// runbook itself (the built binary) for the emergency-stop drill.
type m4World struct {
	dir      string
	vars     []string
	log      string
	password string
}

func newM4World(t *testing.T) *m4World {
	t.Helper()
	dsn := testserver.Postgres(t)
	redisURL := testserver.Redis(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	table := fmt.Sprintf("checkpoints_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE TABLE "+table+" (id serial primary key, created_at timestamptz default now()); INSERT INTO "+table+" DEFAULT VALUES; INSERT INTO "+table+" DEFAULT VALUES"); err != nil {
		t.Fatal(err)
	}

	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/health":
			fmt.Fprint(w, `{"status":"ok"}`)
		case "/api/v1/alerts":
			fmt.Fprint(w, `{"status":"success","data":{"alerts":[]}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(api.Close)

	dir := t.TempDir()
	w := &m4World{dir: dir, log: filepath.Join(dir, "shadow.log")}
	if u, err := url.Parse(dsn); err == nil {
		w.password, _ = u.User.Password()
	}
	if w.password == "" {
		t.Fatalf("the test DSN has no password to check redaction with")
	}
	sleep := exec.Command("sleep", "300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleep.Process.Kill(); sleep.Wait() })
	files := map[string]string{
		"shadow.pid":               fmt.Sprint(sleep.Process.Pid),
		"shadow.log":               "cycle 1 complete: 9 workflows, 9 replays, 0 mismatches\ncycle 2 complete: 9 workflows, 9 replays, 0 mismatches\n",
		"golden/primary/wf-1.json": `{"workflow":"wf-1","seed":7,"steps":[{"status":"ok","output":{"n":1}}]}`,
		"golden/replay/wf-1.json":  `{"workflow":"wf-1","seed":7,"steps":[{"status":"ok","output":{"n":1.0}}]}`,
		"golden/primary/wf-2.json": `{"workflow":"wf-2","seed":8,"result":"done"}`,
		"golden/replay/wf-2.json":  `{"seed":8,"result":"done","workflow":"wf-2"}`,
		"quick.sh":                 "#!/bin/sh\necho 'quick shadow: 9 workflows, 9 replays, 0 mismatches'\n",
	}
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.vars = []string{
		"--var", "api_url=" + api.URL,
		"--var", "prometheus_url=" + api.URL,
		"--var", `shadow_quick_command=["` + filepath.Join(dir, "quick.sh") + `"]`,
		"--var", `runbook_command=["` + binary(t) + `"]`,
		"--var", "stop_state=" + w.state(),
		"--var", "shadow_pid_file=" + filepath.Join(dir, "shadow.pid"),
		"--var", "shadow_log=" + w.log,
		"--var", "golden_dir=" + filepath.Join(dir, "golden"),
		"--var", "pg_dsn=" + dsn,
		"--var", "redis_url=" + redisURL,
	}
	// The tabletop counts rows of "checkpoints": point it at this test's table.
	src, err := os.ReadFile("../../runbooks/m4-tabletop.hcl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "m4-tabletop.hcl"), []byte(strings.ReplaceAll(string(src), "FROM checkpoints", "FROM "+table)), 0o644)
	return w
}

// state is the state the drill's emergency stop lives in: the run's own
// (.runbook beside the runbook).
func (w *m4World) state() string { return filepath.Join(w.dir, ".runbook") }

// stopOn reports whether the emergency stop of the world's state is on.
func (w *m4World) stopOn(t *testing.T) bool {
	t.Helper()
	code, _, stderr := runCLI(t, w.dir, "stop", "check", "--state", w.state())
	if code != 0 && code != 4 {
		t.Fatalf("runbook stop check: exit %d: %s", code, stderr)
	}
	return code == 4
}

func (w *m4World) exec(t *testing.T, extra ...string) (int, *record.Run, string) {
	t.Helper()
	args := append([]string{"exec", "m4-tabletop.hcl", "--yes", "--format", "json"}, w.vars...)
	code, stdout, stderr := runCLI(t, w.dir, append(args, extra...)...)
	var run record.Run
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("exit %d, output is not a run record: %v\n%s\n%s", code, err, stdout, stderr)
	}
	return code, &run, stdout + stderr
}

func TestM4TabletopAgainstRealServices(t *testing.T) {
	w := newM4World(t)
	code, run, out := w.exec(t)
	if code != 0 || run.Status != record.Passed {
		for _, it := range run.Items {
			if it.Status != record.Passed {
				t.Errorf("%s.%s: %s %v %+v", it.Kind, it.Name, it.Status, it.Error, it.Asserts)
			}
		}
		t.Fatalf("exit %d, status %s", code, run.Status)
	}
	var steps []string
	for _, it := range run.Items {
		if it.Kind == record.KindStep {
			steps = append(steps, it.Name)
		}
	}
	want := "health quick_shadow sanity stop_enable stop_status stop_disable golden_diff prometheus_alerts checkpoint_db redis"
	if strings.Join(steps, " ") != want || len(run.Items) != 11 {
		t.Errorf("steps %v (%d rows), want %s and the cleanup: one row per PIN-016 step", steps, len(run.Items), want)
	}
	// Step 3, the sanity script, is three checks under one row.
	var nested []string
	for _, c := range run.Item("step", "sanity").Checks {
		nested = append(nested, c.Name+":"+c.Status)
	}
	if got := strings.Join(nested, " "); got != "shadow_process:passed shadow_log:passed golden_disk:passed" {
		t.Errorf("sanity's checks: %s", got)
	}
	// The drill flipped runbook's own stop, and left it off.
	if st := run.Item("step", "stop_status"); fmt.Sprint(st.Result["exit_code"]) != "4" {
		t.Errorf("stop_status saw exit %v, want 4 (the stop on)", st.Result["exit_code"])
	}
	if w.stopOn(t) {
		t.Errorf("the drill left the emergency stop on")
	}
	if got := run.Item("step", "checkpoint_db").Result["rows"]; fmt.Sprint(got) != "[map[n:2]]" {
		t.Errorf("checkpoint count %v, want one row with n=2", got)
	}
	// The DSN's password never shows.
	if strings.Contains(out, w.password) || run.Variables["pg_dsn"] != "(sensitive)" {
		t.Errorf("the DSN leaked: variables %v", run.Variables["pg_dsn"])
	}
	doc, err := os.ReadFile(filepath.Join(w.dir, "PIN-015-completion.md"))
	if err != nil {
		t.Fatalf("no PIN-015 completion document: %v", err)
	}
	for _, s := range []string{"PIN-015", "M4", "| golden_files | 2 |", "| checkpoints | 2 |", "Engineering lead", "Redis connectivity"} {
		if !strings.Contains(string(doc), s) {
			t.Errorf("PIN-015 document lacks %q", s)
		}
	}
}

func TestM4TabletopCatchesMismatchLines(t *testing.T) {
	w := newM4World(t)
	f, _ := os.OpenFile(w.log, os.O_APPEND|os.O_WRONLY, 0o644)
	fmt.Fprintln(f, "cycle 3 complete: 9 workflows, 9 replays, 3 mismatches")
	f.Close()
	code, run, _ := w.exec(t)
	sanity := run.Item("step", "sanity")
	if code != 1 || sanity.Status != record.Failed || len(sanity.Checks) != 3 || !strings.Contains(sanity.Checks[1].Asserts[0].Message, "1 mismatch lines") {
		t.Errorf("exit %d, sanity %s %+v; want the mismatch line caught (and the \", 0 mismatches\" lines not)", code, sanity.Status, sanity.Checks)
	}
}

// TestM4TabletopDrillNeverLeavesTheStopOn: when the run ends with the
// emergency stop on (here its disable step is skipped), the cleanup turns
// it off; when the drill turned it off itself, the cleanup does nothing.
func TestM4TabletopDrillNeverLeavesTheStopOn(t *testing.T) {
	w := newM4World(t)
	_, run, out := w.exec(t, "--skip", "stop_disable")
	if st := run.Item(record.KindStep, "stop_status"); st.Status != record.Passed {
		t.Errorf("stop_status: %s %+v, want passed (runbook stop check exits 4)", st.Status, st.Asserts)
	}
	c := run.Item(record.KindCleanup, "stop_off")
	if c == nil || c.Status != record.Passed {
		t.Fatalf("cleanup stop_off: %+v\n%s", c, out)
	}
	if w.stopOn(t) {
		t.Errorf("the emergency stop was left on")
	}
	_, run, _ = w.exec(t)
	if c := run.Item(record.KindCleanup, "stop_off"); c == nil || c.Status != record.Skipped {
		t.Errorf("after a complete drill the cleanup is %+v, want skipped", c)
	}
}

// TestM4TabletopStopStatusIsNotFooledByOtherOutput: the stop-status step
// reads runbook stop check's exit code, so a stop that is off fails it
// whatever the command prints.
func TestM4TabletopStopStatusIsNotFooledByOtherOutput(t *testing.T) {
	w := newM4World(t)
	// The stop is never turned on: stop_status alone sees it off.
	_, run, out := w.exec(t, "--only", "stop_status")
	st := run.Item(record.KindStep, "stop_status")
	if st.Status != record.Failed || !strings.Contains(report.Detail(*st), "not 4: the stop is not on") {
		t.Errorf("stop_status with the stop off: %s %q\n%s", st.Status, report.Detail(*st), out)
	}
}
