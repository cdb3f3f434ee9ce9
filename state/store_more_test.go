package state

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/record"
)

// testStopChange: ChangeStop reports the stop it replaced, and the trail's
// times never go backwards, even when the clock (or a caller) does.
func testStopChange(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 12, 2, 13, 0, 0, 0, time.UTC)
	c, err := s.ChangeStop(ctx, StopRequest{On: true, Entry: AuditEntry{Time: t0, User: "alice", Host: "ops-1", Reason: "first"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(StopState{}, c.Before); diff != "" {
		t.Errorf("Before of the first change (-want +got):\n%s", diff)
	}
	if !c.After.On || c.After.By != "alice" || !c.Entry.Time.Equal(t0) || c.Entry.Action != ActionEnable {
		t.Errorf("first change: got %+v", c)
	}
	// An earlier time than the last entry's (a clock stepped back) is
	// recorded as the last entry's.
	c, err = s.ChangeStop(ctx, StopRequest{On: false, Entry: AuditEntry{Time: t0.Add(-time.Hour), User: "bob", Host: "ops-2"}})
	if err != nil {
		t.Fatal(err)
	}
	want := StopState{On: true, Since: t0, By: "alice", Host: "ops-1", Reason: "first"}
	if diff := cmp.Diff(want, c.Before); diff != "" {
		t.Errorf("Before of the second change (-want +got):\n%s", diff)
	}
	if !c.Entry.Time.Equal(t0) || c.After.On || c.After.By != "bob" {
		t.Errorf("second change: got %+v, want time %v (not earlier than the last entry)", c, t0)
	}
	// A zero time is taken by the store, after the last entry.
	c, err = s.ChangeStop(ctx, StopRequest{On: true, Entry: AuditEntry{User: "carol", Host: "ops-3", Reason: "now"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Before.On || c.Before.By != "bob" || c.Entry.Time.Before(t0) {
		t.Errorf("third change: got %+v", c)
	}
	trail, err := s.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(trail) != 3 {
		t.Fatalf("trail: got %d entries, want 3", len(trail))
	}
	for i := 1; i < len(trail); i++ {
		if trail[i].Time.Before(trail[i-1].Time) {
			t.Errorf("entry %d at %v is before entry %d at %v", i+1, trail[i].Time, i, trail[i-1].Time)
		}
	}
	if diff := cmp.Diff(c.Entry, trail[2]); diff != "" {
		t.Errorf("the returned entry against the trail's (-want +got):\n%s", diff)
	}
}

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// testProcLock: one holder at a time per key; the second is told who holds
// it; release and close free it.
func testProcLock(t *testing.T, open opener) {
	ctx := context.Background()
	a, b := open(t), open(t)
	host, _ := os.Hostname()
	since := time.Now().UTC().Truncate(time.Microsecond)
	alice := Holder{Operator: "alice", Host: host, PID: os.Getpid(), Since: since, RunID: "r1"}
	key := ProcKey("deploy", "")
	la, err := a.Acquire(ctx, key, alice)
	if err != nil {
		t.Fatalf("first Acquire: %v", err)
	}
	if la.Stale != nil || la.Warning(key) != "" {
		t.Errorf("first Acquire of a free lock: got stale %+v", la.Stale)
	}
	_, err = b.Acquire(ctx, key, Holder{Operator: "bob", Host: host, PID: os.Getpid(), Since: time.Now()})
	var held *HeldError
	if !errors.As(err, &held) {
		t.Fatalf("second Acquire while held: got %v, want a *HeldError", err)
	}
	if diff := cmp.Diff(alice, held.Holder); diff != "" {
		t.Errorf("holder named (-want +got):\n%s", diff)
	}
	for _, want := range []string{`runbook "deploy" is already running`, "alice", host, fmt.Sprintf("pid %d", os.Getpid()), since.Format(time.RFC3339)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	// Other procedures of the runbook, and other runbooks, are free.
	for _, other := range []string{ProcKey("deploy", "fix"), ProcKey("deploy-other", ""), ProcKey("deploy/", "")} {
		l, err := b.Acquire(ctx, other, Holder{Operator: "bob", Host: host, PID: os.Getpid(), Since: time.Now()})
		if err != nil {
			t.Errorf("Acquire(%q) while %q is held: %v", other, key, err)
			continue
		}
		l.Release()
	}
	la.Release()
	la.Release() // twice is fine
	lb, err := b.Acquire(ctx, key, Holder{Operator: "bob", Host: host, PID: os.Getpid(), Since: time.Now()})
	if err != nil {
		t.Fatalf("Acquire after release: %v", err)
	}
	if lb.Stale != nil {
		t.Errorf("Acquire after a clean release: got stale %+v, want none", lb.Stale)
	}
	// Closing the store releases its locks.
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	lc, err := a.Acquire(ctx, key, alice)
	if err != nil {
		t.Fatalf("Acquire after the holder's store closed: %v", err)
	}
	lc.Release()
	lb.Release() // after Close: harmless
}

// runAt returns a run record that started at t, with the id a run
// started then gets.
func runAt(t time.Time, runbook, mode, playbook, status string) *record.Run {
	r := testRun(record.NewRunID(t), status)
	r.StartedAt, r.FinishedAt = t, t.Add(time.Second)
	r.Runbook, r.Mode = runbook, mode
	if playbook != "" {
		r.Playbook = &playbook
	}
	return r
}

// testRunOrder: runs started within one second are listed in the order
// they started, whatever order they were saved in; ids of earlier
// versions that share a second are ordered by started_at.
func testRunOrder(t *testing.T, s Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 30, 23, 20, 34, 0, time.UTC)
	var want []string
	var runs []*record.Run
	for i := range 50 {
		r := runAt(base.Add(time.Duration(i)*7*time.Millisecond+time.Duration(i)*time.Microsecond), "deploy", "exec", "", record.Passed)
		runs = append(runs, r)
		want = append(want, r.ID)
	}
	// Two ids of an earlier version in the next second, whose random
	// suffixes sort against their start order.
	legacyA := testRun("20261130T232035Z-ffff", record.Passed)
	legacyA.StartedAt = base.Add(time.Second + 100*time.Millisecond)
	legacyB := testRun("20261130T232035Z-0000", record.Passed)
	legacyB.StartedAt = base.Add(time.Second + 900*time.Millisecond)
	between := runAt(base.Add(time.Second+500*time.Millisecond), "deploy", "exec", "", record.Passed)
	runs = append(runs, legacyA, legacyB, between)
	want = append(want, legacyA.ID, between.ID, legacyB.ID)
	rand.Shuffle(len(runs), func(i, j int) { runs[i], runs[j] = runs[j], runs[i] })
	for _, r := range runs {
		if _, err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := s.RunIDs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("RunIDs (-want +got):\n%s", diff)
	}
	last, err := s.LoadRun(ctx, "last")
	if err != nil || last.ID != legacyB.ID {
		t.Errorf("LoadRun(last): got %v, %v; want %s", last, err, legacyB.ID)
	}
	var newest []string
	_ = s.Runs(ctx, Filter{}, func(e RunEntry) bool {
		newest = append(newest, e.ID)
		return len(newest) < 3
	})
	if diff := cmp.Diff([]string{legacyB.ID, between.ID, legacyA.ID}, newest); diff != "" {
		t.Errorf("Runs, newest first (-want +got):\n%s", diff)
	}
}

// testRunsAndLast: filters, the resumable runs --resume last picks, and
// records settled on the way out.
func testRunsAndLast(t *testing.T, s Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return base.Add(time.Duration(min) * time.Minute) }
	host, _ := os.Hostname()
	failedTop := runAt(at(1), "deploy", "exec", "", record.Failed)
	failedFix := runAt(at(2), "deploy", "exec", "fix", record.Failed)
	incomplete := runAt(at(3), "deploy", "exec", "", record.Incomplete)
	passed := runAt(at(4), "deploy", "exec", "", record.Passed)
	check := runAt(at(5), "deploy", "check", "", record.Failed)
	watchCycle := runAt(at(6), "deploy", "watch", "", record.Failed)
	other := runAt(at(7), "other", "exec", "", record.Failed)
	// A run whose process died (killed): the journal left it running.
	dead := runAt(at(8), "deploy", "exec", "fix", record.Running)
	dead.Host, dead.PID = host, deadPID(t)
	dead.Items[1].Status = record.Running
	// One still running: not resumable.
	live := runAt(at(9), "deploy", "exec", "", record.Running)
	live.Host, live.PID, live.StartedAt = host, os.Getpid(), time.Now() // the id still sorts it last
	for _, r := range []*record.Run{failedTop, failedFix, incomplete, passed, check, watchCycle, other, dead, live} {
		if _, err := s.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	str := func(s string) *string { return &s }
	for _, tc := range []struct {
		name string
		f    Filter
		want string
	}{
		{"resume the top-level procedure", Filter{Runbook: "deploy", Playbook: str(""), Mode: "exec", Resumable: true}, incomplete.ID},
		{"resume the playbook: the abandoned run", Filter{Runbook: "deploy", Playbook: str("fix"), Mode: "exec", Resumable: true}, dead.ID},
		{"last exec", Filter{Mode: "exec"}, live.ID},
		{"last check", Filter{Mode: "check"}, check.ID},
		{"last passed", Filter{Status: record.Passed}, passed.ID},
		{"last abandoned", Filter{Status: record.Abandoned}, dead.ID},
		{"another runbook", Filter{Runbook: "other", Resumable: true}, other.ID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Last(ctx, s, tc.f)
			if err != nil {
				t.Fatalf("Last(%s): %v", tc.f, err)
			}
			if got.ID != tc.want {
				t.Errorf("Last(%s): got %s (%s %s %s), want %s", tc.f, got.ID, got.Mode, playbookOf(got), got.Status, tc.want)
			}
		})
	}
	if _, err := Last(ctx, s, Filter{Runbook: "deploy", Playbook: str("nope"), Mode: "exec", Resumable: true}); err == nil ||
		!strings.Contains(err.Error(), `no exec runs of playbook "nope" of runbook "deploy" that can be resumed`) {
		t.Errorf("Last with nothing to find: got %v", err)
	}
	// Every record read through the store is settled.
	got, err := s.LoadRun(ctx, dead.ID)
	if err != nil || got.Status != record.Abandoned {
		t.Errorf("LoadRun of a dead process's run: got %v, %v; want status abandoned", got, err)
	}
	if got, err := s.LoadRun(ctx, live.ID); err != nil || got.Status != record.Running {
		t.Errorf("LoadRun of a live run: got %v, %v; want status running", got, err)
	}
	var n int
	if err := s.Runs(ctx, Filter{Runbook: "deploy"}, func(e RunEntry) bool {
		if e.Err != nil {
			t.Errorf("Runs: entry %s: %v", e.ID, e.Err)
		}
		n++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Errorf("Runs of deploy: got %d, want 8", n)
	}
}
