package state

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// TestRunStatusReadsUpToTheStatus: a run's status as written, read
// without the items after it; "" when the record cannot tell.
func TestRunStatusReadsUpToTheStatus(t *testing.T) {
	d := NewDir(filepath.Join(t.TempDir(), "st"))
	ctx := context.Background()
	for _, status := range []string{record.Running, record.Passed} {
		run := &record.Run{ID: "20261201T000000Z-" + status, Runbook: "r", Status: status, StartedAt: time.Now().UTC(),
			Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Pending}}}
		if _, err := d.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
	}
	// A record cut off in its items (a torn write): its status is still
	// read, as the items are not.
	data, err := os.ReadFile(filepath.Join(d.runsDir(), "20261201T000000Z-passed.json"))
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"items":`))
	if i < 0 || !bytes.Contains(data[:i], []byte(`"status":"passed"`)) {
		t.Fatalf("record does not have its status before its items: %s", data)
	}
	if err := os.WriteFile(filepath.Join(d.runsDir(), "20261201T000000Z-torn.json"), append(data[:i:i], `"items":[{"kind":`...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.runsDir(), "20261201T000000Z-empty.json"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ id, want string }{
		{"20261201T000000Z-running", record.Running},
		{"20261201T000000Z-passed", record.Passed},
		{"20261201T000000Z-torn", record.Passed},
		{"20261201T000000Z-empty", ""},
		{"20261201T000000Z-missing", ""},
		{"../escape", ""},
	} {
		t.Run(strings.TrimPrefix(tc.id, "20261201T000000Z-"), func(t *testing.T) {
			if got := d.RunStatus(tc.id); got != tc.want {
				t.Errorf("RunStatus(%q) = %q, want %q", tc.id, got, tc.want)
			}
		})
	}
}
