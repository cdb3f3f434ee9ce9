package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/runbookhq/runbook/record"
)

// NotifyChannel is the PostgreSQL channel on which the store announces
// changes (a run record saved, a question asked or answered, the stop
// changed), for `runbook serve` to follow them live.
const NotifyChannel = "runbook_events"

// notify announces a change in the transaction or on the connection c.
func notify(ctx context.Context, c interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, what string) error {
	_, err := c.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, what)
	return err
}

// Listen calls fn with each change the store announces (see
// NotifyChannel) until ctx is done or the connection is lost, which it
// returns as an error. It holds a connection of its own.
func (p *Postgres) Listen(ctx context.Context, fn func(string)) error {
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	conn, err := pgx.ConnectConfig(cctx, p.cfg.Copy())
	cancel()
	if err != nil {
		return p.errorf("listen for changes", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+NotifyChannel); err != nil {
		return p.errorf("listen for changes", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return p.errorf("listen for changes", err)
		}
		fn(n.Payload)
	}
}

// Ask opens a question of a running run.
func (p *Postgres) Ask(ctx context.Context, runID, step, kind string) error {
	err := p.read(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO runbook.questions (run_id, step, kind, state, asked_at, reply)
VALUES ($1, $2, $3, 'open', now(), NULL)
ON CONFLICT (run_id, step) DO UPDATE SET kind = excluded.kind, state = 'open', asked_at = excluded.asked_at, reply = NULL`,
			runID, step, kind)
		if err != nil {
			return err
		}
		return notify(ctx, c, "question "+runID)
	})
	if err != nil {
		return p.errorf("ask step "+step+" of run "+runID, err)
	}
	return nil
}

// Reply answers an open question: the first reply wins (one UPDATE of
// the open row).
func (p *Postgres) Reply(ctx context.Context, runID, step string, r Reply) (Question, error) {
	var q Question
	var notOpen, bad error
	err := p.do(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			notOpen, bad = nil, nil
			var err error
			q, err = scanQuestion(tx.QueryRow(ctx, `SELECT run_id, step, kind, state, asked_at, reply FROM runbook.questions
WHERE run_id = $1 AND step = $2 FOR UPDATE`, runID, step))
			if errors.Is(err, pgx.ErrNoRows) || (err == nil && q.State != QuestionOpen) {
				notOpen = fmt.Errorf("step %s of run %s: %w", step, runID, ErrNotWaiting)
				return nil
			}
			if err != nil {
				return err
			}
			rr, err := checkReply(q.Kind, r)
			if err != nil {
				bad = err
				return nil
			}
			data, err := json.Marshal(rr)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE runbook.questions SET state = 'answered', reply = $3 WHERE run_id = $1 AND step = $2`,
				runID, step, string(data)); err != nil {
				return err
			}
			q.State, q.Reply = QuestionAnswered, &rr
			return notify(ctx, tx, "answer "+runID)
		})
	})
	if err != nil {
		return Question{}, p.errorf("answer step "+step+" of run "+runID, err)
	}
	if notOpen != nil {
		return Question{}, notOpen
	}
	if bad != nil {
		return Question{}, bad
	}
	return q, nil
}

// Withdraw closes an open question.
func (p *Postgres) Withdraw(ctx context.Context, runID, step string) error {
	err := p.read(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `UPDATE runbook.questions SET state = 'closed' WHERE run_id = $1 AND step = $2 AND state = 'open'`, runID, step)
		return err
	})
	if err != nil {
		return p.errorf("withdraw step "+step+" of run "+runID, err)
	}
	return nil
}

// Questions returns a run's questions by step.
func (p *Postgres) Questions(ctx context.Context, runID string) ([]Question, error) {
	var out []Question
	err := p.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT run_id, step, kind, state, asked_at, reply FROM runbook.questions
WHERE run_id = $1 ORDER BY step`, runID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Question, error) { return scanQuestion(r) })
		return err
	})
	if err != nil {
		return nil, p.errorf("read the questions of run "+runID, err)
	}
	return out, nil
}

func scanQuestion(r pgx.Row) (Question, error) {
	var q Question
	var reply []byte
	if err := r.Scan(&q.RunID, &q.Step, &q.Kind, &q.State, &q.AskedAt, &reply); err != nil {
		return q, err
	}
	q.AskedAt = q.AskedAt.UTC()
	if reply != nil {
		var rr Reply
		if err := json.Unmarshal(reply, &rr); err != nil {
			return q, fmt.Errorf("parse the reply to step %s: %w", q.Step, err)
		}
		q.Reply = &rr
	}
	return q, nil
}

// AddToken creates a token; its secret is returned once.
func (p *Postgres) AddToken(ctx context.Context, name, role string) (string, Token, error) {
	secret, t, err := newToken(name, role, time.Now())
	if err != nil {
		return "", Token{}, err
	}
	var exists bool
	err = p.do(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `INSERT INTO runbook.tokens (name, role, hash, created) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING`, t.Name, t.Role, t.Hash, t.Created)
		exists = err == nil && tag.RowsAffected() == 0
		return err
	})
	if err != nil {
		return "", Token{}, p.errorf("add token "+name, err)
	}
	if exists {
		return "", Token{}, fmt.Errorf("token %q: %w (revoke it first)", name, ErrTokenExists)
	}
	return secret, t, nil
}

// Tokens lists the tokens by name.
func (p *Postgres) Tokens(ctx context.Context) ([]Token, error) {
	var out []Token
	err := p.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT name, role, hash, created, last_used FROM runbook.tokens ORDER BY name`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanToken)
		return err
	})
	if err != nil {
		return nil, p.errorf("list tokens", err)
	}
	return out, nil
}

func scanToken(r pgx.CollectableRow) (Token, error) {
	var t Token
	var used *time.Time
	err := r.Scan(&t.Name, &t.Role, &t.Hash, &t.Created, &used)
	t.Created = t.Created.UTC()
	if used != nil {
		t.LastUsed = used.UTC()
	}
	return t, err
}

// RevokeToken deletes a token.
func (p *Postgres) RevokeToken(ctx context.Context, name string) error {
	var gone bool
	err := p.read(ctx, func(c *pgx.Conn) error {
		tag, err := c.Exec(ctx, `DELETE FROM runbook.tokens WHERE name = $1`, name)
		gone = err == nil && tag.RowsAffected() == 0
		return err
	})
	if err != nil {
		return p.errorf("revoke token "+name, err)
	}
	if gone {
		return fmt.Errorf("token %q: %w", name, ErrNoToken)
	}
	return nil
}

// Authenticate returns the token of a secret and notes its use. Hashes
// are compared in Go, in constant time, not by the database's index.
func (p *Postgres) Authenticate(ctx context.Context, secret string) (Token, error) {
	all, err := p.Tokens(ctx)
	if err != nil {
		return Token{}, err
	}
	i, ok := matchToken(all, secret)
	if !ok {
		return Token{}, ErrNoToken
	}
	t := all[i]
	now := time.Now().UTC().Truncate(time.Microsecond)
	if now.Sub(t.LastUsed) >= tokenUseEvery {
		_ = p.read(ctx, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, `UPDATE runbook.tokens SET last_used = $2 WHERE name = $1`, t.Name, now)
			return err
		})
		t.LastUsed = now
	}
	return t, nil
}

// SignOff adds a signature to a finished run's record, in one
// transaction with the row locked.
func (p *Postgres) SignOff(ctx context.Context, runID string, s record.Signoff) (*record.Run, error) {
	s, err := checkSignoff(s)
	if err != nil {
		return nil, err
	}
	var run *record.Run
	var refused error
	err = p.do(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			refused = nil
			var data []byte
			err := tx.QueryRow(ctx, `SELECT record FROM runbook.runs WHERE id = $1 FOR UPDATE`, runID).Scan(&data)
			if errors.Is(err, pgx.ErrNoRows) {
				refused = fmt.Errorf("no run %s in %s", runID, p.location)
				return nil
			}
			if err != nil {
				return err
			}
			run = &record.Run{}
			if err := json.Unmarshal(data, run); err != nil {
				return fmt.Errorf("parse run record %s: %w", runID, err)
			}
			if err := addSignoff(run, s); err != nil {
				refused = err
				return nil
			}
			// A run with a journal gets the sign-off there too.
			if has, err := hasEventsTx(ctx, tx, runID); err != nil {
				return err
			} else if has {
				e, err := signoffEvent(s)
				if err != nil {
					return err
				}
				if _, err := appendEventsTx(ctx, tx, runID, []record.Event{e}); err != nil {
					return err
				}
			}
			out, err := json.Marshal(run)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE runbook.runs SET status = $2, record = $3 WHERE id = $1`,
				runID, run.Status, string(jsonbSafe(out))); err != nil {
				return err
			}
			return notify(ctx, tx, "run "+runID)
		})
	})
	if err != nil {
		return nil, p.errorf("sign run "+runID, err)
	}
	if refused != nil {
		return nil, refused
	}
	return run, nil
}
