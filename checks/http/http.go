// Package http is the `http` check provider: it makes one HTTP request and
// observes the status, headers and (capped) body, decoding JSON bodies.
//
// One Provider serves a whole run: it keeps one client and transport per
// TLS setting (verified, insecure_skip_verify, each ca_file), so checks
// against the same host share kept-alive connections.
package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/internal/secret"
	"github.com/zclconf/go-cty/cty"
)

var (
	_ checks.Provider        = (*Provider)(nil)
	_ checks.Typed           = (*Provider)(nil)
	_ checks.Documented      = (*Provider)(nil)
	_ checks.Describer       = (*Provider)(nil)
	_ checks.Validator       = (*Provider)(nil)
	_ checks.DefaultAsserter = (*Provider)(nil)
	_ checks.ResultRunner    = (*Provider)(nil)
	_ io.Closer              = (*Provider)(nil)
)

// DefaultTimeout bounds one request unless the block sets timeout.
const DefaultTimeout = 30 * time.Second

// methods are the request methods a block may name, in any case.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// Provider makes HTTP requests for checks. It is safe for concurrent use.
type Provider struct {
	mu      sync.Mutex
	clients map[tlsSetting]*clientPair
}

// tlsSetting names one transport: how it verifies servers.
type tlsSetting struct {
	insecure bool
	caFile   string
}

// clientPair is one transport with a client that follows redirects and
// one that does not.
type clientPair struct {
	transport        *http.Transport
	follow, noFollow *http.Client
}

// New returns an http Provider; it is a checks.Factory.
func New() checks.Provider {
	return &Provider{clients: map[tlsSetting]*clientPair{}}
}

// Schema describes the http block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"url":                  &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
		"method":               &hcldec.AttrSpec{Name: "method", Type: cty.String},
		"headers":              &hcldec.AttrSpec{Name: "headers", Type: cty.Map(cty.String)},
		"body":                 &hcldec.AttrSpec{Name: "body", Type: cty.String},
		"timeout":              &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		"insecure_skip_verify": &hcldec.AttrSpec{Name: "insecure_skip_verify", Type: cty.Bool},
		"follow_redirects":     &hcldec.AttrSpec{Name: "follow_redirects", Type: cty.Bool},
		"ca_file":              &hcldec.AttrSpec{Name: "ca_file", Type: cty.String},
		"max_body":             &hcldec.AttrSpec{Name: "max_body", Type: cty.Number},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Makes one HTTP request and observes the status, headers and body, decoding JSON.",
		Result: map[string]string{
			"status":         "the response status code",
			"body":           "the response body, capped at max_body bytes",
			"body_truncated": "true when the body was longer than max_body",
			"headers":        "response headers by canonical name; repeated headers joined by \", \"",
			"json":           "the body decoded as JSON, or null when it is not JSON",
		},
	}
}

// DefaultAssert makes a block without asserts fail on a 4xx or 5xx status.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "self.status < 400", "HTTP status ${self.status}"
}

// DefaultPasses answers the default assert in Go for the engine: true
// when self.status is a known number below 400. False leaves the decision
// to the condition itself, which also renders the failure message.
func (p *Provider) DefaultPasses(self cty.Value) bool {
	return attrIs(self, "status", func(v cty.Value) bool { return v.LessThan(cty.NumberIntVal(400)).True() })
}

// attrIs reports whether self, an unmarked object, has a known, non-null
// number attribute name for which ok holds.
func attrIs(self cty.Value, name string, ok func(cty.Value) bool) bool {
	if self == cty.NilVal || !self.IsKnown() || self.IsNull() || self.IsMarked() {
		return false
	}
	ty := self.Type()
	if !ty.IsObjectType() || !ty.HasAttribute(name) || ty.AttributeType(name) != cty.Number {
		return false
	}
	v := self.GetAttr(name)
	return v.IsKnown() && !v.IsNull() && !v.IsMarked() && ok(v)
}

// Validate checks the URL, method, timeout and max_body.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parse(cfg)
	return err
}

// Describe renders the request as "GET https://host/path", without any
// user name or password from the URL.
func (p *Provider) Describe(cfg cty.Value) string {
	r, err := parse(cfg)
	switch {
	case err != nil:
		return "http (invalid request)"
	case r.url == nil:
		return r.method + " (url known at run time)"
	}
	return r.String()
}

// request is a parsed http block. While validating, values not known yet
// are left zero.
type request struct {
	url     *url.URL
	method  string
	headers map[string]string
	body    string
	timeout time.Duration
	tls     tlsSetting
	follow  bool
	maxBody int
}

// String is the request as "METHOD url" with userinfo stripped.
func (r *request) String() string {
	u := *r.url
	u.User = nil
	return r.method + " " + u.String()
}

func parse(cfg cty.Value) (*request, error) {
	r := &request{
		method:  strings.ToUpper(checks.String(cfg, "method", "GET")),
		headers: checks.StringMap(cfg, "headers"),
		body:    checks.String(cfg, "body", ""),
		follow:  checks.Bool(cfg, "follow_redirects", true),
		tls: tlsSetting{
			insecure: checks.Bool(cfg, "insecure_skip_verify", false),
			caFile:   checks.String(cfg, "ca_file", ""),
		},
		maxBody: checks.DefaultCaptureLimit,
	}
	if r.tls.insecure {
		r.tls.caFile = ""
	}
	if v, ok := checks.KnownAttr(cfg, "url"); ok {
		u, err := url.Parse(v.AsString())
		if err != nil {
			// url.Parse quotes the URL, password and all: say less.
			return nil, errors.New("url is not a valid URL")
		}
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, errors.New("url must start with http:// or https://")
		}
		if u.Host == "" {
			return nil, errors.New("url has no host")
		}
		r.url = u
	}
	if !validMethod(r.method) {
		return nil, checks.ArgErrorf("method", "method %q is not one of %s%s", r.method, strings.Join(methods, ", "), checks.Suggest(r.method, methods))
	}
	for k := range r.headers {
		if k == "" || strings.ContainsAny(k, " \t\r\n:") {
			return nil, fmt.Errorf("headers: %q is not a valid header name", k)
		}
	}
	var err error
	if r.timeout, err = checks.Duration(cfg, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if _, ok := checks.KnownAttr(cfg, "max_body"); ok {
		n := checks.Int(cfg, "max_body", 0)
		if n <= 0 || n > 1<<30 {
			return nil, fmt.Errorf("max_body must be a whole number of bytes between 1 and %d", 1<<30)
		}
		r.maxBody = int(n)
	}
	return r, nil
}

func validMethod(m string) bool {
	for _, ok := range methods {
		if m == ok {
			return true
		}
	}
	return false
}

// Run makes the request and returns status, headers and body. An HTTP
// error status is a result; a request that gets no response (refused,
// timed out, TLS failure) is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	res, err := p.RunResult(ctx, cfg)
	if res == nil {
		return cty.NilVal, err
	}
	return res.Value(), err
}

// RunResult is Run with the result kept in Go (checks.ResultRunner): the
// engine builds it as cty only when an expression reads it.
func (p *Provider) RunResult(ctx context.Context, cfg cty.Value) (checks.Result, error) {
	r, err := parse(cfg)
	if err != nil {
		return nil, err
	}
	if r.url == nil {
		return nil, errors.New("url is not known")
	}
	clients, err := p.clientsFor(r.tls)
	if err != nil {
		return nil, err
	}
	client := clients.follow
	if !r.follow {
		client = clients.noFollow
	}

	reqCtx := ctx
	if r.timeout > 0 {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(reqCtx, r.method, r.url.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r, err)
	}
	for k, v := range r.headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}

	resp, err := client.Do(req)
	if err != nil {
		return nil, r.failed(ctx, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, int64(r.maxBody)+1))
	truncated := len(data) > r.maxBody
	if truncated {
		data = data[:r.maxBody]
	}
	res := &result{status: resp.StatusCode, header: resp.Header, body: data, truncated: truncated}
	if err != nil {
		return res, fmt.Errorf("read body: %w", r.failed(ctx, err))
	}
	return res, nil
}

// failed words a transport error without the URL's userinfo, saying so
// when the request's own timeout cut it short.
func (r *request) failed(parent context.Context, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if parent.Err() == nil && r.timeout > 0 && (errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err)) {
		err = fmt.Errorf("%s: timed out after %s: %w", r, r.timeout, err)
	} else {
		err = fmt.Errorf("%s: %w", r, err)
	}
	// A redirect's or proxy's error may quote a URL with its password.
	if msg := err.Error(); secret.MaskText(msg) != msg {
		return errors.New(secret.MaskText(msg))
	}
	return err
}

// result is a response as observed: status, headers, the body (capped).
type result struct {
	status    int
	header    http.Header
	body      []byte
	truncated bool

	decoded bool // json holds the body decoded (or nil: not JSON)
	json    any
}

var (
	_ checks.Result        = (*result)(nil)
	_ checks.DefaultPasser = (*result)(nil)
)

// DefaultPasses answers the default assert, self.status < 400.
func (res *result) DefaultPasses() bool { return res.status < 400 }

// decode decodes the body as JSON once: nil when it is empty, cut short
// or not JSON (a body of `null` is nil too, which is the same null).
func (res *result) decode() any {
	if !res.decoded {
		res.decoded = true
		if len(res.body) > 0 && !res.truncated {
			if v, err := checks.DecodeJSON(res.body); err == nil {
				res.json = v
			}
		}
	}
	return res.json
}

// Value is the result as cty: what `self` holds.
func (res *result) Value() cty.Value {
	headers := cty.MapValEmpty(cty.String)
	if len(res.header) > 0 {
		m := make(map[string]cty.Value, len(res.header))
		for k, vs := range res.header {
			m[http.CanonicalHeaderKey(k)] = cty.StringVal(strings.Join(vs, ", "))
		}
		headers = cty.MapVal(m)
	}
	decoded := cty.NullVal(cty.DynamicPseudoType)
	if v := res.decode(); v != nil {
		decoded = checks.FromGo(v)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"status":         cty.NumberIntVal(int64(res.status)),
		"body":           cty.StringVal(string(res.body)),
		"body_truncated": cty.BoolVal(res.truncated),
		"headers":        headers,
		"json":           decoded,
	})
}

// JSON is the result as the record holds it, checks.JSONValue(Value())
// built without cty.
func (res *result) JSON() map[string]any {
	headers := make(map[string]any, len(res.header))
	for k, vs := range res.header {
		headers[cty.NormalizeString(http.CanonicalHeaderKey(k))] = cty.NormalizeString(strings.Join(vs, ", "))
	}
	var decoded any
	if v := res.decode(); v != nil {
		decoded = checks.JSONFromGo(v)
	}
	return map[string]any{
		"status":         json.Number(strconv.Itoa(res.status)),
		"body":           cty.NormalizeString(string(res.body)),
		"body_truncated": res.truncated,
		"headers":        headers,
		"json":           decoded,
	}
}

// clientsFor returns the clients for one TLS setting, making them on first
// use. A ca_file is read once per run.
func (p *Provider) clientsFor(s tlsSetting) (*clientPair, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[s]; ok {
		return c, nil
	}
	tlsCfg := &tls.Config{InsecureSkipVerify: s.insecure}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %q holds no PEM certificates", s.caFile)
		}
		tlsCfg.RootCAs = pool
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsCfg
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64
	c := &clientPair{
		transport: t,
		follow:    &http.Client{Transport: t},
		noFollow: &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
	}
	p.clients[s] = c
	return c, nil
}

// Close releases the idle connections of every client.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.clients {
		c.transport.CloseIdleConnections()
	}
	return nil
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{
		"status": cty.Number, "body": cty.String, "body_truncated": cty.Bool,
		"headers": cty.Map(cty.String), "json": cty.DynamicPseudoType,
	})
}
