package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
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
	expires    time.Time
}

// sessions are the logins, in memory: a restart logs everyone out.
type sessions struct {
	mu sync.Mutex
	m  map[string]session
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

func (ss *sessions) add(name, role string, ttl time.Duration, now time.Time) (string, error) {
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
	ss.m[id] = session{name: name, role: role, expires: now.Add(ttl)}
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
		return identity{Name: t.Name, Role: t.Role, Via: viaToken}, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		if v, ok := s.sess.get(c.Value, s.opts.Now()); ok {
			// A login lasts as long as its token: revoked, it ends.
			all, err := s.console.Tokens(ctx)
			if err != nil {
				return identity{}, err
			}
			for _, t := range all {
				if t.Name == v.name && t.Role == v.role {
					return identity{Name: v.name, Role: v.role, Via: viaSession, session: c.Value}, nil
				}
			}
			s.sess.remove(c.Value)
		}
	}
	if s.opts.ProxyHeader != "" {
		if user := strings.TrimSpace(r.Header.Get(s.opts.ProxyHeader)); user != "" && s.fromProxy(r) {
			return identity{Name: user, Role: s.opts.ProxyRole, Via: viaProxy}, nil
		}
	}
	open, err := s.open(r)
	if err != nil {
		return identity{}, err
	}
	if open {
		return identity{Name: "anonymous", Role: state.RoleViewer, Via: viaAnonymous}, nil
	}
	return identity{}, &httpError{code: http.StatusUnauthorized, msg: errNoCredentials.Error()}
}

// open reports whether no access is configured: no proxy, no token.
func (s *Server) open(r *http.Request) (bool, error) {
	if s.opts.ProxyHeader != "" {
		return false, nil
	}
	all, err := s.console.Tokens(r.Context())
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
// credentials when access is configured); a write by a cookie login must
// carry the CSRF token in X-CSRF-Token.
func (s *Server) api(fn func(http.ResponseWriter, *http.Request, identity) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := s.identify(r)
		if err == nil && r.Method != http.MethodGet && id.Via == viaSession {
			err = s.checkCSRF(id, r.Header.Get("X-CSRF-Token"))
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
		if err := r.ParseForm(); err != nil {
			return errorf(http.StatusBadRequest, "the form cannot be read: %v", err)
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

// safeNext keeps a post-login redirect on this console.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) formLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "the form cannot be read")
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
	id, err := s.sess.add(t.Name, t.Role, s.opts.SessionTTL, s.opts.Now())
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
