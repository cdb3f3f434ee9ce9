package sshsig

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/testserver"
)

func TestSignVerifiesWithSSHKeygen(t *testing.T) {
	for _, typ := range []string{"ed25519", "rsa", "ecdsa"} {
		t.Run(typ, func(t *testing.T) {
			key := testserver.SSHKeygen(t, typ)
			msg := []byte("{\"run\":1}\n")
			sig, err := Sign(testserver.SSHSigner(t, key), "runbook", msg)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			sigPath := filepath.Join(dir, "msg.sig")
			if err := os.WriteFile(sigPath, sig, 0o600); err != nil {
				t.Fatal(err)
			}
			pub, err := os.ReadFile(key + ".pub")
			if err != nil {
				t.Fatal(err)
			}
			allowed := filepath.Join(dir, "allowed_signers")
			if err := os.WriteFile(allowed, []byte("alice "+string(pub)), 0o600); err != nil {
				t.Fatal(err)
			}
			verify := func(msg []byte, ns string) error {
				cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice", "-n", ns, "-s", sigPath)
				cmd.Stdin = bytes.NewReader(msg)
				out, err := cmd.CombinedOutput()
				if err != nil {
					return &exec.ExitError{Stderr: out}
				}
				return nil
			}
			if err := verify(msg, "runbook"); err != nil {
				t.Fatalf("ssh-keygen -Y verify refused the signature: %s", err.(*exec.ExitError).Stderr)
			}
			if err := verify([]byte("{\"run\":2}\n"), "runbook"); err == nil {
				t.Error("ssh-keygen -Y verify accepted another message")
			}
			if err := verify(msg, "file"); err == nil {
				t.Error("ssh-keygen -Y verify accepted another namespace")
			}
			// And our own verification agrees.
			got, err := Verify(sig, "runbook", msg)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want, _ := ParseAuthorizedKey(string(pub))
			if !SameKey(got, want) {
				t.Errorf("Verify returned key %s, want %s", Fingerprint(got), Fingerprint(want))
			}
		})
	}
}

func TestVerifyReadsSSHKeygenSignatures(t *testing.T) {
	key := testserver.SSHKeygen(t, "ed25519")
	msg := []byte("signed by ssh-keygen\n")
	cmd := exec.Command("ssh-keygen", "-Y", "sign", "-n", "runbook", "-f", key)
	cmd.Stdin = bytes.NewReader(msg)
	sig, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v", err)
	}
	if _, err := Verify(sig, "runbook", msg); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	tests := []struct {
		name, ns string
		msg      []byte
		want     string
	}{
		{"other message", "runbook", []byte("changed\n"), "does not match"},
		{"other namespace", "git", msg, "namespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(sig, tt.ns, tt.msg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
	if _, err := Verify([]byte("junk"), "runbook", msg); err == nil {
		t.Error("Verify accepted junk")
	}
}
