// Package sshsig signs and verifies messages in OpenSSH's SSHSIG format,
// the format of `ssh-keygen -Y sign` and `ssh-keygen -Y verify`
// (PROTOCOL.sshsig in OpenSSH's sources).
package sshsig

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"strings"

	"golang.org/x/crypto/ssh"
)

const (
	magic   = "SSHSIG"
	version = 1
	// HashAlgorithm is the hash Sign uses.
	HashAlgorithm = "sha512"
	armorType     = "SSH SIGNATURE"
)

// signedData is what the key signs: the magic preamble, then the
// namespace, the reserved field, the hash algorithm and the message's
// hash, each as an SSH string.
type signedData struct {
	Namespace string
	Reserved  string
	HashAlg   string
	Hash      string
}

// blob is the signature as armored.
type blob struct {
	Version   uint32
	PublicKey string
	Namespace string
	Reserved  string
	HashAlg   string
	Signature string
}

func toSign(namespace, hashAlg string, msg []byte) ([]byte, error) {
	var h hash.Hash
	switch hashAlg {
	case "sha512":
		h = sha512.New()
	case "sha256":
		h = sha256.New()
	default:
		return nil, fmt.Errorf("unsupported hash algorithm %q", hashAlg)
	}
	h.Write(msg)
	data := ssh.Marshal(signedData{Namespace: namespace, HashAlg: hashAlg, Hash: string(h.Sum(nil))})
	return append([]byte(magic), data...), nil
}

// Sign signs msg with signer in namespace and returns the armored
// signature (-----BEGIN SSH SIGNATURE-----). An RSA key signs with
// rsa-sha2-512, as ssh-keygen does.
func Sign(signer ssh.Signer, namespace string, msg []byte) ([]byte, error) {
	if namespace == "" {
		return nil, errors.New("sign: the namespace is required")
	}
	data, err := toSign(namespace, HashAlgorithm, msg)
	if err != nil {
		return nil, err
	}
	var sig *ssh.Signature
	if signer.PublicKey().Type() == ssh.KeyAlgoRSA {
		as, ok := signer.(ssh.AlgorithmSigner)
		if !ok {
			return nil, errors.New("sign: this RSA key cannot sign with rsa-sha2-512")
		}
		sig, err = as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA512)
	} else {
		sig, err = signer.Sign(rand.Reader, data)
	}
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	b := blob{Version: version, PublicKey: string(signer.PublicKey().Marshal()), Namespace: namespace, HashAlg: HashAlgorithm, Signature: string(ssh.Marshal(sig))}
	raw := append([]byte(magic), ssh.Marshal(b)...)
	return armor(raw), nil
}

// armor wraps raw as ssh-keygen does: base64 in lines of 76 characters.
func armor(raw []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(raw)
	var buf bytes.Buffer
	buf.WriteString("-----BEGIN " + armorType + "-----\n")
	for len(enc) > 76 {
		buf.WriteString(enc[:76] + "\n")
		enc = enc[76:]
	}
	buf.WriteString(enc + "\n")
	buf.WriteString("-----END " + armorType + "-----\n")
	return buf.Bytes()
}

// Verify checks an armored signature of msg in namespace and returns the
// key that made it. The caller decides whether it trusts that key (see
// Fingerprint).
func Verify(armored []byte, namespace string, msg []byte) (ssh.PublicKey, error) {
	p, _ := pem.Decode(bytes.TrimSpace(armored))
	if p == nil || p.Type != armorType {
		return nil, errors.New("not an SSH signature (-----BEGIN SSH SIGNATURE-----)")
	}
	raw := p.Bytes
	if !bytes.HasPrefix(raw, []byte(magic)) {
		return nil, errors.New("not an SSH signature: no SSHSIG preamble")
	}
	var b blob
	if err := ssh.Unmarshal(raw[len(magic):], &b); err != nil {
		return nil, fmt.Errorf("not an SSH signature: %w", err)
	}
	if b.Version != version {
		return nil, fmt.Errorf("SSH signature version %d is not supported", b.Version)
	}
	if b.Namespace != namespace {
		return nil, fmt.Errorf("the signature is for namespace %q, not %q", b.Namespace, namespace)
	}
	key, err := ssh.ParsePublicKey([]byte(b.PublicKey))
	if err != nil {
		return nil, fmt.Errorf("the signature's key: %w", err)
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal([]byte(b.Signature), &sig); err != nil {
		return nil, fmt.Errorf("the signature cannot be read: %w", err)
	}
	// SHA-1 RSA signatures are refused, as ssh-keygen -Y verify refuses
	// them: SSHSIG asks for rsa-sha2-256 or rsa-sha2-512.
	if sig.Format == ssh.KeyAlgoRSA {
		return nil, errors.New("the signature uses ssh-rsa (SHA-1), which is not accepted: sign with rsa-sha2-512")
	}
	data, err := toSign(namespace, b.HashAlg, msg)
	if err != nil {
		return nil, err
	}
	if err := key.Verify(data, &sig); err != nil {
		return nil, fmt.Errorf("the signature does not match (%v)", err)
	}
	return key, nil
}

// Fingerprint is a key's SHA256 fingerprint, as ssh-keygen -l prints it
// ("SHA256:...").
func Fingerprint(key ssh.PublicKey) string { return ssh.FingerprintSHA256(key) }

// SameKey reports whether two authorized-keys lines or keys are the
// same key.
func SameKey(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

// ParseAuthorizedKey reads a public key as written in an authorized_keys
// or .pub file ("ssh-ed25519 AAAA... comment").
func ParseAuthorizedKey(text string) (ssh.PublicKey, error) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(text)))
	if err != nil {
		return nil, fmt.Errorf("not an SSH public key: %w", err)
	}
	return key, nil
}
