package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ProcKey is the key of the lock that lets one process at a time run a
// procedure: a runbook's top-level steps (playbook "") or one of its
// playbooks.
func ProcKey(runbook, playbook string) string { return runbook + "/" + playbook }

// describeKey names a procedure by its ProcKey.
func describeKey(key string) string {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return fmt.Sprintf("%q", key)
	}
	if key[i+1:] == "" {
		return fmt.Sprintf("runbook %q", key[:i])
	}
	return fmt.Sprintf("playbook %q of runbook %q", key[i+1:], key[:i])
}

// Holder is who holds a procedure's lock.
type Holder struct {
	Operator string    `json:"operator"`
	Host     string    `json:"host"`
	PID      int       `json:"pid"`
	Since    time.Time `json:"since"`
	// RunID is the run's id, when it was known as the lock was taken.
	RunID string `json:"run_id,omitempty"`
}

// String names the holder: operator, host, pid and since.
func (h Holder) String() string {
	s := fmt.Sprintf("%s on %s (pid %d)", orUnknown(h.Operator), orUnknown(h.Host), h.PID)
	if !h.Since.IsZero() {
		s += " since " + h.Since.UTC().Format(time.RFC3339)
	}
	if h.RunID != "" {
		s += ", run " + h.RunID
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// HeldError is a procedure lock held by another live process.
type HeldError struct {
	Key    string
	Holder Holder
	Where  string
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s is already running: started by %s (lock in %s)", describeKey(e.Key), e.Holder, e.Where)
}

// Lock is a procedure lock this process holds.
type Lock struct {
	// Stale is the holder the lock was taken over from, whose process is
	// gone or whose lease expired; nil when the lock was free.
	Stale *Holder
	// StaleWhy says why Stale was taken over.
	StaleWhy string
	// Unnamed is why the holder could not be written into the lock (a full
	// disk): the lock is held all the same, but a run it refuses is told
	// no name.
	Unnamed error

	once    sync.Once
	release func()
}

// Release gives the lock up; it may be called more than once.
func (l *Lock) Release() {
	if l == nil {
		return
	}
	l.once.Do(func() {
		if l.release != nil {
			l.release()
		}
	})
}

// Warning is the message for a lock taken over from a stale holder, ""
// when there was none.
func (l *Lock) Warning(key string) string {
	switch {
	case l == nil:
		return ""
	case l.Stale != nil:
		return fmt.Sprintf("took over the lock of %s from %s: %s", describeKey(key), *l.Stale, l.StaleWhy)
	case l.Unnamed != nil:
		return fmt.Sprintf("holding the lock of %s without a name (%v): a run it refuses meanwhile cannot be told who holds it", describeKey(key), l.Unnamed)
	}
	return ""
}

// Acquire takes locks/<key>.lock with a non-blocking exclusive flock and
// writes the holder into it. The kernel drops a dead process's flock, so
// a free lock whose file still names a holder was left by a process that
// died without releasing it: taken over, with a warning.
func (d *Dir) Acquire(_ context.Context, key string, h Holder) (*Lock, error) {
	name, err := fileKey(key)
	if err != nil {
		return nil, err
	}
	if err := d.ensureRoot(); err != nil {
		return nil, err
	}
	dir, err := d.subdir("locks")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, name+".lock")
	f, err := openNoFollow(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open procedure lock %s: %w", path, err)
	}
	if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &HeldError{Key: key, Holder: waitHolder(f), Where: path}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	lock := &Lock{}
	if prev, ok := readHolder(f); ok {
		lock.Stale = &prev
		lock.StaleWhy = "its process ended without releasing it"
		if host, _ := os.Hostname(); prev.Host == host && prev.PID > 0 && !ProcessAlive(prev.PID, prev.Since) {
			lock.StaleWhy = fmt.Sprintf("its process (pid %d) is gone", prev.PID)
		}
	}
	data, err := json.Marshal(h)
	if err == nil {
		err = f.Truncate(0)
	}
	if err == nil {
		_, err = f.WriteAt(append(data, '\n'), 0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		_ = f.Truncate(0)
		if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
			_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
			return nil, fmt.Errorf("write the holder into %s: %w", path, err)
		}
		// The flock is the lock; the holder is only its name. A full disk
		// must not keep a procedure (perhaps the one that frees space)
		// from running.
		lock.Unnamed = fmt.Errorf("write the holder into %s: %w", path, err)
	}
	lock.release = func() {
		d.mu.Lock()
		delete(d.locks, lock)
		d.mu.Unlock()
		_ = f.Truncate(0)
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}
	d.mu.Lock()
	if d.locks == nil {
		d.locks = map[*Lock]struct{}{}
	}
	d.locks[lock] = struct{}{}
	d.mu.Unlock()
	return lock, nil
}

// readHolder reads the holder written in a lock file.
func readHolder(f *os.File) (Holder, bool) {
	var h Holder
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil || len(bytes.TrimSpace(data)) == 0 {
		return h, false
	}
	if err := json.Unmarshal(data, &h); err != nil {
		return h, false
	}
	return h, true
}

// waitHolder reads the holder of a lock another process holds, giving it a
// moment to write itself in when it has only just taken the lock.
func waitHolder(f *os.File) Holder {
	for i := 0; ; i++ {
		if h, ok := readHolder(f); ok || i == 20 {
			return h
		}
		time.Sleep(10 * time.Millisecond)
	}
}
