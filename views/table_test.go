package views

import (
	"strings"
	"testing"

	"github.com/runbookhq/runbook/record"
)

// Items --only left out are counted once under the table, not listed; the
// record keeps them.
func TestTableCountsItemsNotSelected(t *testing.T) {
	run := &record.Run{Runbook: "r", Status: record.Passed}
	run.Items = append(run.Items, record.Item{Kind: record.KindStep, Name: "chosen", Status: record.Passed})
	for _, name := range []string{"a", "b", "c"} {
		run.Items = append(run.Items, record.Item{Kind: record.KindStep, Name: name, Status: record.Skipped, SkipReason: "not selected (--only)"})
	}
	run.Items = append(run.Items, record.Item{Kind: record.KindStep, Name: "flagged", Status: record.Skipped, SkipReason: "skipped by --skip"})
	r, err := New("table", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := r.Render(&b, run); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "step.a") || strings.Count(out, "not selected") != 1 {
		t.Errorf("items not selected are listed, not counted:\n%s", out)
	}
	for _, want := range []string{"step.chosen", "step.flagged", "skipped by --skip", "3 items not selected (--only)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}
