package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
)

func runRecord(t *testing.T, dir string, args ...string) (int, *record.Run) {
	t.Helper()
	code, stdout, stderr := runCLI(t, dir, append(args, "--format", "json")...)
	var run record.Run
	if err := json.Unmarshal([]byte(stdout), &run); err != nil {
		t.Fatalf("exit %d, output is not a run record: %v\n%s\n%s", code, err, stdout, stderr)
	}
	return code, &run
}

func stepStatuses(run *record.Run) map[string]string {
	out := map[string]string{}
	for _, it := range run.Items {
		if it.Kind == record.KindStep {
			out[it.Name] = it.Status
		}
	}
	return out
}

// TestRedisFailurePlaybookWhenRedisIsHealthy runs the Redis playbook
// against a healthy real Redis: the triage passes, the restart branch is
// skipped, and the closing manual step is answered from a file.
func TestRedisFailurePlaybookWhenRedisIsHealthy(t *testing.T) {
	dir := writeFiles(t, map[string]string{"answers.hcl": `record = { status = "passed", note = "drill: redis healthy" }` + "\n"})
	pb, _ := filepath.Abs("../../runbooks/playbooks/redis-failure.hcl")
	code, run := runRecord(t, dir, "exec", pb, "--playbook", "redis_failure",
		"--var", "redis_url="+testserver.Redis(t), "--answers", "answers.hcl", "--state", filepath.Join(dir, "state"))
	want := map[string]string{
		"ping": "passed", "memory": "passed", "service_status": "skipped",
		"restart": "skipped", "verify": "skipped", "record": "passed",
	}
	if diff := cmp.Diff(want, stepStatuses(run)); diff != "" || code != 0 {
		t.Errorf("exit %d, steps (-want +got):\n%s", code, diff)
	}
}

// TestGoldenMismatchPlaybookStopsOnViolations runs the golden playbook on
// a shadow-run directory with a real determinism violation: it bundles the
// evidence, engages the (scripted) emergency stop, and leaves paging the
// owner pending for a person.
func TestGoldenMismatchPlaybookStopsOnViolations(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"golden/wf-1.json":        `{"seed": 1, "steps": [{"status": "ok", "output": {"total": 10}}]}`,
		"golden/wf-1.replay.json": `{"seed": 1, "steps": [{"status": "ok", "output": {"total": 11}}]}`,
		"golden/wf-2.json":        `{"seed": 2, "result": "same"}`,
		"golden/wf-2.replay.json": `{"seed": 2, "result": "same"}`,
		"stop.sh":                 "#!/bin/sh\necho \"emergency stop ENABLED ($1)\" > \"$(dirname \"$0\")/stopped\"; cat \"$(dirname \"$0\")/stopped\"\n",
	})
	os.Chmod(filepath.Join(dir, "stop.sh"), 0o755)
	pb, _ := filepath.Abs("../../runbooks/playbooks/golden-mismatch.hcl")
	code, run := runRecord(t, dir, "exec", pb, "--playbook", "golden_mismatch", "--yes",
		"--var", "golden_dir="+filepath.Join(dir, "golden"),
		"--var", "evidence_dir="+filepath.Join(dir, "evidence"),
		"--var", `stop_command=["`+filepath.Join(dir, "stop.sh")+`"]`,
		"--state", filepath.Join(dir, "state"))
	want := map[string]string{
		"classify": "passed", "volatile_only": "skipped", "seed_mismatch": "skipped",
		"evidence": "passed", "stop_workflows": "passed", "page_owner": "pending",
	}
	if diff := cmp.Diff(want, stepStatuses(run)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if code != 3 || run.Status != record.Incomplete {
		t.Errorf("exit %d status %s, want 3 and incomplete (paging is pending)", code, run.Status)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "stopped")); err != nil || !strings.Contains(string(data), "enable") {
		t.Errorf("the stop script did not run with enable: %q %v", data, err)
	}
	if bundles, _ := filepath.Glob(filepath.Join(dir, "evidence", "golden-*.tgz")); len(bundles) != 1 {
		t.Errorf("evidence bundles: %v", bundles)
	}
	if v := run.Item("step", "classify").Result["violations"]; v != float64(1) {
		t.Errorf("violations %v, want 1", v)
	}
}
