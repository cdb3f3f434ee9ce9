package alert

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Defaults of an Outbox.
const (
	// DefaultQueueLimit bounds the checks an outbox holds transitions for.
	DefaultQueueLimit = 1000
	// DefaultMaxAge is how long a transition may wait to be delivered
	// before it is dropped.
	DefaultMaxAge = time.Hour
	// maxBatch bounds the transitions of one webhook or Slack message.
	maxBatch = 100
)

// Why an outbox dropped a transition, as the drops metric names it.
const (
	DropOverflow = "overflow" // the queue was full
	DropExpired  = "expired"  // undelivered for longer than MaxAge
	DropRejected = "rejected" // the receiver refused it (4xx): retrying cannot help
)

// Outbox is one alert's delivery queue and the worker that empties it, so
// that a slow, failing or throttling receiver never holds up the checks.
//
// The queue holds at most one transition per check: a newer one replaces
// the one waiting (the latest state wins), so a receiver that comes back
// gets each check's state, not a backlog of stale changes. The worker
// sends what is queued as soon as the alert's rate limit allows, batching
// everything waiting into one message (PagerDuty: one event per check,
// each counted by the limit); after a failure it waits with jittered
// exponential backoff, or as long as a 429 or 503 answer's Retry-After
// asks if that is longer, whatever new transitions arrive meanwhile.
type Outbox struct {
	alert  *Alert
	sender *Sender
	// Limit bounds the queue; MaxAge drops transitions waiting longer.
	limit  int
	maxAge time.Duration
	report func(Delivery)

	mu        sync.Mutex
	items     []queued
	header    Notification
	seq       uint64
	notBefore time.Time
	held      bool // notBefore comes from a Retry-After
	failures  int
	sent      []time.Time // send times within the rate window
	attempts  int64
	drops     int64
	lastErr   string
	lastErrAt time.Time
	lastOK    time.Time
	wake      chan struct{}
	changed   chan struct{}
}

// queued is one check's transition waiting in an outbox.
type queued struct {
	t      Transition
	seq    uint64
	queued time.Time
}

// Delivery is what the worker reports after each attempt or drop.
type Delivery struct {
	Alert, Channel string
	// Transitions were delivered (Err nil), failed (Err set, kept to try
	// again unless Dropped), or were dropped.
	Transitions []Transition
	// Attempt is true for an attempt, false for a drop.
	Attempt bool
	Err     error
	// Dropped names why the transitions were given up on, if they were.
	Dropped string
	// Retry is when the next attempt may be made, after a failure.
	Retry time.Time
	// RetryAfter is true when Retry comes from the receiver's Retry-After.
	RetryAfter bool
}

// OutboxOptions configure an Outbox.
type OutboxOptions struct {
	// Limit bounds the queue (DefaultQueueLimit when 0).
	Limit int
	// MaxAge drops transitions waiting longer (DefaultMaxAge when 0).
	MaxAge time.Duration
	// Report, when set, hears every attempt and drop; it is called from
	// the worker's goroutine and must not block.
	Report func(Delivery)
}

// NewOutbox makes the outbox of alert a, sending through s. Its worker
// runs in Run.
func NewOutbox(a *Alert, s *Sender, opts OutboxOptions) *Outbox {
	if opts.Limit <= 0 {
		opts.Limit = DefaultQueueLimit
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = DefaultMaxAge
	}
	if opts.Report == nil {
		opts.Report = func(Delivery) {}
	}
	return &Outbox{
		alert: a, sender: s, limit: opts.Limit, maxAge: opts.MaxAge, report: opts.Report,
		wake: make(chan struct{}, 1), changed: make(chan struct{}),
	}
}

// Alert returns the outbox's alert.
func (o *Outbox) Alert() *Alert { return o.alert }

// Enqueue queues transitions with the notification's header (runbook,
// health, time). A transition replaces the one waiting for its check.
func (o *Outbox) Enqueue(n *Notification) {
	if len(n.Transitions) == 0 {
		return
	}
	now := o.sender.now()
	o.mu.Lock()
	o.setHeader(n)
	var dropped []Transition
	for _, t := range n.Transitions {
		o.seq++
		if i := o.find(t.Check); i >= 0 {
			// The newer transition replaces the older one, and its age
			// starts now: MaxAge must not drop the latest state because
			// an older one waited long.
			o.items[i] = queued{t: t, seq: o.seq, queued: now}
			continue
		}
		o.items = append(o.items, queued{t: t, seq: o.seq, queued: now})
		if len(o.items) > o.limit {
			dropped = append(dropped, o.items[0].t)
			o.items = o.items[1:]
			o.drops++
		}
	}
	o.signal()
	o.mu.Unlock()
	if len(dropped) > 0 {
		o.report(Delivery{Alert: o.alert.Name, Channel: o.alert.Channel, Transitions: dropped, Dropped: DropOverflow})
	}
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *Outbox) setHeader(n *Notification) {
	h := *n
	h.Transitions = nil
	o.header = h
}

func (o *Outbox) find(check string) int {
	for i, q := range o.items {
		if q.t.Check == check {
			return i
		}
	}
	return -1
}

// signal wakes whoever waits in Flush; o.mu is held.
func (o *Outbox) signal() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// Run delivers until ctx is done.
func (o *Outbox) Run(ctx context.Context) {
	for {
		wait, batch, n := o.next()
		if wait < 0 {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
			}
			continue
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-o.wake:
				t.Stop()
			case <-t.C:
			}
			continue
		}
		res := o.sender.attempt(ctx, o.alert, n)
		if ctx.Err() != nil {
			return // stopping: the batch stays queued, and saved
		}
		o.done(batch, n, res)
	}
}

// next returns how long to wait before the next attempt (-1: until
// something is queued) or, when it may be made now, the batch to send and
// its notification.
func (o *Outbox) next() (time.Duration, []queued, *Notification) {
	now := o.sender.now()
	o.mu.Lock()
	expired := o.expire(now)
	defer func() {
		o.mu.Unlock()
		if len(expired) > 0 {
			o.report(Delivery{Alert: o.alert.Name, Channel: o.alert.Channel, Transitions: expired, Dropped: DropExpired})
		}
	}()
	if len(o.items) == 0 {
		return -1, nil, nil
	}
	if now.Before(o.notBefore) {
		return o.notBefore.Sub(now), nil, nil
	}
	if wait := o.rateWait(now); wait > 0 {
		return wait, nil, nil
	}
	size := len(o.items)
	if o.alert.Channel == "pagerduty" {
		size = 1 // one event per request, each counted by the rate limit
	} else if size > maxBatch {
		size = maxBatch
	}
	batch := append([]queued(nil), o.items[:size]...)
	n := o.header
	for _, q := range batch {
		n.Transitions = append(n.Transitions, q.t)
	}
	o.sent = append(o.sent, now)
	o.attempts++
	return 0, batch, &n
}

// expire drops transitions older than maxAge; o.mu is held.
func (o *Outbox) expire(now time.Time) []Transition {
	var out []Transition
	kept := o.items[:0]
	for _, q := range o.items {
		if now.Sub(q.queued) > o.maxAge {
			out = append(out, q.t)
			o.drops++
			continue
		}
		kept = append(kept, q)
	}
	o.items = kept
	if len(out) > 0 {
		o.signal()
	}
	return out
}

// rateWait is how long the rate limit asks to wait before the next send;
// o.mu is held.
func (o *Outbox) rateWait(now time.Time) time.Duration {
	r := o.alert.Rate
	if r.N <= 0 || r.Per <= 0 {
		return 0
	}
	kept := o.sent[:0]
	for _, t := range o.sent {
		if now.Sub(t) < r.Per {
			kept = append(kept, t)
		}
	}
	o.sent = kept
	if len(o.sent) < r.N {
		return 0
	}
	return o.sent[len(o.sent)-r.N].Add(r.Per).Sub(now)
}

// done records an attempt's outcome.
func (o *Outbox) done(batch []queued, n *Notification, res attemptResult) {
	now := o.sender.now()
	d := Delivery{Alert: o.alert.Name, Channel: o.alert.Channel, Transitions: n.Transitions, Attempt: true, Err: res.Err}
	o.mu.Lock()
	switch {
	case res.Err == nil:
		o.remove(batch)
		o.failures, o.notBefore, o.held = 0, time.Time{}, false
		o.lastOK = now
	case !res.retryable():
		o.remove(batch)
		o.drops += int64(len(batch))
		o.failures, o.notBefore, o.held = 0, time.Time{}, false
		o.lastErr, o.lastErrAt = res.Err.Error(), now
		d.Dropped = DropRejected
	default:
		o.failures++
		delay := o.sender.backoff(o.sender.policy(), o.failures)
		held := false
		if (res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable) && res.RetryAfter > delay {
			delay, held = res.RetryAfter, true
		}
		o.notBefore, o.held = now.Add(delay), held
		o.lastErr, o.lastErrAt = res.Err.Error(), now
		d.Retry, d.RetryAfter = o.notBefore, held
	}
	o.signal()
	o.mu.Unlock()
	o.report(d)
}

// remove takes the batch's transitions out of the queue, unless a newer
// transition of their check replaced them meanwhile; o.mu is held.
func (o *Outbox) remove(batch []queued) {
	for _, b := range batch {
		if i := o.find(b.t.Check); i >= 0 && o.items[i].seq == b.seq {
			o.items = append(o.items[:i], o.items[i+1:]...)
		}
	}
}

// Flush waits until the outbox is idle: nothing queued, or an attempt made
// since Flush was called has failed, or a Retry-After holds the next one.
// It returns ctx's error when ctx ends first.
func (o *Outbox) Flush(ctx context.Context) error {
	o.mu.Lock()
	start := o.attempts
	o.mu.Unlock()
	for {
		o.mu.Lock()
		idle := len(o.items) == 0 ||
			(o.attempts > start && o.failures > 0) ||
			(o.held && o.sender.now().Before(o.notBefore))
		ch := o.changed
		o.mu.Unlock()
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// OutboxStats describe an outbox for metrics and /healthz.
type OutboxStats struct {
	// Queued counts the transitions waiting; Oldest is when the oldest
	// was queued.
	Queued int
	Oldest time.Time
	// Checks names the checks with a transition waiting.
	Checks []string
	// Attempts and Drops count since the process started.
	Attempts, Drops int64
	// Failing is true when the last attempt failed; LastError says how.
	Failing     bool
	LastError   string
	LastErrorAt time.Time
	LastOK      time.Time
	// NotBefore is when the next attempt may be made, after a failure;
	// RetryAfter is true when the receiver asked for it.
	NotBefore  time.Time
	RetryAfter bool
}

// Stats returns the outbox's state now.
func (o *Outbox) Stats() OutboxStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := OutboxStats{
		Queued: len(o.items), Attempts: o.attempts, Drops: o.drops,
		Failing: o.failures > 0, LastError: o.lastErr, LastErrorAt: o.lastErrAt, LastOK: o.lastOK,
		NotBefore: o.notBefore, RetryAfter: o.held,
	}
	for _, q := range o.items {
		s.Checks = append(s.Checks, q.t.Check)
		if s.Oldest.IsZero() || q.queued.Before(s.Oldest) {
			s.Oldest = q.queued
		}
	}
	return s
}

// Saved is an outbox's state as a watch keeps it between processes.
type Saved struct {
	// Pending are the transitions waiting, oldest first; each one's Time
	// stands for when it was queued.
	Pending []Transition `json:"pending,omitempty"`
	// NotBefore is when the next attempt may be made; RetryAfter is true
	// when the receiver asked for that wait.
	NotBefore  time.Time `json:"not_before,omitzero"`
	RetryAfter bool      `json:"retry_after,omitempty"`
	Failures   int       `json:"failures,omitempty"`
	// Health and PreviousHealth are the latest notification's.
	Health         string `json:"health,omitempty"`
	PreviousHealth string `json:"previous_health,omitempty"`
	LastError      string `json:"last_error,omitempty"`
}

// Save returns the outbox's state, to be restored by Restore.
func (o *Outbox) Save() Saved {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := Saved{NotBefore: o.notBefore, RetryAfter: o.held, Failures: o.failures,
		Health: o.header.Health, PreviousHealth: o.header.PreviousHealth, LastError: o.lastErr}
	for _, q := range o.items {
		t := q.t
		if t.Time.IsZero() || q.queued.Before(t.Time) {
			t.Time = q.queued
		}
		s.Pending = append(s.Pending, t)
	}
	return s
}

// Restore replaces the outbox's queue and retry time by saved ones, with
// header giving the runbook's name, title and host.
func (o *Outbox) Restore(s Saved, header Notification) {
	o.mu.Lock()
	o.items = nil
	for _, t := range s.Pending {
		if o.find(t.Check) >= 0 {
			continue
		}
		o.seq++
		o.items = append(o.items, queued{t: t, seq: o.seq, queued: t.Time})
	}
	if len(o.items) > o.limit {
		o.items = o.items[len(o.items)-o.limit:]
	}
	header.Health, header.PreviousHealth = s.Health, s.PreviousHealth
	o.setHeader(&header)
	o.notBefore, o.held, o.failures, o.lastErr = s.NotBefore, s.RetryAfter, s.Failures, s.LastError
	o.signal()
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}
