package remote_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/remote"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// target is a remote.Target for a test server.
func target(name string, s *testserver.SSHServer) *remote.Target {
	return &remote.Target{Name: name, SSH: remote.SSH{
		Host: s.Host, Port: s.Port, User: s.User, PrivateKeyFile: s.KeyFile, KnownHostsFile: s.KnownHosts,
	}}
}

func exec(t *testing.T, p *remote.Pool, name, script string) (int, string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	code, err := p.Host(name).Exec(context.Background(), script, strings.NewReader("from stdin"), &out, &errOut)
	return code, out.String(), errOut.String(), err
}

func TestExec(t *testing.T) {
	servers := testserver.SSH(t)
	p := remote.NewPool([]*remote.Target{target("web-1", servers[0]), target("web-2", servers[1])})
	defer p.Close()
	tests := []struct {
		name, target, script string
		code                 int
		stdout, stderr       string
	}{
		{"output", "web-1", `echo "out $((1+2))"; echo err >&2`, 0, "out 3\n", "err\n"},
		{"exit code", "web-2", `exit 7`, 7, "", ""},
		{"stdin", "web-1", `cat`, 0, "from stdin", ""},
		{"quoting", "web-2", `printf '%s|' "it's" '$HOME' "a b"`, 0, "it's|$HOME|a b|", ""},
		{"killed by a signal", "web-1", `kill -TERM $$`, 143, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut, err := exec(t, p, tt.target, tt.script)
			if err != nil {
				t.Fatal(err)
			}
			if code != tt.code || out != tt.stdout || errOut != tt.stderr {
				t.Errorf("got %d %q %q, want %d %q %q", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestTimeoutKillsTheRemoteProcessGroup(t *testing.T) {
	servers := testserver.SSH(t)
	p := remote.NewPool([]*remote.Target{target("web-1", servers[0])})
	defer p.Close()
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	// A background child that ignores SIGHUP would outlive its shell
	// and its session.
	_, err := p.Host("web-1").Exec(ctx, "(trap '' HUP; exec sleep 60) & echo $! > "+pidFile+"; wait", nil, nil, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want the deadline", err)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))

	// The test server runs on this machine: the child must be gone.
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the remote child %d still runs", pid)

		}
		time.Sleep(50 * time.Millisecond)
	}
	// The connection is still usable.
	if code, out, _, err := exec(t, p, "web-1", "echo ok"); err != nil || code != 0 || out != "ok\n" {
		t.Fatalf("after the kill: %d %q %v", code, out, err)
	}
}

func TestHostKeys(t *testing.T) {
	servers := testserver.SSH(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	wrong := filepath.Join(dir, "wrong")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// servers[1]'s key listed for servers[0]'s address: a changed key.
	line := "[127.0.0.1]:" + strconv.Itoa(servers[0].Port) + " " + string(ssh.MarshalAuthorizedKey(servers[1].HostKey))
	if err := os.WriteFile(wrong, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	fp := ssh.FingerprintSHA256(servers[0].HostKey)
	tests := []struct {
		name string
		mod  func(*remote.SSH)
		want []string // substrings of the error; none: it connects
	}{
		{"known", func(*remote.SSH) {}, nil},
		{"unknown", func(s *remote.SSH) { s.KnownHostsFile = empty }, []string{"127.0.0.1:" + strconv.Itoa(servers[0].Port), "is unknown", fp}},
		{"changed", func(s *remote.SSH) { s.KnownHostsFile = wrong }, []string{"CHANGED", fp, ssh.FingerprintSHA256(servers[1].HostKey)}},
		{"ignored", func(s *remote.SSH) { s.KnownHostsFile, s.InsecureIgnoreHostKey = wrong, true }, nil},
		{"missing known_hosts", func(s *remote.SSH) { s.KnownHostsFile = filepath.Join(dir, "none") }, []string{"read known_hosts_file"}},
		{"wrong key", func(s *remote.SSH) { s.PrivateKeyFile = empty }, []string{"private_key_file"}},
		{"no way to log in", func(s *remote.SSH) { s.PrivateKeyFile = "" }, []string{"set private_key_file or agent = true"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := target("web-1", servers[0])
			tt.mod(&tg.SSH)
			p := remote.NewPool([]*remote.Target{tg})
			defer p.Close()
			code, out, _, err := exec(t, p, "web-1", "echo ok")
			if tt.want == nil {
				if err != nil || code != 0 || out != "ok\n" {
					t.Fatalf("got %d %q %v, want ok", code, out, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("connected; want an error with %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), `target "web-1"`) {
				t.Errorf("error %q does not name the target", err)
			}
		})
	}
}

func TestJumpHost(t *testing.T) {
	servers := testserver.SSH(t)
	tg := target("inner", servers[1])
	tg.SSH.JumpHost = servers[0].User + "@" + servers[0].Host + ":" + strconv.Itoa(servers[0].Port)
	p := remote.NewPool([]*remote.Target{tg})
	defer p.Close()
	code, out, _, err := exec(t, p, "inner", "echo through")
	if err != nil || code != 0 || out != "through\n" {
		t.Fatalf("got %d %q %v", code, out, err)
	}
}

func TestDownTargetFailsFast(t *testing.T) {
	servers := testserver.SSH(t)
	silent := testserver.Silent(t)
	host, port, _ := strings.Cut(silent, ":")
	n, _ := strconv.Atoi(port)
	down := &remote.Target{Name: "down", SSH: remote.SSH{Host: host, Port: n, PrivateKeyFile: servers[0].KeyFile,
		KnownHostsFile: servers[0].KnownHosts, ConnectTimeout: 300 * time.Millisecond}}
	p := remote.NewPool([]*remote.Target{down, target("up", servers[0])})
	defer p.Close()
	_, _, _, err := exec(t, p, "down", "true")
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") || !strings.Contains(err.Error(), `target "down"`) {
		t.Fatalf("got %v, want a connect timeout naming the target", err)
	}
	// The failure is kept for the run: the next item fails at once.
	_, _, _, err2 := exec(t, p, "down", "true")
	if err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("second attempt: got %v, want the first error again", err2)
	}
	if code, _, _, err := exec(t, p, "up", "true"); err != nil || code != 0 {
		t.Fatalf("the other target: %d %v", code, err)
	}
}

// alive reports whether pid runs: exists and is not a zombie (a container
// whose init does not reap keeps those).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(st), ") ")
	return !strings.HasPrefix(rest, "Z")
}

func TestAgent(t *testing.T) {
	servers := testserver.SSH(t)
	agentBin, err := osexec.LookPath("ssh-agent")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ssh-agent is missing: apt-get install -y openssh-client")
		}
		t.Skip("ssh-agent is not installed (apt-get install -y openssh-client)")
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := osexec.Command(agentBin, "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Process.Kill(); _ = agent.Wait() })
	t.Setenv("SSH_AUTH_SOCK", sock)
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := osexec.Command("ssh-add", servers[0].KeyFile).CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh-add: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tg := target("web-1", servers[0])
	tg.SSH.PrivateKeyFile, tg.SSH.Agent = "", true
	p := remote.NewPool([]*remote.Target{tg})
	defer p.Close()
	if code, out, _, err := exec(t, p, "web-1", "echo agent"); err != nil || code != 0 || out != "agent\n" {
		t.Fatalf("got %d %q %v", code, out, err)
	}
}
