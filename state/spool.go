package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/runbookhq/runbook/record"
)

// Spool is a local directory of run records that their state could not
// take (a database out of reach, a full disk): <id>.json is the record,
// readable by `runbook show <path>`, and <id>.state names the store it is
// for. Flush moves them into that store once it answers again. The zero
// Spool is the default directory, $TMPDIR/runbook-spool.
type Spool struct {
	// Dir is the spool directory; empty means DefaultSpoolDir().
	Dir string
}

// DefaultSpoolDir is $TMPDIR/runbook-spool (/tmp/runbook-spool).
func DefaultSpoolDir() string { return filepath.Join(os.TempDir(), "runbook-spool") }

func (s Spool) dir() string {
	if s.Dir == "" {
		return DefaultSpoolDir()
	}
	return s.Dir
}

// SpoolTarget names a store in the spool: a directory's absolute path, a
// database's location (without password).
func SpoolTarget(store Store) string {
	if d, ok := store.(*Dir); ok {
		if abs, err := filepath.Abs(d.Path); err == nil {
			return abs
		}
		return d.Path
	}
	return store.Location()
}

// Put writes run to the spool, for store, replacing an earlier copy of
// the same run, and returns the record's path.
func (s Spool) Put(store Store, run *record.Run) (string, error) {
	data, err := record.MarshalRun(run)
	if err != nil {
		return "", fmt.Errorf("encode run record: %w", err)
	}
	return s.PutEncoded(store, run, record.Encoded(data))
}

// PutEncoded is Put of the record enc, already encoded: run gives its id
// (see EncodedRunSaver).
func (s Spool) PutEncoded(store Store, run *record.Run, enc record.EncodedRun) (string, error) {
	if run.ID == "" || strings.ContainsAny(run.ID, "/\\\x00") || strings.HasPrefix(run.ID, ".") {
		return "", fmt.Errorf("run id %q cannot name a file", run.ID)
	}
	path := filepath.Join(s.dir(), run.ID+".json")
	if err := os.MkdirAll(s.dir(), 0o700); err != nil {
		return "", fmt.Errorf("spool run %s: %w", run.ID, err)
	}
	if err := s.private(); err != nil {
		return "", fmt.Errorf("spool run %s: %w", run.ID, err)
	}
	// The target first: a record without one is never flushed anywhere.
	if err := record.WriteFileAtomic(strings.TrimSuffix(path, ".json")+".state", []byte(SpoolTarget(store)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("spool run %s: %w", run.ID, err)
	}
	if err := record.WriteEncodedAtomic(path, enc, 0o600, true); err != nil {
		return "", fmt.Errorf("spool run %s: %w", run.ID, err)
	}
	return path, nil
}

// Remove deletes the spooled copy of run id, if any (not its spooled
// events: see PutEvents).
func (s Spool) Remove(id string) {
	base := filepath.Join(s.dir(), id)
	_ = os.Remove(base + ".json")
	s.removeOrphan(id)
}

// PutEvents appends events of run id's journal that its store did not
// take to <id>.events.jsonl in the spool, for store, and returns the
// file's path. Flush appends them to the store's journal of the run
// (numbered and chained there), before the run's spooled record.
func (s Spool) PutEvents(store Store, id string, events []record.Event) (string, error) {
	if id == "" || strings.ContainsAny(id, "/\\\x00") || strings.HasPrefix(id, ".") {
		return "", fmt.Errorf("run id %q cannot name a file", id)
	}
	if err := os.MkdirAll(s.dir(), 0o700); err != nil {
		return "", fmt.Errorf("spool events of run %s: %w", id, err)
	}
	if err := s.private(); err != nil {
		return "", fmt.Errorf("spool events of run %s: %w", id, err)
	}
	base := filepath.Join(s.dir(), id)
	if err := record.WriteFileAtomic(base+".state", []byte(SpoolTarget(store)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("spool events of run %s: %w", id, err)
	}
	var buf []byte
	for _, e := range events {
		line, err := json.Marshal(e)
		if err != nil {
			return "", fmt.Errorf("encode event: %w", err)
		}
		buf = append(append(buf, line...), '\n')
	}
	f, err := os.OpenFile(base+".events.jsonl", os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("spool events of run %s: %w", id, err)
	}
	_, werr := f.Write(buf)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("spool events of run %s: %w", id, werr)
	}
	return base + ".events.jsonl", nil
}

// flushEvents appends run id's spooled events to store's journal and
// removes them from the spool.
func (s Spool) flushEvents(ctx context.Context, store Store, id string) error {
	path := filepath.Join(s.dir(), id+".events.jsonl")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	events, err := parseEvents(data, path)
	if err != nil {
		return err
	}
	if _, err := AppendEvents(ctx, store, id, events...); err != nil {
		return err
	}
	return os.Remove(path)
}

// private refuses a spool directory that others could write to (a
// shared /tmp where someone else made it): its records would be stored
// in the state as if this user's runs had written them.
func (s Spool) private() error {
	fi, err := os.Lstat(s.dir())
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || fi.Mode().Perm()&0o022 != 0 || ok && int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("the spool directory %s is not a directory of this user that only it may write to", s.dir())
	}
	return nil
}

// Pending lists the ids of the runs spooled for store, oldest first. A
// spool directory that others may write to is ignored (see private).
func (s Spool) Pending(store Store) []string {
	if s.private() != nil {
		return nil
	}
	target := SpoolTarget(store)
	paths, _ := filepath.Glob(filepath.Join(s.dir(), "*.state"))
	var ids []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(data)) != target {
			continue
		}
		ids = append(ids, strings.TrimSuffix(filepath.Base(p), ".state"))
	}
	sort.Strings(ids) // run ids sort in start order
	return ids
}

// Flush saves the runs spooled for store into it, removing each once
// stored, and returns the ids it stored. It stops at the first failure
// to save (the store is still out of reach), which it returns, and when
// ctx is done; a spooled file that is not a record is left where it is
// and skipped. Its saves end with ctx (they are not the detached save of
// an interrupted run: the records stay spooled). A copy spooled again
// while it was being saved (a newer journal of a run going on) stays in
// the spool for the next flush; a final record stored meanwhile is not
// replaced (see Store.SaveRun).
func (s Spool) Flush(ctx context.Context, store Store) ([]string, error) {
	var done []string
	for _, id := range s.Pending(store) {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		// The run's journal first: the record is what it folds to.
		if err := s.flushEvents(ctx, store, id); err != nil {
			return done, err
		}
		path := filepath.Join(s.dir(), id+".json")
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			s.removeOrphan(id)
			continue
		}
		if err != nil {
			continue
		}
		run := new(record.Run)
		if err := json.Unmarshal(data, run); err != nil {
			continue
		}
		// A record stored meanwhile by its own run (final, where the
		// spooled one is not) need not be sent again.
		if !Final(run) {
			if stored, err := store.LoadRun(ctx, id); err == nil && stored.ID == id && Final(stored) {
				s.removeIf(id, data)
				continue
			}
		}
		if _, err := store.SaveRun(attached(ctx), run); err != nil {
			return done, err
		}
		s.removeIf(id, data)
		done = append(done, id)
	}
	return done, nil
}

// removeIf deletes the spooled copy of run id if it is still data: one
// spooled again meanwhile is newer, and stays.
func (s Spool) removeIf(id string, data []byte) {
	base := filepath.Join(s.dir(), id)
	if now, err := os.ReadFile(base + ".json"); err != nil || !bytes.Equal(now, data) {
		return
	}
	_ = os.Remove(base + ".json")
	s.removeOrphan(id)
}

// removeOrphan deletes the target file of run id when its record is gone.
func (s Spool) removeOrphan(id string) {
	base := filepath.Join(s.dir(), id)
	if _, err := os.Lstat(base + ".events.jsonl"); err == nil {
		return // events still to flush
	}
	if _, err := os.Lstat(base + ".json"); errors.Is(err, fs.ErrNotExist) {
		_ = os.Remove(base + ".state")
	}
}

// attachedKey marks a context whose saves end with it: see attached.
type attachedKey struct{}

// attached marks ctx so that SaveRun ends with it, where it would
// otherwise outlive its cancellation (the detached save of an interrupted
// run): a spooled record that is not saved stays spooled.
func attached(ctx context.Context) context.Context {
	return context.WithValue(ctx, attachedKey{}, true)
}

func isAttached(ctx context.Context) bool {
	v, _ := ctx.Value(attachedKey{}).(bool)
	return v
}

// SpooledError is a run record that its store could not take and that
// went to the spool instead.
type SpooledError struct {
	Where string // the store
	Path  string // the spooled record
	Err   error  // why the store did not take it
}

func (e *SpooledError) Error() string {
	return fmt.Sprintf("the run record could not be saved in %s (%v); it was spooled to %s and goes there when the state answers again", e.Where, e.Err, e.Path)
}

func (e *SpooledError) Unwrap() error { return e.Err }

// SaveOrSpool saves run in store. When the store takes it, any spooled
// copy of the run is removed and the other runs spooled for the store are
// flushed (errors there are left for a later flush). When it does not,
// the record is spooled: the error is then a *SpooledError, or, when the
// spool cannot be written either, the store's error joined with the
// spool's.
func SaveOrSpool(ctx context.Context, store Store, spool Spool, run *record.Run) (string, error) {
	return SaveOrSpoolWith(ctx, ctx, store, spool, run)
}

// SaveOrSpoolWith is SaveOrSpool whose flush of the other spooled runs
// goes on only while flushCtx is not done: the final save of an
// interrupted run (ctx, not cancelled) does not carry older records with
// it past the command's cancellation (flushCtx).
func SaveOrSpoolWith(ctx, flushCtx context.Context, store Store, spool Spool, run *record.Run) (string, error) {
	return SaveOrSpoolEncoded(ctx, flushCtx, store, spool, run, record.EncodedRun{})
}

// SaveOrSpoolEncoded is SaveOrSpoolWith of the record enc, already
// encoded, when it is not zero: run gives the record's id, status and
// whether it is final (see EncodedRunSaver), and its items are read only
// by a store that takes no encoded record.
func SaveOrSpoolEncoded(ctx, flushCtx context.Context, store Store, spool Spool, run *record.Run, enc record.EncodedRun) (string, error) {
	var where string
	var err error
	if es, ok := store.(EncodedRunSaver); ok && !enc.IsZero() {
		where, err = es.SaveEncodedRun(ctx, run, enc)
	} else {
		if !enc.IsZero() && run.Items == nil {
			// The items are in enc only: read them back.
			var whole record.Run
			if err := json.Unmarshal(enc.Bytes(), &whole); err != nil {
				return "", fmt.Errorf("decode run record: %w", err)
			}
			run = &whole
		}
		where, err = store.SaveRun(ctx, run)
	}
	if err == nil {
		spool.Remove(run.ID)
		if flushCtx.Err() == nil {
			_, _ = spool.Flush(flushCtx, store)
		}
		return where, nil
	}
	var path string
	var serr error
	if enc.IsZero() {
		path, serr = spool.Put(store, run)
	} else {
		path, serr = spool.PutEncoded(store, run, enc)
	}
	if serr != nil {
		return "", errors.Join(err, serr)
	}
	return "", &SpooledError{Where: store.Location(), Path: path, Err: err}
}
