package state

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/runbookhq/runbook/record"
)

// A state directory's path may be a symbolic link (where it lives is the
// user's choice), but nothing inside it is followed when writing: a link
// planted as runs/, audit.log or stop.json would otherwise make runbook
// write (or append, or truncate) wherever it points, with the rights of
// whoever runs it.

// SymlinkError is a symbolic link found where a state directory needs a
// file or directory of its own.
type SymlinkError struct {
	Path string
}

func (e *SymlinkError) Error() string {
	return fmt.Sprintf("%s is a symbolic link: runbook does not follow symbolic links inside a state directory; "+
		"replace it with a real file or directory (or point --state at the real directory)", e.Path)
}

// ensureRoot creates the state directory itself (following a link there).
func (d *Dir) ensureRoot() error {
	if err := os.MkdirAll(d.Path, 0o755); err != nil {
		return fmt.Errorf("create state directory %q: %w", d.Path, err)
	}
	return nil
}

// subdir returns the directory name inside the state directory, created
// if missing, and refuses a symbolic link there. The state directory must
// exist.
func (d *Dir) subdir(name string) (string, error) {
	p := filepath.Join(d.Path, name)
	if err := os.Mkdir(p, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return "", fmt.Errorf("create %s: %w", p, err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return "", &SymlinkError{Path: p}
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", p)
	}
	return p, nil
}

// notSymlink refuses a symbolic link at path; a missing path is fine.
func notSymlink(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &SymlinkError{Path: path}
	}
	return nil
}

// openNoFollow opens path without following a symbolic link there.
func openNoFollow(path string, flag int, perm os.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &SymlinkError{Path: path}
	}
	return f, err
}

// writeFile replaces dir/name atomically (see record.WriteFileAtomic),
// refusing a symbolic link at dir/name. dir is the state directory or one
// returned by subdir.
func writeFile(dir, name string, data []byte) error {
	path := filepath.Join(dir, name)
	if err := notSymlink(path); err != nil {
		return err
	}
	return record.WriteFileAtomic(path, data, 0o644)
}

// NoSymlinks refuses a path inside the state directory root whose
// directories or file below root include a symbolic link; root itself may
// be one, and a path outside root is not checked. Callers writing into a
// state directory themselves (rendered reports) check with it first.
func NoSymlinks(root, path string) error {
	rel, err := filepath.Rel(root, path)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return nil
	}
	p := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		p = filepath.Join(p, part)
		fi, err := os.Lstat(p)
		if err != nil {
			return nil // missing: created as a real directory or file
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return &SymlinkError{Path: p}
		}
	}
	return nil
}
