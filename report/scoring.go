package report

import (
	"fmt"

	"github.com/runbookhq/runbook/record"
)

// Scored returns the steps a facilitator scored, in the run's order, for
// a report's scoring section.
func Scored(items []record.Item) []record.Item {
	var out []record.Item
	for _, it := range items {
		if it.Score != nil {
			out = append(out, it)
		}
	}
	return out
}

// ScoreTotals sums a run's scores: how many steps were scored, the points
// given out of the points possible, their average, and how many steps
// that were answered or confirmed went without a score.
type ScoreTotals struct {
	Count, Sum, Max, Unscored int
	// Average is the mean score with one decimal ("3.5").
	Average string
}

// Totals is the ScoreTotals of the items; nil when none is scored.
func Totals(items []record.Item) *ScoreTotals {
	var t ScoreTotals
	for _, it := range items {
		if it.Score != nil {
			t.Count++
			t.Sum += it.Score.Value
			t.Max += record.MaxScore
		} else if it.Kind == record.KindStep && (it.Answer != nil || it.Decision != nil) {
			t.Unscored++
		}
	}
	if t.Count == 0 {
		return nil
	}
	t.Average = fmt.Sprintf("%.1f", float64(t.Sum)/float64(t.Count))
	return &t
}
