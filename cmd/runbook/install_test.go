package main

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// make install puts the binary and its bash, zsh and fish completions under
// PREFIX. The binary is static: no dynamic loader (README, Install).
func TestMakeInstall(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	tmp := t.TempDir()
	prefix := filepath.Join(tmp, "prefix")
	cmd := exec.Command("make", "-C", "../..", "install", "PREFIX="+prefix, "BIN="+filepath.Join(tmp, "build", "runbook"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make install: %v\n%s", err, out)
	}
	bin := filepath.Join(prefix, "bin", "runbook")
	if v, err := exec.Command(bin, "version").CombinedOutput(); err != nil {
		t.Fatalf("%s version: %v\n%s", bin, err, v)
	}
	if f, err := elf.Open(bin); err == nil {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s names a dynamic loader, want a static binary (CGO_ENABLED=0)", bin)
			}
		}
		f.Close()
	}
	for _, c := range []string{
		"share/bash-completion/completions/runbook",
		"share/zsh/site-functions/_runbook",
		"share/fish/vendor_completions.d/runbook.fish",
	} {
		data, err := os.ReadFile(filepath.Join(prefix, c))
		if err != nil || !strings.Contains(string(data), "runbook") {
			t.Errorf("completion %s: %v (%d bytes)", c, err, len(data))
		}
	}
}
