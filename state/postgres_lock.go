package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/record"
)

// Acquire takes a procedure lock as a lease: a row of runbook.locks that
// names its holder and expires lockTTL after its last renewal; a goroutine
// renews it every lockRenew until Release. A row whose lease expired (its
// process or host died, or lost the database for longer than the lease),
// or whose holder is a dead process on this host, is taken over.
//
// A lease rather than a session advisory lock: it survives a pooler in
// transaction mode, names its holder in the same row that is the lock
// (no lock held with its holder row missing or stale), and frees itself
// within lockTTL when a host vanishes, where a session lock lasts until
// the server's TCP keepalive gives the dead connection up.
func (p *Postgres) Acquire(ctx context.Context, key string, h Holder) (*Lock, error) {
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	if key == "" {
		return nil, errors.New("empty procedure lock key")
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	token := hex.EncodeToString(b[:])
	myHost, _ := os.Hostname()
	ttl := p.lockTTL.Seconds()
	lock := &Lock{}
	var held *HeldError
	for attempt := 0; ; attempt++ {
		held, lock.Stale, lock.StaleWhy = nil, nil, ""
		inserted := false
		err := p.do(ctx, func(c *pgx.Conn) error {
			return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
				var prev Holder
				var expired bool
				var expires time.Time
				err := tx.QueryRow(ctx, `SELECT operator, host, pid, since, run_id, expires_at, expires_at <= clock_timestamp()
FROM runbook.locks WHERE key = $1 FOR UPDATE`, key).
					Scan(&prev.Operator, &prev.Host, &prev.PID, &prev.Since, &prev.RunID, &expires, &expired)
				if errors.Is(err, pgx.ErrNoRows) {
					tag, err := tx.Exec(ctx, `INSERT INTO runbook.locks (key, token, operator, host, pid, since, run_id, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, clock_timestamp() + make_interval(secs => $8))
ON CONFLICT (key) DO NOTHING`, key, token, h.Operator, h.Host, h.PID, h.Since, h.RunID, ttl)
					inserted = err == nil && tag.RowsAffected() == 1
					return err
				}
				if err != nil {
					return err
				}
				prev.Since = prev.Since.UTC()
				switch {
				case prev.Operator == "" && prev.PID == 0:
					// Released (see the release below): free.
				case expired:
					lock.StaleWhy = fmt.Sprintf("its lease expired at %s without being renewed (its process or host is gone)", expires.UTC().Format(time.RFC3339))
				case prev.Host == myHost && prev.PID > 0 && !ProcessAlive(prev.PID, prev.Since):
					lock.StaleWhy = fmt.Sprintf("its process (pid %d) is gone", prev.PID)
				default:
					held = &HeldError{Key: key, Holder: prev, Where: p.location}
					return nil
				}
				if lock.StaleWhy != "" {
					lock.Stale = &prev
				}
				_, err = tx.Exec(ctx, `UPDATE runbook.locks SET token = $2, operator = $3, host = $4, pid = $5, since = $6, run_id = $7,
	expires_at = clock_timestamp() + make_interval(secs => $8) WHERE key = $1`,
					key, token, h.Operator, h.Host, h.PID, h.Since, h.RunID, ttl)
				inserted = err == nil
				return err
			})
		})
		if err != nil {
			return nil, p.errorf(fmt.Sprintf("take the lock of %s", describeKey(key)), err)
		}
		if held != nil {
			return nil, held
		}
		if inserted {
			break
		}
		if attempt == 3 {
			return nil, fmt.Errorf("take the lock of %s in %s: it kept changing hands", describeKey(key), p.location)
		}
	}

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(p.lockRenew)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				rctx, cancel := context.WithTimeout(context.Background(), p.lockRenew)
				_ = p.read(rctx, func(c *pgx.Conn) error {
					_, err := c.Exec(rctx, `UPDATE runbook.locks SET expires_at = clock_timestamp() + make_interval(secs => $3)
WHERE key = $1 AND token = $2`, key, token, ttl)
					return err
				})
				cancel()
			}
		}
	}()
	lock.release = func() {
		close(stop)
		<-done
		p.mu.Lock()
		delete(p.locks, lock)
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		// An UPDATE, not a DELETE: the role of ordinary commands needs no
		// DELETE right. A row without operator and pid is free.
		_ = p.read(ctx, func(c *pgx.Conn) error {
			_, err := c.Exec(ctx, `UPDATE runbook.locks SET token = '', operator = '', host = '', pid = 0, run_id = '',
	expires_at = clock_timestamp() WHERE key = $1 AND token = $2`, key, token)
			return err
		})
	}
	p.mu.Lock()
	if p.locks == nil {
		p.locks = map[*Lock]struct{}{}
	}
	p.locks[lock] = struct{}{}
	p.mu.Unlock()
	return lock, nil
}

// runsPage is how many records Runs reads per query.
const runsPage = 50

// Runs calls fn for the runs matching f, newest first (by started_at, then
// id), and for each record that does not decode. It reads them a page at a
// time (runsPage records, each page a call with its own deadline, keyed on
// the last row's started_at and id), so that a caller that stops early
// (the newest run) reads no more than a page of a long history. The
// runbook, the stored status (a running record may settle as abandoned),
// the mode and the playbook are filtered in the query, the rest once
// settled.
func (p *Postgres) Runs(ctx context.Context, f Filter, fn func(RunEntry) bool) error {
	pbSet, pb := f.Playbook != nil, ""
	if pbSet {
		pb = *f.Playbook
	}
	type row struct {
		id      string
		started time.Time
		data    []byte
	}
	var after *row
	for {
		var page []row
		err := func() error {
			ctx, cancel := p.deadline(ctx)
			defer cancel()
			return p.read(ctx, func(c *pgx.Conn) error {
				var afterStarted *time.Time
				afterID := ""
				if after != nil {
					afterStarted, afterID = &after.started, after.id
				}
				rows, err := c.Query(ctx, `SELECT id, started_at, record FROM runbook.runs
WHERE ($1 = '' OR runbook = $1) AND ($2 = '' OR record->>'mode' = $2) AND (NOT $3 OR coalesce(record->>'playbook', '') = $4)
	AND ($5 = '' OR status = $5 OR status = 'running')
	AND ($6::timestamptz IS NULL OR (started_at, id) < ($6, $7))
ORDER BY started_at DESC, id DESC
LIMIT $8`, f.Runbook, f.Mode, pbSet, pb, f.Status, afterStarted, afterID, runsPage)
				if err != nil {
					return err
				}
				page, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
					var x row
					err := r.Scan(&x.id, &x.started, &x.data)
					return x, err
				})
				return err
			})
		}()
		if err != nil {
			return p.errorf("list runs", err)
		}
		for _, x := range page {
			var run record.Run
			if err := json.Unmarshal(x.data, &run); err != nil {
				if !fn(RunEntry{ID: x.id, Err: fmt.Errorf("parse run record %q from %s: %w", x.id, p.location, err)}) {
					return nil
				}
				continue
			}
			r := Settle(&run)
			if f.Match(r) && !fn(RunEntry{ID: x.id, Run: r}) {
				return nil
			}
		}
		if len(page) < runsPage {
			return nil
		}
		after = &page[len(page)-1]
	}
}
