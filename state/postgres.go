package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/runbookhq/runbook/internal/secret"
	"github.com/runbookhq/runbook/record"
)

// Postgres is a state store in a PostgreSQL database, shared by every host
// that points --state (or RUNBOOK_STATE) at it. Its tables live in the
// schema "runbook", which it creates and migrates itself when opened.
//
// Queries go through a small pgxpool pool; each lease (Lead) holds a
// connection of its own, because PostgreSQL ties a session advisory lock to
// its connection. Behind a pooler, use session pooling: transaction
// pooling breaks session locks.
type Postgres struct {
	pool     *pgxpool.Pool
	cfg      *pgx.ConnConfig // for lease connections
	location string
	closed   atomic.Bool

	mu     sync.Mutex // guards leases and locks
	leases map[string]*pgx.Conn
	locks  map[*Lock]struct{}

	// lockTTL is how long a procedure lock's lease lasts without renewal;
	// lockRenew how often its holder renews it. Tests shorten them.
	lockTTL, lockRenew time.Duration
}

var _ Store = (*Postgres)(nil)

// poolSize bounds the store's connections besides leases: a run saves
// one record at a time; watch and stop need one or two more at most.
const poolSize = 4

// migrateLockKey is the advisory lock that serializes migrations.
var migrateLockKey = lockKey("runbook schema migration")

// lockKey hashes a name into an advisory lock key.
func lockKey(s string) int64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return int64(h.Sum64())
}

// migrations create and evolve the schema, in order; migration i brings
// the schema to version i+1. Never edit a released one: append.
var migrations = []string{
	`CREATE TABLE runbook.runs (
	id         text PRIMARY KEY,
	runbook    text NOT NULL,
	status     text NOT NULL,
	started_at timestamptz NOT NULL,
	record     jsonb NOT NULL
);
CREATE INDEX runs_runbook_started_at ON runbook.runs (runbook, started_at);

CREATE TABLE runbook.stop (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	enabled   boolean NOT NULL DEFAULT false,
	since     timestamptz,
	by_user   text NOT NULL DEFAULT '',
	host      text NOT NULL DEFAULT '',
	reason    text NOT NULL DEFAULT ''
);
INSERT INTO runbook.stop DEFAULT VALUES;

CREATE TABLE runbook.audit (
	id     bigserial PRIMARY KEY,
	time   timestamptz NOT NULL,
	action text NOT NULL CHECK (action IN ('enable', 'disable')),
	"user" text NOT NULL,
	host   text NOT NULL,
	reason text NOT NULL DEFAULT ''
);
CREATE FUNCTION runbook.audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'runbook.audit is append-only';
END
$$;
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON runbook.audit
	FOR EACH ROW EXECUTE FUNCTION runbook.audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON runbook.audit
	FOR EACH STATEMENT EXECUTE FUNCTION runbook.audit_append_only();

CREATE TABLE runbook.watch (
	key        text PRIMARY KEY,
	data       bytea NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);`,
	// 2: what `stop --force` repaired; the procedure locks (leases).
	`ALTER TABLE runbook.audit ADD COLUMN repair text NOT NULL DEFAULT '';

CREATE TABLE runbook.locks (
	key        text PRIMARY KEY,
	token      text NOT NULL,
	operator   text NOT NULL,
	host       text NOT NULL,
	pid        integer NOT NULL,
	since      timestamptz NOT NULL,
	run_id     text NOT NULL DEFAULT '',
	expires_at timestamptz NOT NULL
);
CREATE INDEX runs_started_at ON runbook.runs (started_at, id);`,
	// 3: silences of watch alerts, and their lines in the audit trail.
	`ALTER TABLE runbook.audit DROP CONSTRAINT IF EXISTS audit_action_check;
ALTER TABLE runbook.audit ADD CONSTRAINT audit_action_check
	CHECK (action IN ('enable', 'disable', 'silence', 'unsilence'));
CREATE TABLE runbook.silences (
	id        text PRIMARY KEY,
	checks    text[] NOT NULL DEFAULT '{}',
	reason    text NOT NULL,
	by_user   text NOT NULL,
	host      text NOT NULL,
	starts_at timestamptz NOT NULL,
	ends_at   timestamptz NOT NULL
);`,
}

// The procedure locks' lease: renewed every lockRenew while held, taken
// over once lockTTL passed without a renewal.
const (
	defaultLockTTL   = 30 * time.Second
	defaultLockRenew = 10 * time.Second
)

// stopLockKey serializes changes of the emergency stop.
var stopLockKey = lockKey("runbook emergency stop")

// SchemaVersion is the schema version this build of runbook creates.
var SchemaVersion = len(migrations)

// OpenPostgres connects to the database at dsn (a postgres:// URL or a
// key=value string; PGPASSWORD and ~/.pgpass are honoured), then creates or
// migrates the schema under a transaction-scoped advisory lock, so hosts
// starting at once do not race.
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Not wrapped: the parse error carries the connection string.
		return nil, errors.New("parse PostgreSQL state DSN: " + redactDSN(dsn, err.Error()))
	}
	cfg := pcfg.ConnConfig
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "runbook"
	}
	pcfg.MaxConns = poolSize
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, errors.New("open PostgreSQL state: " + redactDSN(dsn, err.Error()))
	}
	p := &Postgres{pool: pool, cfg: cfg, location: pgLocation(cfg), lockTTL: defaultLockTTL, lockRenew: defaultLockRenew}
	if err := p.migrate(ctx); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

// pgLocation renders a connection config as a URL without its password.
func pgLocation(cfg *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	switch {
	case strings.HasPrefix(cfg.Host, "/"):
		u.RawQuery = "host=" + url.QueryEscape(cfg.Host)
	case cfg.Port != 0 && cfg.Port != 5432:
		u.Host = cfg.Host + ":" + strconv.Itoa(int(cfg.Port))
	default:
		u.Host = cfg.Host
	}
	return u.String()
}

// redactDSN removes every password found in dsn from msg.
func redactDSN(dsn, msg string) string { return secret.MaskConn(msg, dsn) }

// Location returns the database as a URL, without the password.
func (p *Postgres) Location() string { return p.location }

// errorf wraps err with what failed and where, redacting nothing: pgx
// errors do not carry the password.
func (p *Postgres) errorf(what string, err error) error {
	return fmt.Errorf("%s in %s: %w", what, p.location, err)
}

// do runs fn on a pooled connection (pgxpool pings one that sat idle and
// replaces broken ones). An error that sent nothing to the server is
// retried once on another connection.
func (p *Postgres) do(ctx context.Context, fn func(*pgx.Conn) error) error {
	if p.closed.Load() {
		return errors.New("the state store is closed")
	}
	for attempt := 0; ; attempt++ {
		conn, err := p.pool.Acquire(ctx)
		if err != nil {
			return p.errorf("connect", err)
		}
		err = fn(conn.Conn())
		conn.Release()
		if err != nil && attempt == 0 && pgconn.SafeToRetry(err) {
			continue
		}
		return err
	}
}

// migrate brings the schema to SchemaVersion in one transaction.
func (p *Postgres) migrate(ctx context.Context) error {
	return p.do(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
				return p.errorf("lock the schema for migration", err)
			}
			if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS runbook;
CREATE TABLE IF NOT EXISTS runbook.schema_version (
	version    integer PRIMARY KEY,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
				return p.errorf("create the runbook schema", err)
			}
			var have int
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM runbook.schema_version`).Scan(&have); err != nil {
				return p.errorf("read the schema version", err)
			}
			if have > len(migrations) {
				return fmt.Errorf("the state schema in %s is at version %d, newer than this runbook knows (%d): upgrade runbook", p.location, have, len(migrations))
			}
			for v := have + 1; v <= len(migrations); v++ {
				if _, err := tx.Exec(ctx, migrations[v-1]); err != nil {
					return p.errorf(fmt.Sprintf("migrate the state schema to version %d", v), err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO runbook.schema_version (version) VALUES ($1)`, v); err != nil {
					return p.errorf("record the schema version", err)
				}
			}
			return nil
		})
	})
}

// SaveRun stores a run record (replacing one with the same id) and
// returns where it went. Call it with a context that is not cancelled to
// save an interrupted run.
func (p *Postgres) SaveRun(ctx context.Context, run *record.Run) (string, error) {
	data, err := json.Marshal(run)
	if err != nil {
		return "", fmt.Errorf("encode run record: %w", err)
	}
	err = p.do(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO runbook.runs (id, runbook, status, started_at, record)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET runbook = excluded.runbook, status = excluded.status,
	started_at = excluded.started_at, record = excluded.record`,
			run.ID, run.Runbook, run.Status, run.StartedAt, string(jsonbSafe(data)))
		return err
	})
	if err != nil {
		return "", p.errorf("save run "+run.ID, err)
	}
	return p.location + " (run " + run.ID + ")", nil
}

// jsonbSafe replaces the escape \u0000, which jsonb rejects, with \ufffd
// (the replacement character). Everything else is left as it is.
func jsonbSafe(data []byte) []byte {
	const nul, repl = `\u0000`, `\ufffd`
	if !strings.Contains(string(data), nul) {
		return data
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); i++ {
		if data[i] == '\\' && i+1 < len(data) {
			if strings.HasPrefix(string(data[i:]), nul) {
				out = append(out, repl...)
				i += len(nul) - 1
				continue
			}
			out = append(out, data[i], data[i+1]) // an escape pair: \\ stays \\
			i++
			continue
		}
		out = append(out, data[i])
	}
	return out
}

// RunIDs lists the stored run ids, oldest first (by started_at, then id).
func (p *Postgres) RunIDs(ctx context.Context) ([]string, error) {
	var ids []string
	err := p.do(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id FROM runbook.runs ORDER BY started_at, id`)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, p.errorf("list runs", err)
	}
	return ids, nil
}

// LoadRun loads a run by id (or unique id prefix), by "last" (the latest
// started_at), or by a path to a record file, and settles it (see Settle).
func (p *Postgres) LoadRun(ctx context.Context, ref string) (*record.Run, error) {
	if isRecordPath(ref) {
		return readRun(ref)
	}
	var data []byte
	var lookErr error
	err := p.do(ctx, func(c *pgx.Conn) error {
		query := `SELECT id FROM runbook.runs WHERE starts_with(id, $1) ORDER BY id LIMIT 3`
		args := []any{ref}
		if ref == "" || ref == "last" {
			query, args = `SELECT id FROM runbook.runs ORDER BY started_at DESC, id DESC LIMIT 1`, nil
		}
		rows, err := c.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		id, perr := pickRun(ids, ref, p.location)
		if perr != nil {
			lookErr = perr
			return nil
		}
		return c.QueryRow(ctx, `SELECT record FROM runbook.runs WHERE id = $1`, id).Scan(&data)
	})
	if err != nil {
		return nil, p.errorf("load run "+ref, err)
	}
	if lookErr != nil {
		return nil, lookErr
	}
	var run record.Run
	if err := json.Unmarshal(data, &run); err != nil {
		return nil, fmt.Errorf("parse run record %q from %s: %w", ref, p.location, err)
	}
	return Settle(&run), nil
}

// Stop returns the emergency stop's state.
func (p *Postgres) Stop(ctx context.Context) (StopState, error) {
	var st StopState
	var since *time.Time
	err := p.do(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT enabled, since, by_user, host, reason FROM runbook.stop`).
			Scan(&st.On, &since, &st.By, &st.Host, &st.Reason)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return StopState{}, p.stopRowMissing()
	}
	if err != nil {
		return StopState{}, p.errorf("read the emergency stop", err)
	}
	if since != nil {
		st.Since = since.UTC()
	}
	return st, nil
}

// stopRowMissing is the error for a database whose stop row was deleted.
func (p *Postgres) stopRowMissing() error {
	return &DamagedStopError{Where: p.location, Err: errors.New("the row of runbook.stop is missing")}
}

// SetStop turns the emergency stop on or off (see ChangeStop).
func (p *Postgres) SetStop(ctx context.Context, on bool, entry AuditEntry) (StopState, error) {
	c, err := p.ChangeStop(ctx, StopRequest{On: on, Entry: entry})
	return c.After, err
}

// ChangeStop turns the emergency stop on or off. One transaction, under an
// advisory lock, reads the stop's row, appends the audit row and updates
// the flag, so the trail's order is the order of the changes, across
// hosts. A zero entry time becomes the database's clock, taken under the
// lock, and no entry is ever earlier than the one before it. With Force a
// missing stop row is put back.
func (p *Postgres) ChangeStop(ctx context.Context, req StopRequest) (StopChange, error) {
	entry, err := completeEntry(req.On, req.Entry, nil)
	if err != nil {
		return StopChange{}, err
	}
	var at *time.Time
	if !entry.Time.IsZero() {
		at = &entry.Time
	}
	var before StopState
	var damaged error
	err = p.do(ctx, func(c *pgx.Conn) error {
		damaged = nil
		e := entry
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, stopLockKey); err != nil {
				return err
			}
			var since *time.Time
			before = StopState{}
			err := tx.QueryRow(ctx, `SELECT enabled, since, by_user, host, reason FROM runbook.stop FOR UPDATE`).
				Scan(&before.On, &since, &before.By, &before.Host, &before.Reason)
			if errors.Is(err, pgx.ErrNoRows) {
				if !req.Force {
					damaged = p.stopRowMissing()
					return damaged
				}
				if _, err := tx.Exec(ctx, `INSERT INTO runbook.stop DEFAULT VALUES`); err != nil {
					return err
				}
				e.Repair = "put back the missing row of runbook.stop"
			} else if err != nil {
				return err
			}
			if since != nil {
				before.Since = since.UTC()
			}
			var t time.Time
			err = tx.QueryRow(ctx, `INSERT INTO runbook.audit (time, action, "user", host, reason, repair)
VALUES (greatest(coalesce($1, clock_timestamp()), (SELECT max(time) FROM runbook.audit)), $2, $3, $4, $5, $6) RETURNING time`,
				at, e.Action, e.User, e.Host, e.Reason, e.Repair).Scan(&t)
			if err != nil {
				return err
			}
			e.Time = t.UTC()
			_, err = tx.Exec(ctx, `UPDATE runbook.stop SET enabled = $1, since = $2, by_user = $3, host = $4, reason = $5`,
				req.On, e.Time, e.User, e.Host, e.Reason)
			return err
		})
		if err == nil {
			entry = e
		}
		return err
	})
	if damaged != nil {
		return StopChange{}, damaged
	}
	if err != nil {
		return StopChange{}, p.errorf(entry.Action+" the emergency stop", err)
	}
	return StopChange{Before: before, After: entry.state(), Entry: entry}, nil
}

// Audit returns the audit trail, oldest first.
func (p *Postgres) Audit(ctx context.Context) ([]AuditEntry, error) {
	var out []AuditEntry
	err := p.do(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT time, action, "user", host, reason, repair FROM runbook.audit ORDER BY id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
			var e AuditEntry
			err := r.Scan(&e.Time, &e.Action, &e.User, &e.Host, &e.Reason, &e.Repair)
			e.Time = e.Time.UTC()
			return e, err
		})
		return err
	})
	if err != nil {
		return nil, p.errorf("read the audit trail", err)
	}
	return out, nil
}

// LoadWatch returns the saved state of a watch, or nil when there is none.
func (p *Postgres) LoadWatch(ctx context.Context, key string) ([]byte, error) {
	var data []byte
	err := p.do(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT data FROM runbook.watch WHERE key = $1`, key).Scan(&data)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, p.errorf(fmt.Sprintf("load watch state %q", key), err)
	}
	return data, nil
}

// SaveWatch saves a watch's state.
func (p *Postgres) SaveWatch(ctx context.Context, key string, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	err := p.do(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO runbook.watch (key, data, updated_at) VALUES ($1, $2, now())
ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`, key, data)
		return err
	})
	if err != nil {
		return p.errorf(fmt.Sprintf("save watch state %q", key), err)
	}
	return nil
}

// Lead tries pg_try_advisory_lock for key on a connection of its own and
// keeps that connection (and so the lock) until release is called, the
// store is closed, or the process dies. Calling it again for a key it
// leads pings that connection, and competes again if it was lost.
func (p *Postgres) Lead(ctx context.Context, key string) (bool, func(), error) {
	noop := func() {}
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.leases[key]; ok {
		if err := c.Ping(ctx); err == nil {
			return true, p.releaser(key, c), nil
		}
		delete(p.leases, key)
		c.Close(ctx)
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		return false, noop, p.errorf("connect for the lead lease", err)
	}
	var got bool
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, lockKey("runbook lead: "+key)).Scan(&got); err != nil {
		c.Close(ctx)
		return false, noop, p.errorf(fmt.Sprintf("take the lead lease %q", key), err)
	}
	if !got {
		c.Close(ctx)
		return false, noop, nil
	}
	if p.leases == nil {
		p.leases = map[string]*pgx.Conn{}
	}
	p.leases[key] = c
	return true, p.releaser(key, c), nil
}

// releaser returns the function that ends the lease on key held by c:
// closing the session releases its advisory lock.
func (p *Postgres) releaser(key string, c *pgx.Conn) func() {
	return func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.leases[key] != c {
			return
		}
		delete(p.leases, key)
		closeConn(c)
	}
}

// closeConn ends a lease's session. It unlocks first: the server releases
// a closed session's locks only once it has noticed the close, and the
// next leader must not depend on that race.
func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = c.Exec(ctx, "SELECT pg_advisory_unlock_all()")
	_ = c.Close(ctx)
}

// Close ends every lease, releases every procedure lock and closes the
// connections.
func (p *Postgres) Close() error {
	p.mu.Lock()
	for key, c := range p.leases {
		delete(p.leases, key)
		closeConn(c)
	}
	locks := make([]*Lock, 0, len(p.locks))
	for l := range p.locks {
		locks = append(locks, l)
	}
	p.mu.Unlock()
	for _, l := range locks {
		l.Release()
	}
	if !p.closed.Swap(true) {
		p.pool.Close()
	}
	return nil
}

// ---- Silences (runbook silence; watch reads them every cycle) ----

// AddSilence stores a silence and appends its audit row in one
// transaction, deleting the silences that have ended.
func (p *Postgres) AddSilence(ctx context.Context, s Silence) (Silence, error) {
	s, err := completeSilence(s, time.Now())
	if err != nil {
		return Silence{}, err
	}
	e := silenceAudit(s, ActionSilence, AuditEntry{})
	checks := s.Checks
	if checks == nil {
		checks = []string{}
	}
	err = p.do(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM runbook.silences WHERE ends_at <= now()`); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO runbook.silences (id, checks, reason, by_user, host, starts_at, ends_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, s.ID, checks, s.Reason, s.By, s.Host, s.Start, s.End); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO runbook.audit (time, action, "user", host, reason) VALUES ($1, $2, $3, $4, $5)`,
				e.Time, e.Action, e.User, e.Host, e.Reason)
			return err
		})
	})
	if err != nil {
		return Silence{}, p.errorf("add silence "+s.ID, err)
	}
	return s, nil
}

// Silences returns the silences that have not ended, by start.
func (p *Postgres) Silences(ctx context.Context) ([]Silence, error) {
	var out []Silence
	err := p.do(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, checks, reason, by_user, host, starts_at, ends_at FROM runbook.silences
WHERE ends_at > now() ORDER BY starts_at, id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanSilence)
		return err
	})
	if err != nil {
		return nil, p.errorf("read the silences", err)
	}
	return out, nil
}

func scanSilence(r pgx.CollectableRow) (Silence, error) {
	var s Silence
	err := r.Scan(&s.ID, &s.Checks, &s.Reason, &s.By, &s.Host, &s.Start, &s.End)
	if len(s.Checks) == 0 {
		s.Checks = nil
	}
	s.Start, s.End = s.Start.UTC(), s.End.UTC()
	return s, err
}

// RemoveSilence deletes a silence that has not ended and appends its
// audit row in one transaction.
func (p *Postgres) RemoveSilence(ctx context.Context, id string, entry AuditEntry) (Silence, error) {
	if strings.TrimSpace(entry.User) == "" || strings.TrimSpace(entry.Host) == "" {
		return Silence{}, errors.New("remove silence: who removes it and from which host are required")
	}
	var s Silence
	var missing bool
	err := p.do(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `DELETE FROM runbook.silences WHERE id = $1 AND ends_at > now()
RETURNING id, checks, reason, by_user, host, starts_at, ends_at`, id)
			if err != nil {
				return err
			}
			got, err := pgx.CollectRows(rows, scanSilence)
			if err != nil {
				return err
			}
			if len(got) == 0 {
				missing = true
				return nil
			}
			s = got[0]
			e := silenceAudit(s, ActionUnsilence, entry)
			var at *time.Time
			if !entry.Time.IsZero() {
				t := entry.Time.UTC()
				at = &t
			}
			_, err = tx.Exec(ctx, `INSERT INTO runbook.audit (time, action, "user", host, reason)
VALUES (coalesce($1, clock_timestamp()), $2, $3, $4, $5)`, at, e.Action, e.User, e.Host, e.Reason)
			return err
		})
	})
	if err != nil {
		return Silence{}, p.errorf("remove silence "+id, err)
	}
	if missing {
		return Silence{}, fmt.Errorf("no silence %q in %s (runbook silence list shows them)", id, p.location)
	}
	return s, nil
}
