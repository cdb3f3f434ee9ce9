package state

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/runbookhq/runbook/record"
)

// What an exercise run shares with its facilitators through the state,
// beside its record: the facilitator's pause (written by `runbook
// exercise pause|resume` and the console, read by the run), the injects
// delivered so far (written by the run, read by the console's feed), and
// the scores given while the run goes on (written by the console, merged
// into the record by the run when it ends). Each lives under its own key
// of the store's watch storage, so the writers never overwrite each
// other.

// ExercisePause is the facilitator's pause of a running exercise.
type ExercisePause struct {
	// Pause is the pause in effect; nil when the clock runs.
	Pause *record.Pause `json:"pause,omitempty"`
}

// ExerciseScores are the scores given to a run's steps, by step name.
type ExerciseScores map[string]record.Score

func exerciseKey(runID, what string) string { return "exercise." + runID + "." + what }

func loadJSON(ctx context.Context, s Store, key string, v any) error {
	data, err := s.LoadWatch(ctx, key)
	if err != nil || data == nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	return nil
}

func saveJSON(ctx context.Context, s Store, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return s.SaveWatch(ctx, key, data)
}

// LoadExercisePause returns the pause of a run's exercise clock, nil when
// it runs.
func LoadExercisePause(ctx context.Context, s Store, runID string) (*record.Pause, error) {
	var p ExercisePause
	err := loadJSON(ctx, s, exerciseKey(runID, "pause"), &p)
	return p.Pause, err
}

// SetExercisePause pauses a run's exercise clock (p not nil) or lets it
// run again (nil).
func SetExercisePause(ctx context.Context, s Store, runID string, p *record.Pause) error {
	return saveJSON(ctx, s, exerciseKey(runID, "pause"), ExercisePause{Pause: p})
}

// LoadInjects returns the injects a running exercise delivered so far.
func LoadInjects(ctx context.Context, s Store, runID string) ([]record.Inject, error) {
	var in []record.Inject
	err := loadJSON(ctx, s, exerciseKey(runID, "injects"), &in)
	return in, err
}

// SaveInjects stores the injects a running exercise delivered so far.
func SaveInjects(ctx context.Context, s Store, runID string, in []record.Inject) error {
	return saveJSON(ctx, s, exerciseKey(runID, "injects"), in)
}

// LoadScores returns the scores given to a run's steps in the console.
func LoadScores(ctx context.Context, s Store, runID string) (ExerciseScores, error) {
	sc := ExerciseScores{}
	err := loadJSON(ctx, s, exerciseKey(runID, "scores"), &sc)
	return sc, err
}

// AddScore stores a score of a run's step, replacing an earlier one of
// the same step. Two facilitators scoring the same run at the same moment
// may lose one of the two scores: the last write wins.
func AddScore(ctx context.Context, s Store, runID, step string, sc record.Score) error {
	if sc.Value < record.MinScore || sc.Value > record.MaxScore {
		return fmt.Errorf("%w: a score is from %d to %d, not %d", ErrBadReply, record.MinScore, record.MaxScore, sc.Value)
	}
	all, err := LoadScores(ctx, s, runID)
	if err != nil {
		return err
	}
	all[step] = sc
	return saveJSON(ctx, s, exerciseKey(runID, "scores"), all)
}

// MergeScores puts the scores into the run's items: a score of a step the
// run carried out (not one still pending or running). It reports whether
// any item changed.
func MergeScores(run *record.Run, scores ExerciseScores) bool {
	changed := false
	for _, name := range sortedNames(scores) {
		for i := range run.Items {
			it := &run.Items[i]
			if it.Kind == record.KindStep && it.Name == name && it.Status != record.Pending && it.Status != record.Running {
				sc := scores[name]
				it.Score = &sc
				changed = true
			}
		}
	}
	return changed
}

func sortedNames(m ExerciseScores) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
