package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
)

// TestPGDiskFillingPlaybook runs the disk-filling playbook against the
// real PostgreSQL of the test harness, with a stale physical replication
// slot: the playbook finds it, drops it behind its confirmation, and
// checkpoints. Its diagnostics are informational: they never decide the
// run. With a threshold the disk cannot meet, the re-check polls until its
// attempts run out and the escalation is answered from a file; with one it
// meets, the run passes and nobody is paged.
func TestPGDiskFillingPlaybook(t *testing.T) {
	dsn := testserver.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	prefix := fmt.Sprintf("stale_%d_", time.Now().UnixNano())
	slots := func() []string {
		t.Helper()
		rows, err := conn.Query(ctx, "SELECT slot_name FROM pg_replication_slots WHERE slot_name LIKE $1 ORDER BY 1", prefix+"%")
		if err != nil {
			t.Fatal(err)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return names
	}
	pb, _ := filepath.Abs("../../runbooks/playbooks/pg-disk-filling.hcl")

	tests := []struct {
		name, diskPercent string
		wantCode          int
		wantStatus        string
		steps             map[string]string
	}{
		{"the disk stays full", "0", 1, record.Failed, map[string]string{
			"usage": "failed", "wal": "passed", "biggest_relations": "passed", "stale_slots": "failed",
			"long_transactions": "passed", "drop_slots": "passed", "checkpoint": "passed",
			"recheck": "failed", "escalate": "passed",
		}},
		{"the disk has room", "100", 0, record.Passed, map[string]string{
			"usage": "passed", "wal": "passed", "biggest_relations": "passed", "stale_slots": "failed",
			"long_transactions": "passed", "drop_slots": "passed", "checkpoint": "passed",
			"recheck": "passed", "escalate": "skipped",
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			slot := fmt.Sprintf("%s%d", prefix, i)
			if _, err := conn.Exec(ctx, "SELECT pg_create_physical_replication_slot($1, true)", slot); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				conn.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
			})
			dir := writeFiles(t, map[string]string{"answers.hcl": `escalate = { status = "passed", note = "paged the DBA on call" }` + "\n"})
			code, run := runRecord(t, dir, "exec", pb, "--playbook", "pg_disk_filling", "--yes",
				"--var", "pg_dsn="+dsn, "--var", "data_dir="+dir,
				"--var", `thresholds={ disk_percent = `+tc.diskPercent+`, slot_retained_mb = 0 }`,
				"--var", "slot_name_like="+prefix+"%",
				"--var", `recheck={ attempts = 2, interval = "50ms" }`,
				"--answers", "answers.hcl", "--state", filepath.Join(dir, "state"))
			if diff := cmp.Diff(tc.steps, stepStatuses(run)); diff != "" || code != tc.wantCode || run.Status != tc.wantStatus {
				t.Errorf("exit %d, run %s (want %d, %s); steps (-want +got):\n%s", code, run.Status, tc.wantCode, tc.wantStatus, diff)
			}
			found := run.Item(record.KindStep, "stale_slots")
			if !found.Informational || !strings.Contains(fmt.Sprint(found.Result["rows"]), slot) {
				t.Errorf("stale_slots did not find %s: %+v", slot, found.Result)
			}
			drop := run.Item(record.KindStep, "drop_slots")
			if drop.Decision == nil || !drop.Decision.Confirmed {
				t.Errorf("drop_slots ran without a recorded confirmation: %+v", drop.Decision)
			}
			if left := slots(); len(left) != 0 {
				t.Errorf("slots left: %v", left)
			}
			if usage := run.Item(record.KindStep, "usage"); len(usage.Checks) != 2 {
				t.Errorf("usage shows %d checks, want disk_space and disk_inodes", len(usage.Checks))
			}
			if recheck := run.Item(record.KindStep, "recheck"); tc.wantStatus == record.Failed && recheck.Attempts != 2 {
				t.Errorf("the re-check made %d attempts, want 2", recheck.Attempts)
			}
			if run.Summary.Informational != 5 {
				t.Errorf("summary %+v, want the 5 diagnostics counted as informational", run.Summary)
			}
		})
	}
}
