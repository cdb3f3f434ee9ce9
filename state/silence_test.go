package state

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDirSilences(t *testing.T)      { testSilences(t, freshDir) }
func TestPostgresSilences(t *testing.T) { testSilences(t, freshPostgres) }

// testSilences: silences are shared by every handle on one store, listed
// until they end, removed by id, and every change is in the audit trail.
func testSilences(t *testing.T, fresh func(t *testing.T) opener) {
	ctx := context.Background()
	open := fresh(t)
	a, b := open(t), open(t)
	now := time.Now().UTC().Truncate(time.Second)

	if got, err := a.Silences(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Silences of an empty store: got %v, %v; want none", got, err)
	}
	disk, err := a.AddSilence(ctx, Silence{Checks: []string{"disk_root", "api"}, Reason: "disk swap", By: "alice", Host: "ops-1",
		Start: now, End: now.Add(2 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(disk.ID, "s-") || len(disk.ID) != 10 {
		t.Errorf("id: got %q, want s- and 8 hex digits", disk.ID)
	}
	all, err := b.AddSilence(ctx, Silence{Reason: "deploy", By: "bob", Host: "ops-2", Start: now.Add(time.Second), End: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Silences(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Silence{disk, all}, got); d != "" {
		t.Errorf("silences seen by another handle (-want +got):\n%s", d)
	}
	if !disk.Covers("api") || disk.Covers("other") || !all.Covers("anything") {
		t.Error("Covers: a silence covers its checks, an empty list every check")
	}

	for _, bad := range []Silence{
		{Checks: []string{"x"}, By: "alice", Host: "ops-1", End: now.Add(time.Hour)},              // no reason
		{Checks: []string{"x"}, Reason: "r", By: "alice", Host: "ops-1", Start: now, End: now},    // ends as it starts
		{Checks: []string{"x"}, Reason: "r", Host: "ops-1", End: now.Add(time.Hour)},              // nobody
		{Checks: []string{" "}, Reason: "r", By: "alice", Host: "ops-1", End: now.Add(time.Hour)}, // empty check
	} {
		if _, err := a.AddSilence(ctx, bad); err == nil {
			t.Errorf("AddSilence(%+v): got no error", bad)
		}
	}

	removed, err := a.RemoveSilence(ctx, disk.ID, AuditEntry{User: "carol", Host: "ops-3", Reason: "swap done"})
	if err != nil {
		t.Fatal(err)
	}
	if removed.ID != disk.ID {
		t.Errorf("removed %q, want %q", removed.ID, disk.ID)
	}
	if _, err := b.RemoveSilence(ctx, disk.ID, AuditEntry{User: "carol", Host: "ops-3"}); err == nil || !strings.Contains(err.Error(), "no silence") {
		t.Errorf("removing it twice: got %v, want a \"no silence\" error", err)
	}
	if got, _ := b.Silences(ctx); len(got) != 1 || got[0].ID != all.ID {
		t.Errorf("after removal: got %v, want only %s", got, all.ID)
	}

	// An ended silence is not listed.
	if _, err := a.AddSilence(ctx, Silence{Reason: "short", By: "alice", Host: "ops-1", Start: now.Add(-time.Hour), End: now.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Silences(ctx); len(got) != 1 {
		t.Errorf("with an ended silence: got %d silences, want 1", len(got))
	}

	trail, err := b.Audit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range trail {
		lines = append(lines, e.Action+" "+e.User+" "+e.Reason)
	}
	end := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	want := []string{
		"silence alice " + disk.ID + ": disk_root, api until " + end(2*time.Hour) + ": disk swap",
		"silence bob " + all.ID + ": all checks until " + end(time.Hour) + ": deploy",
		"unsilence carol " + disk.ID + ": disk_root, api: swap done",
		"silence alice " + trail[3].Reason[:10] + ": all checks until " + end(-time.Minute) + ": short",
	}
	if d := cmp.Diff(want, lines); d != "" {
		t.Errorf("audit trail (-want +got):\n%s", d)
	}
}
