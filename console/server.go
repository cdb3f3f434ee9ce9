// Package console is the team console of `runbook serve`: server-rendered
// pages and a JSON API over a state (state.Store), where a running
// `runbook exec --wait` publishes its progress and takes its answers.
// Everyone follows runs live (Server-Sent Events), operators answer
// waiting steps, sign reports and flip the emergency stop; every write is
// recorded with who made it and where ("console").
//
// The package never prints: problems a request meets are answered to it
// (401, 403, 404, 409, 413, 400, 503, never a stack trace) and, when
// they are the server's, handed to Options.Logf.
package console

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/runbookhq/runbook/state"
)

// MaxBody bounds a request's body.
const MaxBody = 64 << 10

// Options configure a console.
type Options struct {
	// Store is the state the console reads and writes. It must implement
	// state.Console.
	Store state.Store
	// Host names this console's host in the audit trail.
	Host string
	// ProxyHeader is the header that names the user when a trusted auth
	// proxy (oauth2-proxy and the like) sets it, e.g. X-Forwarded-User;
	// empty trusts no proxy. It is read only from ProxyNets.
	ProxyHeader string
	// ProxyNets are the addresses of the trusted auth proxies.
	ProxyNets []netip.Prefix
	// ProxyRole is the role of users named by the proxy (default
	// operator).
	ProxyRole string
	// Open lets anonymous viewers in while no access is configured (no
	// proxy header, no token in the state): set it only for a console
	// that serves loopback only. It is decided once, when the console
	// starts: a console started with access answers 401 without
	// credentials even after its last token is revoked. An open console
	// answers only requests whose Host is a loopback address or
	// localhost (421 otherwise), so that another site cannot reach it by
	// DNS rebinding.
	Open bool
	// AllowedHosts, when not empty, are the only Host values (without
	// port; loopback addresses and localhost are always allowed) the
	// console answers; others get 421.
	AllowedHosts []string
	// SecureCookies marks the session cookie Secure (served over TLS).
	SecureCookies bool
	// Poll is how often the state is read for changes to announce
	// (default 1 s; with PostgreSQL, changes are also announced at once
	// by LISTEN/NOTIFY).
	Poll time.Duration
	// SessionTTL is how long a login lasts (default 12 h).
	SessionTTL time.Duration
	// Logf hears about the server's own problems; nil drops them.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowedSigners is an allowed-signers file (ssh-keygen -Y verify's
	// format) naming each user's SSH keys: a sign-off may carry a
	// signature by one of them. Empty: sign-offs are by token only.
	AllowedSigners string
}

// Server is a console over one state.
type Server struct {
	opts    Options
	store   state.Store
	console state.Console
	key     [32]byte // signs CSRF tokens
	mux     *http.ServeMux
	sess    *sessions
	hub     *hub
	pages   *pageSet
}

// New makes a console over opts.Store.
func New(opts Options) (*Server, error) {
	c, ok := state.ConsoleOf(opts.Store)
	if !ok {
		return nil, fmt.Errorf("the state %s cannot serve the console", opts.Store.Location())
	}
	if opts.ProxyRole == "" {
		opts.ProxyRole = state.RoleOperator
	}
	if opts.ProxyRole != state.RoleOperator && opts.ProxyRole != state.RoleViewer {
		return nil, fmt.Errorf("proxy role %q: use viewer or operator", opts.ProxyRole)
	}
	if opts.ProxyHeader != "" && len(opts.ProxyNets) == 0 {
		return nil, errors.New("a proxy header is trusted only from the proxy's addresses: give them")
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, store: opts.Store, console: c, sess: newSessions(), pages: pages}
	if _, err := rand.Read(s.key[:]); err != nil {
		return nil, fmt.Errorf("make a key: %w", err)
	}
	s.hub = newHub(s)
	s.routes()
	return s, nil
}

// Run follows the state for changes to announce to the event stream
// until ctx is done.
func (s *Server) Run(ctx context.Context) { s.hub.run(ctx) }

// ServeHTTP serves the console.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.opts.Logf("console: %s %s: internal error: %v", r.Method, r.URL.Path, v)
			s.fail(w, r, http.StatusInternalServerError, "internal error: see the console's log")
		}
	}()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	if !s.hostAllowed(r.Host) {
		s.fail(w, r, http.StatusMisdirectedRequest, "this console does not answer for the host "+strconv.Quote(r.Host)+": use its own address (e.g. 127.0.0.1)")
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
	}
	s.mux.ServeHTTP(w, r)
}

// hostAllowed reports whether the console answers for a Host header: any
// host unless it is open or has allowed hosts, and then loopback
// addresses, localhost and the allowed hosts, with any port.
func (s *Server) hostAllowed(hostport string) bool {
	if !s.opts.Open && len(s.opts.AllowedHosts) == 0 {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	if ip, err := netip.ParseAddr(host); err == nil && ip.Unmap().IsLoopback() {
		return true
	}
	for _, a := range s.opts.AllowedHosts {
		if strings.EqualFold(strings.TrimSuffix(a, "."), host) {
			return true
		}
	}
	return false
}

func (s *Server) routes() {
	m := http.NewServeMux()
	// JSON API.
	m.HandleFunc("GET /api/runs", s.api(s.apiRuns))
	m.HandleFunc("GET /api/runs/{id}", s.api(s.apiRun))
	m.HandleFunc("POST /api/runs/{id}/answers/{step}", s.api(s.apiAnswer))
	m.HandleFunc("POST /api/runs/{id}/signoffs/{role}", s.api(s.apiSignoff))
	m.HandleFunc("POST /api/runs/{id}/steps/{step}/approve", s.api(s.apiApprove))
	m.HandleFunc("POST /api/runs/{id}/steps/{step}/ack", s.api(s.apiAck))
	m.HandleFunc("POST /api/runs/{id}/pause", s.api(s.apiPause(true)))
	m.HandleFunc("POST /api/runs/{id}/resume", s.api(s.apiPause(false)))
	m.HandleFunc("POST /api/runs/{id}/scores/{step}", s.api(s.apiScore))
	m.HandleFunc("GET /api/stop", s.api(s.apiStop))
	m.HandleFunc("POST /api/stop", s.api(s.apiSetStop))
	m.HandleFunc("GET /api/events", s.events)
	m.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no such API: see GET /api/runs, /api/runs/{id}, /api/stop, /api/events")
	})
	// Pages.
	m.HandleFunc("GET /{$}", s.page(s.pageRuns))
	m.HandleFunc("GET /runs/{id}", s.page(s.pageRun))
	m.HandleFunc("GET /runs/{id}/reports/{name}", s.page(s.pageReport))
	m.HandleFunc("POST /runs/{id}/answers/{step}", s.form(s.formAnswer))
	m.HandleFunc("POST /runs/{id}/signoffs/{role}", s.form(s.formSignoff))
	m.HandleFunc("POST /runs/{id}/steps/{step}/ack", s.form(s.formAck))
	m.HandleFunc("POST /runs/{id}/pause", s.form(s.formPause(true)))
	m.HandleFunc("POST /runs/{id}/resume", s.form(s.formPause(false)))
	m.HandleFunc("POST /runs/{id}/scores/{step}", s.form(s.formScore))
	m.HandleFunc("GET /stop", s.page(s.pageStop))
	m.HandleFunc("POST /stop", s.form(s.formStop))
	m.HandleFunc("GET /login", s.pageLogin)
	m.HandleFunc("POST /login", s.formLogin)
	m.HandleFunc("POST /logout", s.formLogout)
	m.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(staticFS())))
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "no such page")
	})
	s.mux = m
}

// apiError is the body of every API error.
type apiError struct {
	Error string `json:"error"`
}

// httpError is an error with the status it answers.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, args ...any) error {
	return &httpError{code: code, msg: fmt.Sprintf(format, args...)}
}

// statusOf is the status of an error a handler returned: an httpError's,
// 413 for a body too large, else 503 (the state could not be read or
// written), logged.
func (s *Server) statusOf(r *http.Request, err error) (int, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.code, he.msg
	}
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes", MaxBody)
	}
	s.opts.Logf("console: %s %s: %v", r.Method, r.URL.Path, err)
	return http.StatusServiceUnavailable, "the state cannot be used: " + err.Error()
}

// fail answers an error: JSON under /api, a page elsewhere.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if isAPI(r) {
		writeJSON(w, code, apiError{Error: msg})
		return
	}
	s.renderError(w, r, code, msg)
}

func isAPI(r *http.Request) bool {
	return len(r.URL.Path) >= 5 && r.URL.Path[:5] == "/api/"
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
