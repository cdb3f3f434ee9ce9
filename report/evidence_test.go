package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/runbookhq/runbook/record"
)

// roundTrip is an item as a later run reads it back from a JSON record
// (a carried-over item): numbers become float64.
func roundTrip(t *testing.T, it record.Item) record.Item {
	t.Helper()
	data, err := json.Marshal(it)
	if err != nil {
		t.Fatal(err)
	}
	var back record.Item
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

func TestEvidenceKeepsValues(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name   string
		result map[string]any
		want   string
	}{
		{
			name:   "numbers",
			result: map[string]any{"size": json.Number("4321"), "rows": json.Number("3"), "ratio": json.Number("0.25"), "big": json.Number("103705407488")},
			want:   "big=103705407488 ratio=0.25 rows=3 size=4321",
		},
		{
			name:   "tiny and huge numbers",
			result: map[string]any{"tiny": json.Number("1e-07"), "huge": json.Number("1e+22"), "micro": json.Number("1e-06")},
			want:   "huge=1e+22 micro=0.000001 tiny=1e-07",
		},
		{
			name:   "lists and objects as compact JSON with sorted keys",
			result: map[string]any{"columns": []any{"relname", "size"}, "value": map[string]any{"used_memory": json.Number("1024"), "role": "master"}, "firing": []any{}},
			want:   `columns=["relname","size"] firing=[] value={"role":"master","used_memory":1024}`,
		},
		{
			name:   "bools, null and strings",
			result: map[string]any{"ok": true, "json": nil, "mode": "-rw-r--r--", "msg": "two words", "n": "42", "empty": ""},
			want:   `empty="" json=null mode=-rw-r--r-- msg="two words" n="42" ok=true`,
		},
		{
			name:   "long values are cut with a mark",
			result: map[string]any{"rows": []any{map[string]any{"name": long}}, "s": long},
			want:   `rows=[{"name":"` + strings.Repeat("x", 69) + "… s=" + strings.Repeat("x", 79) + "…",
		},
		{
			name:   "bookkeeping and truncation keys are left out",
			result: map[string]any{"duration_ms": json.Number("12"), "attempts": json.Number("1"), "truncated": true, "body_truncated": false, "status": json.Number("204")},
			want:   "status=204",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fresh := record.Item{Kind: "step", Name: "s", Status: record.Passed, Result: tc.result}
			if got := Evidence(fresh); got != tc.want {
				t.Errorf("fresh item: got %q, want %q", got, tc.want)
			}
			carried := roundTrip(t, fresh)
			carried.CarriedOver = true
			if got := Evidence(carried); got != tc.want {
				t.Errorf("carried-over item (read back from JSON): got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestTruncationNote(t *testing.T) {
	tests := []struct {
		name   string
		result map[string]any
		want   string
	}{
		{"shell stdout and stderr", map[string]any{"stdout_truncated": true, "stderr_truncated": true}, "output truncated (stderr, stdout)"},
		{"http body", map[string]any{"body_truncated": true, "body": "…"}, "output truncated (body)"},
		{"sql or redis", map[string]any{"truncated": true}, "output truncated (result)"},
		{"not cut", map[string]any{"stdout_truncated": false, "truncated": false}, ""},
		{"not a bool", map[string]any{"truncated": "yes"}, ""},
		{"nested keys do not count", map[string]any{"json": map[string]any{"truncated": true}}, ""},
		{"no result", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TruncationNote(record.Item{Result: tc.result}); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCompletion(t *testing.T) {
	at := time.Date(2025, 12, 4, 9, 1, 0, 0, time.UTC)
	passed := record.Item{Kind: "step", Name: "a", Status: record.Passed}
	signoff := func(status string) record.Item {
		return record.Item{Kind: "step", Name: "ic_review", Title: "IC review", Manual: true, Required: true, Status: status}
	}
	tests := []struct {
		name        string
		run         record.Run
		wantStatus  string
		wantMissing []string
	}{
		{"passed", record.Run{Status: record.Passed, Items: []record.Item{passed, signoff(record.Passed)}}, "COMPLETE", nil},
		{"warning", record.Run{Status: record.Warning, Items: []record.Item{passed}}, "COMPLETE (with warnings)", nil},
		{"failed", record.Run{Status: record.Failed, Items: []record.Item{{Kind: "step", Name: "b", Status: record.Failed}}}, "FAILED", nil},
		{
			"required sign-off skipped in a passed run",
			record.Run{Status: record.Passed, Items: []record.Item{passed, func() record.Item {
				it := signoff(record.Skipped)
				it.Answer = &record.Answer{Status: "skipped", Note: "IC away"}
				return it
			}()}},
			"INCOMPLETE", []string{"step.ic_review (IC review): required, skipped (IC away)"},
		},
		{"required sign-off failed", record.Run{Status: record.Failed, Items: []record.Item{signoff(record.Failed)}}, "INCOMPLETE (run failed)", []string{"step.ic_review (IC review): required, failed"}},
		{"required sign-off pending", record.Run{Status: record.Incomplete, Items: []record.Item{signoff(record.Pending)}}, "INCOMPLETE", []string{"step.ic_review (IC review): required, pending (pending manual step)"}},
		{
			"declined confirm",
			record.Run{Status: record.Incomplete, Items: []record.Item{{Kind: "step", Name: "failover", Status: record.Declined, Decision: &record.Decision{Operator: "bob", At: at}}}},
			"INCOMPLETE", []string{"step.failover: declined by bob at 2025-12-04 09:01:00 UTC"},
		},
		{"pending step", record.Run{Status: record.Incomplete, Items: []record.Item{{Kind: "step", Name: "p", Status: record.Pending}}}, "INCOMPLETE", []string{"step.p: pending manual step, not answered"}},
		{"interrupted passed run", record.Run{Status: record.Passed, Interrupted: true, Signal: "terminated", Items: []record.Item{passed}}, "INCOMPLETE", []string{"the run was interrupted (terminated) before it finished"}},
		{
			"abandoned",
			record.Run{Status: record.Abandoned, Items: []record.Item{passed, {Kind: "step", Name: "c", Status: record.Running}}},
			"INCOMPLETE", []string{"the run was abandoned: its process stopped before the run finished", "step.c: did not finish"},
		},
		{"incomplete with nothing to name", record.Run{Status: record.Incomplete}, "INCOMPLETE", []string{"the run is incomplete"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CompletionStatus(&tc.run); got != tc.wantStatus {
				t.Errorf("CompletionStatus: got %q, want %q", got, tc.wantStatus)
			}
			if diff := cmp.Diff(tc.wantMissing, Missing(&tc.run)); diff != "" {
				t.Errorf("Missing (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecisionText(t *testing.T) {
	at := time.Date(2025, 12, 4, 9, 1, 0, 0, time.UTC)
	tests := []struct {
		name string
		d    *record.Decision
		want string
	}{
		{"none", nil, ""},
		{"confirmed with --yes", &record.Decision{Confirmed: true, Operator: "alice", At: at, By: "--yes"}, "confirmed by alice (--yes) at 2025-12-04 09:01:00 UTC"},
		{"declined at the prompt", &record.Decision{Operator: "bob", At: at, By: "prompt"}, "declined by bob at 2025-12-04 09:01:00 UTC"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecisionText(record.Item{Decision: tc.d}); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
