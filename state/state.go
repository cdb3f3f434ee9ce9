// Package state keeps what outlives a run: run records, the emergency stop
// with its append-only audit trail, watch state, and the lease that elects
// one `runbook watch` instance to alert. Two stores implement Store: Dir, a
// directory beside the runbook (the default), and Postgres, a database
// shared by every host of a team.
package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/runbookhq/runbook/record"
)

// Dir is a state directory:
//
//	.lock              advisory lock taken by every change
//	runs/<id>.json     run records
//	stop.json          the emergency stop (absent: off)
//	audit.log          the stop's audit trail, one JSON object a line, append-only
//	watch/<key>.json   the saved state of each watch
//	lead/<key>.lock    held (flock) by the watch instance that alerts
//	locks/<key>.lock   held (flock) by the process running a procedure, naming it
//
// Every change takes an exclusive flock on .lock, so processes on one host
// cannot corrupt it; files are replaced atomically (write and rename).
// Symbolic links inside the directory are never followed for writes (see
// SymlinkError); the directory's own path may be one.
type Dir struct {
	Path string

	mu     sync.Mutex
	leases map[string]*Lease
	locks  map[*Lock]struct{}

	// noSync: run records and journal appends are not synced (Unsynced).
	noSync bool
}

var _ Store = (*Dir)(nil)

// NewDir returns the state directory at path. Nothing is created until
// something is written.
func NewDir(path string) *Dir { return &Dir{Path: path} }

// Unsynced returns the same state directory for writing a run's
// progress: its SaveRun and AppendEvents do not wait for the disk (no
// fsync), which the next synced write of the same record or journal (a
// step about to run, the final record) makes up for. Until then a
// process killed keeps what it wrote, a power cut may lose it. Only
// SaveRun and AppendEvents are meant to be called on it.
func (d *Dir) Unsynced() *Dir { return &Dir{Path: d.Path, noSync: true} }

// Location returns the directory's path.
func (d *Dir) Location() string { return d.Path }

func (d *Dir) runsDir() string  { return filepath.Join(d.Path, "runs") }
func (d *Dir) stopPath() string { return filepath.Join(d.Path, "stop.json") }

// HasStop reports whether this directory has ever recorded an emergency
// stop (on or off), without taking its lock.
func (d *Dir) HasStop() bool {
	_, err := os.Stat(d.stopPath())
	return err == nil
}
func (d *Dir) auditPath() string { return filepath.Join(d.Path, "audit.log") }

// lockWait bounds how long a process waits for the state directory's lock
// that another one holds.
const lockWait = 30 * time.Second

// lock takes an advisory lock on the state directory until the returned
// function is called: exclusive for writers, which create the directory
// and its lock file, or shared for readers, which need no write access
// (and no lock when nothing was ever written). It waits while another
// process holds it, until ctx is done or lockWait passed, whichever comes
// first, and then fails naming the lock file.
func (d *Dir) lock(ctx context.Context, exclusive bool) (func(), error) {
	how, mode := syscall.LOCK_SH, os.O_RDONLY
	if exclusive {
		how, mode = syscall.LOCK_EX, os.O_CREATE|os.O_RDWR
		if err := d.ensureRoot(); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(d.Path, ".lock")
	f, err := openNoFollow(path, mode, 0o644)
	if !exclusive && missing(err) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open state lock: %w", err)
	}
	if err := flockWait(ctx, f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state directory %q: %w", d.Path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// flockWait takes a flock on f, waiting while another process holds it
// until ctx is done or lockWait passed.
func flockWait(ctx context.Context, f *os.File, how int) error {
	start := time.Now()
	pause := 5 * time.Millisecond
	for {
		err := flock(f, how|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		waited := time.Since(start)
		if waited >= lockWait {
			return fmt.Errorf("another process has held its lock file %s for %s (a runbook command or watch that hangs? lsof or fuser names it)", f.Name(), lockWait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("another process holds its lock file %s (lsof or fuser names it); gave up after %s: %w", f.Name(), waited.Round(time.Millisecond), ctx.Err())
		case <-time.After(min(pause, lockWait-waited)):
		}
		pause = min(2*pause, 100*time.Millisecond)
	}
}

// missing reports whether err means a file is not there: it does not
// exist, or a directory on its path is not a directory (nothing was ever
// written there).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// flock is syscall.Flock, retried when a signal interrupts it.
func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// SaveRun writes a run record atomically and returns its path. It does not
// give up when ctx is cancelled: an interrupted run's record is still
// written. A final record (see Final) is never replaced by one that is not.
func (d *Dir) SaveRun(ctx context.Context, run *record.Run) (string, error) {
	data, err := record.MarshalRun(run)
	if err != nil {
		return "", fmt.Errorf("encode run record: %w", err)
	}
	return d.SaveEncodedRun(ctx, run, record.Encoded(data))
}

// SaveEncodedRun is SaveRun of the record enc, already encoded: run
// gives its id and whether it is final, and its items are not read.
func (d *Dir) SaveEncodedRun(ctx context.Context, run *record.Run, enc record.EncodedRun) (string, error) {
	if run.ID == "" || strings.ContainsAny(run.ID, "/\\\x00") || strings.HasPrefix(run.ID, ".") {
		return "", fmt.Errorf("run id %q cannot name a file", run.ID)
	}
	// Not given up when ctx is cancelled (see above), but bounded by
	// its deadline.
	lctx, cancel := detached(ctx)
	defer cancel()
	unlock, err := d.lock(lctx, true)
	if err != nil {
		return "", err
	}
	defer unlock()
	dir, err := d.subdir("runs")
	if err != nil {
		return "", err
	}
	// Under the lock, so that no save lands between the look and the write.
	if !Final(run) {
		if storedFinal(filepath.Join(dir, run.ID+".json")) {
			return filepath.Join(dir, run.ID+".json"), nil
		}
	}
	path := filepath.Join(dir, run.ID+".json")
	if err := notSymlink(path); err != nil {
		return "", err
	}
	if err := record.WriteEncodedAtomic(path, enc, 0o644, !d.noSync); err != nil {
		return "", err
	}
	return path, nil
}

// storedFinal reports whether the record file at path is final (has a
// finish time), reading its top-level fields only up to finished_at:
// the journal's saves ask on every snapshot, and reading the whole
// record (8 MB at 10,000 items) each time made them quadratic in the
// run's size. A file that cannot be read is not final.
func storedFinal(path string) bool {
	var at time.Time
	return topLevelField(path, "finished_at", &at) && !at.IsZero()
}

// RunStatus returns the status run id's record file has as written (not
// settled: see Settle), reading the file only up to it: a record's
// status comes before its items. It returns "" when it cannot tell (no
// such record, a file written in another order), and the caller then
// loads the record. Runs look at the newest records for one that was
// abandoned: reading ten records of 1,000 checks each took 30 ms of every
// `exec` (docs/performance.md, round 4).
func (d *Dir) RunStatus(id string) string {
	if validRunID(id) != nil {
		return ""
	}
	var status string
	if !topLevelField(filepath.Join(d.runsDir(), id+".json"), "status", &status) {
		return ""
	}
	return status
}

// topLevelField decodes the top-level member key of the JSON object in
// the file at path into v, reading the file only up to it, and reports
// whether it did.
func topLevelField(path, key string, v any) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		if k != key {
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return false
			}
			continue
		}
		return dec.Decode(v) == nil
	}
	return false
}

// RunIDs lists the stored run ids, oldest first: by the start time an id
// carries (see record.RunIDTime), and where ids of earlier versions share
// a second, by the records' started_at.
func (d *Dir) RunIDs(_ context.Context) ([]string, error) {
	return d.runIDs()
}

// LoadRun loads a run by id (or unique id prefix), by "last", or by a path
// to a record file, and settles it (see Settle).
func (d *Dir) LoadRun(_ context.Context, ref string) (*record.Run, error) {
	if isRecordPath(ref) {
		return readRun(ref)
	}
	ids, err := d.runIDs()
	if err != nil {
		return nil, err
	}
	id, err := pickRun(ids, ref, d.Path)
	if err != nil {
		return nil, err
	}
	return readRun(filepath.Join(d.runsDir(), id+".json"))
}

// isRecordPath reports whether a run reference names a record file rather
// than a stored run.
func isRecordPath(ref string) bool {
	return strings.HasSuffix(ref, ".json") || strings.ContainsRune(ref, os.PathSeparator)
}

// pickRun resolves "last", an id or a unique id prefix against ids (sorted
// oldest first).
func pickRun(ids []string, ref, where string) (string, error) {
	if ref == "" || ref == "last" {
		if len(ids) == 0 {
			return "", fmt.Errorf("no runs recorded in %s yet", where)
		}
		return ids[len(ids)-1], nil
	}
	var match []string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if strings.HasPrefix(id, ref) {
			match = append(match, id)
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("no run %q in %s", ref, where)
	case 1:
		return match[0], nil
	default:
		return "", fmt.Errorf("run %q is ambiguous in %s: %d runs start with it (%s, %s, …)", ref, where, len(match), match[0], match[1])
	}
}

// Stop returns the emergency stop's state: off when it was never set. A
// stop.json that does not parse is a *DamagedStopError.
func (d *Dir) Stop(_ context.Context) (StopState, error) {
	return d.readStop()
}

func (d *Dir) readStop() (StopState, error) {
	var st StopState
	data, err := os.ReadFile(d.stopPath())
	if missing(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read emergency stop: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return StopState{}, &DamagedStopError{Where: d.stopPath(), Err: err}
	}
	return st, nil
}

// SetStop turns the emergency stop on or off (see ChangeStop).
func (d *Dir) SetStop(ctx context.Context, on bool, entry AuditEntry) (StopState, error) {
	c, err := d.ChangeStop(ctx, StopRequest{On: on, Entry: entry})
	return c.After, err
}

// ChangeStop turns the emergency stop on or off. Under the directory's
// lock it reads the stop it replaces, takes the entry's time (never before
// the trail's last entry), appends the entry to audit.log (synced), then
// replaces stop.json. It is all or nothing: when the append or the new
// stop.json cannot be written (a full disk), audit.log is truncated back
// to what it was and the error says so.
func (d *Dir) ChangeStop(ctx context.Context, req StopRequest) (StopChange, error) {
	entry, err := completeEntry(req.On, req.Entry, nil)
	if err != nil {
		return StopChange{}, err
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return StopChange{}, err
	}
	defer unlock()
	if err := notSymlink(d.stopPath()); err != nil {
		return StopChange{}, err
	}
	before, err := d.readStop()
	if err != nil {
		var damaged *DamagedStopError
		if !req.Force || !errors.As(err, &damaged) {
			return StopChange{}, err
		}
		before = StopState{}
		entry.Repair = fmt.Sprintf("replaced a damaged %s (%v)", filepath.Base(d.stopPath()), damaged.Err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	if entry.Time.IsZero() {
		entry.Time = now
	}
	if last, ok := d.lastAuditTime(); ok && entry.Time.Before(last) {
		entry.Time = last // the clock stepped back: the trail stays in order
	}
	line, err := json.Marshal(entry)
	if err != nil {
		return StopChange{}, fmt.Errorf("encode audit entry: %w", err)
	}
	st := entry.state()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return StopChange{}, fmt.Errorf("encode emergency stop: %w", err)
	}
	undo, err := appendLine(d.auditPath(), line)
	if err != nil {
		return StopChange{}, err
	}
	if err := writeFile(d.Path, "stop.json", append(data, '\n')); err != nil {
		if uerr := undo(); uerr != nil {
			return StopChange{}, fmt.Errorf("write the emergency stop: %w; and its audit line could not be taken back (%v): %s records a change that was not made", err, uerr, d.auditPath())
		}
		return StopChange{}, fmt.Errorf("write the emergency stop: %w (nothing changed: the audit trail was left as it was)", err)
	}
	return StopChange{Before: before, After: st, Entry: entry}, nil
}

// openAppendable opens an append-only file of the state (what names it
// in errors: "audit trail", "journal") for reading and writing, creating
// it, never through a symlink, and returns it with its size. A path that
// is not a regular file is refused.
func openAppendable(path, what string) (*os.File, int64, error) {
	f, err := openNoFollow(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, 0, fmt.Errorf("open %s: %w", what, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s %s is not a regular file", what, path)
	}
	return f, fi.Size(), nil
}

// appendLine appends one line to the audit trail with a single write and
// syncs it; undo truncates the trail back to its size before. A write or
// sync that fails (a full disk) truncates it back at once, so no partial
// line is left. A trail whose last line an older version left incomplete
// gets a newline first, so this line stays whole.
func appendLine(path string, line []byte) (undo func() error, err error) {
	f, size, err := openAppendable(path, "audit trail")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	buf := make([]byte, 0, len(line)+2)
	if size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, size-1); err != nil {
			return nil, fmt.Errorf("read audit trail: %w", err)
		}
		if last[0] != '\n' {
			buf = append(buf, '\n')
		}
	}
	buf = append(append(buf, line...), '\n')
	truncate := func() error {
		if err := f.Truncate(size); err != nil {
			return err
		}
		return f.Sync()
	}
	_, werr := f.WriteAt(buf, size)
	if werr == nil {
		werr = f.Sync()
	}
	if werr != nil {
		if terr := truncate(); terr != nil {
			return nil, fmt.Errorf("append to audit trail %s: %w; truncating it back failed too (%v): its last line may be partial", path, werr, terr)
		}
		return nil, fmt.Errorf("append to audit trail %s: %w (nothing changed: the trail was left as it was)", path, werr)
	}
	undo = func() error {
		g, err := openNoFollow(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer g.Close()
		if err := g.Truncate(size); err != nil {
			return err
		}
		return g.Sync()
	}
	return undo, nil
}

// lastAuditTime returns the time of the trail's last entry.
func (d *Dir) lastAuditTime() (time.Time, bool) {
	f, err := os.Open(d.auditPath())
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return time.Time{}, false
	}
	off := max(fi.Size()-64<<10, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil {
		return time.Time{}, false
	}
	lines := bytes.Split(buf, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		var e AuditEntry
		if json.Unmarshal(lines[i], &e) == nil && !e.Time.IsZero() {
			return e.Time, true
		}
	}
	return time.Time{}, false
}

// Audit returns the audit trail, oldest first. Lines that are not entries
// come back as an *AuditDamageError with every entry that could be read:
// the trail is evidence, so damage shows, but it hides nothing else.
func (d *Dir) Audit(ctx context.Context) ([]AuditEntry, error) {
	unlock, err := d.lock(ctx, false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	data, err := os.ReadFile(d.auditPath())
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	return parseAudit(data, d.auditPath())
}

// parseAudit parses a JSON-lines audit trail. A line that is not an entry
// is a problem: torn when it is an incomplete JSON object (a write cut
// short), damaged otherwise.
func parseAudit(data []byte, name string) ([]AuditEntry, error) {
	var out []AuditEntry
	var problems []AuditProblem
	for n, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		var e AuditEntry
		err := dec.Decode(&e)
		if err == nil && dec.More() {
			err = errors.New("text after the entry")
		}
		if err != nil {
			torn := errors.Is(err, io.ErrUnexpectedEOF)
			problems = append(problems, AuditProblem{Line: n + 1, Torn: torn, Err: err.Error()})
			continue
		}
		if !knownAction(e.Action) {
			problems = append(problems, AuditProblem{Line: n + 1, Err: fmt.Sprintf("unknown action %q", e.Action)})
			continue
		}
		out = append(out, e)
	}
	if len(problems) > 0 {
		return out, &AuditDamageError{Where: name, Problems: problems}
	}
	return out, nil
}

// LoadWatch returns the saved state of a watch, or nil when there is none.
func (d *Dir) LoadWatch(_ context.Context, key string) ([]byte, error) {
	name, err := fileKey(key)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(d.Path, "watch", name+".json"))
	if missing(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read watch state %q: %w", key, err)
	}
	return data, nil
}

// SaveWatch saves a watch's state atomically.
func (d *Dir) SaveWatch(ctx context.Context, key string, data []byte) error {
	name, err := fileKey(key)
	if err != nil {
		return err
	}
	unlock, err := d.lock(ctx, true)
	if err != nil {
		return err
	}
	defer unlock()
	dir, err := d.subdir("watch")
	if err != nil {
		return err
	}
	if err := writeFile(dir, name+".json", data); err != nil {
		return fmt.Errorf("save watch state %q: %w", key, err)
	}
	return nil
}

// Lead tries to take an exclusive, non-blocking flock on lead/<key>.lock
// and holds it until the lease is released, the store is closed, or the
// process dies: such a lease never expires. Its generation counts the
// times the lead was taken, in lead/<key>.gen. Calling Lead again for a
// key this store leads returns the same lease.
func (d *Dir) Lead(_ context.Context, key string) (*Lease, error) {
	name, err := fileKey(key)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if l, ok := d.leases[key]; ok {
		return l, nil
	}
	if err := d.ensureRoot(); err != nil {
		return nil, err
	}
	dir, err := d.subdir("lead")
	if err != nil {
		return nil, fmt.Errorf("create lead directory: %w", err)
	}
	f, err := openNoFollow(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lead lock %q: %w", key, err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock lead %q: %w", key, err)
	}
	// The generation: only the flock's holder writes it.
	var gen int64
	if g, err := openNoFollow(filepath.Join(dir, name+".gen"), os.O_RDONLY, 0); err == nil {
		_, _ = fmt.Fscan(g, &gen)
		g.Close()
	}
	gen++
	_ = writeFile(dir, name+".gen", []byte(strconv.FormatInt(gen, 10)+"\n"))
	var l *Lease
	l = newLease(key, gen, time.Time{}, func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.leases[key] == l {
			delete(d.leases, key)
		}
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	})
	if d.leases == nil {
		d.leases = map[string]*Lease{}
	}
	d.leases[key] = l
	return l, nil
}

// Close gives up every lease and procedure lock this store holds.
func (d *Dir) Close() error {
	d.mu.Lock()
	leases := make([]*Lease, 0, len(d.leases))
	for _, l := range d.leases {
		leases = append(leases, l)
	}
	locks := make([]*Lock, 0, len(d.locks))
	for l := range d.locks {
		locks = append(locks, l)
	}
	d.mu.Unlock()
	for _, l := range leases {
		l.Release()
	}
	for _, l := range locks {
		l.Release()
	}
	return nil
}

func fileKey(key string) (string, error) {
	if key == "" {
		return "", errors.New("empty watch key")
	}
	var b strings.Builder
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' && i > 0
		if ok {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String(), nil
}
