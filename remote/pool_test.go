package remote_test

import (
	"context"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/remote"
	"golang.org/x/crypto/ssh"
)

// A link that freezes mid-command (host gone, packets dropped) must not
// keep Exec from returning once its context ends: the kill is sent on a
// connection that no longer answers.
func TestFrozenLinkEndsExecWithItsContext(t *testing.T) {
	defer remote.SetKillGrace(remote.SetKillGrace(2 * time.Second))
	servers := testserver.SSH(t)
	s := servers[0]
	px := testserver.NewProxy(t, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	host, port := splitAddr(t, px.Addr())
	known := filepath.Join(t.TempDir(), "known_hosts")
	line := "[" + host + "]:" + port + " " + string(ssh.MarshalAuthorizedKey(s.HostKey))
	if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := &remote.Target{Name: "web-1", SSH: remote.SSH{Host: host, Port: atoi(t, port), User: s.User, PrivateKeyFile: s.KeyFile, KnownHostsFile: known}}
	p := remote.NewPool([]*remote.Target{tg})
	defer p.Close()
	if code, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil || code != 0 {
		t.Fatalf("warm-up: %d %v", code, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Host("web-1").Exec(ctx, "echo started; sleep 60", nil, nil, nil)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	px.Freeze()
	defer func() { _ = px.Heal() }()
	select {
	case err := <-done:
		t.Logf("returned: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Exec still blocked 29s after its 1s context ended: a frozen link hangs the item (and the run) forever")
	}
	_ = px.Heal()
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatalf("the link is back but the frozen connection was kept: %v", err)
	}
}

func splitAddr(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A host with several host keys (stock OpenSSH has ed25519, ecdsa and
// rsa) whose known_hosts entry is its ed25519 key (what an OpenSSH client
// records) is the same host: the connection must offer the known key
// type rather than negotiate ecdsa and cry "CHANGED".
func TestKnownHostKeyOfAnotherTypeIsNotChanged(t *testing.T) {
	servers := testserver.SSH(t)
	s := servers[0]
	dir := t.TempDir()
	for _, typ := range []string{"ed25519", "ecdsa"} {
		if out, err := osexec.Command("ssh-keygen", "-q", "-t", typ, "-N", "", "-f", filepath.Join(dir, typ)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	conf := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(conf, []byte(strings.Join([]string{
		"Port " + strconv.Itoa(port), "ListenAddress 127.0.0.1",
		"HostKey " + filepath.Join(dir, "ed25519"), "HostKey " + filepath.Join(dir, "ecdsa"),
		"AuthorizedKeysFile " + filepath.Join(filepath.Dir(s.KeyFile), "authorized_keys"),
		"PidFile none", "StrictModes no", "UsePAM no", "PasswordAuthentication no",
		"PermitRootLogin prohibit-password", "",
	}, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command("/usr/sbin/sshd", "-D", "-e", "-f", conf, "-E", filepath.Join(dir, "log"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			_ = c.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	pub, err := os.ReadFile(filepath.Join(dir, "ed25519.pub"))
	if err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(known, []byte("[127.0.0.1]:"+strconv.Itoa(port)+" "+string(pub)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := remote.NewPool([]*remote.Target{{Name: "web", SSH: remote.SSH{Host: "127.0.0.1", Port: port, User: s.User, PrivateKeyFile: s.KeyFile, KnownHostsFile: known}}})
	defer p.Close()
	if _, err := p.Host("web").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatalf("a host whose ed25519 key is known was refused: %v", err)
	}
}

// proxied is a pool whose one target "web-1" is servers[0] behind px.
func proxied(t *testing.T) (*remote.Pool, *testserver.Proxy) {
	t.Helper()
	s := testserver.SSH(t)[0]
	px := testserver.NewProxy(t, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)))
	host, port := splitAddr(t, px.Addr())
	known := filepath.Join(t.TempDir(), "known_hosts")
	line := "[" + host + "]:" + port + " " + string(ssh.MarshalAuthorizedKey(s.HostKey))
	if err := os.WriteFile(known, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := &remote.Target{Name: "web-1", SSH: remote.SSH{Host: host, Port: atoi(t, port), User: s.User, PrivateKeyFile: s.KeyFile, KnownHostsFile: known, ConnectTimeout: 2 * time.Second}}
	p := remote.NewPool([]*remote.Target{tg})
	t.Cleanup(func() { _ = p.Close() })
	return p, px
}

// A connection lost mid-run (the target's sshd restarted, the host
// rebooted by an earlier step) is opened again by the next item, instead
// of every later item on the target failing with the dead connection.
func TestLostConnectionIsReopened(t *testing.T) {
	p, px := proxied(t)
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	px.Down()
	if err := px.Heal(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatalf("the target is back but the pool keeps its dead connection: %v", err)
	}
}

// A target down at its first item and back for a later one (or for the
// item's own retry) is reached: a failed connect is not remembered for
// the rest of the run, which makes attempts/retries on targets useless.
func TestFailedConnectIsRetriedAfterConnectTimeout(t *testing.T) {
	p, px := proxied(t)
	px.Down()
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err == nil {
		t.Fatal("reached a target that is down")
	}
	if err := px.Heal(); err != nil {
		t.Fatal(err)
	}
	// The failure stands for the target's connect timeout (2s), so that
	// its other items fail at once; then the target is tried again.
	time.Sleep(2100 * time.Millisecond)
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatalf("the target is back but the pool remembers the failed connect: %v", err)
	}
}

// Exec after Close (a straggler of an interrupted run) is an error, not
// a nil pointer dereference.
func TestExecAfterCloseIsAnError(t *testing.T) {
	p, _ := proxied(t)
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	_ = p.Close()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("Exec after Close panicked: %v", r)
		}
	}()
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err == nil {
		t.Fatal("Exec after Close succeeded")
	}
}

// A context that ends before the command reported its process group (a
// short timeout, a stop right after the start) still kills what the
// command started.
func TestEarlyCancelStillKillsTheProcessGroup(t *testing.T) {
	servers := testserver.SSH(t)
	p := remote.NewPool([]*remote.Target{target("web-1", servers[0])})
	defer p.Close()
	if _, err := p.Host("web-1").Exec(context.Background(), "true", nil, nil, nil); err != nil {
		t.Fatal(err)
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel()
	_, _ = p.Host("web-1").Exec(ctx, "(trap '' HUP; exec sleep 60) & echo $! > "+pidFile+".tmp; mv "+pidFile+".tmp "+pidFile+"; wait", nil, nil, nil)
	// The command may have been killed before it started its child;
	// when it did start one, the child must be gone.
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, err := os.ReadFile(pidFile)
		if err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			for alive(pid) {
				if time.Now().After(deadline) {
					t.Fatalf("the remote child %d still runs", pid)
				}
				time.Sleep(50 * time.Millisecond)
			}
			return
		}
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
