package state

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/record"
)

// Console is what `runbook serve` and a waiting `runbook exec --wait`
// share through the state, besides run records: the questions a running
// run waits on (manual steps, confirm prompts) and their replies, the
// access tokens of the console, and the sign-offs of runs. Dir and
// Postgres implement it; ConsoleOf finds it on a Store.
type Console interface {
	// Ask opens a question of a running run: step waits for a reply of
	// the given kind (QuestionAnswer or QuestionConfirm). A question of
	// the same step asked earlier is replaced.
	Ask(ctx context.Context, runID, step, kind string) error
	// Reply answers an open question; the first reply wins. A question
	// that is not open (never asked, answered already, withdrawn) is an
	// error wrapping ErrNotWaiting. It returns the question as answered.
	Reply(ctx context.Context, runID, step string, r Reply) (Question, error)
	// Withdraw closes an open question that no reply will answer any
	// more (the run went on without one). Closing one that is not open
	// does nothing.
	Withdraw(ctx context.Context, runID, step string) error
	// Questions returns a run's questions, open or not, by step.
	Questions(ctx context.Context, runID string) ([]Question, error)

	// AddToken creates an access token for name with a role (RoleViewer
	// or RoleOperator) and returns its secret, which is kept only as a
	// hash: it cannot be shown again.
	AddToken(ctx context.Context, name, role string) (string, Token, error)
	// Tokens lists the tokens by name.
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken deletes a token; a name with none is an error wrapping
	// ErrNoToken.
	RevokeToken(ctx context.Context, name string) error
	// Authenticate returns the token whose secret this is, noting its
	// use; an unknown secret is an error wrapping ErrNoToken.
	Authenticate(ctx context.Context, secret string) (Token, error)

	// SignOff adds a signature to a finished run's record. A run still
	// running is an error wrapping ErrRunRunning; a role signed already,
	// one wrapping ErrSigned. It returns the record as signed.
	SignOff(ctx context.Context, runID string, s record.Signoff) (*record.Run, error)
}

// ConsoleOf returns the store's Console, when it has one.
func ConsoleOf(s Store) (Console, bool) {
	c, ok := s.(Console)
	return c, ok
}

var (
	_ Console = (*Dir)(nil)
	_ Console = (*Postgres)(nil)
)

// Kinds and states of a question.
const (
	QuestionAnswer  = "answer"  // a manual step: passed, failed or skipped
	QuestionConfirm = "confirm" // a mutating step: run it or not

	QuestionOpen     = "open"
	QuestionAnswered = "answered"
	QuestionClosed   = "closed"
)

// Question is a step of a running run waiting (or that waited) for a
// person's reply.
type Question struct {
	RunID   string    `json:"run_id"`
	Step    string    `json:"step"`
	Kind    string    `json:"kind"`
	State   string    `json:"state"`
	AskedAt time.Time `json:"asked_at"`
	// Reply is set once answered.
	Reply *Reply `json:"reply,omitempty"`
}

// Reply is the answer to a question.
type Reply struct {
	// Status and Note answer a manual step.
	Status string `json:"status,omitempty"`
	Note   string `json:"note,omitempty"`
	// Confirm answers a confirm prompt.
	Confirm *bool `json:"confirm,omitempty"`
	// By is who replied; Surface where (record.SurfaceConsole, …).
	By      string    `json:"by"`
	Surface string    `json:"surface"`
	At      time.Time `json:"at"`
}

// Errors of the console's state.
var (
	// ErrNotWaiting is a reply to a question that is not open.
	ErrNotWaiting = errors.New("the step is not waiting for an answer")
	// ErrNoToken is a token that does not exist.
	ErrNoToken = errors.New("no such token")
	// ErrTokenExists is a token name taken already.
	ErrTokenExists = errors.New("a token with this name exists already")
	// ErrRunRunning is a sign-off of a run that has not finished.
	ErrRunRunning = errors.New("the run is still running: sign it once it has finished")
	// ErrBadReply is a reply that does not fit its question.
	ErrBadReply = errors.New("invalid answer")
	// ErrSigned is a role of a run signed already.
	ErrSigned = errors.New("this role of the run is signed already")
)

// checkReply validates a reply to a question of kind and fills in its time.
func checkReply(kind string, r Reply) (Reply, error) {
	switch kind {
	case QuestionAnswer:
		if r.Confirm != nil {
			return r, fmt.Errorf("%w: this step waits for an answer (passed, failed or skipped), not a confirmation", ErrBadReply)
		}
		switch r.Status {
		case record.Passed, record.Failed, record.Skipped:
		default:
			return r, fmt.Errorf("%w: answer a manual step with status passed, failed or skipped, not %q", ErrBadReply, r.Status)
		}
	case QuestionConfirm:
		if r.Confirm == nil {
			return r, fmt.Errorf("%w: this step waits for a confirmation: {\"confirm\": true} or {\"confirm\": false}", ErrBadReply)
		}
		if r.Status != "" {
			return r, fmt.Errorf("%w: this step waits for a confirmation, not an answer", ErrBadReply)
		}
	}
	if strings.TrimSpace(r.By) == "" {
		return r, errors.New("reply: who replies is required")
	}
	if r.At.IsZero() {
		r.At = time.Now()
	}
	r.At = r.At.UTC().Truncate(time.Microsecond)
	return r, nil
}

// Roles of a console token.
const (
	RoleViewer   = "viewer"   // reads everything
	RoleOperator = "operator" // also answers, confirms, signs, toggles the stop
)

// Token is an access token of the console. Only a hash of its secret is
// kept.
type Token struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Created  time.Time `json:"created"`
	LastUsed time.Time `json:"last_used,omitzero"`
	Hash     string    `json:"hash"`
}

// tokenName is what a token's name may be: a person or a service.
// Compiled on first use: the bounded repeat expands to 64 states, 0.17 ms
// and 860 allocations that every command paid at start-up when it was a
// package-level regexp.
var tokenName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)
})

// ValidUserName reports whether name may name a user: a token's name,
// or a user an auth proxy names (letters, digits, '.', '_', '@' or '-',
// up to 64, starting with a letter or digit).
func ValidUserName(name string) bool { return tokenName().MatchString(name) }

// newToken checks a token's name and role and makes its secret.
func newToken(name, role string, now time.Time) (string, Token, error) {
	if !tokenName().MatchString(name) {
		return "", Token{}, fmt.Errorf("token name %q: use letters, digits, '.', '_', '@' or '-' (up to 64)", name)
	}
	if role != RoleViewer && role != RoleOperator {
		return "", Token{}, fmt.Errorf("token role %q: use viewer or operator", role)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, fmt.Errorf("make a token: %w", err)
	}
	secret := "rbk_" + hex.EncodeToString(b[:])
	return secret, Token{Name: name, Role: role, Created: now.UTC().Truncate(time.Microsecond), Hash: hashToken(secret)}, nil
}

// hashToken is how a token's secret is kept: its SHA-256, in hex.
func hashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// matchToken finds the token of a secret among all, comparing every hash
// in constant time.
func matchToken(all []Token, secret string) (int, bool) {
	want := []byte(hashToken(secret))
	found := -1
	for i, t := range all {
		if subtle.ConstantTimeCompare([]byte(t.Hash), want) == 1 {
			found = i
		}
	}
	return found, found >= 0
}

// checkSignoff validates a sign-off and fills in its time.
func checkSignoff(s record.Signoff) (record.Signoff, error) {
	if strings.TrimSpace(s.Role) == "" {
		return s, errors.New("sign-off: the role is required")
	}
	if strings.TrimSpace(s.Name) == "" {
		return s, errors.New("sign-off: who signs is required")
	}
	if s.At.IsZero() {
		s.At = time.Now()
	}
	s.At = s.At.UTC().Truncate(time.Microsecond)
	return s, nil
}

// addSignoff adds s to run, as SignOff does.
func addSignoff(run *record.Run, s record.Signoff) error {
	if Settle(run).Status == record.Running {
		return ErrRunRunning
	}
	for _, o := range run.Signoffs {
		if o.Role == s.Role {
			return fmt.Errorf("%w (by %s at %s)", ErrSigned, o.Name, o.At.Format(time.RFC3339))
		}
	}
	run.Signoffs = append(run.Signoffs, s)
	return nil
}
