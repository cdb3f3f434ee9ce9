package console

// The console's defences against other sites, stale credentials and
// misleading pages.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Browsers strip tabs and newlines from a URL and read a backslash as a
// slash: a Location of "/\t/evil" is followed to //evil, another site.
func TestLoginRedirectStaysOnTheConsole(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	for _, tc := range []struct{ next, want string }{
		{"/\t/evil.example/", "/"},
		{"/\t\\evil.example/", "/"},
		{"/\n/evil.example/", "/"},
		{"/\\evil.example/", "/"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/%2F/evil.example/", "/"},
		{"evil.example", "/"},
		{"/runs/r1?x=1", "/runs/r1?x=1"},
		{"/stop", "/stop"},
	} {
		req, _ := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(url.Values{"token": {op}, "next": {tc.next}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		// (Go's client refuses to parse such a Location; a browser does not.)
		resp, err := f.srv.Client().Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); loc != tc.want {
			t.Errorf("login with next=%q: redirected to %q, want %q", tc.next, loc, tc.want)
		}
	}
}

// A console started with access stays closed: revoking the last token
// does not let anonymous callers in.
func TestRevokingTheLastTokenDoesNotOpenTheConsole(t *testing.T) {
	f := newFixture(t, Options{})
	f.token("alice", state.RoleOperator)
	f.liveRun("r1")
	if code, _ := f.do("GET", "/api/runs", "", ""); code != 401 {
		t.Fatalf("before revoking: got %d, want 401", code)
	}
	if err := f.dir.RevokeToken(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	if code, body := f.do("GET", "/api/runs/r1", "", ""); code != 401 {
		t.Errorf("after revoking the only token, a request without credentials: got %d (%.80s…), want 401", code, body)
	}
	// A console started open closes when a token is made.
	g := newFixture(t, Options{Open: true})
	if code, _ := g.do("GET", "/api/runs", "", ""); code != 200 {
		t.Fatalf("an open console: got %d, want 200", code)
	}
	g.token("bob", state.RoleViewer)
	if code, _ := g.do("GET", "/api/runs", "", ""); code != 401 {
		t.Errorf("an open console once a token is made: got %d, want 401", code)
	}
}

// With a trusted auth proxy the browser's credential is the proxy's
// cookie: a cross-site post that the proxy forwards (with its user
// header) must not write.
func TestAPIWritesWithoutABearerTokenNeedCSRFAndJSON(t *testing.T) {
	f := newFixture(t, Options{ProxyHeader: "X-Forwarded-User", ProxyNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	// A page of the console gives its CSRF token.
	req, _ := http.NewRequest("GET", f.srv.URL+"/stop", nil)
	req.Header.Set("X-Forwarded-User", "pat")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("no CSRF token on the page:\n%s", page)
	}
	for _, tc := range []struct {
		name    string
		headers map[string]string
		code    int
	}{
		// What <form enctype="text/plain" action=".../api/stop"> on
		// another site or a no-cors fetch sends through the proxy: a
		// simple request, no preflight.
		{"cross-site text/plain", map[string]string{"Content-Type": "text/plain", "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
		{"text/plain without marks", map[string]string{"Content-Type": "text/plain", "X-CSRF-Token": m[1]}, 415},
		{"JSON without the CSRF token", map[string]string{"Content-Type": "application/json"}, 403},
		{"JSON with a wrong CSRF token", map[string]string{"Content-Type": "application/json", "X-CSRF-Token": "00"}, 403},
		{"cross-site with the CSRF token", map[string]string{"Content-Type": "application/json", "X-CSRF-Token": m[1], "Sec-Fetch-Site": "cross-site"}, 403},
		{"foreign origin with the CSRF token", map[string]string{"Content-Type": "application/json", "X-CSRF-Token": m[1], "Origin": "https://evil.example"}, 403},
		{"null origin with the CSRF token", map[string]string{"Content-Type": "application/json", "X-CSRF-Token": m[1], "Origin": "null"}, 403},
		{"the proxy's forwarded host with the CSRF token", map[string]string{"Content-Type": "application/json", "X-CSRF-Token": m[1], "Origin": "https://console.example", "X-Forwarded-Host": "console.example"}, 200},
		{"own origin with the CSRF token", map[string]string{"Content-Type": "application/json; charset=utf-8", "X-CSRF-Token": m[1], "Origin": f.srv.URL, "Sec-Fetch-Site": "same-origin"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := f.store.ChangeStop(context.Background(), state.StopRequest{On: false, Entry: state.AuditEntry{User: "x", Host: "h"}}); err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", f.srv.URL+"/api/stop", strings.NewReader(`{"on":true,"reason":"csrf="}`))
			req.Header.Set("X-Forwarded-User", "pat")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			st, _ := f.store.Stop(context.Background())
			if resp.StatusCode != tc.code || st.On != (tc.code == 200) {
				t.Errorf("got %d %s, stop on=%v; want %d", resp.StatusCode, body, st.On, tc.code)
			}
		})
	}
}

// A login lasts as long as its token, not the name: a token revoked and
// made again for the same name does not revive old logins (a stolen
// cookie too).
func TestLoginOfARevokedTokenStaysDeadWhenTheNameIsReused(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	c := f.client()
	resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"token": {op}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: got %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, err = c.Get(f.srv.URL + "/"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("logged in: got %v %v", resp, err)
	}
	resp.Body.Close()
	ctx := context.Background()
	if err := f.dir.RevokeToken(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	f.token("alice", state.RoleOperator) // a new secret for the same person
	resp, err = c.Get(f.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login") {
		t.Errorf("the login of the revoked token, after a new token for the same name: got %d to %q, want a redirect to /login", resp.StatusCode, loc)
	}
}

// An event stream lasts as long as its token: revoked, the stream ends
// before the next change.
func TestEventStreamEndsWhenItsTokenIsRevoked(t *testing.T) {
	f := newFixture(t, Options{})
	f.token("keep", state.RoleOperator)
	v := f.token("bob", state.RoleViewer)
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := f.srv.Client().Do(req.WithContext(ctx))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	if err := f.dir.RevokeToken(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.ChangeStop(context.Background(), state.StopRequest{On: true, Entry: state.AuditEntry{User: "x", Host: "h", Reason: "after revoke"}}); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "event: stop") {
			t.Errorf("a stream of a revoked token still hears changes: %q", sc.Text())
			return
		}
	}
	if ctx.Err() != nil {
		t.Errorf("the stream of a revoked token did not end")
	}
}

// A form larger than the limit is 413 like the API, not "cannot be read".
func TestOversizedFormIs413(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	for _, path := range []string{"/stop", "/login"} {
		req, _ := http.NewRequest("POST", f.srv.URL+path, strings.NewReader("reason="+strings.Repeat("a", MaxBody+10)))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+op)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("an oversized form to %s: got %d, want 413", path, resp.StatusCode)
		}
	}
}

// An open console (no access configured) serves loopback only, and
// answers only its own names: a web page the operator visits cannot
// read run records through DNS rebinding (evil.example resolving to
// 127.0.0.1).
func TestAnOpenConsoleAnswersOnlyLoopbackHosts(t *testing.T) {
	f := newFixture(t, Options{Open: true})
	f.liveRun("r1")
	g := newFixture(t, Options{AllowedHosts: []string{"runbook.example.com"}})
	op := g.token("alice", state.RoleOperator)
	g.liveRun("r1")
	for _, tc := range []struct {
		f     *fixture
		token string
		host  string
		code  int
	}{
		{f, "", "evil.example:8088", 421},
		{f, "", "evil.example", 421},
		{f, "", "127.0.0.1:8088", 200},
		{f, "", "localhost:8088", 200},
		{f, "", "LOCALHOST", 200},
		{f, "", "[::1]:8088", 200},
		{f, "", "127.0.0.2", 200},
		{g, op, "runbook.example.com:443", 200},
		{g, op, "runbook.example.com", 200},
		{g, op, "evil.example", 421},
		{g, op, "127.0.0.1:1", 200},
	} {
		req, _ := http.NewRequest("GET", tc.f.srv.URL+"/api/runs/r1", nil)
		req.Host = tc.host
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := tc.f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("GET with Host: %s (allowed %v): got %d, want %d", tc.host, tc.f != f, resp.StatusCode, tc.code)
		}
	}
}

// A report page shows the document its run wrote, or says where it was
// written: not a file of the same name in the console's own directory or
// on its own host, not a file written over since.
func TestAReportPageShowsOnlyItsRunsDocument(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	dir := t.TempDir()
	t.Chdir(dir) // where serve runs
	mine := []byte("# Report of run r1 (the run's own)\n")
	other := []byte("# Report of run r9 (another run)\n")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		host  string
		rep   record.ReportOutput
		shown string
	}{
		{"another host", "another-host", record.ReportOutput{Path: write("a.md", mine), SHA256: sha256Hex(mine)}, ""},
		{"a relative path", "console-host", record.ReportOutput{Path: func() string { write("b.md", other); return "b.md" }(), SHA256: sha256Hex(mine)}, ""},
		{"written over", "console-host", record.ReportOutput{Path: write("c.md", other), SHA256: sha256Hex(mine)}, ""},
		{"no digest, another run's", "console-host", record.ReportOutput{Path: write("d.md", other)}, ""},
		{"its own document", "console-host", record.ReportOutput{Path: write("e.md", mine), SHA256: sha256Hex(mine)}, "Report of run r1"},
		{"rendered again, naming the run", "console-host", record.ReportOutput{Path: write("f.md", append(mine, "signed\n"...)), SHA256: sha256Hex(mine)}, "Report of run r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := f.liveRun("r1")
			run.Status, run.PID, run.Host = record.Passed, 0, tc.host
			tc.rep.Name = "completion"
			run.Reports = []record.ReportOutput{tc.rep}
			if _, err := f.store.SaveRun(context.Background(), run); err != nil {
				t.Fatal(err)
			}
			code, body := f.do("GET", "/runs/r1/reports/completion", op, "")
			if code != 200 {
				t.Fatalf("got %d", code)
			}
			if strings.Contains(body, "another run") {
				t.Errorf("the report page of run r1 shows another document:\n%s", body)
			}
			if tc.shown != "" && !strings.Contains(body, tc.shown) {
				t.Errorf("the page does not show the run's document:\n%s", body)
			}
			if tc.shown == "" && !strings.Contains(body, "It was written to "+tc.rep.Path+" on "+tc.host) {
				t.Errorf("the page does not say where the report was written:\n%s", body)
			}
		})
	}
}

// Forms, the login's too, are refused when the browser says another site
// sent them: another site cannot log a browser in with its own token.
func TestFormsFromAnotherSiteAreRefused(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	for _, tc := range []struct {
		name, header, value string
		code                int
	}{
		{"cross-site", "Sec-Fetch-Site", "cross-site", 403},
		{"foreign origin", "Origin", "https://evil.example", 403},
		{"null origin", "Origin", "null", 403},
		{"own origin", "Origin", f.srv.URL, 303},
		{"same-origin", "Sec-Fetch-Site", "same-origin", 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", f.srv.URL+"/login", strings.NewReader(url.Values{"token": {op}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(tc.header, tc.value)
			resp, err := f.srv.Client().Transport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.code || (tc.code != 303) != (len(resp.Cookies()) == 0) {
				t.Errorf("login: got %d with cookies %v, want %d", resp.StatusCode, resp.Cookies(), tc.code)
			}
		})
	}
	// A form of a logged-in page, with its CSRF token, from another site.
	c := f.client()
	resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"token": {op}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.Get(f.srv.URL + "/stop")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("no CSRF token on the stop page:\n%s", page)
	}
	req, _ := http.NewRequest("POST", f.srv.URL+"/stop", strings.NewReader(url.Values{"csrf": {m[1]}, "on": {"true"}, "reason": {"x"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if st, _ := f.store.Stop(context.Background()); resp.StatusCode != 403 || st.On {
		t.Errorf("the stop form from another origin: got %d, stop on=%v; want 403 and the stop off", resp.StatusCode, st.On)
	}
}

// A user an auth proxy names must have a name a token could have.
func TestProxyUserNamesFollowTheTokenNameRule(t *testing.T) {
	f := newFixture(t, Options{ProxyHeader: "X-Forwarded-User", ProxyNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	for _, tc := range []struct {
		user string
		code int
	}{
		{"pat", 200},
		{"pat@example.com", 200},
		{"pat (console)", 403},
		{"-pat", 403},
		{"pat\u202e", 403},
		{strings.Repeat("p", 65), 403},
	} {
		req, _ := http.NewRequest("GET", f.srv.URL+"/api/runs", nil)
		req.Header.Set("X-Forwarded-User", tc.user)
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("user %q: got %d, want %d", tc.user, resp.StatusCode, tc.code)
		}
	}
}

// A run of another host (a PostgreSQL state shared by a fleet) whose
// journal has not been heard of for state.StaleAfter is abandoned: the
// console takes no answers nobody would read.
func TestADeadRunOfAnotherHostTakesNoAnswers(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	for _, tc := range []struct {
		name    string
		updated time.Time
		code    int
	}{
		{"unheard of for two days", time.Now().Add(-48 * time.Hour), 409},
		{"heard of just now", time.Now(), 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := f.liveRun("r1")
			run.Host, run.PID = "another-host", 999999
			run.UpdatedAt = tc.updated.UTC()
			run.StartedAt = run.UpdatedAt.Add(-time.Minute)
			if _, err := f.store.SaveRun(context.Background(), run); err != nil {
				t.Fatal(err)
			}
			code, body := f.do("POST", "/api/runs/r1/answers/review", op, `{"status":"passed"}`)
			if code != tc.code {
				t.Errorf("an answer: got %d %.80s…, want %d", code, body, tc.code)
			}
		})
	}
}
