package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/runbookhq/runbook/record"
)

// The console's files in a state directory:
//
//	questions/<run id>.json  the questions of a run, by step
//	tokens.json              the console's access tokens (hashed), mode 0600

func (d *Dir) questionsPath(runID string) string {
	return filepath.Join(d.Path, "questions", runID+".json")
}

func (d *Dir) tokensPath() string { return filepath.Join(d.Path, "tokens.json") }

// validRunID refuses a run id that cannot name a file.
func validRunID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\\\x00") || strings.HasPrefix(id, ".") {
		return fmt.Errorf("run id %q cannot name a file", id)
	}
	return nil
}

// readQuestions reads a run's questions; none is an empty map.
func (d *Dir) readQuestions(runID string) (map[string]Question, error) {
	if err := validRunID(runID); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(d.questionsPath(runID))
	if missing(err) {
		return map[string]Question{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read questions: %w", err)
	}
	qs := map[string]Question{}
	if err := json.Unmarshal(data, &qs); err != nil {
		return nil, fmt.Errorf("parse questions %q: %w", d.questionsPath(runID), err)
	}
	return qs, nil
}

func (d *Dir) writeQuestions(runID string, qs map[string]Question) error {
	data, err := json.MarshalIndent(qs, "", "  ")
	if err != nil {
		return fmt.Errorf("encode questions: %w", err)
	}
	dir, err := d.subdir("questions")
	if err != nil {
		return err
	}
	if err := writeFile(dir, runID+".json", append(data, '\n')); err != nil {
		return fmt.Errorf("write questions: %w", err)
	}
	return nil
}

// changeQuestions reads a run's questions, lets fn change them and writes
// them back, under the directory's lock.
func (d *Dir) changeQuestions(ctx context.Context, runID string, fn func(map[string]Question) error) error {
	if err := validRunID(runID); err != nil {
		return err
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	qs, err := d.readQuestions(runID)
	if err != nil {
		return err
	}
	if err := fn(qs); err != nil {
		return err
	}
	return d.writeQuestions(runID, qs)
}

// Ask opens a question of a running run.
func (d *Dir) Ask(ctx context.Context, runID, step, kind string) error {
	return d.changeQuestions(ctx, runID, func(qs map[string]Question) error {
		qs[step] = Question{RunID: runID, Step: step, Kind: kind, State: QuestionOpen, AskedAt: time.Now().UTC().Truncate(time.Microsecond)}
		return nil
	})
}

// Reply answers an open question: the first reply wins.
func (d *Dir) Reply(ctx context.Context, runID, step string, r Reply) (Question, error) {
	var out Question
	err := d.changeQuestions(ctx, runID, func(qs map[string]Question) error {
		q, ok := qs[step]
		if !ok || q.State != QuestionOpen {
			return fmt.Errorf("step %s of run %s: %w", step, runID, ErrNotWaiting)
		}
		r, err := checkReply(q.Kind, r)
		if err != nil {
			return err
		}
		q.State, q.Reply = QuestionAnswered, &r
		qs[step], out = q, q
		return nil
	})
	return out, err
}

// Withdraw closes an open question.
func (d *Dir) Withdraw(ctx context.Context, runID, step string) error {
	return d.changeQuestions(ctx, runID, func(qs map[string]Question) error {
		if q, ok := qs[step]; ok && q.State == QuestionOpen {
			q.State = QuestionClosed
			qs[step] = q
		}
		return nil
	})
}

// Questions returns a run's questions by step.
func (d *Dir) Questions(ctx context.Context, runID string) ([]Question, error) {
	unlock, err := d.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	qs, err := d.readQuestions(runID)
	if err != nil {
		return nil, err
	}
	out := make([]Question, 0, len(qs))
	for _, q := range qs {
		out = append(out, q)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// readTokens reads tokens.json; a missing file is none.
func (d *Dir) readTokens() ([]Token, error) {
	data, err := os.ReadFile(d.tokensPath())
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	var out []Token
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("parse tokens %q: %w", d.tokensPath(), err)
	}
	return out, nil
}

func (d *Dir) writeTokens(all []Token) error {
	if all == nil {
		all = []Token{}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return fmt.Errorf("encode tokens: %w", err)
	}
	if err := notSymlink(d.tokensPath()); err != nil {
		return err
	}
	if err := record.WriteFileAtomic(d.tokensPath(), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write tokens: %w", err)
	}
	return nil
}

// AddToken creates a token; its secret is returned once.
func (d *Dir) AddToken(ctx context.Context, name, role string) (string, Token, error) {
	secret, t, err := newToken(name, role, time.Now())
	if err != nil {
		return "", Token{}, err
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return "", Token{}, err
	}
	defer unlock()
	all, err := d.readTokens()
	if err != nil {
		return "", Token{}, err
	}
	for _, o := range all {
		if o.Name == name {
			return "", Token{}, fmt.Errorf("token %q: %w (revoke it first)", name, ErrTokenExists)
		}
	}
	if err := d.writeTokens(append(all, t)); err != nil {
		return "", Token{}, err
	}
	return secret, t, nil
}

// Tokens lists the tokens by name.
func (d *Dir) Tokens(ctx context.Context) ([]Token, error) {
	unlock, err := d.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return d.readTokens()
}

// RevokeToken deletes a token.
func (d *Dir) RevokeToken(ctx context.Context, name string) error {
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	all, err := d.readTokens()
	if err != nil {
		return err
	}
	for i, o := range all {
		if o.Name == name {
			return d.writeTokens(append(all[:i:i], all[i+1:]...))
		}
	}
	return fmt.Errorf("token %q: %w", name, ErrNoToken)
}

// tokenUseEvery bounds how often a token's last use is written.
const tokenUseEvery = time.Minute

// Authenticate returns the token of a secret and notes its use.
func (d *Dir) Authenticate(ctx context.Context, secret string) (Token, error) {
	all, err := func() ([]Token, error) {
		unlock, err := d.lock(ctx, false)
		if err != nil {
			return nil, err
		}
		defer unlock()
		return d.readTokens()
	}()
	if err != nil {
		return Token{}, err
	}
	i, ok := matchToken(all, secret)
	if !ok {
		return Token{}, ErrNoToken
	}
	t := all[i]
	now := time.Now().UTC().Truncate(time.Microsecond)
	if now.Sub(t.LastUsed) < tokenUseEvery {
		return t, nil
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return t, nil // its use goes unnoted; the token is still good
	}
	defer unlock()
	all, err = d.readTokens()
	if err != nil {
		return t, nil
	}
	if i, ok := matchToken(all, secret); ok {
		all[i].LastUsed = now
		t = all[i]
		_ = d.writeTokens(all)
	}
	return t, nil
}

// SignOff adds a signature to a finished run's record.
func (d *Dir) SignOff(ctx context.Context, runID string, s record.Signoff) (*record.Run, error) {
	s, err := checkSignoff(s)
	if err != nil {
		return nil, err
	}
	if err := validRunID(runID); err != nil {
		return nil, err
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	path := filepath.Join(d.runsDir(), runID+".json")
	run, err := record.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no run %s in %s", runID, d.Path)
	}
	if err != nil {
		return nil, err
	}
	if err := addSignoff(run, s); err != nil {
		return nil, err
	}
	// A run with a journal gets the sign-off there first.
	if _, err := os.Stat(d.eventsPath(runID)); err == nil {
		e, err := signoffEvent(s)
		if err != nil {
			return nil, err
		}
		if _, err := d.appendEventsLocked(runID, []record.Event{e}); err != nil {
			return nil, err
		}
	}
	data, err := run.MarshalCompact()
	if err != nil {
		return nil, fmt.Errorf("encode run record: %w", err)
	}
	if err := writeFile(d.runsDir(), runID+".json", data); err != nil {
		return nil, err
	}
	return run, nil
}
