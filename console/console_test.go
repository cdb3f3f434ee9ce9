package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// fixture is a console over a fresh state directory.
type fixture struct {
	t     *testing.T
	dir   *state.Dir
	srv   *httptest.Server
	store state.Store
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	d := state.NewDir(filepath.Join(t.TempDir(), "state"))
	opts.Store = d
	if opts.Host == "" {
		opts.Host = "console-host"
	}
	if opts.Poll == 0 {
		opts.Poll = 50 * time.Millisecond
	}
	opts.Logf = t.Logf
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go s.Run(ctx)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { cancel(); hs.Close() })
	return &fixture{t: t, dir: d, srv: hs, store: d}
}

// token makes a token.
func (f *fixture) token(name, role string) string {
	f.t.Helper()
	secret, _, err := f.dir.AddToken(context.Background(), name, role)
	if err != nil {
		f.t.Fatal(err)
	}
	return secret
}

// do sends a request and returns the status and body.
func (f *fixture) do(method, path, token, body string) (int, string) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// liveRun saves a run that is running in this process, with a manual
// step waiting for an answer and a confirm step waiting for a decision.
// events follows the event stream as token, from once its headers came
// (the stream has its baseline then), until the test ends; the channel
// closes when the stream does.
func (f *fixture) events(token string) <-chan Event {
	f.t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	f.t.Cleanup(cancel)
	resp, err := f.srv.Client().Do(req.WithContext(ctx))
	if err != nil {
		f.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		resp.Body.Close()
		f.t.Fatalf("Content-Type %q", ct)
	}
	events := make(chan Event, 32)
	go func() {
		defer resp.Body.Close()
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev Event
				if err := json.Unmarshal([]byte(v), &ev); err != nil {
					f.t.Errorf("event %q: %v", v, err)
					return
				}
				events <- ev
			}
		}
	}()
	return events
}

func (f *fixture) liveRun(id string) *record.Run {
	f.t.Helper()
	host, _ := os.Hostname()
	now := time.Now().UTC()
	run := &record.Run{ID: id, Runbook: "drill", Title: "Drill <b>one</b>", Mode: "exec", Operator: "alice", Host: host,
		PID: os.Getpid(), StartedAt: now, Status: record.Running,
		Items: []record.Item{
			{Kind: record.KindStep, Name: "restart", Provider: "shell", Status: record.Pending, Confirm: true, StartedAt: &now},
			{Kind: record.KindStep, Name: "review", Provider: "manual", Status: record.Pending, Manual: true, Required: true, StartedAt: &now, Assignee: "sre"},
			{Kind: record.KindStep, Name: "later", Provider: "manual", Status: record.Pending, Manual: true},
		},
		Reports: []record.ReportOutput{{Name: "completion", Template: "tabletop", Path: "/nonexistent/report.md", Roles: []string{"SRE", "Lead"}}},
	}
	ctx := context.Background()
	if _, err := f.store.SaveRun(ctx, run); err != nil {
		f.t.Fatal(err)
	}
	for step, kind := range map[string]string{"restart": state.QuestionConfirm, "review": state.QuestionAnswer} {
		if err := f.dir.Ask(ctx, id, step, kind); err != nil {
			f.t.Fatal(err)
		}
	}
	return run
}

func TestWithoutAccessConfiguredTheConsoleIsReadOnly(t *testing.T) {
	f := newFixture(t, Options{Open: true})
	f.liveRun("r1")
	if code, body := f.do("GET", "/api/runs", "", ""); code != 200 || !strings.Contains(body, `"r1"`) {
		t.Errorf("GET /api/runs: got %d %s, want 200 with the run", code, body)
	}
	code, body := f.do("POST", "/api/runs/r1/answers/review", "", `{"status":"passed"}`)
	if code != 403 || !strings.Contains(body, "read-only") || !strings.Contains(body, "runbook token add") {
		t.Errorf("a write: got %d %s, want 403 saying how to configure access", code, body)
	}
	if code, _ := f.do("POST", "/api/stop", "", `{"on":true,"reason":"x"}`); code != 403 {
		t.Errorf("stop: got %d, want 403", code)
	}
}

func TestAPIStatuses(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	viewer := f.token("vic", state.RoleViewer)
	f.liveRun("r1")
	done := f.liveRun("r2")
	done.Status, done.PID, done.FinishedAt = record.Passed, 0, time.Now()
	if _, err := f.store.SaveRun(context.Background(), done); err != nil {
		t.Fatal(err)
	}
	big := `{"status":"passed","note":"` + strings.Repeat("x", MaxBody) + `"}`
	for _, tc := range []struct {
		name, method, path, token, body string
		code                            int
		says                            string
	}{
		{"no token", "GET", "/api/runs", "", "", 401, "Bearer"},
		{"bad token", "GET", "/api/runs", "rbk_nope", "", 401, "not valid"},
		{"not bearer", "GET", "/api/runs", "", "", 401, ""},
		{"viewer reads", "GET", "/api/runs/r1", viewer, "", 200, `"review"`},
		{"viewer writes", "POST", "/api/runs/r1/answers/review", viewer, `{"status":"passed"}`, 403, "viewer"},
		{"viewer stop", "POST", "/api/stop", viewer, `{"on":true,"reason":"x"}`, 403, "viewer"},
		{"unknown run", "GET", "/api/runs/nope", op, "", 404, "no run"},
		{"a path for a run", "GET", "/api/runs/..%2f..%2fetc%2fpasswd", op, "", 404, ""},
		{"unknown step", "POST", "/api/runs/r1/answers/nope", op, `{"status":"passed"}`, 404, "no step"},
		{"not waiting", "POST", "/api/runs/r1/answers/later", op, `{"status":"passed"}`, 409, "not waiting"},
		{"finished run", "POST", "/api/runs/r2/answers/review", op, `{"status":"passed"}`, 409, "has ended"},
		{"required skipped", "POST", "/api/runs/r1/answers/review", op, `{"status":"skipped"}`, 400, "required"},
		{"bad status", "POST", "/api/runs/r1/answers/review", op, `{"status":"maybe"}`, 400, "passed, failed or skipped"},
		{"confirm for an answer", "POST", "/api/runs/r1/answers/review", op, `{"confirm":true}`, 400, "not a confirmation"},
		{"unknown field", "POST", "/api/runs/r1/answers/review", op, `{"state":"passed"}`, 400, "unknown field"},
		{"not declared JSON", "POST", "/api/runs/r1/answers/review", op, `{"status":"passed"}`, 415, "Content-Type: application/json"},
		{"not JSON", "POST", "/api/runs/r1/answers/review", op, `status=passed`, 400, "JSON"},
		{"no body", "POST", "/api/runs/r1/answers/review", op, ``, 400, "JSON body"},
		{"oversized body", "POST", "/api/runs/r1/answers/review", op, big, 413, "larger than"},
		{"sign a running run", "POST", "/api/runs/r1/signoffs/SRE", op, `{"statement":"ok"}`, 409, "still running"},
		{"sign an unknown role", "POST", "/api/runs/r2/signoffs/CEO", op, `{"statement":"ok"}`, 404, "roles: SRE, Lead"},
		{"stop on without reason", "POST", "/api/stop", op, `{"on":true}`, 400, "reason"},
		{"unknown API", "GET", "/api/nope", op, "", 404, "no such API"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, f.srv.URL+tc.path, strings.NewReader(tc.body))
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			if tc.name == "not bearer" {
				req.Header.Set("Authorization", "Basic YTpi")
			}
			if tc.method == "POST" && tc.name != "not declared JSON" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := f.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code || !strings.Contains(string(data), tc.says) {
				t.Errorf("got %d %s, want %d saying %q", resp.StatusCode, data, tc.code, tc.says)
			}
			var e apiError
			if resp.StatusCode >= 400 && (json.Unmarshal(data, &e) != nil || e.Error == "") {
				t.Errorf("the error is not JSON {\"error\": …}: %s", data)
			}
		})
	}
	// The writes that may be made.
	if code, body := f.do("POST", "/api/runs/r1/answers/restart", op, `{"confirm":true}`); code != 200 {
		t.Errorf("confirm: got %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/runs/r2/signoffs/SRE", op, `{"statement":"<i>fine</i>"}`); code != 200 || !strings.Contains(body, `"name": "alice"`) {
		t.Errorf("sign-off: got %d %s", code, body)
	}
	if code, body := f.do("POST", "/api/runs/r2/signoffs/SRE", op, `{"statement":"again"}`); code != 409 {
		t.Errorf("a second sign-off: got %d %s, want 409", code, body)
	}
	if code, body := f.do("POST", "/api/stop", op, `{"on":true,"reason":"drill <script>"}`); code != 200 || !strings.Contains(body, `"on": true`) {
		t.Errorf("stop on: got %d %s", code, body)
	}
	code, body := f.do("GET", "/api/stop", viewer, "")
	if code != 200 || !strings.Contains(body, `"user": "alice"`) || !strings.Contains(body, `"host": "console-host (console)"`) {
		t.Errorf("GET /api/stop: got %d %s, want the change in the audit trail", code, body)
	}
}

func TestConcurrentAnswersFirstWins(t *testing.T) {
	f := newFixture(t, Options{})
	tokens := []string{f.token("alice", state.RoleOperator), f.token("bob", state.RoleOperator)}
	f.liveRun("r1")
	const n = 6
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = f.do("POST", "/api/runs/r1/answers/review", tokens[i%2], fmt.Sprintf(`{"status":"passed","note":"answer %d"}`, i))
		}()
	}
	wg.Wait()
	ok, conflict := 0, 0
	for _, c := range codes {
		switch c {
		case 200:
			ok++
		case 409:
			conflict++
		}
	}
	if ok != 1 || conflict != n-1 {
		t.Errorf("statuses %v: want one 200 and %d 409", codes, n-1)
	}
}

// client is a browser-like client: it keeps cookies, does not follow
// redirects.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`)

// csrfMeta finds the CSRF token a page gives its scripts.
var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([0-9a-f]+)">`)

func TestPagesLogInAndPostFormsWithCSRF(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	f.liveRun("r1")
	c := f.client()
	resp, err := c.Get(f.srv.URL + "/runs/r1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
		t.Fatalf("a page without login: got %d %s, want a redirect to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, err = c.PostForm(f.srv.URL+"/login", url.Values{"token": {"rbk_wrong"}, "next": {"/runs/r1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a wrong token: got %d, want 401", resp.StatusCode)
	}
	resp, err = c.PostForm(f.srv.URL+"/login", url.Values{"token": {op}, "next": {"//evil.example/"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("login: got %d to %q, want a redirect to / (never off the console)", resp.StatusCode, resp.Header.Get("Location"))
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"runbook_session=", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	resp, err = c.Get(f.srv.URL + "/runs/r1")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Drill &lt;b&gt;one&lt;/b&gt;") {
		t.Fatalf("run page: got %d, want the title escaped:\n%s", resp.StatusCode, page)
	}
	if strings.Contains(string(page), " mine\"") {
		t.Errorf("alice's page highlights a step of sre")
	}
	resp, err = c.Get(f.srv.URL + "/runs/r1?as=sre")
	if err != nil {
		t.Fatal(err)
	}
	sre, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(sre), `<li id="step-review" class="item status-pending waiting mine">`) {
		t.Errorf("the steps of sre are not highlighted:\n%s", sre)
	}
	m := csrfField.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("the run page has no form with a CSRF token:\n%s", page)
	}
	resp, err = c.PostForm(f.srv.URL+"/runs/r1/answers/review", url.Values{"status": {"passed"}, "note": {"<script>alert(1)</script>"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a form without its CSRF token: got %d, want 403", resp.StatusCode)
	}
	resp, err = c.PostForm(f.srv.URL+"/runs/r1/answers/review", url.Values{"csrf": {m[1]}, "status": {"passed"}, "note": {"<script>alert(1)</script>"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("answer form: got %d, want 303", resp.StatusCode)
	}
	qs, _ := f.dir.Questions(context.Background(), "r1")
	var got *state.Reply
	for _, q := range qs {
		if q.Step == "review" {
			got = q.Reply
		}
	}
	if got == nil || got.By != "alice" || got.Surface != record.SurfaceConsole || got.Note != "<script>alert(1)</script>" {
		t.Errorf("the reply: got %+v", got)
	}
	// A revoked token ends its logins.
	f.token("keeper", state.RoleViewer)
	if err := f.dir.RevokeToken(context.Background(), "alice"); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Get(f.srv.URL + "/runs/r1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("a login of a revoked token: got %d, want a redirect to /login", resp.StatusCode)
	}
	op = f.token("alice2", state.RoleOperator)
	resp, err = c.PostForm(f.srv.URL+"/login", url.Values{"token": {op}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// The stop page escapes the reason.
	if code, _ := f.do("POST", "/api/stop", op, `{"on":true,"reason":"<script>alert(2)</script>"}`); code != 200 {
		t.Fatal("stop on")
	}
	resp, err = c.Get(f.srv.URL + "/stop")
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(page), "<script>alert") || !strings.Contains(string(page), "&lt;script&gt;alert(2)") {
		t.Errorf("the stop page does not escape the reason:\n%s", page)
	}
}

func TestTrustedProxyHeader(t *testing.T) {
	f := newFixture(t, Options{ProxyHeader: "X-Forwarded-User", ProxyNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	f.liveRun("r1")
	// A proxy user's API write carries the CSRF token of its pages.
	req, _ := http.NewRequest("GET", f.srv.URL+"/", nil)
	req.Header.Set("X-Forwarded-User", "pat")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfMeta.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("the runs page of a proxy user has no CSRF token:\n%s", page)
	}
	req, _ = http.NewRequest("POST", f.srv.URL+"/api/runs/r1/answers/review", strings.NewReader(`{"status":"failed"}`))
	req.Header.Set("X-Forwarded-User", "pat")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", m[1])
	resp, err = f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("an answer through the proxy: got %d, want 200", resp.StatusCode)
	}
	qs, _ := f.dir.Questions(context.Background(), "r1")
	for _, q := range qs {
		if q.Step == "review" && (q.Reply == nil || q.Reply.By != "pat") {
			t.Errorf("the reply: got %+v, want one by pat", q.Reply)
		}
	}
	// Without the header, and with no token, nobody is let in.
	if code, _ := f.do("GET", "/api/runs", "", ""); code != 401 {
		t.Errorf("no header: got %d, want 401", code)
	}

	// From an address that is not the proxy's, the header means nothing.
	g := newFixture(t, Options{ProxyHeader: "X-Forwarded-User", ProxyNets: []netip.Prefix{netip.MustParsePrefix("10.9.9.9/32")}})
	req, _ = http.NewRequest("GET", g.srv.URL+"/api/runs", nil)
	req.Header.Set("X-Forwarded-User", "mallory")
	resp, err = g.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("the header from an untrusted address: got %d, want 401", resp.StatusCode)
	}
}

func TestEventsAnnounceChanges(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", state.RoleOperator)
	f.liveRun("r1")
	events := f.events(op)
	// Changes keep coming until the stream has its baseline and sees them.
	want := map[string]bool{"answer": false, "stop": false}
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.do("POST", "/api/runs/r1/answers/review", op, `{"status":"passed"}`)
		f.do("POST", "/api/stop", op, `{"on":true,"reason":"drill"}`)
	}()
	for !want["answer"] || !want["stop"] {
		ev, ok := <-events
		if !ok {
			t.Fatalf("the stream ended; seen %v", want)
		}
		want[ev.Type] = true
	}
}

func TestRunsPageShowsWatchHealthAndReportsAreSafe(t *testing.T) {
	f := newFixture(t, Options{Open: true})
	ctx := context.Background()
	now := time.Now().UTC()
	watch := &record.Run{ID: "w1", Runbook: "monitor", Mode: "watch", Status: record.Failed, StartedAt: now, FinishedAt: now,
		Items: []record.Item{{Kind: record.KindCheck, Name: "api_health", Status: record.Failed}, {Kind: record.KindCheck, Name: "disk", Status: record.Passed}}}
	md := filepath.Join(t.TempDir(), "report.md")
	doc := []byte("# Report\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2))\n\nNote: a <b>bold</b> claim\n")
	if err := os.WriteFile(md, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	done := &record.Run{ID: "r1", Runbook: "drill", Mode: "exec", Status: record.Passed, StartedAt: now, FinishedAt: now, Host: "console-host",
		Reports: []record.ReportOutput{{Name: "completion", Path: md, SHA256: sha256Hex(doc)}, {Name: "secret", Path: "/etc/passwd"}}}
	for _, r := range []*record.Run{watch, done} {
		if _, err := f.store.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	code, page := f.do("GET", "/", "", "")
	if code != 200 || !strings.Contains(page, "Watch health") || !strings.Contains(page, "api_health") {
		t.Errorf("runs page: got %d, want the watch's health:\n%s", code, page)
	}
	code, page = f.do("GET", "/runs/r1/reports/completion", "", "")
	if code != 200 || !strings.Contains(page, "<h1>Report</h1>") {
		t.Fatalf("report page: got %d:\n%s", code, page)
	}
	for _, bad := range []string{"<script>alert", "javascript:", "<b>bold"} {
		if strings.Contains(page, bad) {
			t.Errorf("the report page has %q:\n%s", bad, page)
		}
	}
	code, page = f.do("GET", "/runs/r1/reports/secret", "", "")
	if code != 200 || strings.Contains(page, "root:") || !strings.Contains(page, "is not a Markdown report") {
		t.Errorf("a record naming /etc/passwd as its report: got %d:\n%s", code, page)
	}
	if code, _ := f.do("GET", "/runs/r1/reports/nope", "", ""); code != 404 {
		t.Errorf("an unknown report: got %d, want 404", code)
	}
}

func TestAStateThatCannotBeReadIsSaidClearly(t *testing.T) {
	f := newFixture(t, Options{Open: true})
	f.token("alice", state.RoleOperator)
	if err := os.WriteFile(filepath.Join(f.dir.Path, "tokens.json"), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := f.do("GET", "/api/runs", "rbk_x", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "the state cannot be used") || !strings.Contains(body, "tokens.json") {
		t.Errorf("API: got %d %s, want 503 naming the file", code, body)
	}
	code, body = f.do("GET", "/", "", "")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "tokens.json") || strings.Contains(body, "goroutine") {
		t.Errorf("page: got %d %s, want 503 naming the file", code, body)
	}
}

func TestRunPageShowsAStepsChecksAndInformationalItems(t *testing.T) {
	f := newFixture(t, Options{Open: true})
	now := time.Now().UTC()
	run := &record.Run{ID: "c1", Runbook: "drill", Mode: "exec", Status: record.Failed, StartedAt: now, FinishedAt: now,
		Items: []record.Item{
			{Kind: record.KindStep, Name: "sanity", Status: record.Failed, Checks: []record.Item{
				{Kind: record.KindCheck, Name: "shadow_process", Status: record.Passed},
				{Kind: record.KindCheck, Name: "golden_disk", Status: record.Failed,
					Asserts: []record.Assert{{Message: "disk at 97%", Severity: "critical"}}},
			}},
			{Kind: record.KindStep, Name: "biggest_relations", Status: record.Failed, Informational: true},
		}}
	if _, err := f.store.SaveRun(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	code, page := f.do("GET", "/runs/c1", "", "")
	if code != 200 {
		t.Fatalf("run page: got %d:\n%s", code, page)
	}
	for _, want := range []string{"shadow_process", "golden_disk", "disk at 97%", "· informational"} {
		if !strings.Contains(page, want) {
			t.Errorf("the run page lacks %q:\n%s", want, page)
		}
	}
}
