// Package prometheus is the `prometheus` check provider: one PromQL
// instant query, or the list of alerts, from a Prometheus server's HTTP
// API (/api/v1/query, /api/v1/alerts).
package prometheus

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
)

var (
	_ checks.Provider   = (*Provider)(nil)
	_ checks.Typed      = (*Provider)(nil)
	_ checks.Documented = (*Provider)(nil)
	_ checks.Describer  = (*Provider)(nil)
	_ checks.Validator  = (*Provider)(nil)
	_ io.Closer         = (*Provider)(nil)
)

const (
	// DefaultTimeout bounds one API request unless the block sets timeout.
	DefaultTimeout = 10 * time.Second
	// MaxResponse is the largest API response read; a query returning
	// more is an error rather than a memory spike.
	MaxResponse = 32 << 20
)

// Provider queries Prometheus servers. It keeps one client for verified
// TLS and one, made on first use, for insecure_skip_verify, so checks
// against the same server share kept-alive connections. It is safe for
// concurrent use.
type Provider struct {
	verified *http.Client

	mu       sync.Mutex
	insecure *http.Client
}

// New returns a prometheus Provider; it is a checks.Factory.
func New() checks.Provider {
	return &Provider{verified: newClient(false)}
}

func newClient(insecure bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: insecure}
	return &http.Client{Transport: t}
}

// Schema describes the `prometheus` block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"url":                  &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
		"query":                &hcldec.AttrSpec{Name: "query", Type: cty.String},
		"alerts":               &hcldec.AttrSpec{Name: "alerts", Type: cty.Bool},
		"timeout":              &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
		"headers":              &hcldec.AttrSpec{Name: "headers", Type: cty.Map(cty.String)},
		"insecure_skip_verify": &hcldec.AttrSpec{Name: "insecure_skip_verify", Type: cty.Bool},
	}
}

// Doc returns the provider's reference documentation.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "A PromQL instant query, or the firing and pending alerts, from a Prometheus server.",
		Result: map[string]string{
			"value":       "the first sample's value as a number; null when the result is empty or the sample is NaN or ±Inf",
			"value_text":  `the first sample's value as Prometheus wrote it ("3", "NaN", "+Inf"); "" when empty`,
			"series":      "every series: objects with metric (labels) and value (last sample, null when not finite)",
			"result_type": `"vector", "matrix", "scalar" or "string" for a query; "alerts" with alerts = true`,
			"firing":      "names of the alerts in state firing, sorted, each once",
			"pending":     "names of the alerts in state pending, sorted, each once",
			"alerts":      "every alert: objects with name, state, labels, annotations, active_at and value",
			"warnings":    "warnings the server attached to the response",
		},
	}
}

// Describe summarizes a block: "PromQL QUERY at URL" or "alerts at URL",
// without the URL's userinfo.
func (p *Provider) Describe(cfg cty.Value) string {
	where := "(url not known yet)"
	if v, ok := checks.KnownAttr(cfg, "url"); ok {
		where = redact(v.AsString())
	}
	if checks.Set(cfg, "query") {
		return "PromQL " + checks.String(cfg, "query", "(not known yet)") + " at " + where
	}
	return "alerts at " + where
}

// Validate checks the URL, the timeout and that exactly one of query or
// alerts = true is set.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parse(cfg)
	return err
}

// request is a decoded, validated block. Unknown values leave their
// fields at the zero value.
type request struct {
	base     *url.URL
	query    string
	alerts   bool
	timeout  time.Duration
	headers  map[string]string
	insecure bool
}

func parse(cfg cty.Value) (*request, error) {
	r := &request{alerts: checks.Bool(cfg, "alerts", false), insecure: checks.Bool(cfg, "insecure_skip_verify", false)}
	if v, ok := checks.KnownAttr(cfg, "url"); ok {
		u, err := url.Parse(v.AsString())
		if err != nil {
			return nil, fmt.Errorf("url %q is not a URL", redact(v.AsString()))
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
			return nil, fmt.Errorf("url %q must be an http:// or https:// URL such as http://localhost:9090", redact(v.AsString()))
		}
		r.base = u
	}
	wantsAlerts := r.alerts || checks.Set(cfg, "alerts") && !cfg.GetAttr("alerts").IsKnown()
	switch {
	case checks.Set(cfg, "query") && wantsAlerts:
		return nil, errors.New("set either query or alerts = true, not both")
	case !checks.Set(cfg, "query") && !wantsAlerts:
		return nil, errors.New("one of query or alerts = true is required")
	}
	if v, ok := checks.KnownAttr(cfg, "query"); ok {
		if r.query = v.AsString(); strings.TrimSpace(r.query) == "" {
			return nil, errors.New("query must not be empty")
		}
	}
	timeout, err := checks.Duration(cfg, "timeout", DefaultTimeout)
	if err != nil {
		return nil, err
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	r.timeout = timeout
	r.headers = checks.StringMap(cfg, "headers")
	return r, nil
}

// String names the request for messages, without the URL's userinfo:
// `query "up" at http://prom:9090` or "alerts at http://prom:9090".
func (r *request) String() string {
	where := redact(r.base.String())
	if r.alerts {
		return "alerts at " + where
	}
	return fmt.Sprintf("query %q at %s", r.query, where)
}

// endpoint returns the API URL the request goes to.
func (r *request) endpoint() *url.URL {
	path := "api/v1/query"
	if r.alerts {
		path = "api/v1/alerts"
	}
	u := r.base.JoinPath(path)
	if !r.alerts {
		q := u.Query()
		q.Set("query", r.query)
		u.RawQuery = q.Encode()
	}
	return u
}

// Run makes one API request. A server that cannot be reached, answers
// with something other than the Prometheus API, or reports an error (a bad
// query, a timeout inside Prometheus) is an error naming errorType and
// error; an empty result is a normal result with value = null.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	if !cfg.IsWhollyKnown() {
		return cty.NilVal, errors.New("prometheus configuration is not wholly known")
	}
	r, err := parse(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	data, err := p.get(ctx, r)
	if err != nil {
		return cty.NilVal, err
	}
	if r.alerts {
		return alertsResult(data)
	}
	return queryResult(data)
}

// envelope is the body of every Prometheus API response.
type envelope struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
	Warnings  []string        `json:"warnings"`
}

// apiData is a successful response's data with its warnings.
type apiData struct {
	raw      json.RawMessage
	warnings []string
}

// get sends the request and unwraps the API envelope.
func (p *Provider) get(ctx context.Context, r *request) (*apiData, error) {
	client, err := p.client(r.insecure)
	if err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	where := r.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.endpoint().String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "runbook")
	for k, v := range r.headers {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, r.failed(parent, where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", r.failed(parent, where, err))
	}
	if len(body) > MaxResponse {
		return nil, fmt.Errorf("%s: response larger than %d MiB", where, MaxResponse>>20)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Status == "" {
		return nil, fmt.Errorf("%s: HTTP %d is not a Prometheus API response: %q", where, resp.StatusCode, snippet(body))
	}
	if env.Status != "success" {
		return nil, fmt.Errorf("%s: prometheus error %s (HTTP %d): %s", where, env.ErrorType, resp.StatusCode, env.Error)
	}
	return &apiData{raw: env.Data, warnings: env.Warnings}, nil
}

// failed words a transport error without the URL's userinfo, saying so
// when the block's own timeout, not the caller's, cut it short.
func (r *request) failed(parent context.Context, where string, err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	if parent.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err)) {
		return fmt.Errorf("%s: timed out after %s: %w", where, r.timeout, err)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// client returns the client for a TLS setting.
func (p *Provider) client(insecure bool) (*http.Client, error) {
	if !insecure {
		return p.verified, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.insecure == nil {
		p.insecure = newClient(true)
	}
	return p.insecure, nil
}

// Close releases idle connections.
func (p *Provider) Close() error {
	p.verified.CloseIdleConnections()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.insecure != nil {
		p.insecure.CloseIdleConnections()
	}
	return nil
}

// queryData is the data of /api/v1/query.
type queryData struct {
	ResultType string          `json:"resultType"`
	Result     json.RawMessage `json:"result"`
}

// series is one element of a vector or matrix result.
type series struct {
	Metric map[string]string `json:"metric"`
	Value  []json.RawMessage `json:"value"`  // vector: [time, "value"]
	Values [][]any           `json:"values"` // matrix: [[time, "value"], …]
}

func queryResult(d *apiData) (cty.Value, error) {
	var q queryData
	if err := json.Unmarshal(d.raw, &q); err != nil {
		return cty.NilVal, fmt.Errorf("decode query data: %w", err)
	}
	first := ""
	var all []any
	switch q.ResultType {
	case "vector", "matrix":
		var list []series
		if err := json.Unmarshal(q.Result, &list); err != nil {
			return cty.NilVal, fmt.Errorf("decode %s result: %w", q.ResultType, err)
		}
		for i, s := range list {
			text := s.last()
			if i == 0 {
				first = text
			}
			metric := s.Metric
			if metric == nil {
				metric = map[string]string{}
			}
			all = append(all, map[string]any{"metric": metric, "value": number(text)})
		}
	case "scalar", "string":
		var pair []any
		if err := json.Unmarshal(q.Result, &pair); err != nil || len(pair) != 2 {
			return cty.NilVal, fmt.Errorf("decode %s result %s", q.ResultType, snippet(q.Result))
		}
		if q.ResultType == "scalar" {
			first, _ = pair[1].(string)
		}
	default:
		return cty.NilVal, fmt.Errorf("unknown result type %q", q.ResultType)
	}
	return object(d, map[string]cty.Value{
		"value":       number(first),
		"value_text":  cty.StringVal(first),
		"series":      seriesValue(all),
		"result_type": cty.StringVal(q.ResultType),
	}), nil
}

// last returns the text of the series' latest sample: a vector's only
// one, a matrix's last.
func (s series) last() string {
	if len(s.Value) == 2 {
		var text string
		if json.Unmarshal(s.Value[1], &text) == nil {
			return text
		}
	}
	if n := len(s.Values); n > 0 && len(s.Values[n-1]) == 2 {
		text, _ := s.Values[n-1][1].(string)
		return text
	}
	return ""
}

// alert is one element of /api/v1/alerts.
type alert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"`
	ActiveAt    string            `json:"activeAt"`
	Value       string            `json:"value"`
}

func alertsResult(d *apiData) (cty.Value, error) {
	var data struct {
		Alerts []alert `json:"alerts"`
	}
	if err := json.Unmarshal(d.raw, &data); err != nil {
		return cty.NilVal, fmt.Errorf("decode alerts: %w", err)
	}
	firing, pending := map[string]bool{}, map[string]bool{}
	var all []any
	for _, a := range data.Alerts {
		name := a.Labels["alertname"]
		switch a.State {
		case "firing":
			firing[name] = true
		case "pending":
			pending[name] = true
		}
		labels, annotations := a.Labels, a.Annotations
		if labels == nil {
			labels = map[string]string{}
		}
		if annotations == nil {
			annotations = map[string]string{}
		}
		all = append(all, map[string]any{
			"name": name, "state": a.State, "labels": labels,
			"annotations": annotations, "active_at": a.ActiveAt, "value": a.Value,
		})
	}
	return object(d, map[string]cty.Value{
		"firing":      names(firing),
		"pending":     names(pending),
		"alerts":      checks.FromGo(all),
		"result_type": cty.StringVal("alerts"),
	}), nil
}

// object fills a result with the attributes the mode left out, so both
// modes have the same attributes.
func object(d *apiData, attrs map[string]cty.Value) cty.Value {
	defaults := map[string]cty.Value{
		"value":      cty.NullVal(cty.Number),
		"value_text": cty.StringVal(""),
		"series":     cty.EmptyTupleVal,
		"firing":     cty.ListValEmpty(cty.String),
		"pending":    cty.ListValEmpty(cty.String),
		"alerts":     cty.EmptyTupleVal,
		"warnings":   stringList(d.warnings),
	}
	for k, v := range defaults {
		if _, ok := attrs[k]; !ok {
			attrs[k] = v
		}
	}
	return cty.ObjectVal(attrs)
}

func seriesValue(all []any) cty.Value {
	if len(all) == 0 {
		return cty.EmptyTupleVal
	}
	return checks.FromGo(all)
}

// number parses a sample value as Prometheus writes it. Empty, NaN and
// infinite values are null: a run record (JSON) cannot hold them and no
// comparison with them means anything; value_text keeps the text.
func number(text string) cty.Value {
	f, _, err := big.ParseFloat(text, 10, 512, big.ToNearestEven)
	if text == "" || err != nil || f.IsInf() {
		return cty.NullVal(cty.Number)
	}
	return cty.NumberVal(f)
}

func names(set map[string]bool) cty.Value {
	if len(set) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	list := make([]string, 0, len(set))
	for n := range set {
		list = append(list, n)
	}
	sort.Strings(list)
	return stringList(list)
}

func stringList(list []string) cty.Value {
	if len(list) == 0 {
		return cty.ListValEmpty(cty.String)
	}
	vals := make([]cty.Value, len(list))
	for i, s := range list {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

// snippet returns the start of a body for an error message.
func snippet(body []byte) string {
	const n = 200
	s := strings.ToValidUTF8(string(body), "\uFFFD")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.TrimSpace(s)
}

// redact removes the userinfo (a password) from a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.LastIndex(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i {
				return raw[:j+3] + raw[i+1:]
			}
		}
		return "(unparseable url)"
	}
	u.User = nil
	return u.String()
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return checks.DynamicResult(checks.SortedKeys(p.Doc().Result), nil)
}
