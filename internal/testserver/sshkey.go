package testserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// SSHKeygen makes a key pair of type typ ("ed25519", "rsa", "ecdsa") with
// the system's ssh-keygen, unencrypted, and returns the private key's
// path (the public key is beside it, with ".pub"). It skips the test when
// ssh-keygen is not installed.
func SSHKeygen(tb testing.TB, typ string) string {
	tb.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		tb.Skip("ssh-keygen is not installed")
	}
	path := filepath.Join(tb.TempDir(), "id_"+typ)
	args := []string{"-q", "-t", typ, "-N", "", "-C", "signer", "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		tb.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return path
}

// SSHSigner reads the unencrypted private key at path.
func SSHSigner(tb testing.TB, path string) ssh.Signer {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ssh.ParsePrivateKey(data)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
