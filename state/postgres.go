package state

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/runbookhq/runbook/internal/secret"
	"github.com/runbookhq/runbook/record"
)

// Postgres is a state store in a PostgreSQL database, shared by every host
// that points --state (or RUNBOOK_STATE) at it. Its tables live in the
// schema "runbook", which `runbook state migrate` (Migrate) creates and
// upgrades; opening the store only checks the schema's version (and
// migrates it only when it is behind and the role may).
//
// Every call goes through one small long-lived pgxpool pool per store,
// under a deadline (PostgresOptions.Timeout), and is retried with backoff
// when it could not reach the server (a connection error, 53300 too many
// connections) and retrying is safe. The watch lead (Lead) and the
// procedure locks (Acquire) are leases: rows with an expiry, renewed over
// the same pool, so they work through any pooler and free themselves when
// their holder goes silent.
type Postgres struct {
	pool     *pgxpool.Pool
	cfg      *pgx.ConnConfig
	location string
	closed   atomic.Bool

	// timeout bounds each call (see PostgresOptions.Timeout), probe each
	// call while the store is unreachable (PostgresOptions.ProbeTimeout).
	timeout, probe time.Duration

	schemaMu sync.Mutex  // one schema check at a time
	schemaOK atomic.Bool // the schema is at SchemaVersion

	reachMu sync.Mutex
	reach   Reachability

	mu     sync.Mutex // guards leases and locks
	leases map[string]*Lease
	locks  map[*Lock]struct{}

	// lockTTL is how long a procedure lock's lease lasts without renewal;
	// lockRenew how often its holder renews it. Tests shorten them.
	lockTTL, lockRenew time.Duration
	// leaseTTL and leaseRenew are the same for the watch lead.
	leaseTTL, leaseRenew time.Duration
}

// PostgresOptions tune a Postgres store; the zero value is the defaults.
type PostgresOptions struct {
	// Timeout bounds each call on the store, from taking a connection
	// (connecting, when none is idle) to the commit, retries included.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// ConnectTimeout bounds each connection attempt, unless the DSN sets
	// connect_timeout. Zero means DefaultConnectTimeout (or Timeout, when
	// that is shorter).
	ConnectTimeout time.Duration
	// LeaseTTL is how long the watch lead lasts without renewal, and
	// LeaseRenew how often its holder renews it. Zero means
	// DefaultLeaseTTL and a third of LeaseTTL.
	LeaseTTL, LeaseRenew time.Duration
	// LockTTL and LockRenew are the same for procedure locks. Zero means
	// 30 s and 10 s.
	LockTTL, LockRenew time.Duration
	// ProbeTimeout bounds each call once the store has been found
	// unreachable in this process (a call failed for want of an answer),
	// until one answers again: such a call is a single attempt, not
	// retried, so that a command whose state is down spools its records
	// at once. It also bounds the first contact of a Lazy open. Zero means
	// DefaultProbeTimeout (or Timeout, when that is shorter).
	ProbeTimeout time.Duration
	// Lazy opens the store even when the database cannot be reached: the
	// first call that reaches it checks the schema. For commands that
	// must go on without the state (check, watch). The first contact is a
	// single attempt bounded by ProbeTimeout.
	Lazy bool
	// MinConns is how many connections the pool keeps open even when
	// idle: 0 for a command that ends soon, 2 for `runbook watch` (its
	// cycles and its lease's renewals), so that a long-lived process
	// opens no new connection in steady state.
	MinConns int
	// ForMigration opens the store without looking at the schema, for
	// Migrate: every other call checks it first.
	ForMigration bool
}

// Defaults of PostgresOptions.
const (
	DefaultTimeout        = 10 * time.Second
	DefaultConnectTimeout = 5 * time.Second
	DefaultLeaseTTL       = 15 * time.Second
	DefaultProbeTimeout   = 2 * time.Second
)

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
	// 4: the watch lead as a lease with a generation (fencing token).
	`CREATE TABLE runbook.leases (
	key        text PRIMARY KEY,
	holder     text NOT NULL,
	host       text NOT NULL,
	pid        integer NOT NULL,
	generation bigint NOT NULL,
	since      timestamptz NOT NULL,
	expires_at timestamptz NOT NULL
);`,
	// 5: the console: questions of running runs, access tokens.
	`CREATE TABLE runbook.questions (
	run_id   text NOT NULL,
	step     text NOT NULL,
	kind     text NOT NULL,
	state    text NOT NULL,
	asked_at timestamptz NOT NULL,
	reply    jsonb,
	PRIMARY KEY (run_id, step)
);
CREATE TABLE runbook.tokens (
	name      text PRIMARY KEY,
	role      text NOT NULL CHECK (role IN ('viewer', 'operator')),
	hash      text NOT NULL UNIQUE,
	created   timestamptz NOT NULL,
	last_used timestamptz
);`,
	// 6: stop changes made during an exercise (drills).
	`ALTER TABLE runbook.audit ADD COLUMN exercise text NOT NULL DEFAULT '';
ALTER TABLE runbook.stop ADD COLUMN exercise text NOT NULL DEFAULT '';`,
	// 7: runs' journals, chains of events: append-only.
	`CREATE TABLE runbook.run_events (
	run_id      text NOT NULL,
	seq         bigint NOT NULL CHECK (seq > 0),
	type        text NOT NULL,
	item        text NOT NULL DEFAULT '',
	recorded_at timestamptz NOT NULL,
	hash        text NOT NULL,
	event       text NOT NULL,
	PRIMARY KEY (run_id, seq)
);
CREATE FUNCTION runbook.run_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'runbook.run_events is append-only';
END
$$;
CREATE TRIGGER run_events_append_only BEFORE UPDATE OR DELETE ON runbook.run_events
	FOR EACH ROW EXECUTE FUNCTION runbook.run_events_append_only();
CREATE TRIGGER run_events_no_truncate BEFORE TRUNCATE ON runbook.run_events
	FOR EACH STATEMENT EXECUTE FUNCTION runbook.run_events_append_only();`,
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

// OpenPostgres opens the store at dsn with the default options (see
// OpenPostgresWith).
func OpenPostgres(ctx context.Context, dsn string) (*Postgres, error) {
	return OpenPostgresWith(ctx, dsn, PostgresOptions{})
}

// OpenPostgresWith connects to the database at dsn (a postgres:// URL or a
// key=value string; PGPASSWORD and ~/.pgpass are honoured) and checks the
// schema's version. A database without the schema gets it (when the role
// may create it: the first use of a database); a schema behind this build
// is refused with a message naming `runbook state migrate` (see Migrate),
// so that no host upgrades a fleet's schema by surprise; a newer one is
// refused too. With opts.Lazy a database that cannot
// be reached is not an error: the store opens, reports itself unreachable
// (Reachability), and checks the schema once it gets through.
func OpenPostgresWith(ctx context.Context, dsn string, opts PostgresOptions) (*Postgres, error) {
	pcfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// Not wrapped: the parse error carries the connection string.
		return nil, errors.New("parse PostgreSQL state DSN: " + redactDSN(dsn, err.Error()))
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ProbeTimeout <= 0 {
		opts.ProbeTimeout = DefaultProbeTimeout
	}
	opts.ProbeTimeout = min(opts.ProbeTimeout, opts.Timeout)
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = min(DefaultConnectTimeout, opts.Timeout)
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.LeaseRenew <= 0 || opts.LeaseRenew >= opts.LeaseTTL {
		opts.LeaseRenew = opts.LeaseTTL / 3
	}
	if opts.LockTTL <= 0 {
		opts.LockTTL = defaultLockTTL
	}
	if opts.LockRenew <= 0 || opts.LockRenew >= opts.LockTTL {
		opts.LockRenew = min(defaultLockRenew, opts.LockTTL/3)
	}
	cfg := pcfg.ConnConfig
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = opts.ConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "runbook"
	}
	// The server notices a vanished client within a minute, and never
	// lets one that froze inside a transaction hold its locks for long.
	// Set once connected, not as startup parameters, which PgBouncer
	// refuses; best effort.
	var sets []string
	for _, kv := range [][2]string{
		{"tcp_keepalives_idle", "15"},
		{"tcp_keepalives_interval", "5"},
		{"tcp_keepalives_count", "3"},
		{"idle_in_transaction_session_timeout", strconv.Itoa(int(max(opts.Timeout, 5*time.Second).Milliseconds()))},
	} {
		if _, ok := cfg.RuntimeParams[kv[0]]; !ok {
			sets = append(sets, "SET "+kv[0]+" = "+kv[1])
		}
	}
	if len(sets) > 0 {
		setSQL := strings.Join(sets, "; ")
		pcfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, _ = c.Exec(ctx, setSQL)
			return nil
		}
	}
	if cfg.DialFunc == nil {
		d := &net.Dialer{KeepAlive: 15 * time.Second}
		cfg.DialFunc = d.DialContext
	}
	pcfg.MaxConns = poolSize
	pcfg.MinConns = int32(min(max(opts.MinConns, 0), poolSize))
	pcfg.MaxConnIdleTime = 30 * time.Minute
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, errors.New("open PostgreSQL state: " + redactDSN(dsn, err.Error()))
	}
	p := &Postgres{
		pool: pool, cfg: cfg, location: pgLocation(cfg), timeout: opts.Timeout, probe: opts.ProbeTimeout,
		lockTTL: opts.LockTTL, lockRenew: opts.LockRenew,
		leaseTTL: opts.LeaseTTL, leaseRenew: opts.LeaseRenew,
		reach: Reachability{Reachable: true},
	}
	if opts.ForMigration {
		return p, nil
	}
	cctx, timeout := ctx, p.timeout
	if opts.Lazy {
		// A command that goes on without the state does not wait for it:
		// one short attempt, then it is unreachable (see ProbeTimeout).
		cctx, timeout = probing(ctx), p.probe
	}
	cctx, cancel := context.WithTimeout(cctx, timeout)
	defer cancel()
	if err := p.ensureSchema(cctx); err != nil {
		if opts.Lazy && unreachable(err) {
			return p, nil
		}
		p.Close()
		return nil, err
	}
	return p, nil
}

// pgLocation renders a connection config as a URL without its password,
// naming the server (host and port, or socket directory and port) and the
// database: it names the state in messages and in the spool.
func pgLocation(cfg *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", Path: "/" + cfg.Database}
	if cfg.User != "" {
		u.User = url.User(cfg.User)
	}
	switch {
	case strings.HasPrefix(cfg.Host, "/"):
		// The socket is the directory and the port: two servers on one
		// host differ by port only.
		u.RawQuery = "host=" + url.QueryEscape(cfg.Host)
		if cfg.Port != 0 && cfg.Port != 5432 {
			u.RawQuery += "&port=" + strconv.Itoa(int(cfg.Port))
		}
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

// do runs fn on a pooled connection under the store's deadline, once the
// schema is known to be current. A call that did not reach the server
// (a connection error, 53300 too many connections: nothing was sent) is
// retried with backoff until the deadline.
func (p *Postgres) do(ctx context.Context, fn func(*pgx.Conn) error) error {
	return p.call(ctx, false, fn)
}

// read is do for calls that change nothing (or write the same thing
// again): they are also retried after a connection lost mid-call.
func (p *Postgres) read(ctx context.Context, fn func(*pgx.Conn) error) error {
	return p.call(ctx, true, fn)
}

func (p *Postgres) call(ctx context.Context, idempotent bool, fn func(*pgx.Conn) error) error {
	if p.closed.Load() {
		return errors.New("the state store is closed")
	}
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	if err := p.ensureSchema(ctx); err != nil {
		return err
	}
	return p.attempt(ctx, idempotent, fn)
}

// deadline bounds a call: the store's timeout, or its probe timeout while
// it is unreachable (see PostgresOptions.ProbeTimeout).
func (p *Postgres) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	d := p.timeout
	if !p.Reachability().Reachable {
		d = p.probe
	}
	return context.WithTimeout(ctx, d)
}

// probeKey marks a context whose call is a single attempt: see probing.
type probeKey struct{}

// probing marks ctx so that its call is tried once, not retried.
func probing(ctx context.Context) context.Context { return context.WithValue(ctx, probeKey{}, true) }

// attempt runs fn, retrying as do says, and notes whether the server was
// reached. While the store is unreachable (and for a probing context) it
// is a single attempt: the first call that gets an answer makes the
// store reachable again.
func (p *Postgres) attempt(ctx context.Context, idempotent bool, fn func(*pgx.Conn) error) error {
	once, _ := ctx.Value(probeKey{}).(bool)
	once = once || !p.Reachability().Reachable
	backoff := 50 * time.Millisecond
	for {
		conn, err := p.pool.Acquire(ctx)
		if err == nil {
			err = fn(conn.Conn())
			conn.Release()
		} else {
			err = &connectError{err: err}
		}
		p.noteReach(err)
		if err == nil || once || ctx.Err() != nil || !retryable(err, idempotent) {
			if err != nil && ctx.Err() != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				err = fmt.Errorf("%w (%w)", err, ctx.Err())
			}
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (%w)", err, ctx.Err())
		case <-time.After(backoff + time.Duration(rand.Int64N(int64(backoff)))):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// connectError is a failure to get a connection: nothing was sent.
type connectError struct{ err error }

func (e *connectError) Error() string { return "connect: " + e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// retryable reports whether a failed call may be tried again: it never
// reached the server, or the server refused it for lack of connections,
// or (idempotent) the connection broke under it.
func retryable(err error, idempotent bool) bool {
	var ce *connectError
	if errors.As(err, &ce) || pgconn.SafeToRetry(err) {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return transientCode(pe.Code)
		}
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return transientCode(pe.Code)
	}
	return idempotent && unreachable(err)
}

// transientCode reports whether a server error says "not now": too many
// connections, the server starting or shutting down, an administrator's
// termination, a connection failure.
func transientCode(code string) bool {
	switch code {
	case "53300", "57P01", "57P02", "57P03":
		return true
	}
	return strings.HasPrefix(code, "08")
}

// unreachable reports whether err means the server was not reached or
// stopped answering: no connection could be had, the connection broke or
// was closed, a network error or a timeout, or a server error that says
// "not now" (see transientCode). An answer is not: a server error such as
// a permission error, no rows (pgx.ErrNoRows), a value that does not scan.
func unreachable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return transientCode(pe.Code)
	}
	var se *SchemaError
	if errors.As(err, &se) {
		return false
	}
	var ce *connectError
	var pce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &pce) || errors.As(err, &ne) ||
		pgconn.Timeout(err) || pgconn.SafeToRetry(err) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE)
}

// noteReach records whether a call reached the server.
func (p *Postgres) noteReach(err error) {
	now := time.Now()
	p.reachMu.Lock()
	defer p.reachMu.Unlock()
	if err == nil || !unreachable(err) {
		p.reach = Reachability{Reachable: true, LastContact: now}
		return
	}
	if errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return // the caller gave up: says nothing about the server
	}
	if p.reach.Reachable {
		p.reach.Reachable = false
		p.reach.Since = now
	}
	p.reach.Err = err.Error()
}

// Reachability says whether the database answered the last call, and
// since when it has not.
func (p *Postgres) Reachability() Reachability {
	p.reachMu.Lock()
	defer p.reachMu.Unlock()
	return p.reach
}

// SchemaError is a schema this runbook cannot use as it is: missing (and
// the role may not create it), behind (`runbook state migrate` upgrades
// it), or newer than this build.
type SchemaError struct {
	Where      string
	Have, Want int
	Role       string
	Err        error
}

func (e *SchemaError) Error() string {
	if e.Have > e.Want {
		return fmt.Sprintf("the state schema in %s is at version %d, newer than this runbook knows (%d): upgrade runbook", e.Where, e.Have, e.Want)
	}
	if e.Have == 0 {
		return fmt.Sprintf("the state schema in %s does not exist yet, and role %q may not create it (%v): run `runbook state migrate --state %s` once as the role that is to own the schema",
			e.Where, e.Role, e.Err, e.Where)
	}
	return fmt.Sprintf("the state schema in %s is at version %d and this runbook needs version %d: run `runbook state migrate --state %s` once as the role that owns the schema (hosts running an older runbook refuse the upgraded schema: upgrade them together)",
		e.Where, e.Have, e.Want, e.Where)
}

func (e *SchemaError) Unwrap() error { return e.Err }

// ensureSchema checks, once per store, that the schema is at
// SchemaVersion, migrating it when it is behind and the role may.
func (p *Postgres) ensureSchema(ctx context.Context) error {
	if p.schemaOK.Load() {
		return nil
	}
	p.schemaMu.Lock()
	defer p.schemaMu.Unlock()
	if p.schemaOK.Load() {
		return nil
	}
	have, err := p.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if have > len(migrations) {
		return &SchemaError{Where: p.location, Have: have, Want: len(migrations)}
	}
	if have > 0 && have < len(migrations) {
		return &SchemaError{Where: p.location, Have: have, Want: len(migrations), Role: p.cfg.User}
	}
	if have == 0 {
		if err := p.migrate(ctx); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "42501" {
				return &SchemaError{Where: p.location, Have: have, Want: len(migrations), Role: p.cfg.User, Err: err}
			}
			return err
		}
	}
	p.schemaOK.Store(true)
	return nil
}

// schemaVersion reads the schema's version: 0 when there is none.
func (p *Postgres) schemaVersion(ctx context.Context) (int, error) {
	var have int
	err := p.attempt(ctx, true, func(c *pgx.Conn) error {
		var exists bool
		if err := c.QueryRow(ctx, `SELECT to_regclass('runbook.schema_version') IS NOT NULL`).Scan(&exists); err != nil || !exists {
			return err
		}
		return c.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM runbook.schema_version`).Scan(&have)
	})
	if err != nil {
		return 0, p.errorf("read the state schema version", err)
	}
	return have, nil
}

// Migrate creates the schema or brings it to SchemaVersion, in one
// transaction under an advisory lock (hosts starting at once wait for each
// other). It needs a role that may create the schema (the first time) or
// owns it: `runbook state migrate`. It returns the versions before and
// after.
func (p *Postgres) Migrate(ctx context.Context) (from, to int, err error) {
	ctx, cancel := context.WithTimeout(ctx, max(p.timeout, time.Minute))
	defer cancel()
	p.schemaMu.Lock()
	defer p.schemaMu.Unlock()
	from, err = p.schemaVersion(ctx)
	if err != nil {
		return 0, 0, err
	}
	if from > len(migrations) {
		return from, from, &SchemaError{Where: p.location, Have: from, Want: len(migrations)}
	}
	if err := p.migrate(ctx); err != nil {
		return from, from, err
	}
	p.schemaOK.Store(true)
	return from, len(migrations), nil
}

// migrate brings the schema to SchemaVersion in one transaction.
func (p *Postgres) migrate(ctx context.Context) error {
	return p.attempt(ctx, false, func(c *pgx.Conn) error {
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

// AppGrants are the privileges the role of ordinary commands needs on a
// migrated schema, as SQL with %s for the role's quoted name: no DELETE
// but of ended silences, no TRUNCATE, no CREATE, no ownership, and the
// audit trail and the runs' journals (run_events) append-only.
const AppGrants = `GRANT USAGE ON SCHEMA runbook TO %[1]s;
GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA runbook TO %[1]s;
REVOKE UPDATE ON runbook.audit FROM %[1]s;
REVOKE UPDATE ON runbook.run_events FROM %[1]s;
GRANT DELETE ON runbook.silences TO %[1]s;
GRANT DELETE ON runbook.tokens TO %[1]s;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA runbook TO %[1]s;`

// Grant gives role the privileges of AppGrants, in one transaction. Run
// it as the schema's owner, after Migrate (again after a migration that
// adds tables).
func (p *Postgres) Grant(ctx context.Context, role string) error {
	if role == "" {
		return errors.New("grant: empty role name")
	}
	sql := fmt.Sprintf(AppGrants, pgx.Identifier{role}.Sanitize())
	err := p.attempt(ctx, false, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql)
			return err
		})
	})
	if err != nil {
		return p.errorf(fmt.Sprintf("grant role %q the privileges of runbook's commands", role), err)
	}
	return nil
}

// SaveRun stores a run record (replacing one with the same id, unless
// that one is final and this one is not: see Final) and returns where it
// went. Call it with a context that is not cancelled to
// save an interrupted run.
func (p *Postgres) SaveRun(ctx context.Context, run *record.Run) (string, error) {
	data, err := record.MarshalRun(run)
	if err != nil {
		return "", fmt.Errorf("encode run record: %w", err)
	}
	return p.SaveEncodedRun(ctx, run, record.Encoded(data))
}

// SaveEncodedRun is SaveRun of the record enc, already encoded (see
// EncodedRunSaver).
func (p *Postgres) SaveEncodedRun(ctx context.Context, run *record.Run, enc record.EncodedRun) (string, error) {
	// Like the directory store, not given up when ctx is cancelled (the
	// record of an interrupted run or watch cycle), but bounded by ctx's
	// deadline, if it has one, and by the store's own.
	// A spooled record being flushed (see attached) is not detached: it
	// stays spooled.
	detached := context.WithoutCancel(ctx)
	if isAttached(ctx) {
		detached = ctx
	} else if d, ok := ctx.Deadline(); ok {
		var cancelD context.CancelFunc
		detached, cancelD = context.WithDeadline(detached, d)
		defer cancelD()
	}
	ctx, cancel := p.deadline(detached)
	defer cancel()
	data := enc.Bytes()
	// A final record is never replaced by one that is not: the condition
	// is checked by the row's own update, so no save can land between the
	// look and the write. Go writes a zero finish time as
	// 0001-01-01T00:00:00Z.
	err := p.read(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO runbook.runs (id, runbook, status, started_at, record)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (id) DO UPDATE SET runbook = excluded.runbook, status = excluded.status,
	started_at = excluded.started_at, record = excluded.record
WHERE $6 OR coalesce(runbook.runs.record->>'finished_at', '') IN ('', '0001-01-01T00:00:00Z')`,
			run.ID, run.Runbook, run.Status, run.StartedAt, string(jsonbSafe(data)), Final(run))
		if err != nil {
			return err
		}
		_, err = c.Exec(ctx, `SELECT pg_notify($1, $2)`, NotifyChannel, "run "+run.ID)
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	var ids []string
	err := p.read(ctx, func(c *pgx.Conn) error {
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	if isRecordPath(ref) {
		return readRun(ref)
	}
	var data []byte
	var lookErr error
	err := p.read(ctx, func(c *pgx.Conn) error {
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	var st StopState
	var since *time.Time
	err := p.read(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT enabled, since, by_user, host, reason, exercise FROM runbook.stop`).
			Scan(&st.On, &since, &st.By, &st.Host, &st.Reason, &st.Exercise)
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
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
			err := tx.QueryRow(ctx, `SELECT enabled, since, by_user, host, reason, exercise FROM runbook.stop FOR UPDATE`).
				Scan(&before.On, &since, &before.By, &before.Host, &before.Reason, &before.Exercise)
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
			err = tx.QueryRow(ctx, `INSERT INTO runbook.audit (time, action, "user", host, reason, repair, exercise)
VALUES (greatest(coalesce($1, clock_timestamp()), (SELECT max(time) FROM runbook.audit)), $2, $3, $4, $5, $6, $7) RETURNING time`,
				at, e.Action, e.User, e.Host, e.Reason, e.Repair, e.Exercise).Scan(&t)
			if err != nil {
				return err
			}
			e.Time = t.UTC()
			_, err = tx.Exec(ctx, `UPDATE runbook.stop SET enabled = $1, since = $2, by_user = $3, host = $4, reason = $5, exercise = $6`,
				req.On, e.Time, e.User, e.Host, e.Reason, e.Exercise)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, 'stop')`, NotifyChannel)
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	var out []AuditEntry
	err := p.read(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT time, action, "user", host, reason, repair, exercise FROM runbook.audit ORDER BY id`)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
			var e AuditEntry
			err := r.Scan(&e.Time, &e.Action, &e.User, &e.Host, &e.Reason, &e.Repair, &e.Exercise)
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	var data []byte
	err := p.read(ctx, func(c *pgx.Conn) error {
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	if data == nil {
		data = []byte{}
	}
	err := p.read(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO runbook.watch (key, data, updated_at) VALUES ($1, $2, now())
ON CONFLICT (key) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`, key, data)
		return err
	})
	if err != nil {
		return p.errorf(fmt.Sprintf("save watch state %q", key), err)
	}
	return nil
}

// Close ends every lease, releases every procedure lock and closes the
// connections.
func (p *Postgres) Close() error {
	p.mu.Lock()
	leases := make([]*Lease, 0, len(p.leases))
	for _, l := range p.leases {
		leases = append(leases, l)
	}
	locks := make([]*Lock, 0, len(p.locks))
	for l := range p.locks {
		locks = append(locks, l)
	}
	p.mu.Unlock()
	for _, l := range leases {
		l.Release()
	}
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	var out []Silence
	err := p.read(ctx, func(c *pgx.Conn) error {
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
	ctx, cancel := p.deadline(ctx)
	defer cancel()
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
