package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/runbookhq/runbook/state"
)

// Ways a caller is known.
const (
	viaToken     = "token"
	viaSession   = "session"
	viaProxy     = "proxy"
	viaAnonymous = "anonymous"
)

// identity is who makes a request.
type identity struct {
	Name string
	Role string
	Via  string
	// session is the login's id (viaSession).
	session string
	// hash is the hash of the caller's token (viaToken, viaSession).
	hash string
}

// CanWrite reports whether the caller may answer, sign and toggle the stop.
func (id identity) CanWrite() bool { return id.Role == state.RoleOperator && id.Via != viaAnonymous }

// Anonymous reports a console without access configured.
func (id identity) Anonymous() bool { return id.Via == viaAnonymous }

// sessionCookie names the login cookie.
const sessionCookie = "runbook_session"

// session is a login of the pages.
type session struct {
	name, role string
	// hash is the hash of the token that logged in: a login lasts as
	// long as that token, not another one of the same name.
	hash    string
	expires time.Time
}

// sessions are the logins, in memory: a restart logs everyone out.
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

func (ss *sessions) add(t state.Token, ttl time.Duration, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, v := range ss.m {
		if now.After(v.expires) {
			delete(ss.m, k)
		}
	}
	ss.m[id] = session{name: t.Name, role: t.Role, hash: t.Hash, expires: now.Add(ttl)}
	return id, nil
}

func (ss *sessions) get(id string, now time.Time) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	v, ok := ss.m[id]
	if !ok || now.After(v.expires) {
		delete(ss.m, id)
		return session{}, false
	}
	return v, true
}

func (ss *sessions) remove(id string) {
	ss.mu.Lock()
	delete(ss.m, id)
	ss.mu.Unlock()
}

// errNoCredentials is a request that says nobody while access is
// configured.
var errNoCredentials = errors.New("log in: send Authorization: Bearer TOKEN (runbook token add NAME --role viewer|operator makes one)")

// identify tells who makes a request: a bearer token, a login cookie, a
// trusted proxy's header, or nobody, which is an anonymous viewer only
// while no access is configured (no token in the state, no proxy).
func (s *Server) identify(r *http.Request) (identity, error) {
	ctx := r.Context()
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return identity{}, errorf(http.StatusUnauthorized, "the Authorization header must be Bearer TOKEN")
		}
		t, err := s.console.Authenticate(ctx, strings.TrimSpace(secret))
		if errors.Is(err, state.ErrNoToken) {
			return identity{}, errorf(http.StatusUnauthorized, "the token is not valid (revoked, or never made)")
		}
		if err != nil {
			return identity{}, err
		}
		return identity{Name: t.Name, Role: t.Role, Via: viaToken, hash: t.Hash}, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if v, ok := s.sess.get(c.Value, s.opts.Now()); ok {
			// A login lasts as long as its token: revoked, it ends, even
			// when a new token is made for the same name.
			all, err := s.console.Tokens(ctx)
			if err != nil {
				return identity{}, err
			}
			for _, t := range all {
				if t.Name == v.name && t.Role == v.role && v.hash != "" && subtle.ConstantTimeCompare([]byte(t.Hash), []byte(v.hash)) == 1 {
					return identity{Name: v.name, Role: v.role, Via: viaSession, session: c.Value, hash: v.hash}, nil
				}
			}
			s.sess.remove(c.Value)
		}
	}
	if s.opts.ProxyHeader != "" {
		if user := strings.TrimSpace(r.Header.Get(s.opts.ProxyHeader)); user != "" && s.fromProxy(r) {
			if !state.ValidUserName(user) {
				return identity{}, errorf(http.StatusForbidden, "the auth proxy names the user %q: a user name has letters, digits, '.', '_', '@' or '-' (up to 64)", user)
			}
			return identity{Name: user, Role: s.opts.ProxyRole, Via: viaProxy}, nil
		}
	}
	open, err := s.open(ctx)
	if err != nil {
		return identity{}, err
	}
	if open {
		return identity{Name: "anonymous", Role: state.RoleViewer, Via: viaAnonymous}, nil
	}
	return identity{}, &httpError{code: http.StatusUnauthorized, msg: errNoCredentials.Error()}
}

// stillValid reports whether a caller identified earlier (an event
// stream's) may still read: its token is not revoked, its login not
// ended, the console still open to anonymous viewers.
func (s *Server) stillValid(ctx context.Context, id identity) (bool, error) {
	switch id.Via {
	case viaProxy:
		return true, nil
	case viaAnonymous:
		return s.open(ctx)
	case viaSession:
		if _, ok := s.sess.get(id.session, s.opts.Now()); !ok {
			return false, nil
		}
	}
	all, err := s.console.Tokens(ctx)
	if err != nil {
		return false, err
	}
	for _, t := range all {
		if t.Name == id.Name && t.Role == id.Role && id.hash != "" && subtle.ConstantTimeCompare([]byte(t.Hash), []byte(id.hash)) == 1 {
			return true, nil
		}
	}
	return false, nil
}

// open reports whether the console is open to anonymous viewers: it
// was started open (Options.Open: no access configured, serving loopback
// only) and still has no proxy and no token. A console started with
// access never becomes open, even when its last token is revoked.
func (s *Server) open(ctx context.Context) (bool, error) {
	if !s.opts.Open || s.opts.ProxyHeader != "" {
		return false, nil
	}
	all, err := s.console.Tokens(ctx)
	if err != nil {
		return false, err
	}
	return len(all) == 0, nil
}

// fromProxy reports whether the request comes from a trusted proxy.
func (s *Server) fromProxy(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, n := range s.opts.ProxyNets {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// mayWrite refuses a write by someone who may not.
func mayWrite(id identity) error {
	switch {
	case id.Anonymous():
		return errorf(http.StatusForbidden, "this console is read-only: no access is configured. Make an operator token (runbook token add NAME --role operator) and log in with it")
	case id.Role != state.RoleOperator:
		return errorf(http.StatusForbidden, "%s is a viewer: answering, signing and the emergency stop need an operator", id.Name)
	}
	return nil
}

// csrfToken is the token a form of this caller must send back: an HMAC
// of who they are, under the server's key.
func (s *Server) csrfToken(id identity) string {
	m := hmac.New(sha256.New, s.key[:])
	m.Write([]byte(id.Via + "\x00" + id.Name + "\x00" + id.session))
	return hex.EncodeToString(m.Sum(nil))
}

func (s *Server) checkCSRF(id identity, got string) error {
	if subtle.ConstantTimeCompare([]byte(got), []byte(s.csrfToken(id))) != 1 {
		return errorf(http.StatusForbidden, "the form has expired or did not come from this console: reload the page and try again")
	}
	return nil
}

// api wraps a JSON handler: the caller is identified (401 without
// credentials when access is configured). A write must come from this
// console's own origin, send Content-Type: application/json, and, unless
// it carries a bearer token (which a browser never adds by itself), the
// CSRF token in X-CSRF-Token: a login cookie or an auth proxy's own
// cookie is sent by the browser on another site's request too.
func (s *Server) api(fn func(http.ResponseWriter, *http.Request, identity) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if err == nil && r.Method != http.MethodGet && r.Method != http.MethodHead {
			err = s.checkWrite(r, id)
		}
		if err == nil {
			err = fn(w, r, id)
		}
		if err != nil {
			code, msg := s.statusOf(r, err)
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="runbook"`)
			}
			writeJSON(w, code, apiError{Error: msg})
		}
	}
}

// checkWrite refuses an API write that may not come from the caller's
// own client: another site's request, a body that is not declared JSON,
// a browser's credential without the CSRF token.
func (s *Server) checkWrite(r *http.Request, id identity) error {
	if err := s.sameOrigin(r); err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errorf(http.StatusUnsupportedMediaType, "a write must send its JSON body with Content-Type: application/json")
	}
	if id.Via != viaToken && !id.Anonymous() {
		return s.checkCSRF(id, r.Header.Get("X-CSRF-Token"))
	}
	return nil
}

// sameOrigin refuses a request a browser sent for another site: one it
// marks Sec-Fetch-Site: cross-site, or whose Origin is not this
// console's host (the Host header, or X-Forwarded-Host from a trusted
// proxy).
func (s *Server) sameOrigin(r *http.Request) error {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return errorf(http.StatusForbidden, "a request from another site cannot change anything here")
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" {
		if strings.EqualFold(u.Host, r.Host) {
			return nil
		}
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" && s.fromProxy(r) && strings.EqualFold(u.Host, fh) {
			return nil
		}
	}
	return errorf(http.StatusForbidden, "a request from another origin (%s) cannot change anything here", origin)
}

// bodyError is the answer to a form that cannot be read: 413 when it is
// too large, else 400.
func bodyError(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errorf(http.StatusRequestEntityTooLarge, "the form is larger than %d bytes", MaxBody)
	}
	return errorf(http.StatusBadRequest, "the form cannot be read: %v", err)
}

// page wraps a page: a caller not logged in goes to the login page.
func (s *Server) page(fn func(http.ResponseWriter, *http.Request, identity) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if he := (*httpError)(nil); errors.As(err, &he) && he.code == http.StatusUnauthorized && r.Header.Get("Authorization") == "" {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if err == nil {
			err = fn(w, r, id)
		}
		if err != nil {
			code, msg := s.statusOf(r, err)
			s.renderError(w, r, code, msg)
		}
	}
}

// form wraps a form post: the caller must be logged in, may write, and
// sends the form's CSRF token; success redirects (post, redirect, get).
func (s *Server) form(fn func(*http.Request, identity) (string, error)) http.HandlerFunc {
	return s.page(func(w http.ResponseWriter, r *http.Request, id identity) error {
		if err := s.sameOrigin(r); err != nil {
			return err
		}
		if err := r.ParseForm(); err != nil {
			return bodyError(err)
		}
		if err := s.checkCSRF(id, r.PostForm.Get("csrf")); err != nil {
			return err
		}
		if err := mayWrite(id); err != nil {
			return err
		}
		to, err := fn(r, id)
		if err != nil {
			return err
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil
	})
}

// safeNext keeps a post-login redirect on this console: a path of its
// own (one leading slash, no scheme, no host), rebuilt from its parsed
// path and query. Control characters and backslashes, which browsers
// drop or read as slashes, refuse it.
func safeNext(next string) string {
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	out := (&url.URL{Path: u.Path, RawQuery: u.RawQuery}).String()
	if !strings.HasPrefix(out, "/") || strings.HasPrefix(out, "//") {
		return "/"
	}
	return out
}

func (s *Server) formLogin(w http.ResponseWriter, r *http.Request) {
	if err := s.sameOrigin(r); err != nil {
		code, msg := s.statusOf(r, err)
		s.renderError(w, r, code, msg)
		return
	}
	if err := r.ParseForm(); err != nil {
		code, msg := s.statusOf(r, bodyError(err))
		s.renderError(w, r, code, msg)
		return
	}
	next := safeNext(r.PostForm.Get("next"))
	t, err := s.console.Authenticate(r.Context(), strings.TrimSpace(r.PostForm.Get("token")))
	if errors.Is(err, state.ErrNoToken) {
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, "login", identity{}, map[string]any{"Next": next, "Error": "That token is not valid (revoked, or never made)."})
		return
	}
	if err != nil {
		code, msg := s.statusOf(r, err)
		s.renderError(w, r, code, msg)
		return
	}
	id, err := s.sess.add(t, s.opts.SessionTTL, s.opts.Now())
	if err != nil {
		s.renderError(w, r, http.StatusServiceUnavailable, "cannot log in now")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: s.opts.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.opts.SessionTTL / time.Second)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) formLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		id := identity{}
		if v, ok := s.sess.get(c.Value, s.opts.Now()); ok {
			id = identity{Name: v.name, Role: v.role, Via: viaSession, session: c.Value}
		}
		if err := r.ParseForm(); err != nil || s.checkCSRF(id, r.PostForm.Get("csrf")) != nil {
			s.renderError(w, r, http.StatusForbidden, "the form has expired: reload the page and try again")
			return
		}
		s.sess.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: s.opts.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (s *Server) pageLogin(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, "login", identity{}, map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}
