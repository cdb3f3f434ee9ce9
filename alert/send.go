package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/engine"
)

// Policy bounds how hard a Sender tries to deliver one request.
type Policy struct {
	// Attempts is the most tries of one request.
	Attempts int
	// BaseDelay is the wait after the first failure; it doubles after
	// each further one, up to MaxDelay, with jitter.
	BaseDelay, MaxDelay time.Duration
	// Timeout bounds each attempt.
	Timeout time.Duration
	// MaxWait bounds the total time spent waiting between attempts of one
	// request, Retry-After included: a receiver that asks for a longer
	// wait is given up on instead of being retried early.
	MaxWait time.Duration
}

// DefaultPolicy tries a request at most 5 times over about 15 seconds of
// backoff (1s, 2s, 4s, 8s, each between half and all of that), waits
// at most 5 minutes in all for Retry-After, and gives each attempt 10
// seconds.
var DefaultPolicy = Policy{
	Attempts:  5,
	BaseDelay: time.Second,
	MaxDelay:  time.Minute,
	Timeout:   10 * time.Second,
	MaxWait:   5 * time.Minute,
}

// Sender delivers alerts over HTTP. Its zero value works, with
// DefaultPolicy and real time; tests inject Sleep and Now.
type Sender struct {
	// Client sends the requests; nil means a client that does not follow
	// redirects.
	Client *http.Client
	// Policy bounds retries; a zero field takes DefaultPolicy's.
	Policy Policy
	// Redactor hides sensitive values in every payload and error.
	Redactor *engine.Redactor
	// Sleep waits between attempts; nil waits on a timer, returning early
	// with ctx's error when ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for Retry-After dates; nil means time.Now.
	Now func() time.Time
	// Jitter returns a number in [0, 1); nil means math/rand.
	Jitter func() float64
	// UserAgent is sent with every request.
	UserAgent string
}

// Result is the outcome of sending one alert.
type Result struct {
	Alert, Channel string
	// Requests is how many requests the alert needed (PagerDuty sends one
	// per transition); Attempts how many HTTP attempts were made in all.
	Requests, Attempts int
	// Err is nil when every request was delivered.
	Err error
}

// Send delivers n to a. Sending stops at the first request that cannot be
// delivered.
func (s *Sender) Send(ctx context.Context, a *Alert, n *Notification) Result {
	res := Result{Alert: a.Name, Channel: a.Channel}
	if a.Disabled {
		res.Err = fmt.Errorf("alert %q is disabled: its address is empty", a.Name)
		return res
	}
	if a.ch == nil || !a.ch.sendable() {
		res.Err = fmt.Errorf("alert %q cannot be sent: its arguments are not all known", a.Name)
		return res
	}
	reqs, err := a.ch.requests(a, n, s.redact)
	if err != nil {
		res.Err = fmt.Errorf("alert %q: encode payload: %w", a.Name, err)
		return res
	}
	for _, r := range reqs {
		res.Requests++
		attempts, err := s.deliver(ctx, r)
		res.Attempts += attempts
		if err != nil {
			res.Err = fmt.Errorf("alert %q (%s): %s", a.Name, r.what, s.Redactor.String(err.Error()))
			return res
		}
	}
	return res
}

func (s *Sender) redact(v any) any { return s.Redactor.Value(v) }

func (s *Sender) policy() Policy {
	p := s.Policy
	d := DefaultPolicy
	if p.Attempts <= 0 {
		p.Attempts = d.Attempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.Timeout <= 0 {
		p.Timeout = d.Timeout
	}
	if p.MaxWait <= 0 {
		p.MaxWait = d.MaxWait
	}
	return p
}

// deliver sends one request with retries and returns how many attempts it
// took.
func (s *Sender) deliver(ctx context.Context, r request) (int, error) {
	p := s.policy()
	var waited time.Duration
	for attempt := 1; ; attempt++ {
		status, retryAfter, err := s.do(ctx, r, p.Timeout)
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil {
			return attempt, fmt.Errorf("interrupted: %w", ctx.Err())
		}
		if !retryable(status) {
			return attempt, err
		}
		if attempt >= p.Attempts {
			return attempt, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		delay := s.backoff(p, attempt)
		if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && retryAfter > delay {
			delay = retryAfter
		}
		if waited+delay > p.MaxWait {
			return attempt, fmt.Errorf("gave up after %d attempts: the next would be in %s, past the %s retry budget: %w",
				attempt, delay.Round(time.Second), p.MaxWait, err)
		}
		if err := s.sleep(ctx, delay); err != nil {
			return attempt, fmt.Errorf("interrupted while waiting to retry: %w", err)
		}
		waited += delay
	}
}

// retryable reports whether a failure may succeed later: no answer at
// all, a timeout, throttling, or a server error. Other 4xx answers (and
// redirects) are rejections that retrying cannot fix.
func retryable(status int) bool {
	switch {
	case status == 0:
		return true
	case status == http.StatusRequestTimeout, status == http.StatusTooEarly, status == http.StatusTooManyRequests:
		return true
	case status >= 500:
		return true
	}
	return false
}

// backoff is the wait after the attempt-th failure: BaseDelay doubled per
// failure, capped at MaxDelay, then between half and all of that.
func (s *Sender) backoff(p Policy, attempt int) time.Duration {
	d := p.BaseDelay
	for i := 1; i < attempt && d < p.MaxDelay; i++ {
		d *= 2
	}
	if d > p.MaxDelay {
		d = p.MaxDelay
	}
	j := rand.Float64
	if s.Jitter != nil {
		j = s.Jitter
	}
	return d/2 + time.Duration(j()*float64(d/2))
}

func (s *Sender) sleep(ctx context.Context, d time.Duration) error {
	if s.Sleep != nil {
		return s.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Sender) client() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	return noRedirects
}

var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do makes one attempt. It returns the HTTP status (0 when there was no
// answer) and the Retry-After the receiver asked for. Errors never carry
// the URL, which may hold a token.
func (s *Sender) do(ctx context.Context, r request, timeout time.Duration) (int, time.Duration, error) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, r.url, bytes.NewReader(r.body))
	if err != nil {
		return 0, 0, errors.New("cannot build the request")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	if s.UserAgent != "" {
		req.Header.Set("User-Agent", s.UserAgent)
	}
	if r.secret != nil {
		// Signed per attempt: a retry carries the time it was sent.
		ts := strconv.FormatInt(s.now().Unix(), 10)
		req.Header.Set(TimestampHeader, ts)
		req.Header.Set(SignatureHeader, Sign(r.secret, ts, r.body))
	}
	resp, err := s.client().Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			return 0, 0, fmt.Errorf("no answer within %s", timeout)
		}
		return 0, 0, err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, 0, nil
	}
	msg := fmt.Sprintf("receiver answered %s", resp.Status)
	if t := strings.TrimSpace(firstLine(string(snippet), 200)); t != "" {
		msg += ": " + t
	}
	return resp.StatusCode, s.retryAfter(resp.Header.Get("Retry-After")), errors.New(msg)
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func (s *Sender) retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(h)
	if err != nil {
		return 0
	}
	if d := t.Sub(s.now()); d > 0 {
		return d
	}
	return 0
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// attemptResult is the outcome of one attempt at a notification.
type attemptResult struct {
	// Requests counts the requests sent, the failing one included.
	Requests int
	// Status is the failing request's HTTP status, 0 when there was no
	// answer; RetryAfter what it asked for.
	Status     int
	RetryAfter time.Duration
	Err        error
}

// retryable reports whether a failed attempt may succeed later.
func (r attemptResult) retryable() bool { return r.Err != nil && r.Status >= 0 && retryable(r.Status) }

// attempt sends n to a once, without retrying: the caller (an Outbox)
// decides when to try again. It stops at the first request that fails.
func (s *Sender) attempt(ctx context.Context, a *Alert, n *Notification) attemptResult {
	var res attemptResult
	if a.Disabled {
		return attemptResult{Status: -1, Err: fmt.Errorf("alert %q is disabled: its address is empty", a.Name)}
	}
	if a.ch == nil || !a.ch.sendable() {
		return attemptResult{Status: -1, Err: fmt.Errorf("alert %q cannot be sent: its arguments are not all known", a.Name)}
	}
	reqs, err := a.ch.requests(a, n, s.redact)
	if err != nil {
		return attemptResult{Status: -1, Err: fmt.Errorf("alert %q: encode payload: %w", a.Name, err)}
	}
	for _, r := range reqs {
		res.Requests++
		status, ra, err := s.do(ctx, r, s.policy().Timeout)
		if err != nil {
			res.Status, res.RetryAfter = status, ra
			if ctx.Err() != nil {
				res.Status = 0
			}
			res.Err = fmt.Errorf("alert %q (%s): %s", a.Name, r.what, s.Redactor.String(err.Error()))
			return res
		}
	}
	return res
}

// redactedJSON encodes v, redacting every string in it first.
func redactedJSON(v any, redact func(any) any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var generic any
	if err := unmarshalNumbers(data, &generic); err != nil {
		return nil, err
	}
	return json.Marshal(redact(generic))
}

// unmarshalNumbers decodes JSON keeping numbers as json.Number.
func unmarshalNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return dec.Decode(v)
}
