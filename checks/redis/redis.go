// Package redis is the `redis` check provider: it sends one command to a
// Redis server and returns the reply.
//
// Any command the server accepts goes through as it is. Replies become
// strings, numbers, lists and objects; INFO is parsed into an object of
// sections. Server errors (WRONGTYPE, NOAUTH …) fail the check with the
// server's message. One client per URL serves the whole run. Passwords
// never appear in errors or descriptions.
package redis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2/hcldec"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/internal/secret"
)

var (
	_ checks.Provider   = (*Provider)(nil)
	_ checks.Typed      = (*Provider)(nil)
	_ checks.Documented = (*Provider)(nil)
	_ checks.Describer  = (*Provider)(nil)
	_ checks.Validator  = (*Provider)(nil)
	_ io.Closer         = (*Provider)(nil)
)

// Provider sends Redis commands. It keeps one client (with its connection
// pool) per URL for the length of a run; Close closes them.
type Provider struct {
	clients checks.LazyMap[string, *client]
}

// client is a go-redis client and where it points, for messages.
type client struct {
	rdb    *goredis.Client
	target string
}

// New returns a Provider; it is the provider's checks.Factory.
//
// go-redis reports some failures (a dial that gave up) on stderr through
// a process-wide logger as well as in the error it returns; providers
// never print, so New silences that logger.
func New() checks.Provider {
	quietOnce.Do(func() { goredis.SetLogger(quiet{}) })
	return &Provider{}
}

var quietOnce sync.Once

// quiet is a go-redis logger that drops everything.
type quiet struct{}

// Printf drops the message.
func (quiet) Printf(context.Context, string, ...any) {}

// Schema describes the `redis` block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"url":       &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
		"command":   &hcldec.AttrSpec{Name: "command", Type: cty.List(cty.String), Required: true},
		"timeout":   &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		"max_value": &hcldec.AttrSpec{Name: "max_value", Type: cty.Number},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Sends one command to a Redis server and returns the reply.",
		Result: map[string]string{
			"value":     "the reply: string, number, null, list or object; INFO is an object of sections of fields",
			"truncated": "true when the reply held more than max_value bytes of text and was cut",
		},
	}
}

// Describe returns the command and the server, without any password:
// `INFO memory (cache:6379/0)`.
func (p *Provider) Describe(cfg cty.Value) string {
	cmd, _ := checks.StringList(cfg, "command")
	s := commandLine(cmd)
	if s == "" {
		s = "(command)"
	}
	where := "(url)"
	if raw := checks.String(cfg, "url", ""); raw != "" {
		if opts, err := parseURL(raw); err == nil {
			where = target(opts)
		}
	}
	return s + " (" + where + ")"
}

// Validate checks what the schema's types cannot: the URL parses, the
// command is not empty, timeout is a duration.
func (p *Provider) Validate(cfg cty.Value) error {
	if raw := checks.String(cfg, "url", ""); raw != "" {
		if _, err := parseURL(raw); err != nil {
			return err
		}
	}
	if v := checks.Attr(cfg, "command"); !v.IsNull() && v.IsWhollyKnown() {
		cmd, err := checks.StringList(cfg, "command")
		if err != nil {
			return err
		}
		if err := checkCommand(cmd); err != nil {
			return err
		}
	}
	if v, ok := checks.KnownAttr(cfg, "max_value"); ok {
		if n := checks.Int(cfg, "max_value", 0); n < 1 || !v.AsBigFloat().IsInt() {
			return fmt.Errorf("max_value must be a whole number of bytes, at least 1")
		}
	}
	_, err := checks.Duration(cfg, "timeout", 0)
	return err
}

// stateful are commands that change the state of the connection they run
// on (its database, user, protocol, transaction or subscription), which
// would leak to later checks sharing the pooled connection.
var stateful = map[string]string{
	"SELECT":          "put the database number in the url (redis://host:6379/2)",
	"AUTH":            "put the user and password in the url (redis://user:password@host)",
	"HELLO":           "set protocol=2 or 3 in the url",
	"MULTI":           "",
	"EXEC":            "",
	"DISCARD":         "",
	"WATCH":           "",
	"UNWATCH":         "",
	"SUBSCRIBE":       "",
	"PSUBSCRIBE":      "",
	"SSUBSCRIBE":      "",
	"UNSUBSCRIBE":     "",
	"PUNSUBSCRIBE":    "",
	"SUNSUBSCRIBE":    "",
	"MONITOR":         "",
	"RESET":           "",
	"QUIT":            "",
	"SYNC":            "",
	"PSYNC":           "",
	"CLIENT REPLY":    "",
	"CLIENT TRACKING": "",
	"CLIENT SETNAME":  "set client_name in the url",
}

// checkCommand refuses an empty command and commands that change the
// connection's state.
func checkCommand(cmd []string) error {
	if len(cmd) == 0 {
		return errors.New(`command must name a command, such as ["PING"]`)
	}
	name := strings.ToUpper(cmd[0])
	if len(cmd) > 1 {
		if sub := name + " " + strings.ToUpper(cmd[1]); hasKey(stateful, sub) {
			name = sub
		}
	}
	hint, ok := stateful[name]
	if !ok {
		return nil
	}
	msg := fmt.Sprintf("command %s is not supported: it changes the state of a connection that later checks share", name)
	if hint != "" {
		msg += "; " + hint
	}
	return errors.New(msg)
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

// Close closes every client opened during the run.
func (p *Provider) Close() error {
	var errs []error
	for _, c := range p.clients.Take() {
		if err := c.rdb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close redis client for %s: %w", c.target, err))
		}
	}
	return errors.Join(errs...)
}

// Run sends the command and returns its reply as `value`.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	var raw string
	if v := checks.Attr(cfg, "url"); v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
		raw = v.AsString()
	}
	if raw == "" {
		return cty.NilVal, errors.New("url is empty")
	}
	cmd, err := checks.StringList(cfg, "command")
	if err != nil {
		return cty.NilVal, err
	}
	if err := checkCommand(cmd); err != nil {
		return cty.NilVal, err
	}
	if v := checks.Attr(cfg, "timeout"); !v.IsNull() {
		timeout, err := checks.Duration(cfg, "timeout", 0)
		if err != nil {
			return cty.NilVal, err
		}
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, timeout)
			defer cancel()
		}
	}
	c, err := p.client(raw)
	if err != nil {
		return cty.NilVal, err
	}

	args := make([]any, len(cmd))
	for i, a := range cmd {
		args[i] = a
	}
	reply, err := do(ctx, c.rdb, args)
	name := strings.ToUpper(cmd[0])
	switch {
	case errors.Is(err, goredis.Nil):
		return cty.ObjectVal(map[string]cty.Value{"value": cty.NullVal(cty.DynamicPseudoType), "truncated": cty.False}), nil
	case err != nil:
		return cty.NilVal, fmt.Errorf("redis %s on %s: %s", name, c.target, describeErr(ctx, err, raw))
	}
	budget := int(checks.Int(cfg, "max_value", checks.DefaultCaptureLimit))
	truncated := false
	reply = capReply(reply, &budget, &truncated)
	return cty.ObjectVal(map[string]cty.Value{"value": reply2cty(cmd, reply), "truncated": cty.BoolVal(truncated)}), nil
}

// capReply bounds the text a reply keeps to budget bytes in all, as shell
// and http bound their output: strings past the budget are cut, list
// elements and map entries past it are dropped, and truncated is set.
func capReply(v any, budget *int, truncated *bool) any {
	switch x := v.(type) {
	case string:
		if len(x) > *budget {
			*truncated = true
			x = x[:max(*budget, 0)]
		}
		*budget -= len(x)
		return x
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if *budget <= 0 {
				*truncated = true
				break
			}
			out = append(out, capReply(e, budget, truncated))
		}
		return out
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			if *budget <= 0 {
				*truncated = true
				break
			}
			out[capReply(k, budget, truncated)] = capReply(e, budget, truncated)
		}
		return out
	}
	return v
}

// do runs one command. go-redis honours ctx's deadline on the socket;
// a cancel without a deadline (an interrupted run) returns at once and
// leaves the command to finish or fail on its own.
func do(ctx context.Context, rdb *goredis.Client, args []any) (any, error) {
	if _, ok := ctx.Deadline(); ok {
		return rdb.Do(ctx, args...).Result()
	}
	type result struct {
		v   any
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := rdb.Do(ctx, args...).Result()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// client returns the client for raw, making it on first use.
func (p *Provider) client(raw string) (*client, error) {
	return p.clients.Get(raw, func() (*client, error) {
		opts, err := parseURL(raw)
		if err != nil {
			return nil, err
		}
		return &client{rdb: goredis.NewClient(opts), target: target(opts)}, nil
	})
}

// parseURL parses a redis:// or rediss:// URL into client options fit for
// checks: the engine owns retries, and the check's deadline, not a fixed
// read timeout, bounds a command (so BLPOP may block as long as the check
// allows) unless the URL sets read_timeout itself.
func parseURL(raw string) (*goredis.Options, error) {
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "redis: ")
		return nil, fmt.Errorf("url must be redis://[user:password@]host:port/db or rediss://…: %s", redact(msg, raw))
	}
	q := url.Values{}
	if u, err := url.Parse(raw); err == nil {
		q = u.Query()
	}
	if !q.Has("max_retries") {
		opts.MaxRetries = -1
	}
	if !q.Has("read_timeout") {
		opts.ReadTimeout = -1
	}
	if !q.Has("write_timeout") {
		opts.WriteTimeout = -1
	}
	opts.DialerRetries = 1
	opts.ContextTimeoutEnabled = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	return opts, nil
}

// target names the server and database: "host:port/db".
func target(opts *goredis.Options) string {
	if opts.Network == "unix" {
		return opts.Addr
	}
	return fmt.Sprintf("%s/%d", opts.Addr, opts.DB)
}

// describeErr phrases a failure without any password from raw.
func describeErr(ctx context.Context, err error, raw string) string {
	msg := err.Error()
	switch {
	case checks.PastDeadline(ctx):
		msg = "timed out: " + msg
	case ctx.Err() != nil:
		msg = "canceled: " + msg
	}
	return redact(msg, raw)
}

// redact removes the password raw carries from s.
func redact(s, raw string) string { return secret.MaskConn(s, raw) }

// secretArgs are commands whose arguments are credentials.
var secretArgs = map[string]bool{"AUTH": true, "HELLO": true, "MIGRATE": true, "ACL": true}

// commandLine renders a command for Describe, masking credentials and
// shortening long arguments.
func commandLine(cmd []string) string {
	if len(cmd) == 0 {
		return ""
	}
	parts := []string{cmd[0]}
	for _, a := range cmd[1:] {
		switch {
		case secretArgs[strings.ToUpper(cmd[0])]:
			a = "…"
		case len(a) > 40:
			a = a[:37] + "…"
		}
		if a == "" || strings.ContainsAny(a, " \t\n\"") {
			a = fmt.Sprintf("%q", a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{"value": cty.DynamicPseudoType, "truncated": cty.Bool})
}
