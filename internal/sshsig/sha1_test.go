package sshsig

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// TestVerifyRefusesSHA1RSA: an SSHSIG whose RSA signature is ssh-rsa
// (SHA-1) is refused, as ssh-keygen -Y verify refuses it, while the same
// key's rsa-sha2-512 signature verifies.
func TestVerifyRefusesSHA1RSA(t *testing.T) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(k)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("the canonical bytes\n")
	good, err := Sign(signer, "runbook", msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(good, "runbook", msg); err != nil {
		t.Fatalf("rsa-sha2-512: %v", err)
	}
	data, err := toSign("runbook", HashAlgorithm, msg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.(ssh.AlgorithmSigner).SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSA)
	if err != nil {
		t.Fatal(err)
	}
	b := blob{Version: version, PublicKey: string(signer.PublicKey().Marshal()), Namespace: "runbook", HashAlg: HashAlgorithm, Signature: string(ssh.Marshal(sig))}
	weak := armor(append([]byte(magic), ssh.Marshal(b)...))
	if _, err := Verify(weak, "runbook", msg); err == nil || !strings.Contains(err.Error(), "SHA-1") {
		t.Errorf("an ssh-rsa (SHA-1) signature: got %v, want it refused", err)
	}
}
