package record

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed into place, so readers see the old file or
// the new one and never a half-written one. Parent directories are created.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, true)
}

// WriteFileAtomicNoSync is WriteFileAtomic without waiting for the disk
// (no fsync): while the system runs, readers still see the old file or
// the new one, and a killed process leaves one or the other; a power cut
// may lose the new one, or leave the file empty. It is for writes that a
// later synced write of the same file makes durable (a run's progress,
// before its final record).
func WriteFileAtomicNoSync(path string, data []byte, perm os.FileMode) error {
	return writeFileAtomic(path, data, perm, false)
}

func writeFileAtomic(path string, data []byte, perm os.FileMode, sync bool) error {
	return writeFileAtomicFunc(path, perm, sync, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// writeFileAtomicFunc is writeFileAtomic whose data write writes to the
// temporary file.
func writeFileAtomicFunc(path string, perm os.FileMode, sync bool, write func(*os.File) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory %q: %w", dir, err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("create temporary file in %q: %w", dir, err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %q: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %q: %w", path, err)
	}
	if err := syncFile(tmp, sync); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %q: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %q: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("rename into %q: %w", path, err)
	}
	return nil
}

// syncFile flushes f to the disk when sync is set.
func syncFile(f *os.File, sync bool) error {
	if !sync {
		return nil
	}
	return f.Sync()
}
