package engine

import (
	"context"
	"slices"

	"github.com/runbookhq/runbook/record"
)

// ScoreSource returns the facilitator's scores of a run's steps, by step
// name: from an answers file, from the console. The engine asks once the
// procedure and its cleanups are over.
type ScoreSource func(ctx context.Context) map[string]record.Score

// applyScores puts the facilitator's scores on the steps the run carried
// out (a step still pending, or never run, has nothing to score), each
// as a score event.
func (r *runner) applyScores(ctx context.Context) {
	if r.opts.Scores == nil {
		return
	}
	scores := r.opts.Scores(ctx)
	names := make([]string, 0, len(scores))
	for name := range scores {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		sc := scores[name]
		if sc.Value < record.MinScore || sc.Value > record.MaxScore {
			continue
		}
		for _, n := range r.nodes {
			if n.item.Kind != record.KindStep || n.item.Name != name || !scorable(n.rec) {
				continue
			}
			if sc.At.IsZero() {
				sc.At = r.now().UTC()
			}
			s := sc
			n.rec.Score = &s
			r.emit(record.Event{Type: record.EventScore, Item: n.item.Address(), OccurredAt: sc.At, Actor: sc.By, Surface: sc.Surface, Data: jsonData(s)})
		}
	}
}

// scorable reports whether a step was carried out: answered, confirmed or
// declined, or run.
func scorable(it record.Item) bool {
	switch it.Status {
	case record.Pending, record.Running:
		return false
	case record.Skipped:
		return it.Answer != nil
	}
	return true
}
