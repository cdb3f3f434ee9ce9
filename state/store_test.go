package state

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/record"
)

// testRun returns a run record whose values survive a JSON round trip.
func testRun(id, status string) *record.Run {
	start := time.Date(2025, 12, 2, 13, 12, 19, 0, time.UTC)
	errText := "exit status 1"
	return &record.Run{
		ID: id, Runbook: "m4-tabletop", Title: "M4 tabletop", Document: "PIN-015",
		Source: "runbooks/m4-tabletop.hcl", Operator: "alice", Host: "ops-1",
		StartedAt: start, FinishedAt: start.Add(2 * time.Second), DurationMS: 2000,
		Status:    status,
		Variables: map[string]any{"api_url": "http://localhost:8000", "pg_dsn": "(sensitive)"},
		Summary:   record.Summary{Passed: 1, Failed: 1},
		Items: []record.Item{
			{Kind: record.KindStep, Name: "health", Provider: "http", Status: "passed", Attempts: 1,
				Result: map[string]any{"status": float64(200), "body": `{"status":"ok"}`, "escaped": `a\u0000b`}},
			{Kind: record.KindStep, Name: "stop", Provider: "shell", Status: "failed", Attempts: 1, Confirm: true, Error: &errText},
		},
	}
}

// opener opens a new handle on one store location, closed when the test
// ends.
type opener func(t *testing.T) Store

// testStore runs the behaviour every Store must have; fresh makes a new,
// empty store location.
func testStore(t *testing.T, fresh func(t *testing.T) opener) {
	ctx := context.Background()

	t.Run("a final record is not replaced by one that is not", func(t *testing.T) {
		s := fresh(t)(t)
		final := testRun("20251202T131219Z-f1a1", record.Passed)
		journal := testRun(final.ID, record.Running)
		journal.FinishedAt = time.Time{}
		for _, r := range []*record.Run{journal, final, journal} {
			if _, err := s.SaveRun(ctx, r); err != nil {
				t.Fatalf("SaveRun(%s): %v", r.Status, err)
			}
		}
		got, err := s.LoadRun(ctx, final.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != record.Passed {
			t.Errorf("stored status %q after a journal save over the final record, want passed", got.Status)
		}
		// A final record replaces a final one (written back as abandoned).
		again := testRun(final.ID, record.Abandoned)
		if _, err := s.SaveRun(ctx, again); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LoadRun(ctx, final.ID); err != nil || got.Status != record.Abandoned {
			t.Errorf("after saving a final record over a final one: %v, %v", got.Status, err)
		}
	})

	t.Run("a drill's stop change says which exercise made it", func(t *testing.T) {
		s := fresh(t)(t)
		c, err := s.ChangeStop(ctx, StopRequest{On: true, Entry: AuditEntry{User: "fran", Host: "ops-1", Reason: "drill", Exercise: "20261201T093000Z-ab12"}})
		if err != nil {
			t.Fatal(err)
		}
		if c.After.Exercise != "20261201T093000Z-ab12" {
			t.Errorf("the change's stop: %+v", c.After)
		}
		if st, err := s.Stop(ctx); err != nil || !st.On || st.Exercise != "20261201T093000Z-ab12" {
			t.Errorf("Stop: %+v (%v), want on, set by the exercise", st, err)
		}
		if _, err := s.SetStop(ctx, false, AuditEntry{User: "bob", Host: "ops-2"}); err != nil {
			t.Fatal(err)
		}
		trail, err := s.Audit(ctx)
		if err != nil || len(trail) != 2 || trail[0].Exercise != "20261201T093000Z-ab12" || trail[1].Exercise != "" {
			t.Errorf("audit trail %+v (%v), want the drill's line marked and the real one not", trail, err)
		}
		if st, err := s.Stop(ctx); err != nil || st.Exercise != "" {
			t.Errorf("after a real change the stop still says drill: %+v (%v)", st, err)
		}
	})

	t.Run("exercise pause, injects and scores", func(t *testing.T) {
		s := fresh(t)(t)
		id := "20261201T093000Z-ab12"
		if p, err := LoadExercisePause(ctx, s, id); err != nil || p != nil {
			t.Fatalf("pause of a run never paused: %+v (%v)", p, err)
		}
		if err := SetExercisePause(ctx, s, id, &record.Pause{By: "fran", Reason: "questions"}); err != nil {
			t.Fatal(err)
		}
		if p, err := LoadExercisePause(ctx, s, id); err != nil || p == nil || p.By != "fran" {
			t.Errorf("pause: %+v (%v)", p, err)
		}
		if err := SaveInjects(ctx, s, id, []record.Inject{{Name: "a"}, {Name: "b"}}); err != nil {
			t.Fatal(err)
		}
		if in, err := LoadInjects(ctx, s, id); err != nil || len(in) != 2 || in[1].Name != "b" {
			t.Errorf("injects: %+v (%v)", in, err)
		}
		if err := AddScore(ctx, s, id, "x", record.Score{Value: 0}); err == nil {
			t.Error("a score of 0 was taken")
		}
		for _, v := range []int{2, 5} {
			if err := AddScore(ctx, s, id, "x", record.Score{Value: v}); err != nil {
				t.Fatal(err)
			}
		}
		if sc, err := LoadScores(ctx, s, id); err != nil || len(sc) != 1 || sc["x"].Value != 5 {
			t.Errorf("scores: %+v (%v), want the last score of x", sc, err)
		}
	})

	t.Run("runs", func(t *testing.T) {
		s := fresh(t)(t)
		if _, err := s.LoadRun(ctx, "last"); err == nil || !strings.Contains(err.Error(), "no runs recorded") {
			t.Errorf("LoadRun(last) on an empty store: got %v, want a \"no runs recorded\" error", err)
		}
		runs := []*record.Run{
			testRun("20251202T131219Z-3f9a", record.Failed),
			testRun("20251202T131219Z-77aa", record.Passed),
			testRun("20251203T080000Z-0001", record.Passed),
		}
		for _, r := range runs {
			if _, err := s.SaveRun(ctx, r); err != nil {
				t.Fatalf("SaveRun(%s): %v", r.ID, err)
			}
		}
		ids, err := s.RunIDs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{runs[0].ID, runs[1].ID, runs[2].ID}, ids); diff != "" {
			t.Errorf("RunIDs (-want +got):\n%s", diff)
		}
		for _, tc := range []struct {
			ref  string
			want *record.Run
			err  string
		}{
			{ref: "last", want: runs[2]},
			{ref: "", want: runs[2]},
			{ref: runs[0].ID, want: runs[0]},
			{ref: "20251203", want: runs[2]},
			{ref: "20251202T131219Z-7", want: runs[1]},
			{ref: "20251202", err: "ambiguous"},
			{ref: "1999", err: `no run "1999"`},
		} {
			t.Run("ref="+tc.ref, func(t *testing.T) {
				got, err := s.LoadRun(ctx, tc.ref)
				if tc.err != "" {
					if err == nil || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("LoadRun(%q): got error %v, want one containing %q", tc.ref, err, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("LoadRun(%q): %v", tc.ref, err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("LoadRun(%q) (-want +got):\n%s", tc.ref, diff)
				}
			})
		}
		// Saving the same id again replaces the record.
		again := testRun(runs[0].ID, record.Passed)
		if _, err := s.SaveRun(ctx, again); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LoadRun(ctx, runs[0].ID); err != nil || got.Status != record.Passed {
			t.Errorf("LoadRun after re-saving: got %v, %v; want status passed", got, err)
		}
		// A path to a record file is read from the file, whatever the store.
		path := filepath.Join(t.TempDir(), "copy.json")
		data, _ := runs[1].Marshal()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LoadRun(ctx, path); err != nil || got.ID != runs[1].ID {
			t.Errorf("LoadRun(%s): got %v, %v; want run %s", path, got, err, runs[1].ID)
		}
	})

	t.Run("stop and audit", func(t *testing.T) {
		s := fresh(t)(t)
		st, err := s.Stop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(StopState{}, st); diff != "" {
			t.Errorf("Stop of a new store (-want +got):\n%s", diff)
		}
		if trail, err := s.Audit(ctx); err != nil || len(trail) != 0 {
			t.Errorf("Audit of a new store: got %v, %v; want empty", trail, err)
		}

		if _, err := s.SetStop(ctx, true, AuditEntry{User: "alice", Host: "ops-1"}); err == nil || !strings.Contains(err.Error(), "reason is required") {
			t.Errorf("enable without a reason: got %v, want a \"reason is required\" error", err)
		}
		if _, err := s.SetStop(ctx, true, AuditEntry{Host: "ops-1", Reason: "x"}); err == nil {
			t.Errorf("enable without a user: got no error")
		}

		t0 := time.Date(2025, 12, 2, 13, 0, 0, 123456789, time.UTC)
		steps := []struct {
			on    bool
			entry AuditEntry
		}{
			{true, AuditEntry{Time: t0, User: "alice", Host: "ops-1", Reason: "golden mismatch on shard 3"}},
			{true, AuditEntry{Time: t0.Add(time.Minute), User: "bob", Host: "ops-2", Reason: "still investigating"}},
			{false, AuditEntry{Time: t0.Add(time.Hour), User: "alice", Host: "ops-1"}},
		}
		var want []AuditEntry
		for _, step := range steps {
			got, err := s.SetStop(ctx, step.on, step.entry)
			if err != nil {
				t.Fatalf("SetStop(%v, %+v): %v", step.on, step.entry, err)
			}
			e := step.entry
			e.Action = ActionDisable
			if step.on {
				e.Action = ActionEnable
			}
			e.Time = e.Time.Truncate(time.Microsecond)
			want = append(want, e)
			wantState := StopState{On: step.on, Since: e.Time, By: e.User, Host: e.Host, Reason: e.Reason}
			if diff := cmp.Diff(wantState, got); diff != "" {
				t.Errorf("SetStop(%v) returned (-want +got):\n%s", step.on, diff)
			}
			if st, err := s.Stop(ctx); err != nil {
				t.Fatal(err)
			} else if diff := cmp.Diff(wantState, st); diff != "" {
				t.Errorf("Stop after SetStop(%v) (-want +got):\n%s", step.on, diff)
			}
		}
		trail, err := s.Audit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, trail); diff != "" {
			t.Errorf("Audit (-want +got):\n%s", diff)
		}

		// A zero time is filled in by the store.
		before := time.Now().Add(-time.Minute)
		st, err = s.SetStop(ctx, true, AuditEntry{User: "carol", Host: "ops-3", Reason: "now"})
		if err != nil {
			t.Fatal(err)
		}
		if st.Since.Before(before) || st.Since.After(time.Now().Add(time.Minute)) {
			t.Errorf("SetStop with a zero time: got since %v, want about now", st.Since)
		}
	})

	t.Run("watch", func(t *testing.T) {
		s := fresh(t)(t)
		if data, err := s.LoadWatch(ctx, "shadow"); err != nil || data != nil {
			t.Errorf("LoadWatch of a missing key: got %q, %v; want nil, nil", data, err)
		}
		keys := map[string]string{
			"shadow":       `{"health":"healthy"}`,
			"a/b":          `{"k":"a/b"}`,
			"a%2Fb":        `{"k":"a%2Fb"}`,
			"../escape":    `{"k":"../escape"}`,
			".hidden":      `{"k":".hidden"}`,
			"ünïcode name": `{"k":"ünïcode"}`,
		}
		for k, v := range keys {
			if err := s.SaveWatch(ctx, k, []byte(v)); err != nil {
				t.Fatalf("SaveWatch(%q): %v", k, err)
			}
		}
		if err := s.SaveWatch(ctx, "shadow", []byte(`{"health":"failing"}`)); err != nil {
			t.Fatal(err)
		}
		keys["shadow"] = `{"health":"failing"}`
		for k, want := range keys {
			got, err := s.LoadWatch(ctx, k)
			if err != nil || string(got) != want {
				t.Errorf("LoadWatch(%q): got %q, %v; want %q", k, got, err, want)
			}
		}
	})

	t.Run("lead", func(t *testing.T) {
		open := fresh(t)
		a, b := open(t), open(t)
		la, err := a.Lead(ctx, "shadow")
		if err != nil || la == nil || !la.Valid() {
			t.Fatalf("first Lead: got %v, %v; want a valid lease", la, err)
		}
		if l, err := b.Lead(ctx, "shadow"); err != nil || l != nil {
			t.Errorf("second instance's Lead while the first leads: got %v, %v; want nil", l, err)
		}
		if l, err := a.Lead(ctx, "shadow"); err != nil || l != la {
			t.Errorf("the leader's Lead again: got %v, %v; want the same lease", l, err)
		}
		if l, err := b.Lead(ctx, "other runbook"); err != nil || l == nil {
			t.Errorf("Lead on another key: got %v, %v; want a lease", l, err)
		} else {
			l.Release()
		}
		la.Release()
		la.Release() // twice is fine
		if la.Valid() {
			t.Error("a released lease is still valid")
		}
		select {
		case <-la.Lost():
		default:
			t.Error("a released lease's Lost channel is open")
		}
		lb, err := b.Lead(ctx, "shadow")
		if err != nil || lb == nil {
			t.Fatalf("Lead after the leader released: got %v, %v; want a lease", lb, err)
		}
		if lb.Generation() <= la.Generation() {
			t.Errorf("generation after a handover: got %d, want more than %d", lb.Generation(), la.Generation())
		}
		if l, err := a.Lead(ctx, "shadow"); err != nil || l != nil {
			t.Errorf("old leader's Lead after the handover: got %v, %v; want nil", l, err)
		}
		// Closing the store gives up its leases.
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		lb.Release()
		if l, err := a.Lead(ctx, "shadow"); err != nil || l == nil {
			t.Errorf("Lead after the leader closed its store: got %v, %v; want a lease", l, err)
		} else {
			l.Release()
		}
	})

	t.Run("stop change", func(t *testing.T) { testStopChange(t, fresh(t)(t)) })
	t.Run("procedure lock", func(t *testing.T) { testProcLock(t, fresh(t)) })
	t.Run("run order", func(t *testing.T) { testRunOrder(t, fresh(t)(t)) })
	t.Run("runs and last", func(t *testing.T) { testRunsAndLast(t, fresh(t)(t)) })
	t.Run("event chain", func(t *testing.T) { testEventChain(t, fresh(t)(t)) })
}

// decodeStrict decodes one JSON value, refusing unknown fields.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
