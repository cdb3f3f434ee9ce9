// Package sql is the `sql` check provider: it runs one PostgreSQL query
// and returns its rows.
//
// Queries run in READ ONLY transactions unless the block says
// `read_only = false`, arguments are bound as $1, $2 … and never spliced
// into the text, and a deadline cancels the query on the server. One
// pgxpool per DSN (and mode) serves the whole run. Passwords never appear
// in errors or descriptions.
package sql

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/internal/secret"
)

// DefaultMaxRows is how many rows a result keeps unless max_rows says
// otherwise.
const DefaultMaxRows = 1000

// cancelGrace is how long a canceled query may take to stop on the server
// before its connection is cut.
const cancelGrace = 500 * time.Millisecond

// maxIdle is how long a connection may sit idle before it is closed
// rather than reused (a `watch` between cycles, a firewall's idle cut).
const maxIdle = 30 * time.Minute

// readOnlyParam is the session setting that makes every transaction of a
// read-only check's connection READ ONLY.
const readOnlyParam = "default_transaction_read_only"

var (
	_ checks.Provider   = (*Provider)(nil)
	_ checks.Typed      = (*Provider)(nil)
	_ checks.Documented = (*Provider)(nil)
	_ checks.Describer  = (*Provider)(nil)
	_ checks.Validator  = (*Provider)(nil)
	_ io.Closer         = (*Provider)(nil)
)

// Provider runs PostgreSQL queries. It keeps one pgxpool per DSN and
// mode for the length of a run; Close closes them.
type Provider struct {
	// PoolSize bounds the connections of each pool; zero means
	// max(4, number of CPUs).
	PoolSize int

	pools checks.LazyMap[poolKey, *pool]

	targets    sync.Map // DSN → where Describe says it runs
	numTargets atomic.Int64
}

// maxTargets bounds the DSNs whose targets a Provider keeps.
const maxTargets = 1024

// pool is one server's connections and the name errors give that server.
type pool struct {
	conns  *pgxpool.Pool
	target string

	// plainStartup is set once a read-only pool's server refused
	// default_transaction_read_only in the startup message, as PgBouncer
	// does: its connections open without it, and queries take the
	// BEGIN READ ONLY path.
	plainStartup atomic.Bool
}

// poolKey picks a pool: read-only checks and read-write ones never share
// a connection.
type poolKey struct {
	dsn      string
	readOnly bool
}

// New returns a Provider; it is the provider's checks.Factory.
func New() checks.Provider { return &Provider{} }

// Schema describes the `sql` block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"dsn":       &hcldec.AttrSpec{Name: "dsn", Type: cty.String, Required: true},
		"query":     &hcldec.AttrSpec{Name: "query", Type: cty.String, Required: true},
		"args":      &hcldec.AttrSpec{Name: "args", Type: cty.DynamicPseudoType},
		"read_only": &hcldec.AttrSpec{Name: "read_only", Type: cty.Bool},
		"timeout":   &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		"max_rows":  &hcldec.AttrSpec{Name: "max_rows", Type: cty.Number},
		"max_bytes": &hcldec.AttrSpec{Name: "max_bytes", Type: cty.Number},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Runs one PostgreSQL query, read-only by default, and returns its rows.",
		Result: map[string]string{
			"rows":      "list of objects, one per row, keyed by column name (at most max_rows)",
			"row_count": "rows the query returned (or rows affected, for a statement without a result set)",
			"columns":   "column names in order",
			"truncated": "true when the query returned more rows than max_rows, or more text than max_bytes",
		},
	}
}

// Describe returns the query's first line and where it runs, without any
// password: `SELECT count(*) FROM jobs … (127.0.0.1:5432/app)`.
func (p *Provider) Describe(cfg cty.Value) string {
	q := firstLine(checks.String(cfg, "query", ""))
	if q == "" {
		q = "(query)"
	}
	where := "(dsn)"
	if dsn := checks.String(cfg, "dsn", ""); dsn != "" {
		where = p.target(dsn)
	}
	s := q + " (" + where + ")"
	if !checks.Bool(cfg, "read_only", true) {
		s += " [read-write]"
	}
	return s
}

// target returns where dsn runs queries, parsing each DSN once: the
// engine describes every check it runs.
func (p *Provider) target(dsn string) string {
	if t, ok := p.targets.Load(dsn); ok {
		return t.(string)
	}
	where := "(dsn)"
	if c, err := pgconn.ParseConfig(dsn); err == nil {
		where = target(c)
	}
	if p.numTargets.Add(1) <= maxTargets {
		p.targets.Store(dsn, where)
	}
	return where
}

// Validate checks the arguments the schema's types cannot: the DSN parses,
// timeout is a duration, max_rows is positive, args is a list.
func (p *Provider) Validate(cfg cty.Value) error {
	if _, err := settings(cfg, false); err != nil {
		return err
	}
	return nil
}

// Close closes every pool opened during the run.
func (p *Provider) Close() error {
	for _, pl := range p.pools.Take() {
		pl.conns.Close()
	}
	return nil
}

// config is a decoded `sql` block.
type config struct {
	dsn      string
	query    string
	args     []any
	readOnly bool
	timeout  time.Duration
	maxRows  int
	maxBytes int
}

// settings reads cfg. For Run (run true) everything must be set; for
// Validate unknown values are skipped and the DSN is parsed to check it.
func settings(cfg cty.Value, run bool) (config, error) {
	c := config{readOnly: true, maxRows: DefaultMaxRows, maxBytes: checks.DefaultCaptureLimit}
	if v := checks.Attr(cfg, "dsn"); v.IsKnown() && !v.IsNull() {
		c.dsn = v.AsString()
	}
	if v := checks.Attr(cfg, "query"); v.IsKnown() && !v.IsNull() {
		c.query = v.AsString()
	}
	if v := checks.Attr(cfg, "read_only"); v.IsKnown() && !v.IsNull() {
		c.readOnly = v.True()
	}
	if run && c.dsn == "" {
		return c, errors.New("dsn is empty")
	}
	if !run && c.dsn != "" {
		if _, err := parseDSN(c.dsn); err != nil {
			return c, err
		}
	}
	if run && strings.TrimSpace(c.query) == "" {
		return c, errors.New("query is empty")
	}
	if v := checks.Attr(cfg, "timeout"); !v.IsNull() {
		d, err := checks.Duration(cfg, "timeout", 0)
		if err != nil {
			return c, err
		}
		c.timeout = d
	}
	if v := checks.Attr(cfg, "max_rows"); !v.IsNull() && v.IsKnown() {
		n := checks.Int(cfg, "max_rows", 0)
		if n < 1 || !v.AsBigFloat().IsInt() {
			return c, fmt.Errorf("max_rows must be a whole number of at least 1, not %s", v.AsBigFloat().Text('f', -1))
		}
		c.maxRows = int(n)
	}
	if v := checks.Attr(cfg, "max_bytes"); !v.IsNull() && v.IsKnown() {
		n := checks.Int(cfg, "max_bytes", 0)
		if n < 1 || !v.AsBigFloat().IsInt() {
			return c, fmt.Errorf("max_bytes must be a whole number of at least 1, not %s", v.AsBigFloat().Text('f', -1))
		}
		c.maxBytes = int(n)
	}
	if v := checks.Attr(cfg, "args"); !v.IsNull() && v.IsWhollyKnown() {
		t := v.Type()
		if !(t.IsListType() || t.IsTupleType()) {
			return c, fmt.Errorf("args must be a list, such as [\"a\", 1], not %s", t.FriendlyName())
		}
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			a, err := argValue(e)
			if err != nil {
				return c, fmt.Errorf("args[%s]: %w", k.AsBigFloat().Text('f', 0), err)
			}
			c.args = append(c.args, a)
		}
	}
	return c, nil
}

// Run runs the query and returns its rows.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	c, err := settings(cfg, true)
	if err != nil {
		return cty.NilVal, err
	}
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	pl, err := p.pool(ctx, poolKey{dsn: c.dsn, readOnly: c.readOnly})
	if err != nil {
		return cty.NilVal, err
	}
	conn, err := pl.conns.Acquire(ctx)
	if err != nil && c.readOnly && refusedReadOnlyParam(err) {
		pl.plainStartup.Store(true)
		conn, err = pl.conns.Acquire(ctx)
	}
	if err != nil {
		return cty.NilVal, fmt.Errorf("connect to %s: %s", pl.target, describeErr(ctx, err, c.dsn))
	}
	res, err := query(ctx, conn.Conn(), c)
	if err != nil && (ctx.Err() != nil || checks.PastDeadline(ctx) || errors.Is(err, errReadOnlyOff)) {
		discard(ctx, conn)
	} else {
		// The pool destroys a connection left in a transaction or closed.
		conn.Release()
	}
	if err != nil {
		msg := describeErr(ctx, err, c.dsn)
		if ctx.Err() != nil {
			msg += " (the query was canceled on the server)"
		}
		return cty.NilVal, fmt.Errorf("query on %s: %s", pl.target, msg)
	}
	return res, nil
}

// discard closes a connection that may be in an unknown state (its query
// timed out or was canceled, or it switched read-only off) and then gives
// it back, so the pool destroys it. It does so in the background, so Run
// returns at once; the pool's Close waits for it.
func discard(ctx context.Context, conn *pgxpool.Conn) {
	ctx = context.WithoutCancel(ctx)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = conn.Conn().Close(ctx)
		conn.Release()
	}()
}

// pool returns the pool for key, making it on first use (it connects
// lazily, with ctx's values but not its deadline).
func (p *Provider) pool(ctx context.Context, key poolKey) (*pool, error) {
	return p.pools.Get(key, func() (*pool, error) { return p.newPool(ctx, key) })
}

// newPool makes the pool of a key.
func (p *Provider) newPool(ctx context.Context, key poolKey) (*pool, error) {
	config, err := parseDSN(key.dsn)
	if err != nil {
		return nil, err
	}
	size := p.PoolSize
	if size <= 0 {
		size = max(4, runtime.NumCPU())
	}
	pl := &pool{target: target(&config.ConnConfig.Config)}
	config.MaxConns = int32(min(size, math.MaxInt32))
	config.MaxConnIdleTime = maxIdle
	if key.readOnly {
		// Sent in the startup message: no round trip of its own.
		config.ConnConfig.RuntimeParams[readOnlyParam] = "on"
		config.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
			if pl.plainStartup.Load() {
				delete(cc.RuntimeParams, readOnlyParam) // cc is this connection's copy
			}
			return nil
		}
	}
	config.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		readAsText(c.TypeMap())
		return nil
	}
	pl.conns, err = pgxpool.NewWithConfig(ctx, config)
	if err != nil {
		return nil, fmt.Errorf("make a pool for %s: %w", pl.target, err)
	}
	return pl, nil
}

// refusedReadOnlyParam reports whether err is a server's refusal of
// default_transaction_read_only in the startup message (PgBouncer's
// "unsupported startup parameter").
func refusedReadOnlyParam(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "08P01" && strings.Contains(pgErr.Message, readOnlyParam)
}

// errReadOnlyOff is the error of a read-only check whose query switched
// its session's default_transaction_read_only off.
var errReadOnlyOff = errors.New("the query turned default_transaction_read_only off, which a read-only check may not do (use read_only = false)")

// query runs c's query on conn.
//
// A read-only check's connection has default_transaction_read_only on,
// so every transaction it starts is READ ONLY and the query runs as it
// is, in one round trip. PostgreSQL 14 and later report that setting to
// the client, so a query that switches it off is caught and its
// connection dropped. When the server does not report it (an older
// server, a connection pooler), the query runs inside BEGIN READ ONLY …
// ROLLBACK instead, pipelined as one batch.
func query(ctx context.Context, conn *pgx.Conn, c config) (cty.Value, error) {
	if !c.readOnly || conn.PgConn().ParameterStatus(readOnlyParam) == "on" {
		rows, err := conn.Query(ctx, c.query, c.args...)
		if err != nil {
			return cty.NilVal, err
		}
		res, err := collect(conn, rows, c.query, c.maxRows, c.maxBytes)
		if c.readOnly && conn.PgConn().ParameterStatus(readOnlyParam) != "on" {
			return cty.NilVal, errReadOnlyOff
		}
		return res, err
	}
	b := &pgx.Batch{}
	b.Queue("begin read only")
	b.Queue(c.query, c.args...)
	b.Queue("rollback")
	br := conn.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return cty.NilVal, err
	}
	rows, err := br.Query()
	if err != nil {
		br.Close()
		return cty.NilVal, err
	}
	res, err := collect(conn, rows, c.query, c.maxRows, c.maxBytes)
	if err != nil {
		br.Close()
		return cty.NilVal, err
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return cty.NilVal, err
	}
	if err := br.Close(); err != nil {
		return cty.NilVal, err
	}
	return res, nil
}

// parseDSN parses a postgres URL or key=value DSN into a pool's config.
// Canceling a query's context sends a cancel request to the server, so
// the query stops there too, and cuts the connection if the server does
// not answer in time.
func parseDSN(dsn string) (*pgxpool.Config, error) {
	c, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("dsn must be a postgres URL (postgres://user@host:5432/db) or key=value string (host=… dbname=…): %s", redact(err.Error(), dsn))
	}
	c.ConnConfig.BuildContextWatcherHandler = func(pc *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pc, DeadlineDelay: cancelGrace}
	}
	return c, nil
}

// target names the server and database of c: "host:port/db".
func target(c *pgconn.Config) string {
	if c == nil {
		return "(dsn)"
	}
	host := c.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(c.Port)))
	} else {
		host += "/.s.PGSQL." + strconv.Itoa(int(c.Port))
	}
	return host + "/" + c.Database
}

// describeErr phrases a failure: a timeout says so, a server error keeps
// its SQLSTATE, and no password from dsn survives.
func describeErr(ctx context.Context, err error, dsn string) string {
	var msg string
	var pgErr *pgconn.PgError
	switch {
	case checks.PastDeadline(ctx):
		msg = "timed out: " + err.Error()
	case ctx.Err() != nil:
		msg = "canceled: " + err.Error()
	case errors.As(err, &pgErr):
		msg = pgErr.Error()
		if pgErr.Code == "25006" {
			msg += "; the sql provider runs queries in a READ ONLY transaction unless read_only = false"
		}
	default:
		msg = err.Error()
	}
	return redact(msg, dsn)
}

// redact removes every password that dsn carries from s: the URL's, its
// password and sslpassword parameters, and key=value password settings.
func redact(s, dsn string) string { return secret.MaskConn(s, dsn) }

// firstLine returns the first non-blank line of q, marked when more
// follows.
func firstLine(q string) string {
	q = strings.TrimSpace(q)
	line, rest, more := strings.Cut(q, "\n")
	line = strings.TrimSpace(line)
	if more && strings.TrimSpace(rest) != "" {
		line += " …"
	}
	return line
}

// jsonText renders an object argument as JSON text.
func jsonText(v cty.Value) (string, error) {
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("encode as JSON: %w", err)
	}
	return string(b), nil
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{
		"rows": cty.DynamicPseudoType, "row_count": cty.Number, "columns": cty.DynamicPseudoType, "truncated": cty.Bool,
	})
}
