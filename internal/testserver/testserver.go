// Package testserver starts real PostgreSQL and Redis servers for tests.
//
// Each server starts at most once per test binary, on first use, in a
// temporary directory, listening only on 127.0.0.1 on a free port, and
// stops when Main's tests are done. A package that uses it declares
//
//	func TestMain(m *testing.M) { testserver.Main(m) }
//
// and calls Postgres or Redis from the tests that need a server. When the
// server binaries are missing, tests that ask for them are skipped with a
// loud message; with CI set in the environment they fail instead, naming
// the packages to install.
//
// PostgreSQL refuses to run as root: when the tests run as root, initdb and
// postgres run as the `postgres` system user, which owns the temporary
// directory.
package testserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// installHint names the packages that carry the server binaries.
const installHint = "apt-get install -y postgresql redis-server"

// startTimeout bounds how long a server may take to accept connections.
const startTimeout = 30 * time.Second

var (
	mainCalled atomic.Bool

	pgOnce sync.Once
	pgDSN  string
	pgErr  error

	redisOnce sync.Once
	redisURL  string
	redisErr  error

	mu      sync.Mutex
	running []*server
)

// Main runs the tests of m and then stops the servers they started. Call
// it from TestMain; it does not return.
func Main(m *testing.M) {
	mainCalled.Store(true)
	code := m.Run()
	stopAll()
	os.Exit(code)
}

// Postgres returns the DSN of a PostgreSQL server started for this test
// binary: a URL for a superuser role `runbook` whose password is required
// (scram-sha-256) on 127.0.0.1, database `postgres`.
func Postgres(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	pgOnce.Do(func() { pgDSN, pgErr = startPostgres() })
	check(tb, "PostgreSQL", pgErr)
	return pgDSN
}

// PostgresDatabase creates an empty database, named prefix and a random
// suffix, on the test binary's PostgreSQL server and returns its DSN, so
// each test (and each -count=N round) has a database of its own.
func PostgresDatabase(tb testing.TB, prefix string) string {
	tb.Helper()
	admin := Postgres(tb)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatal(err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// Redis returns the URL of a Redis server started for this test binary:
// redis://runbook:PASSWORD@127.0.0.1:PORT/0. The default user is disabled,
// so every connection must authenticate as `runbook`.
func Redis(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	redisOnce.Do(func() { redisURL, redisErr = startRedis() })
	check(tb, "Redis", redisErr)
	return redisURL
}

// missingError reports a server binary that is not installed; hint, when
// set, says what to install instead of installHint.
type missingError struct{ what, hint string }

func (e missingError) Error() string {
	if e.hint != "" {
		return e.what + " not found in PATH or /usr/sbin"
	}
	return e.what + " not found in PATH or /usr/lib/postgresql/*/bin"
}

func requireMain(tb testing.TB) {
	tb.Helper()
	if !mainCalled.Load() {
		tb.Fatal("testserver: the package needs `func TestMain(m *testing.M) { testserver.Main(m) }` so servers are stopped")
	}
}

func check(tb testing.TB, name string, err error) {
	tb.Helper()
	if err == nil {
		return
	}
	var missing missingError
	if errors.As(err, &missing) {
		hint := installHint
		if missing.hint != "" {
			hint = missing.hint
		}
		if os.Getenv("CI") != "" {
			tb.Fatalf("testserver: %v; CI must install it: %s", err, hint)
		}
		tb.Skipf("\n\n*** SKIPPED: %s is not installed (%v).\n*** These tests need a real server: %s\n", name, err, hint)
	}
	tb.Fatalf("testserver: start %s: %v", name, err)
}

// server is one running server process.
type server struct {
	name    string
	dir     string
	logPath string
	cmd     *exec.Cmd
	stopSig syscall.Signal
	done    chan struct{}
}

// spawn starts cmd from a goroutine locked to its OS thread, so that the
// child's parent-death signal (sent when the thread that forked it exits)
// fires only when the test binary itself dies.
func spawn(s *server, pdeath syscall.Signal) error {
	if s.cmd.SysProcAttr == nil {
		s.cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	s.cmd.SysProcAttr.Pdeathsig = pdeath
	s.done = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the child
		if err := s.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = s.cmd.Wait()
		close(s.done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start %s: %w", s.cmd.Path, err)
	}
	mu.Lock()
	running = append(running, s)
	mu.Unlock()
	return nil
}

func (s *server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil && !s.exited() {
		_ = s.cmd.Process.Signal(s.stopSig)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	_ = os.RemoveAll(s.dir)
}

// logTail returns the end of the server's log, for error messages.
func (s *server) logTail() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	if len(data) > 2000 {
		data = data[len(data)-2000:]
	}
	return "\n--- " + s.name + " log ---\n" + string(bytes.TrimSpace(data))
}

func stopAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, s := range running {
		s.stop()
	}
	running = nil
}

// waitReady calls ping until it succeeds, the server exits or startTimeout
// passes.
func waitReady(s *server, ping func(ctx context.Context) error) error {
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := ping(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if s.exited() {
			return fmt.Errorf("%s exited during start-up: %v%s", s.name, err, s.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %v%s", s.name, startTimeout, err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startPostgres() (string, error) {
	bin, err := postgresBin()
	if err != nil {
		return "", err
	}
	cred, err := unprivileged()
	if err != nil {
		return "", err
	}
	dir, err := tempDir("runbook-pg-", cred)
	if err != nil {
		return "", err
	}
	s := &server{name: "postgres", dir: dir, logPath: filepath.Join(dir, "postgres.log"), stopSig: syscall.SIGINT}
	fail := func(err error) (string, error) {
		s.stop()
		return "", err
	}

	password := "pw-" + randomHex(8)
	pwfile := filepath.Join(dir, "pwfile")
	sock := filepath.Join(dir, "sock")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o600); err != nil {
		return fail(fmt.Errorf("write password file: %w", err))
	}
	if err := os.Mkdir(sock, 0o700); err != nil {
		return fail(fmt.Errorf("make socket directory: %w", err))
	}
	if err := chown(cred, pwfile, sock); err != nil {
		return fail(err)
	}

	initdb := exec.Command(filepath.Join(bin, "initdb"),
		"-D", filepath.Join(dir, "data"),
		"--username=runbook", "--pwfile="+pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = childEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}

	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	logf, err := os.Create(s.logPath)
	if err != nil {
		return fail(fmt.Errorf("create postgres log: %w", err))
	}
	defer logf.Close()
	s.cmd = exec.Command(filepath.Join(bin, "postgres"),
		"-D", filepath.Join(dir, "data"),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "port="+strconv.Itoa(port),
		"-c", "unix_socket_directories="+sock,
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=32MB",
		"-c", "max_connections=200")
	s.cmd.Dir = dir
	s.cmd.Env = childEnv()
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if err := spawn(s, syscall.SIGQUIT); err != nil {
		return fail(err)
	}

	dsn := fmt.Sprintf("postgres://runbook:%s@127.0.0.1:%d/postgres?sslmode=disable", password, port)
	err = waitReady(s, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
	if err != nil {
		return fail(err)
	}
	return dsn, nil
}

func startRedis() (string, error) {
	bin, err := lookBinary("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")
	if err != nil {
		return "", err
	}
	dir, err := tempDir("runbook-redis-", nil)
	if err != nil {
		return "", err
	}
	s := &server{name: "redis-server", dir: dir, logPath: filepath.Join(dir, "redis.log"), stopSig: syscall.SIGTERM}
	fail := func(err error) (string, error) {
		s.stop()
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	password := "pw-" + randomHex(8)
	s.cmd = exec.Command(bin,
		"--bind", "127.0.0.1",
		"--port", strconv.Itoa(port),
		"--dir", dir,
		"--save", "",
		"--appendonly", "no",
		"--daemonize", "no",
		"--logfile", s.logPath,
		"--user", "default", "off",
		"--user", "runbook", "on", ">"+password, "~*", "&*", "+@all")
	s.cmd.Dir = dir
	s.cmd.Env = childEnv()
	if err := spawn(s, syscall.SIGKILL); err != nil {
		return fail(err)
	}
	url := fmt.Sprintf("redis://runbook:%s@127.0.0.1:%d/0", password, port)
	opts, err := goredis.ParseURL(url)
	if err != nil {
		return fail(fmt.Errorf("parse redis url: %w", err))
	}
	opts.MaxRetries = -1
	client := goredis.NewClient(opts)
	defer client.Close()
	if err := waitReady(s, func(ctx context.Context) error { return client.Ping(ctx).Err() }); err != nil {
		return fail(err)
	}
	return url, nil
}

// postgresBin returns the directory holding initdb and postgres: PATH
// first, then the newest /usr/lib/postgresql/*/bin.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			dir := filepath.Dir(real)
			if _, err := os.Stat(filepath.Join(dir, "postgres")); err == nil {
				return dir, nil
			}
		}
		if _, err := exec.LookPath("postgres"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err != nil {
			continue
		}
		if _, err := os.Stat(filepath.Join(d, "postgres")); err == nil {
			return d, nil
		}
	}
	return "", missingError{what: "PostgreSQL (initdb, postgres)"}
}

// pgVersion reads the major version from /usr/lib/postgresql/NN/bin.
func pgVersion(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func lookBinary(name string, fallbacks ...string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, p := range fallbacks {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", missingError{what: name}
}

// unprivileged returns the credential of the `postgres` user when running
// as root, and nil otherwise.
func unprivileged() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root and PostgreSQL refuses root: look up the postgres user: %w", err)
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("postgres gid %q: %w", u.Gid, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// tempDir makes a temporary directory owned by cred's user when cred is
// set. Its parent must be traversable by that user, so a private TMPDIR
// is passed over for /tmp.
func tempDir(pattern string, cred *syscall.Credential) (string, error) {
	base := os.TempDir()
	if cred != nil && !traversable(base) {
		base = "/tmp"
	}
	dir, err := os.MkdirTemp(base, pattern)
	if err != nil {
		return "", fmt.Errorf("make temporary directory: %w", err)
	}
	if err := chown(cred, dir); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// traversable reports whether every directory from / to dir may be
// searched by others.
func traversable(dir string) bool {
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil || st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" || d == "." {
			return true
		}
	}
}

func chown(cred *syscall.Credential, paths ...string) error {
	if cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

// childEnv is a small environment for server processes: no PG* variables
// from the caller, a C locale.
func childEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "LANG=C", "LC_ALL=C", "TZ=UTC"}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Silent returns the loopback address of a server that accepts
// connections and never answers: what a hung database or cache looks like
// to a client, for tests of timeouts. It stops when the test ends.
func Silent(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}
