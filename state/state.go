// Package state keeps what outlives a run: run records, the emergency stop
// with its append-only audit trail, watch state, and the lease that elects
// one `runbook watch` instance to alert. Two stores implement Store: Dir, a
// directory beside the runbook (the default), and Postgres, a database
// shared by every host of a team.
package state

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
//
// Every change takes an exclusive flock on .lock, so processes on one host
// cannot corrupt it; files are replaced atomically (write and rename).
type Dir struct {
	Path string

	mu     sync.Mutex
	leases map[string]*os.File
}

var _ Store = (*Dir)(nil)

// NewDir returns the state directory at path. Nothing is created until
// something is written.
func NewDir(path string) *Dir { return &Dir{Path: path} }

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

// lock takes an advisory lock on the state directory until the returned
// function is called: exclusive for writers, which create the directory
// and its lock file, or shared for readers, which need no write access
// (and no lock when nothing was ever written).
func (d *Dir) lock(exclusive bool) (func(), error) {
	how, mode := syscall.LOCK_SH, os.O_RDONLY
	if exclusive {
		how, mode = syscall.LOCK_EX, os.O_CREATE|os.O_RDWR
		if err := os.MkdirAll(d.Path, 0o755); err != nil {
			return nil, fmt.Errorf("create state directory %q: %w", d.Path, err)
		}
	}
	f, err := os.OpenFile(filepath.Join(d.Path, ".lock"), mode, 0o644)
	if !exclusive && os.IsNotExist(err) {
		return func() {}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open state lock: %w", err)
	}
	if err := flock(f, how); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state directory %q: %w", d.Path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
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
// written.
func (d *Dir) SaveRun(_ context.Context, run *record.Run) (string, error) {
	data, err := run.Marshal()
	if err != nil {
		return "", fmt.Errorf("encode run record: %w", err)
	}
	unlock, err := d.lock(true)
	if err != nil {
		return "", err
	}
	defer unlock()
	path := filepath.Join(d.runsDir(), run.ID+".json")
	if err := record.WriteFileAtomic(path, data, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// RunIDs lists the stored run ids, oldest first (ids sort by time).
func (d *Dir) RunIDs(_ context.Context) ([]string, error) {
	entries, err := os.ReadDir(d.runsDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	var ids []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".json") && !strings.HasPrefix(n, ".") {
			ids = append(ids, strings.TrimSuffix(n, ".json"))
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// LoadRun loads a run by id (or unique id prefix), by "last", or by a path
// to a record file.
func (d *Dir) LoadRun(ctx context.Context, ref string) (*record.Run, error) {
	if isRecordPath(ref) {
		return record.Read(ref)
	}
	ids, err := d.RunIDs(ctx)
	if err != nil {
		return nil, err
	}
	id, err := pickRun(ids, ref, d.Path)
	if err != nil {
		return nil, err
	}
	return record.Read(filepath.Join(d.runsDir(), id+".json"))
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

// Stop returns the emergency stop's state: off when it was never set.
func (d *Dir) Stop(_ context.Context) (StopState, error) {
	var st StopState
	data, err := os.ReadFile(d.stopPath())
	if os.IsNotExist(err) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read emergency stop: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("parse emergency stop %q: %w", d.stopPath(), err)
	}
	return st, nil
}

// SetStop turns the emergency stop on or off. Under the directory's lock it
// first appends the entry to audit.log (and syncs it), then replaces
// stop.json: no change is ever made without its line in the trail.
func (d *Dir) SetStop(_ context.Context, on bool, entry AuditEntry) (StopState, error) {
	entry, err := completeEntry(on, entry, time.Now)
	if err != nil {
		return StopState{}, err
	}
	line, err := json.Marshal(entry)
	if err != nil {
		return StopState{}, fmt.Errorf("encode audit entry: %w", err)
	}
	st := entry.state()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return StopState{}, fmt.Errorf("encode emergency stop: %w", err)
	}
	unlock, err := d.lock(true)
	if err != nil {
		return StopState{}, err
	}
	defer unlock()
	if err := appendLine(d.auditPath(), line); err != nil {
		return StopState{}, err
	}
	if err := record.WriteFileAtomic(d.stopPath(), append(data, '\n'), 0o644); err != nil {
		return StopState{}, fmt.Errorf("the audit trail records the change but the stop flag was not written: %w", err)
	}
	return st, nil
}

// appendLine appends one line to a file with a single write and syncs it.
func appendLine(path string, line []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open audit trail: %w", err)
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := f.Write(buf); err != nil {
		f.Close()
		return fmt.Errorf("append to audit trail: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync audit trail: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close audit trail: %w", err)
	}
	return nil
}

// Audit returns the audit trail, oldest first. A line that does not parse
// is an error naming it: the trail is evidence, and damage must show.
func (d *Dir) Audit(_ context.Context) ([]AuditEntry, error) {
	unlock, err := d.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	data, err := os.ReadFile(d.auditPath())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read audit trail: %w", err)
	}
	return parseAudit(data, d.auditPath())
}

// parseAudit parses a JSON-lines audit trail strictly.
func parseAudit(data []byte, name string) ([]AuditEntry, error) {
	var out []AuditEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var e AuditEntry
		if err := dec.Decode(&e); err != nil {
			return out, fmt.Errorf("audit trail %s line %d: %w", name, n, err)
		}
		if !knownAction(e.Action) {
			return out, fmt.Errorf("audit trail %s line %d: unknown action %q", name, n, e.Action)
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("read audit trail %s: %w", name, err)
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
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read watch state %q: %w", key, err)
	}
	return data, nil
}

// SaveWatch saves a watch's state atomically.
func (d *Dir) SaveWatch(_ context.Context, key string, data []byte) error {
	name, err := fileKey(key)
	if err != nil {
		return err
	}
	unlock, err := d.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := record.WriteFileAtomic(filepath.Join(d.Path, "watch", name+".json"), data, 0o644); err != nil {
		return fmt.Errorf("save watch state %q: %w", key, err)
	}
	return nil
}

// Lead tries to take an exclusive, non-blocking flock on lead/<key>.lock
// and holds it until release is called, the store is closed, or the
// process dies. Calling Lead again for a key this store leads returns true.
func (d *Dir) Lead(_ context.Context, key string) (bool, func(), error) {
	name, err := fileKey(key)
	if err != nil {
		return false, func() {}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.leases[key]; ok {
		return true, d.releaser(key, f), nil
	}
	dir := filepath.Join(d.Path, "lead")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, func() {}, fmt.Errorf("create lead directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, func() {}, fmt.Errorf("open lead lock %q: %w", key, err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, func() {}, nil
		}
		return false, func() {}, fmt.Errorf("lock lead %q: %w", key, err)
	}
	if d.leases == nil {
		d.leases = map[string]*os.File{}
	}
	d.leases[key] = f
	return true, d.releaser(key, f), nil
}

// releaser returns the function that gives up the lease on key held
// through f; it may be called more than once.
func (d *Dir) releaser(key string, f *os.File) func() {
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.leases[key] != f {
			return
		}
		delete(d.leases, key)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
}

// Close gives up every lease this store holds.
func (d *Dir) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, f := range d.leases {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
		delete(d.leases, key)
	}
	return nil
}

// fileKey turns a watch key into a file name: letters, digits, '-', '_'
// and '.' stay, everything else (and a leading '.') becomes %XX, so
// distinct keys never share a file and no key escapes the directory.
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
