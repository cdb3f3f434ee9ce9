package record

import (
	"os"
	"path/filepath"
	"testing"
)

// Both writers replace the file whole, with its mode, and leave no
// temporary file behind.
func TestWriteFileAtomic(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(string, []byte, os.FileMode) error
	}{
		{"synced", WriteFileAtomic},
		{"not synced", WriteFileAtomicNoSync},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "sub", "run.json")
			for _, data := range []string{`{"a":1}`, `{}`} {
				if err := tc.write(path, []byte(data), 0o640); err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != data {
					t.Errorf("got %q, want %q", got, data)
				}
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o640 {
				t.Errorf("got mode %v, want 0640", fi.Mode().Perm())
			}
			ents, _ := os.ReadDir(filepath.Dir(path))
			if len(ents) != 1 {
				t.Errorf("got %d files, want the record only", len(ents))
			}
		})
	}
}
