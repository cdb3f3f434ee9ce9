// Package state keeps what outlives a run: run records (and, as the
// operations features grow, watch state, the emergency stop and its audit
// trail). The default store is a directory beside the runbook.
package state

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/runbookhq/runbook/record"
)

// Dir is a state directory: runs/<id>.json for run records, guarded by an
// advisory lock file so concurrent runs cannot corrupt it.
type Dir struct {
	Path string
}

// NewDir returns the state directory at path.
func NewDir(path string) *Dir { return &Dir{Path: path} }

func (d *Dir) runsDir() string { return filepath.Join(d.Path, "runs") }

// lock takes an exclusive advisory lock on the state directory until the
// returned function is called.
func (d *Dir) lock() (func(), error) {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return nil, fmt.Errorf("create state directory %q: %w", d.Path, err)
	}
	f, err := os.OpenFile(filepath.Join(d.Path, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open state lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state directory: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// SaveRun writes a run record atomically and returns its path.
func (d *Dir) SaveRun(run *record.Run) (string, error) {
	data, err := run.Marshal()
	if err != nil {
		return "", fmt.Errorf("encode run record: %w", err)
	}
	unlock, err := d.lock()
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
func (d *Dir) RunIDs() ([]string, error) {
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

// LoadRun loads a run by id, by "last", or by a path to a record file.
func (d *Dir) LoadRun(ref string) (*record.Run, error) {
	if ref == "" || ref == "last" {
		ids, err := d.RunIDs()
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("no runs recorded in %q yet", d.Path)
		}
		ref = ids[len(ids)-1]
	}
	if strings.HasSuffix(ref, ".json") || strings.ContainsRune(ref, os.PathSeparator) {
		return record.Read(ref)
	}
	path := filepath.Join(d.runsDir(), ref+".json")
	if _, err := os.Stat(path); err != nil {
		ids, _ := d.RunIDs()
		var match []string
		for _, id := range ids {
			if strings.HasPrefix(id, ref) {
				match = append(match, id)
			}
		}
		if len(match) == 1 {
			return record.Read(filepath.Join(d.runsDir(), match[0]+".json"))
		}
		return nil, fmt.Errorf("no run %q in %q", ref, d.Path)
	}
	return record.Read(path)
}
