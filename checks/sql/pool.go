package sql

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// pingAfter is how long a connection may sit idle before it is pinged
// on its way out of the pool, so a server restart costs no failed check.
const pingAfter = time.Second

// maxIdle is how long a connection may sit idle before it is closed
// rather than reused (a `watch` between cycles, a firewall's idle cut).
const maxIdle = 30 * time.Minute

// pool is a small bounded pool of pgx connections to one server.
//
// slots bounds the connections in use; idle holds the ones waiting to be
// reused. A connection is either held by a caller that holds a slot or
// sits in idle, so the pool never has more than cap(slots) connections.
type pool struct {
	config *pgx.ConnConfig
	setup  func(context.Context, *pgx.Conn) error
	slots  chan struct{}
	idle   chan idleConn

	closed  atomic.Bool
	closing sync.WaitGroup
}

type idleConn struct {
	conn  *pgx.Conn
	since time.Time
}

// newPool makes a pool of at most size connections; setup prepares each
// new connection.
func newPool(config *pgx.ConnConfig, size int, setup func(context.Context, *pgx.Conn) error) *pool {
	return &pool{
		config: config,
		setup:  setup,
		slots:  make(chan struct{}, size),
		idle:   make(chan idleConn, size),
	}
}

// acquire returns a connection, waiting for a free slot or ctx.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		select {
		case ic := <-p.idle:
			if ic.conn.IsClosed() {
				continue
			}
			if time.Since(ic.since) > maxIdle {
				p.discard(ic.conn)
				continue
			}
			if time.Since(ic.since) > pingAfter {
				if err := ic.conn.Ping(ctx); err != nil {
					p.discard(ic.conn)
					if ctx.Err() != nil {
						<-p.slots
						return nil, err
					}
					continue
				}
			}
			return ic.conn, nil
		default:
			conn, err := pgx.ConnectConfig(ctx, p.config)
			if err != nil {
				<-p.slots
				return nil, err
			}
			if err := p.setup(ctx, conn); err != nil {
				p.discard(conn)
				<-p.slots
				return nil, err
			}
			return conn, nil
		}
	}
}

// release gives conn back. A connection that may be in an unknown state
// (reusable false, a transaction left open, the pool closed) is closed.
func (p *pool) release(conn *pgx.Conn, reusable bool) {
	if !reusable || p.closed.Load() || conn.IsClosed() || conn.PgConn().TxStatus() != 'I' {
		p.discard(conn)
	} else {
		// Never blocks: while this caller holds a slot, fewer than
		// cap(idle) connections can be idle.
		p.idle <- idleConn{conn: conn, since: time.Now()}
		if p.closed.Load() {
			p.drain() // close ran meanwhile and may have missed it
		}
	}
	<-p.slots
}

// discard closes conn in the background.
func (p *pool) discard(conn *pgx.Conn) {
	p.closing.Add(1)
	go func() {
		defer p.closing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	}()
}

// close closes the idle connections and waits for every close to finish.
// Connections still in use are closed when they are released.
func (p *pool) close() {
	p.closed.Store(true)
	p.drain()
	p.closing.Wait()
}

// drain closes the idle connections.
func (p *pool) drain() {
	for {
		select {
		case ic := <-p.idle:
			p.discard(ic.conn)
		default:
			return
		}
	}
}
