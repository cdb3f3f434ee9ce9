// Package remote reaches a runbook's targets over SSH: one connection per
// target per run, opened on first use with a connect timeout (and again
// after it was lost), probed with keepalives, host keys verified against
// known_hosts, commands sent over the session's input and run by `sh` in
// their own process group so that a timeout kills everything they
// started.
package remote

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/checks"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// DefaultConnectTimeout bounds opening a connection (TCP, handshake and
// authentication) unless the target sets connect_timeout.
const DefaultConnectTimeout = 10 * time.Second

// SSH is how a target is reached.
type SSH struct {
	// Host and Port are the SSH server's; Port 0 means 22.
	Host string
	Port int
	// User logs in; empty means the user running runbook.
	User string
	// PrivateKeyFile is an unencrypted private key; Agent uses the keys
	// of the agent at $SSH_AUTH_SOCK. At least one of them is needed.
	PrivateKeyFile string
	Agent          bool
	// KnownHostsFile lists the trusted host keys; empty means
	// ~/.ssh/known_hosts.
	KnownHostsFile string
	// InsecureIgnoreHostKey accepts any host key.
	InsecureIgnoreHostKey bool
	// JumpHost is "[user@]host[:port]" of a server to go through; it is
	// verified and authenticated as the target is.
	JumpHost string
	// ConnectTimeout bounds opening the connection; 0 means
	// DefaultConnectTimeout.
	ConnectTimeout time.Duration
}

// Addr is host:port.
func (s SSH) Addr() string {
	port := s.Port
	if port == 0 {
		port = 22
	}
	return net.JoinHostPort(s.Host, strconv.Itoa(port))
}

// Target is a named host.
type Target struct {
	Name string
	SSH  SSH
}

// Pool holds a run's connections, one per target, opened on first use.
// It is safe for concurrent use.
type Pool struct {
	mu      sync.Mutex
	closed  bool
	targets map[string]*Target
	conns   map[string]*conn
}

// conn is one target's connection, or why it could not be opened: a
// target that is down fails its items at once for about its connect
// timeout after a failed attempt, then is tried again.
type conn struct {
	mu     sync.Mutex
	client *ssh.Client
	jump   *ssh.Client
	err    error
	failed time.Time
}

// Bounds on a connection that stops answering. They are variables so
// that tests can shorten them.
var (
	// killGrace bounds killing a command whose context ended and
	// waiting for its session to finish; past it the whole connection
	// is closed and opened again by the next command.
	killGrace = 5 * time.Second
	// pgidGrace is how long a command whose context ended is given to
	// report its process group, so that the kill reaches it.
	pgidGrace = time.Second
	// keepaliveEvery is how often an open connection is probed, and
	// keepaliveTimeout how long the answer may take before the
	// connection is closed as dead.
	keepaliveEvery   = 15 * time.Second
	keepaliveTimeout = 15 * time.Second
)

// NewPool returns a pool for targets.
func NewPool(targets []*Target) *Pool {
	p := &Pool{targets: map[string]*Target{}, conns: map[string]*conn{}}
	for _, t := range targets {
		p.targets[t.Name] = t
		p.conns[t.Name] = &conn{}
	}
	return p
}

// Host returns the target named name, or nil.
func (p *Pool) Host(name string) checks.Host {
	if p.targets[name] == nil {
		return nil
	}
	return &host{pool: p, t: p.targets[name]}
}

// Close closes every open connection; commands run after it fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for _, c := range p.conns {
		c.mu.Lock()
		c.closeLocked()
		c.mu.Unlock()
	}
	return nil
}

// errPoolClosed is the error of a command run after the run ended.
var errPoolClosed = errors.New("the run's connections are closed")

// closeLocked closes the connection; c.mu is held.
func (c *conn) closeLocked() {
	if c.client != nil {
		_ = c.client.Close()
	}
	if c.jump != nil {
		_ = c.jump.Close()
	}
	c.client, c.jump = nil, nil
}

// drop closes the target's connection if it is still client, so that
// the next command opens a new one.
func (p *Pool) drop(t *Target, client *ssh.Client) {
	c := p.conns[t.Name]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == client {
		c.closeLocked()
	}
}

// connectTimeout is t's connect timeout.
func connectTimeout(t *Target) time.Duration {
	if t.SSH.ConnectTimeout > 0 {
		return t.SSH.ConnectTimeout
	}
	return DefaultConnectTimeout
}

// client returns the target's connection, opening it on first use and
// again after it was lost. A failed connect is remembered for the
// connect timeout: a target that is down fails its items quickly, and a
// later item or retry reaches it once it is back.
func (p *Pool) client(ctx context.Context, t *Target) (*ssh.Client, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("target %q: %w", t.Name, errPoolClosed)
	}
	c := p.conns[t.Name]
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	timeout := connectTimeout(t)
	if c.err != nil && time.Since(c.failed) < timeout {
		return nil, c.err
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, jump, err := dial(cctx, t.SSH)
	if err != nil {
		if ctx.Err() != nil {
			// Cancelled, not down: a later item may try again.
			return nil, fmt.Errorf("target %q: connect to %s: %w", t.Name, t.SSH.Addr(), ctx.Err())
		}
		if ne, ok := errors.AsType[net.Error](err); cctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) || (ok && ne.Timeout()) {
			err = fmt.Errorf("no answer within %s", timeout)
		}
		c.err, c.failed = fmt.Errorf("target %q: connect to %s: %w", t.Name, t.SSH.Addr(), err), time.Now()
		return nil, c.err
	}
	c.client, c.jump, c.err = client, jump, nil
	go keepalive(client, func() { p.drop(t, client) })
	return client, nil
}

// keepalive probes client until it closes; a probe not answered within
// keepaliveTimeout closes it (and with it every session on it) and calls
// lost.
func keepalive(client *ssh.Client, lost func()) {
	closed := make(chan struct{})
	go func() { _ = client.Wait(); close(closed) }()
	tick := time.NewTicker(keepaliveEvery)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			lost()
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		timer := time.NewTimer(keepaliveTimeout)
		select {
		case err := <-answered:
			timer.Stop()
			if err == nil {
				continue
			}
		case <-closed:
			timer.Stop()
		case <-timer.C:
		}
		_ = client.Close()
		lost()
		return
	}
}

// dial opens an SSH connection to s, through its jump host when it has
// one, bounded by ctx.
func dial(ctx context.Context, s SSH) (client, jump *ssh.Client, err error) {
	cfg, done, err := clientConfig(s, s.User)
	if err != nil {
		return nil, nil, err
	}
	defer done()
	var raw net.Conn
	if s.JumpHost != "" {
		js, err := parseJump(s)
		if err != nil {
			return nil, nil, err
		}
		jcfg, jdone, err := clientConfig(js, js.User)
		if err != nil {
			return nil, nil, err
		}
		defer jdone()
		jump, err = handshake(ctx, js.Addr(), nil, jcfg)
		if err != nil {
			return nil, nil, fmt.Errorf("jump host %s: %w", js.Addr(), err)
		}
		raw, err = jump.DialContext(ctx, "tcp", s.Addr())
		if err != nil {
			_ = jump.Close()
			return nil, nil, fmt.Errorf("through jump host %s: %w", js.Addr(), err)
		}
	}
	client, err = handshake(ctx, s.Addr(), raw, cfg)
	if err != nil {
		if jump != nil {
			_ = jump.Close()
		}
		return nil, nil, err
	}
	return client, jump, nil
}

// parseJump reads "[user@]host[:port]"; the jump host shares the target's
// keys, known hosts and timeout.
func parseJump(s SSH) (SSH, error) {
	j := s
	j.JumpHost = ""
	spec := s.JumpHost
	if u, rest, ok := strings.Cut(spec, "@"); ok {
		j.User, spec = u, rest
	}
	j.Host, j.Port = spec, 22
	if strings.HasPrefix(spec, "[") && strings.HasSuffix(spec, "]") {
		// A bracketed IPv6 address without a port.
		j.Host = spec[1 : len(spec)-1]
	} else if h, p, err := net.SplitHostPort(spec); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return SSH{}, fmt.Errorf("jump_host %q has no valid port", s.JumpHost)
		}
		j.Host, j.Port = h, n
	}
	if j.Host == "" {
		return SSH{}, fmt.Errorf("jump_host %q names no host", s.JumpHost)
	}
	return j, nil
}

// handshake runs the SSH handshake over raw (dialled here when nil),
// bounded by ctx.
func handshake(ctx context.Context, addr string, raw net.Conn, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	if raw == nil {
		var d net.Dialer
		var err error
		if raw, err = d.DialContext(ctx, "tcp", addr); err != nil {
			return nil, err
		}
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(raw, addr, cfg)
	if err != nil {
		_ = raw.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	_ = raw.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// clientConfig is the authentication and host key checking of s; done
// releases the agent connection once logged in.
func clientConfig(s SSH, name string) (cfg *ssh.ClientConfig, done func(), err error) {
	done = func() {}
	if name == "" {
		u, err := user.Current()
		if err != nil {
			return nil, done, fmt.Errorf("no user given and the current user is unknown: %w", err)
		}
		name = u.Username
	}
	var auths []ssh.AuthMethod
	if s.PrivateKeyFile != "" {
		pem, err := os.ReadFile(expandHome(s.PrivateKeyFile))
		if err != nil {
			return nil, done, fmt.Errorf("read private_key_file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			if _, ok := errors.AsType[*ssh.PassphraseMissingError](err); ok {
				return nil, done, fmt.Errorf("private_key_file %s is encrypted: load it into an ssh-agent and set agent = true", s.PrivateKeyFile)
			}
			return nil, done, fmt.Errorf("private_key_file %s: %w", s.PrivateKeyFile, err)
		}
		auths = append(auths, ssh.PublicKeys(signer))
	}
	if s.Agent {
		sock := os.Getenv("SSH_AUTH_SOCK")
		if sock == "" {
			return nil, done, errors.New("agent = true but SSH_AUTH_SOCK is not set")
		}
		ac, err := net.Dial("unix", sock)
		if err != nil {
			return nil, done, fmt.Errorf("connect to the ssh-agent: %w", err)
		}
		done = func() { _ = ac.Close() }
		auths = append(auths, ssh.PublicKeysCallback(agent.NewClient(ac).Signers))
	}
	if len(auths) == 0 {
		return nil, done, errors.New("no way to log in: set private_key_file or agent = true")
	}
	cb := ssh.InsecureIgnoreHostKey() //nolint:gosec // asked for, and flagged by plan
	var algos []string
	if !s.InsecureIgnoreHostKey {
		var err error
		if cb, err = hostKeyCallback(s.KnownHostsFile); err != nil {
			done()
			return nil, func() {}, err
		}
		algos = knownAlgorithms(cb, s.Addr())
	}
	return &ssh.ClientConfig{User: name, Auth: auths, HostKeyCallback: cb, HostKeyAlgorithms: algos}, done, nil
}

// knownAlgorithms are the host key algorithms of the keys known for addr,
// so that a host with several keys presents one that is known rather
// than the one the client prefers; nil when none is known. It asks cb
// about a key no host has and reads which keys it wanted.
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	probe, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		return nil
	}
	ke, ok := errors.AsType[*hostKeyError](cb(addr, &net.TCPAddr{IP: net.IPv4zero, Port: 22}, probe))
	if !ok {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, w := range ke.want {
		names := []string{w.Key.Type()}
		if names[0] == ssh.KeyAlgoRSA {
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algos = append(algos, n)
			}
		}
	}
	return algos
}

// hostKeyError is a refused host key, with the keys known for the host.
type hostKeyError struct {
	msg  string
	want []knownhosts.KnownKey
}

func (e *hostKeyError) Error() string { return e.msg }

// hostKeyCallback verifies host keys against file (~/.ssh/known_hosts
// when empty), saying which host and fingerprint were refused and why.
func hostKeyCallback(file string) (ssh.HostKeyCallback, error) {
	if file == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("no known_hosts_file given and no home directory: %w", err)
		}
		file = filepath.Join(home, ".ssh", "known_hosts")
	}
	file = expandHome(file)
	cb, err := knownhosts.New(file)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts_file: %w", err)
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		ke, ok := errors.AsType[*knownhosts.KeyError](err)
		if !ok {
			return err
		}
		fp := key.Type() + " " + ssh.FingerprintSHA256(key)
		if len(ke.Want) == 0 {
			return &hostKeyError{msg: fmt.Sprintf("host key of %s is unknown: %s is not in %s; check it out of band and add it (ssh-keyscan -p PORT HOST >> %s)", hostname, fp, file, file)}
		}
		var known []string
		for _, w := range ke.Want {
			known = append(known, fmt.Sprintf("%s:%d %s %s", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
		}
		return &hostKeyError{want: ke.Want, msg: fmt.Sprintf("host key of %s has CHANGED: it presents %s, %s lists %s; refusing to connect (someone may be intercepting the connection, or the host was reinstalled)", hostname, fp, file, strings.Join(known, ", "))}
	}, nil
}

func expandHome(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// host is a target as a checks.Host.
type host struct {
	pool *Pool
	t    *Target
}

func (h *host) Name() string { return h.t.Name }

// wrapper prints the process group to stdout's first line, then reads
// the script from stdin (its length in bytes on a line, then the script)
// and runs it; what follows on stdin is the script's own stdin. sshd
// starts the command in a session of its own, and exec keeps its pid:
// the pid is the process group. The script never is an argument, so
// what it holds (exported env values) is not in the target's process
// list.
const wrapper = `exec sh -c 'echo "$$"; IFS= read -r n || exit 125; s=$(dd bs=1 count="$n" 2>/dev/null; echo x); s=${s%x}; eval "$s"' runbook`

// Exec runs script on the target; see checks.Host.
func (h *host) Exec(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error) {
	client, sess, err := h.session(ctx)
	if err != nil {
		return -1, err
	}
	defer sess.Close()
	pg := &pgidWriter{w: stdout, pgid: make(chan int, 1)}
	in := io.Reader(strings.NewReader(strconv.Itoa(len(script)) + "\n" + script))
	if stdin != nil {
		in = io.MultiReader(in, stdin)
	}
	sess.Stdin, sess.Stdout, sess.Stderr = in, pg, stderr
	if err := sess.Start(wrapper); err != nil {
		return -1, fmt.Errorf("target %q: start command: %w", h.t.Name, err)
	}
	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err := <-waited:
		return exitStatus(h.t.Name, err)
	case <-ctx.Done():
	}
	// Kill the remote process group, from a session of its own, then
	// drop the command's session. A connection that does not answer
	// within killGrace is closed (which ends the wait) and opened again
	// by the next command.
	grace := time.NewTimer(killGrace)
	defer grace.Stop()
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		var id int
		select {
		case id = <-pg.pgid:
		case <-time.After(pgidGrace):
			return
		}
		if ks, err := client.NewSession(); err == nil {
			g := strconv.Itoa(id)
			_ = ks.Run("kill -TERM -- -" + g + " 2>/dev/null; sleep 1; kill -KILL -- -" + g + " 2>/dev/null; true")
			_ = ks.Close()
		}
	}()
	expired := false
	select {
	case <-killed:
	case <-grace.C:
		expired = true
	}
	_ = sess.Close()
	if !expired {
		select {
		case <-waited:
			return -1, ctx.Err()
		case <-grace.C:
		}
	}
	h.pool.drop(h.t, client)
	<-waited
	return -1, ctx.Err()
}

// session opens a session on the target's connection; a connection that
// cannot open one (lost since it was opened) is dropped and opened once
// more.
func (h *host) session(ctx context.Context) (*ssh.Client, *ssh.Session, error) {
	for attempt := 0; ; attempt++ {
		client, err := h.pool.client(ctx, h.t)
		if err != nil {
			return nil, nil, err
		}
		sess, err := newSession(ctx, client)
		if err == nil {
			return client, sess, nil
		}
		h.pool.drop(h.t, client)
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("target %q: open a session: %w", h.t.Name, ctx.Err())
		}
		if attempt == 1 {
			return nil, nil, fmt.Errorf("target %q: open a session: %w", h.t.Name, err)
		}
	}
}

// newSession opens a session on client, giving up when ctx ends (a
// connection that stopped answering never confirms the session).
func newSession(ctx context.Context, client *ssh.Client) (*ssh.Session, error) {
	type opened struct {
		sess *ssh.Session
		err  error
	}
	ch := make(chan opened, 1)
	go func() {
		sess, err := client.NewSession()
		ch <- opened{sess, err}
	}()
	select {
	case o := <-ch:
		return o.sess, o.err
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.sess != nil {
				_ = o.sess.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// exitStatus reads a finished session's exit status.
func exitStatus(name string, err error) (int, error) {
	if err == nil {
		return 0, nil
	}
	if ee, ok := errors.AsType[*ssh.ExitError](err); ok {
		if sig := ee.Signal(); sig != "" {
			if n, ok := signals[sig]; ok {
				return 128 + n, nil
			}
		}
		return ee.ExitStatus(), nil
	}
	return -1, fmt.Errorf("target %q: wait for command: %w", name, err)
}

// signals are the numbers of the signals SSH names (RFC 4254, 6.10).
var signals = map[string]int{"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9, "SEGV": 11, "PIPE": 13, "ALRM": 14, "TERM": 15, "USR1": 10, "USR2": 12}

// pgidWriter takes the first line of the command's output (the process
// group the wrapper printed) and passes the rest on.
type pgidWriter struct {
	w    io.Writer
	line []byte
	done bool
	pgid chan int
}

func (p *pgidWriter) Write(b []byte) (int, error) {
	n := len(b)
	if !p.done {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			return n, nil
		}
		p.line = append(p.line, b[:i]...)
		p.done = true
		if id, err := strconv.Atoi(strings.TrimSpace(string(p.line))); err == nil && id > 1 {
			p.pgid <- id
		}
		b = b[i+1:]
	}
	if len(b) == 0 || p.w == nil {
		return n, nil
	}
	if _, err := p.w.Write(b); err != nil {
		return 0, err
	}
	return n, nil
}
