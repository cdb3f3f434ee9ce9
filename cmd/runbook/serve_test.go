package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// startServe starts `runbook serve` and returns its base URL.
func startServe(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary(t), append([]string{"serve", "--listen", "127.0.0.1:0", "--poll", "100ms"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("serve said nothing: %v\n%s", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	m := regexp.MustCompile(`on (http://\S+) `).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve's first line: %q", line)
	}
	return m[1]
}

// api calls the console's API with a token.
func api(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// TestConsoleAnswersARunOfAnotherProcess: exec --wait in one process, the
// console in another, sharing a PostgreSQL state: the run shows up live
// in the console, is answered there, and finishes with that answer.
func TestConsoleAnswersARunOfAnotherProcess(t *testing.T) {
	dsn := fleetDB(t)
	dir := writeFiles(t, map[string]string{"rb.hcl": waitRunbook})
	code, token, stderr := runBin(t, dir, nil, time.Minute, "token", "add", "alice", "--role", "operator", "--state", dsn)
	if code != 0 {
		t.Fatalf("token add: exit %d: %s", code, stderr)
	}
	token = strings.TrimSpace(token)
	base := startServe(t, dir, "--state", dsn)

	run := exec.Command(binary(t), "exec", "rb.hcl", "--state", dsn, "--wait", "60s", "--operator", "olga", "--no-report")
	run.Dir = dir
	var out bytes.Buffer
	run.Stdout, run.Stderr = &out, &out
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	waiting := func(step string) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			code, body := api(t, "GET", base+"/api/runs?status=running", token, "")
			var runs []struct{ ID string }
			if code == 200 && json.Unmarshal([]byte(body), &runs) == nil && len(runs) == 1 {
				code, body := api(t, "GET", base+"/api/runs/"+runs[0].ID, token, "")
				var rec struct {
					record.Run
					Waiting []state.Question `json:"waiting"`
				}
				if code == 200 && json.Unmarshal([]byte(body), &rec) == nil {
					for _, q := range rec.Waiting {
						if q.Step == step {
							if it := rec.Item(record.KindStep, step); step == "review" && it.Status != record.Pending {
								t.Errorf("step %s waits with status %s, want pending", step, it.Status)
							}
							return rec.ID
						}
					}
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("step %s never waited in the console\n%s", step, out.String())
		return ""
	}
	id := waiting("restart")
	if code, body := api(t, "POST", base+"/api/runs/"+id+"/answers/restart", token, `{"confirm":true}`); code != 200 {
		t.Fatalf("confirm: %d %s", code, body)
	}
	waiting("review")
	if code, body := api(t, "POST", base+"/api/runs/"+id+"/answers/review", token, `{"status":"passed","note":"from the console"}`); code != 200 {
		t.Fatalf("answer: %d %s", code, body)
	}
	if code, _ := api(t, "POST", base+"/api/runs/"+id+"/answers/review", token, `{"status":"failed"}`); code != 409 {
		t.Errorf("a second answer: got %d, want 409", code)
	}
	if err := run.Wait(); err != nil {
		t.Fatalf("exec: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "step review answered in the console by alice") {
		t.Errorf("exec's output does not say who answered:\n%s", out.String())
	}
	store, err := state.OpenPostgres(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rec, err := store.LoadRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	ans := rec.Item(record.KindStep, "review").Answer
	if rec.Status != record.Passed || ans == nil || ans.Operator != "alice" || ans.Surface != record.SurfaceConsole || ans.Note != "from the console" {
		t.Errorf("record: status %s, answer %+v", rec.Status, ans)
	}
	if code, body := api(t, "POST", base+"/api/runs/"+id+"/answers/review", token, `{"status":"passed"}`); code != 409 {
		t.Errorf("an answer to the finished run: got %d %s, want 409", code, body)
	}
}

// TestServeRefusesWhatItCannotServe: no access configured means loopback
// only; a state it cannot read is said at once.
func TestServeRefusesWhatItCannotServe(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, dir, "serve", "--listen", "0.0.0.0:0", "--state", filepath.Join(dir, "st"))
	if code != 2 || !strings.Contains(stderr, "loopback only") {
		t.Errorf("serve on all addresses without access: exit %d, %q; want 2 and loopback only", code, stderr)
	}
	bad := filepath.Join(dir, "file")
	if err := os.WriteFile(bad, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI(t, dir, "serve", "--listen", "127.0.0.1:0", "--state", bad)
	if code != 2 || !strings.Contains(stderr, "cannot read the state") {
		t.Errorf("serve over a file: exit %d, %q; want 2 and cannot read the state", code, stderr)
	}
	code, _, stderr = runCLI(t, dir, "serve", "--tls-cert", "x.pem")
	if code != 2 || !strings.Contains(stderr, "go together") {
		t.Errorf("--tls-cert alone: exit %d, %q", code, stderr)
	}
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	code, stdout, stderr := runCLI(t, dir, "token", "add", "alice", "--role", "operator", "--state", st)
	secret := strings.TrimSpace(stdout)
	if code != 0 || !strings.HasPrefix(secret, "rbk_") || !strings.Contains(stderr, "shown only now") {
		t.Fatalf("token add: exit %d, %q, %q", code, stdout, stderr)
	}
	if data, _ := os.ReadFile(filepath.Join(st, "tokens.json")); strings.Contains(string(data), secret) {
		t.Errorf("the state keeps the token itself, not its hash")
	}
	if code, _, stderr := runCLI(t, dir, "token", "add", "alice", "--role", "viewer", "--state", st); code != 2 || !strings.Contains(stderr, "exists already") {
		t.Errorf("a second alice: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, dir, "token", "add", "bob", "--state", st); code != 2 || !strings.Contains(stderr, "--role is required") {
		t.Errorf("no role: exit %d, %q", code, stderr)
	}
	if code, _, stderr := runCLI(t, dir, "token", "add", "bob", "--role", "admin", "--state", st); code != 2 || !strings.Contains(stderr, "use viewer or operator") {
		t.Errorf("role admin: exit %d, %q", code, stderr)
	}
	code, stdout, _ = runCLI(t, dir, "token", "list", "--state", st)
	if code != 0 || !strings.Contains(stdout, "alice") || !strings.Contains(stdout, "operator") || strings.Contains(stdout, secret) {
		t.Errorf("token list: exit %d:\n%s", code, stdout)
	}
	if code, stdout, _ := runCLI(t, dir, "token", "revoke", "alice", "--state", st); code != 0 || !strings.Contains(stdout, "Revoked") {
		t.Errorf("token revoke: exit %d, %q", code, stdout)
	}
	if code, _, stderr := runCLI(t, dir, "token", "revoke", "alice", "--state", st); code != 2 || !strings.Contains(stderr, "no such token") {
		t.Errorf("revoke twice: exit %d, %q", code, stderr)
	}
	if code, stdout, _ := runCLI(t, dir, "token", "list", "--state", st); code != 0 || !strings.Contains(stdout, "No tokens") {
		t.Errorf("token list, none: exit %d, %q", code, stdout)
	}
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "runbook test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestServeOverTLS(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	code, token, _ := runCLI(t, dir, "token", "add", "alice", "--role", "operator", "--state", st)
	if code != 0 {
		t.Fatal("token add")
	}
	cert, key := selfSigned(t, dir)
	cmd := exec.Command(binary(t), "serve", "--listen", "127.0.0.1:0", "--state", st, "--tls-cert", cert, "--tls-key", key)
	cmd.Dir = dir
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	line, _ := bufio.NewReader(out).ReadString('\n')
	m := regexp.MustCompile(`on (https://\S+) `).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("serve's first line: %q", line)
	}
	pool := x509.NewCertPool()
	pemData, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pemData)
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.PostForm(m[1]+"/login", url.Values{"token": {strings.TrimSpace(token)}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := resp.Header.Get("Set-Cookie"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(c, "; Secure") {
		t.Errorf("login over TLS: %d, cookie %q; want a Secure cookie", resp.StatusCode, c)
	}
}

// TestRunRecordNamesItsReportAbsolutelyWithItsDigest: a report output
// given relative to the directory exec ran in is recorded absolutely,
// with the SHA-256 of the document, so that the console shows that
// document and no other file of the same name.
func TestRunRecordNamesItsReportAbsolutelyWithItsDigest(t *testing.T) {
	dir := writeFiles(t, map[string]string{"rb.hcl": `runbook "r" {}

step "say" {
  shell {
    command = "echo hi"
  }
}

report "notes" {
  template = "tabletop"
  output   = "notes.md"
}
`})
	if code, stdout, stderr := runCLI(t, dir, "exec", "rb.hcl"); code != 0 {
		t.Fatalf("exec: exit %d\n%s\n%s", code, stdout, stderr)
	}
	run, err := state.NewDir(filepath.Join(dir, ".runbook")).LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	if len(run.Reports) != 1 {
		t.Fatalf("reports: %+v", run.Reports)
	}
	rep := run.Reports[0]
	if want := filepath.Join(dir, "notes.md"); rep.Path != want {
		t.Errorf("the report's path: got %q, want %q", rep.Path, want)
	}
	doc, err := os.ReadFile(filepath.Join(dir, "notes.md"))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(doc); rep.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("the report's digest: got %q, want the document's %x", rep.SHA256, sum)
	}
}

// TestServeDecidesOpennessWhenItStarts: a console started with a token
// keeps asking for one after the last is revoked; one started without
// access lets readers in, on its loopback names only.
func TestServeDecidesOpennessWhenItStarts(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	if code, _, stderr := runCLI(t, dir, "token", "add", "alice", "--role", "operator", "--state", st); code != 0 {
		t.Fatalf("token add: exit %d: %s", code, stderr)
	}
	base := startServe(t, dir, "--state", st)
	if code, _ := api(t, "GET", base+"/api/runs", "", ""); code != 401 {
		t.Fatalf("with a token: got %d, want 401", code)
	}
	if code, _, stderr := runCLI(t, dir, "token", "revoke", "alice", "--state", st); code != 0 {
		t.Fatalf("token revoke: exit %d: %s", code, stderr)
	}
	if code, body := api(t, "GET", base+"/api/runs", "", ""); code != 401 {
		t.Errorf("after revoking the last token: got %d %s, want 401", code, body)
	}

	open := startServe(t, dir, "--state", filepath.Join(dir, "open"))
	if code, body := api(t, "GET", open+"/api/runs", "", ""); code != 200 {
		t.Errorf("an open console: got %d %s, want 200", code, body)
	}
	req, _ := http.NewRequest("GET", open+"/api/runs", nil)
	req.Host = "evil.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("an open console asked for evil.example: got %d, want 421", resp.StatusCode)
	}

	if code, _, stderr := runCLI(t, dir, "serve", "--state", st, "--allowed-host", "https://x.example/"); code != 2 || !strings.Contains(stderr, "--allowed-host") {
		t.Errorf("--allowed-host with a URL: exit %d, %q; want 2", code, stderr)
	}
}

// TestServeSecureCookies: behind a TLS proxy, --secure-cookies marks the
// login cookie Secure.
func TestServeSecureCookies(t *testing.T) {
	dir := t.TempDir()
	st := filepath.Join(dir, "st")
	code, token, stderr := runCLI(t, dir, "token", "add", "alice", "--role", "operator", "--state", st)
	if code != 0 {
		t.Fatalf("token add: exit %d: %s", code, stderr)
	}
	for _, tc := range []struct {
		args   []string
		secure bool
	}{{nil, false}, {[]string{"--secure-cookies"}, true}} {
		base := startServe(t, dir, append([]string{"--state", st}, tc.args...)...)
		resp, err := http.DefaultTransport.RoundTrip(func() *http.Request {
			req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"token": {strings.TrimSpace(token)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return req
		}())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		cs := resp.Cookies()
		if len(cs) != 1 || cs[0].Secure != tc.secure {
			t.Errorf("serve %v: login cookies %v, want one with Secure %v", tc.args, cs, tc.secure)
		}
	}
}
