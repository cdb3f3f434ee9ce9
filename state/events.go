package state

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/record"
)

// EventLog is a store that keeps each run's journal as an append-only
// chain of events (see record.Event). Both Dir and Postgres are one.
type EventLog interface {
	// AppendEvents appends events to the journal of run runID, in
	// order, atomically with respect to other writers: each is numbered
	// and chained after the journal's last event (record.Chain), with
	// RecordedAt set to now (and OccurredAt, when zero, too). It returns
	// the events as stored.
	AppendEvents(ctx context.Context, runID string, events []record.Event) ([]record.Event, error)
	// Events returns the journal of run runID, oldest first; none (and
	// no error) for a run without one.
	Events(ctx context.Context, runID string) ([]record.Event, error)
}

var (
	_ EventLog = (*Dir)(nil)
	_ EventLog = (*Postgres)(nil)
)

// AppendEvents is EventLog's for runID, when store keeps journals; it
// does nothing for a store that does not.
func AppendEvents(ctx context.Context, store Store, runID string, events ...record.Event) ([]record.Event, error) {
	el, ok := store.(EventLog)
	if !ok || len(events) == 0 {
		return nil, nil
	}
	return el.AppendEvents(ctx, runID, events)
}

// sealEvents numbers, times and chains events after last (nil: none),
// and encodes each as one line of the journal (record.Sealer), without
// its newline.
func sealEvents(last *record.Event, events []record.Event, now time.Time) ([]record.Event, [][]byte, error) {
	sealed, buf, err := sealEventsTo(nil, last, events, now)
	if err != nil {
		return nil, nil, err
	}
	lines := make([][]byte, len(sealed))
	for i := range lines {
		// A sealed line holds no newline (JSON's are escaped).
		n := bytes.IndexByte(buf, '\n')
		lines[i], buf = buf[:n:n], buf[n+1:]
	}
	return sealed, lines, nil
}

// sealEventsTo numbers, times and chains events after last (nil:
// none), and appends each to dst as one line of the journal
// (record.Sealer) ending in a newline: one buffer sized for them all.
// A state directory wrote each line apart and then copied them into
// the buffer it writes, and the run's first and last events hold the
// whole record (with record.Sealer's in-place hash: 10,000 HTTP checks,
// peak RSS 202 → 179 MB; docs/performance.md, "round 9: the run's live
// heap").
func sealEventsTo(dst []byte, last *record.Event, events []record.Event, now time.Time) ([]record.Event, []byte, error) {
	n := len(dst)
	for i := range events {
		e := &events[i]
		n += len(e.Data) + len(e.Type) + len(e.Item) + len(e.Actor) + len(e.Surface) + 300
	}
	dst = slices.Grow(dst, n-len(dst))
	out := make([]record.Event, len(events))
	now = now.UTC()
	var s record.Sealer
	for i, e := range events {
		e.RecordedAt = now
		if e.OccurredAt.IsZero() {
			e.OccurredAt = now
		}
		e.OccurredAt = e.OccurredAt.UTC()
		var err error
		if dst, err = s.Seal(dst, last, &e); err != nil {
			return nil, nil, fmt.Errorf("encode event: %w", err)
		}
		dst = append(dst, '\n')
		out[i] = e
		last = &out[i]
	}
	return out, dst, nil
}

func (d *Dir) eventsPath(runID string) string {
	return filepath.Join(d.runsDir(), runID+".events.jsonl")
}

// AppendEvents appends events to runs/<id>.events.jsonl with a single
// write, synced, under the directory's lock. A write that fails (a full
// disk) is truncated back, so no partial event is left.
func (d *Dir) AppendEvents(ctx context.Context, runID string, events []record.Event) ([]record.Event, error) {
	if err := validRunID(runID); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, nil
	}
	lctx, cancel := detached(ctx)
	defer cancel()
	unlock, err := d.lock(lctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := d.subdir("runs"); err != nil {
		return nil, err
	}
	return d.appendEventsLocked(runID, events)
}

func (d *Dir) appendEventsLocked(runID string, events []record.Event) ([]record.Event, error) {
	path := d.eventsPath(runID)
	f, size, err := openAppendable(path, "journal")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	last, torn, err := lastEvent(f, size)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	var buf []byte
	if torn {
		buf = []byte{'\n'}
	}
	sealed, buf, err := sealEventsTo(buf, last, events, time.Now())
	if err != nil {
		return nil, err
	}
	_, werr := f.WriteAt(buf, size)
	if werr == nil && !d.noSync {
		werr = f.Sync()
	}
	if werr != nil {
		if terr := f.Truncate(size); terr != nil {
			return nil, fmt.Errorf("append to journal %s: %w; truncating it back failed too (%v): its last line may be partial", path, werr, terr)
		}
		_ = f.Sync()
		return nil, fmt.Errorf("append to journal %s: %w", path, werr)
	}
	return sealed, nil
}

// chainHead decodes of a journal's last event what the next is chained
// with (record.Chain, record.Sealer): its number and hash. The line is
// still checked to be JSON, but its data is not decoded: the event after
// the run's first (the whole plan, 2.5 MB at 10,000 `shell` checks)
// decoded it into an Event, a copy of every byte
// (docs/performance.md, "round 8: the journal per check").
func chainHead(line []byte) (*record.Event, error) {
	var h struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, err
	}
	return &record.Event{Seq: h.Seq, Hash: h.Hash}, nil
}

// lastEvent reads the last whole event of a journal file of size bytes
// (its number and hash: chainHead),
// and whether the file ends in an incomplete line (a write cut short).
func lastEvent(f *os.File, size int64) (*record.Event, bool, error) {
	if size == 0 {
		return nil, false, nil
	}
	// Read back from the end in chunks until the line before the last
	// whole one starts. Each chunk is searched once and they are joined
	// when one holds a newline: the journal's first event holds the whole plan (5 MB at
	// 10,000 checks), and joining and searching the growing tail at
	// every chunk made reading it back quadratic.
	const chunk = 64 << 10
	var chunks [][]byte
	total := 0
	for off := size; ; {
		n := int64(chunk)
		if off < n {
			n = off
		}
		off -= n
		b := make([]byte, n)
		if _, err := f.ReadAt(b, off); err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		chunks = append(chunks, b)
		total += len(b)
		search := b
		if off+n == size {
			search = bytes.TrimSuffix(b, []byte("\n"))
		}
		if bytes.IndexByte(search, '\n') < 0 && off > 0 {
			continue
		}
		tail := make([]byte, 0, total)
		for i := len(chunks) - 1; i >= 0; i-- {
			tail = append(tail, chunks[i]...)
		}
		torn := tail[len(tail)-1] != '\n'
		lines := bytes.Split(bytes.TrimSuffix(tail, []byte("\n")), []byte("\n"))
		if torn {
			lines = lines[:len(lines)-1]
		}
		for i := len(lines) - 1; i >= 0; i-- {
			if len(bytes.TrimSpace(lines[i])) == 0 {
				continue
			}
			if i == 0 && off > 0 {
				// The line may start before what was read (the
				// newline found ends it, before a torn line or
				// blank ones): read on.
				break
			}
			e, err := chainHead(lines[i])
			if err != nil {
				return nil, false, fmt.Errorf("its last event cannot be read: %w", err)
			}
			return e, torn, nil
		}
		if off == 0 {
			return nil, torn, nil
		}
	}
}

// Events reads runs/<id>.events.jsonl. A last line cut short (a crash
// during a write) is left out; any other line that is not an event is an
// error naming it.
func (d *Dir) Events(_ context.Context, runID string) ([]record.Event, error) {
	if err := validRunID(runID); err != nil {
		return nil, err
	}
	f, err := os.Open(d.eventsPath(runID))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read journal %s: %w", d.eventsPath(runID), err)
	}
	return parseEvents(data, d.eventsPath(runID))
}

func parseEvents(data []byte, where string) ([]record.Event, error) {
	var out []record.Event
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), len(data)+1)
	n := 0
	complete := len(data) == 0 || data[len(data)-1] == '\n'
	lines := bytes.Count(data, []byte("\n"))
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var e record.Event
		if err := json.Unmarshal(line, &e); err != nil {
			if !complete && n == lines+1 {
				break // torn: a write cut short
			}
			return out, fmt.Errorf("journal %s: line %d is not an event: %w", where, n, err)
		}
		e.Raw = append(json.RawMessage(nil), line...)
		out = append(out, e)
	}
	return out, sc.Err()
}

// AppendEvents inserts events into runbook.run_events in one
// transaction, under an advisory lock per run so that writers chain one
// after another. The table is append-only: see AppGrants.
func (p *Postgres) AppendEvents(ctx context.Context, runID string, events []record.Event) ([]record.Event, error) {
	if len(events) == 0 {
		return nil, nil
	}
	var sealed []record.Event
	err := p.do(ctx, func(c *pgx.Conn) error {
		return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			var err error
			sealed, err = appendEventsTx(ctx, tx, runID, events)
			return err
		})
	})
	if err != nil {
		return nil, p.errorf("append to the journal of run "+runID, err)
	}
	return sealed, nil
}

// appendEventsTx appends events in tx (see Postgres.AppendEvents).
func appendEventsTx(ctx context.Context, tx pgx.Tx, runID string, events []record.Event) ([]record.Event, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey("runbook journal "+runID)); err != nil {
		return nil, err
	}
	var last *record.Event
	var body string
	err := tx.QueryRow(ctx, `SELECT event FROM runbook.run_events WHERE run_id = $1 ORDER BY seq DESC LIMIT 1`, runID).Scan(&body)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		return nil, err
	default:
		if last, err = chainHead([]byte(body)); err != nil {
			return nil, fmt.Errorf("the journal's last event cannot be read: %w", err)
		}
	}
	sealed, lines, err := sealEvents(last, events, time.Now())
	if err != nil {
		return nil, err
	}
	for i, e := range sealed {
		line := lines[i]
		if _, err := tx.Exec(ctx, `INSERT INTO runbook.run_events (run_id, seq, type, item, recorded_at, hash, event) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			runID, e.Seq, e.Type, e.Item, e.RecordedAt, e.Hash, string(line)); err != nil {
			return nil, err
		}
	}
	return sealed, nil
}

// hasEventsTx reports whether run runID has a journal.
func hasEventsTx(ctx context.Context, tx pgx.Tx, runID string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM runbook.run_events WHERE run_id = $1)`, runID).Scan(&ok)
	return ok, err
}

// Events reads the journal of run runID from runbook.run_events.
func (p *Postgres) Events(ctx context.Context, runID string) ([]record.Event, error) {
	var out []record.Event
	err := p.read(ctx, func(c *pgx.Conn) error {
		out = nil
		rows, err := c.Query(ctx, `SELECT seq, event FROM runbook.run_events WHERE run_id = $1 ORDER BY seq`, runID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var seq int64
			var body string
			if err := rows.Scan(&seq, &body); err != nil {
				return err
			}
			var e record.Event
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				return fmt.Errorf("event %d is not an event: %w", seq, err)
			}
			e.Raw = json.RawMessage(body)
			out = append(out, e)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, p.errorf("read the journal of run "+runID, err)
	}
	return out, nil
}

// signoffEvent is the journal's event for a sign-off: a signature when
// it is signed by key, else a signoff.
func signoffEvent(s record.Signoff) (record.Event, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return record.Event{}, fmt.Errorf("encode sign-off: %w", err)
	}
	typ := record.EventSignoff
	if s.Signature != "" {
		typ = record.EventSignature
	}
	return record.Event{Type: typ, OccurredAt: s.At, Actor: s.Name, Surface: s.Surface, Data: data}, nil
}
