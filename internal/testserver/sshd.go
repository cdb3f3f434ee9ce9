package testserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"
)

// sshdHint names the package that carries sshd.
const sshdHint = "apt-get install -y openssh-server"

// SSHServer is a running OpenSSH sshd on loopback that lets User in with
// the private key in KeyFile.
type SSHServer struct {
	// Host and Port are where it listens: 127.0.0.1 and a free port.
	Host string
	Port int
	// User is the user running the tests; KeyFile the client's private
	// key (ed25519, unencrypted, PEM), authorized on every server.
	User    string
	KeyFile string
	// KnownHosts is a known_hosts file that lists every started server's
	// host key; HostKey is this server's.
	KnownHosts string
	HostKey    ssh.PublicKey
}

var (
	sshOnce    sync.Once
	sshServers []*SSHServer
	sshErr     error
)

// SSH returns two sshd servers started for this test binary (each its own
// host key and port), for tests that reach hosts over SSH.
func SSH(tb testing.TB) []*SSHServer {
	tb.Helper()
	requireMain(tb)
	sshOnce.Do(func() { sshServers, sshErr = startSSHD(2) })
	check(tb, "sshd", sshErr)
	return sshServers
}

func startSSHD(n int) ([]*SSHServer, error) {
	bin, err := lookBinary("sshd", "/usr/sbin/sshd")
	if err != nil {
		return nil, missingError{what: "sshd", hint: sshdHint}
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("current user: %w", err)
	}
	if os.Geteuid() == 0 {
		// sshd's privilege separation needs its empty directory.
		_ = os.MkdirAll("/run/sshd", 0o755)
	}
	dir, err := tempDir("runbook-sshd-", nil)
	if err != nil {
		return nil, err
	}
	// The directory holds the shared keys; it is removed with the servers.
	mu.Lock()
	running = append(running, &server{name: "sshd keys", dir: dir})
	mu.Unlock()
	keyFile := filepath.Join(dir, "client_key")
	clientPub, err := writeKey(keyFile)
	if err != nil {
		return nil, err
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		return nil, err
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	var servers []*SSHServer
	var known strings.Builder
	for i := range n {
		sdir := filepath.Join(dir, "sshd"+strconv.Itoa(i))
		if err := os.Mkdir(sdir, 0o700); err != nil {
			return nil, err
		}
		hostKey := filepath.Join(sdir, "host_key")
		pub, err := writeKey(hostKey)
		if err != nil {
			return nil, err
		}
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(sdir, "sshd_config")
		if err := os.WriteFile(conf, []byte(strings.Join([]string{
			"Port " + strconv.Itoa(port),
			"ListenAddress 127.0.0.1",
			"HostKey " + hostKey,
			"AuthorizedKeysFile " + authorized,
			"PidFile none",
			"StrictModes no",
			"UsePAM no",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"PubkeyAuthentication yes",
			"PermitRootLogin prohibit-password",
			"AllowUsers " + u.Username,
			"AllowTcpForwarding yes",
			"LogLevel VERBOSE",
			"",
		}, "\n")), 0o600); err != nil {
			return nil, err
		}
		s := &server{name: "sshd", dir: sdir, logPath: filepath.Join(sdir, "sshd.log"), stopSig: syscall.SIGTERM}
		s.cmd = exec.Command(bin, "-D", "-e", "-f", conf, "-E", s.logPath)
		s.cmd.Dir = sdir
		s.cmd.Env = childEnv()
		if err := spawn(s, syscall.SIGKILL); err != nil {
			return nil, err
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := waitReady(s, func(ctx context.Context) error {
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			defer c.Close()
			buf := make([]byte, 4)
			_, err = c.Read(buf)
			if err == nil && string(buf) != "SSH-" {
				err = fmt.Errorf("not an SSH banner: %q", buf)
			}
			return err
		}); err != nil {
			s.stop()
			return nil, fmt.Errorf("sshd on %s: %w", addr, err)
		}
		known.WriteString("[127.0.0.1]:" + strconv.Itoa(port) + " " + string(ssh.MarshalAuthorizedKey(pub)))
		servers = append(servers, &SSHServer{Host: "127.0.0.1", Port: port, User: u.Username, KeyFile: keyFile, KnownHosts: knownHosts, HostKey: pub})
	}
	if err := os.WriteFile(knownHosts, []byte(known.String()), 0o600); err != nil {
		return nil, err
	}
	return servers, nil
}

// writeKey writes a new ed25519 private key (OpenSSH PEM) to path and
// returns its public key.
func writeKey(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	return ssh.NewPublicKey(pub)
}
