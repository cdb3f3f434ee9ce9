package state

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lease is the lead of one watch key: while it is valid, its holder alone
// sends the alerts and runs the playbooks. A lease of the PostgreSQL store
// expires unless renewed; its holder renews it in the background and
// steps down by itself (Valid turns false, Lost is closed) as soon as it
// cannot be sure the lease still holds: before the database would let
// another instance take it over. Each new holder gets a higher
// Generation, the fencing token that lets a receiver discard what a
// returning earlier holder still sends.
type Lease struct {
	key string
	gen int64

	mu         sync.Mutex
	validUntil time.Time // zero: no expiry (a state directory's flock)
	timer      *time.Timer
	lost       chan struct{}
	lostOnce   sync.Once
	release    func()
	relOnce    sync.Once
	stop       chan struct{} // ends the renewal
}

func newLease(key string, gen int64, validUntil time.Time, release func()) *Lease {
	l := &Lease{key: key, gen: gen, validUntil: validUntil, lost: make(chan struct{}), release: release, stop: make(chan struct{})}
	if !validUntil.IsZero() {
		l.timer = time.AfterFunc(time.Until(validUntil), l.markLost)
	}
	return l
}

// Key returns the watch key the lease is for.
func (l *Lease) Key() string { return l.key }

// Generation returns the fencing token: it grows by one each time the
// lease changes hands, never while one holder renews it.
func (l *Lease) Generation() int64 { return l.gen }

// Expires returns when the lease stops being valid unless renewed before;
// zero for a lease that does not expire (a state directory's).
func (l *Lease) Expires() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil
}

// Valid reports whether the holder may still act as the leader: the lease
// was neither released nor lost, and its last renewal is recent enough.
func (l *Lease) Valid() bool {
	select {
	case <-l.lost:
		return false
	default:
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.validUntil.IsZero() || time.Now().Before(l.validUntil)
}

// Lost is closed when the lease stops being valid: not renewed in time,
// taken over, or released.
func (l *Lease) Lost() <-chan struct{} { return l.lost }

// Release gives the lease up (another instance may take it at once) and
// stops its renewal. It may be called more than once.
func (l *Lease) Release() {
	l.relOnce.Do(func() {
		close(l.stop)
		l.markLost()
		if l.release != nil {
			l.release()
		}
	})
}

func (l *Lease) markLost() {
	l.lostOnce.Do(func() {
		l.mu.Lock()
		if l.timer != nil {
			l.timer.Stop()
		}
		l.mu.Unlock()
		close(l.lost)
	})
}

// extend moves the end of validity to until, unless the lease is lost.
func (l *Lease) extend(until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-l.lost:
		return
	default:
	}
	if until.After(l.validUntil) {
		l.validUntil = until
		l.timer.Reset(time.Until(until))
	}
}

// Reachability is whether a store answered its last call.
type Reachability struct {
	// Reachable is false after a call failed for want of an answer (no
	// connection, a deadline passed), until a call gets through.
	Reachable bool `json:"reachable"`
	// Since is when the store stopped answering; zero while reachable.
	Since time.Time `json:"since,omitzero"`
	// LastContact is when a call last got an answer.
	LastContact time.Time `json:"last_contact,omitzero"`
	// Err is the last failure's message, while unreachable.
	Err string `json:"error,omitempty"`
}

// Reacher is a store that can be out of reach (a database).
type Reacher interface {
	Reachability() Reachability
}

// ReachabilityOf returns the store's reachability; a store that cannot
// be out of reach (a directory) is always reachable.
func ReachabilityOf(s Store) Reachability {
	if r, ok := s.(Reacher); ok {
		return r.Reachability()
	}
	return Reachability{Reachable: true}
}

// leaseMargin is how long before the database's expiry a holder steps
// down: the expiry is counted from before the renewal was sent, less this
// margin for clocks that drift apart.
func leaseMargin(ttl time.Duration) time.Duration { return ttl / 5 }

// Lead returns the lease on key when this store holds it or could take
// it: a row of runbook.leases, taken when it is free or expired (with a
// new generation), renewed every LeaseRenew and valid for LeaseTTL less a
// margin after each renewal was sent. It returns nil (and no error) when
// another instance holds it. Calling Lead again for a key whose lease is
// still valid returns the same lease; one that was lost is competed for
// again.
func (p *Postgres) Lead(ctx context.Context, key string) (*Lease, error) {
	ctx, cancel := p.deadline(ctx)
	defer cancel()
	if key == "" {
		return nil, errors.New("empty watch key")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if l, ok := p.leases[key]; ok {
		if l.Valid() {
			return l, nil
		}
		delete(p.leases, key)
		l.relOnce.Do(func() { close(l.stop) }) // lost: nothing to give back
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	holder := hex.EncodeToString(b[:])
	host, _ := os.Hostname()
	ttl := p.leaseTTL
	sent := time.Now()
	var gen int64
	err := p.do(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `INSERT INTO runbook.leases AS l (key, holder, host, pid, generation, since, expires_at)
VALUES ($1, $2, $3, $4, 1, clock_timestamp(), clock_timestamp() + make_interval(secs => $5))
ON CONFLICT (key) DO UPDATE SET holder = excluded.holder, host = excluded.host, pid = excluded.pid,
	generation = l.generation + 1, since = excluded.since, expires_at = excluded.expires_at
WHERE l.expires_at <= clock_timestamp()
RETURNING generation`, key, holder, host, os.Getpid(), ttl.Seconds()).Scan(&gen)
		if errors.Is(err, pgx.ErrNoRows) {
			gen = 0
			return nil
		}
		return err
	})
	if err != nil {
		return nil, p.errorf(fmt.Sprintf("take the lead lease %q", key), err)
	}
	if gen == 0 {
		return nil, nil
	}
	var l *Lease
	l = newLease(key, gen, sent.Add(ttl-leaseMargin(ttl)), func() {
		p.mu.Lock()
		if p.leases[key] == l {
			delete(p.leases, key)
		}
		p.mu.Unlock()
		rctx, cancel := context.WithTimeout(context.Background(), min(p.timeout, 5*time.Second))
		defer cancel()
		_ = p.read(rctx, func(c *pgx.Conn) error {
			_, err := c.Exec(rctx, `UPDATE runbook.leases SET expires_at = clock_timestamp()
WHERE key = $1 AND holder = $2 AND generation = $3`, key, holder, gen)
			return err
		})
	})
	if p.leases == nil {
		p.leases = map[string]*Lease{}
	}
	p.leases[key] = l
	go p.renewLease(l, holder)
	return l, nil
}

// renewLease renews l every leaseRenew until it is released or lost. A
// renewal that fails is tried again at the next tick; the lease stays
// valid meanwhile, until its validity runs out. A renewal that finds the
// lease in other hands loses it at once.
func (p *Postgres) renewLease(l *Lease, holder string) {
	t := time.NewTicker(p.leaseRenew)
	defer t.Stop()
	ttl := p.leaseTTL
	for {
		select {
		case <-l.stop:
			return
		case <-l.lost:
			return
		case <-t.C:
		}
		sent := time.Now()
		deadline := sent.Add(p.leaseRenew)
		if e := l.Expires(); e.Before(deadline) {
			deadline = e
		}
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		var renewed bool
		err := p.read(ctx, func(c *pgx.Conn) error {
			tag, err := c.Exec(ctx, `UPDATE runbook.leases SET expires_at = clock_timestamp() + make_interval(secs => $4)
WHERE key = $1 AND holder = $2 AND generation = $3 AND expires_at > clock_timestamp()`, l.key, holder, l.gen, ttl.Seconds())
			renewed = err == nil && tag.RowsAffected() == 1
			return err
		})
		cancel()
		switch {
		case err != nil:
			// Not renewed this time; Valid turns false when the
			// validity runs out.
		case !renewed:
			l.markLost()
			return
		default:
			l.extend(sent.Add(ttl - leaseMargin(ttl)))
		}
	}
}
