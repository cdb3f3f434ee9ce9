// Package secret finds and masks the passwords that connection strings
// carry: postgres://user:PASS@host, key=value DSNs with password=PASS,
// redis://:PASS@host, http://user:PASS@host. It is the one place that
// knows these forms; the sql, redis and http providers, the state stores
// and the engine all use it, so a password is never shown in a plan, a
// run record or an error message, whether or not its variable is
// sensitive.
package secret

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Masked is what a password is replaced with.
const Masked = "xxxxx"

// kvPassword matches password and sslpassword settings in key=value
// connection strings, quoted or not; unquoted, a backslash escapes the
// next character (password=a\ b is "a b"), as libpq reads it.
var kvPassword = regexp.MustCompile(`(?i)\b(?:ssl)?password\s*=\s*('(?:[^'\\]|\\.)*'|(?:\\.|[^\s\\])+)`)

// Passwords returns the passwords conn carries, in the forms a message
// may quote them: the URL's user password as written, query-escaped and
// path-escaped; its password and sslpassword query parameters; and
// key=value password settings, quoted and unquoted. A URL too broken to
// parse still gives up what sits between the user's colon and the last @.
func Passwords(conn string) []string {
	var out []string
	if u, err := url.Parse(conn); err == nil {
		if u.User != nil {
			if pw, ok := u.User.Password(); ok {
				out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
			}
		}
		q := u.Query()
		for _, k := range []string{"password", "sslpassword"} {
			if pw := q.Get(k); pw != "" {
				out = append(out, pw, url.QueryEscape(pw))
			}
		}
	}
	if i := strings.Index(conn, "://"); i >= 0 {
		rest := conn[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				out = append(out, rest[colon+1:at])
			}
		}
	}
	for _, m := range kvPassword.FindAllStringSubmatch(conn, -1) {
		v := m[1]
		if i := strings.IndexByte(v, '&'); i > 0 && strings.Contains(conn, "://") {
			v = v[:i] // a URL query parameter ends at the next one
		}
		out = append(out, v, strings.Trim(v, "'"))
		if !strings.HasPrefix(v, "'") && strings.Contains(v, `\`) {
			out = append(out, unescape(v)) // as the server sees it
		}
	}
	return out
}

// unescape removes the backslashes of an unquoted key=value setting:
// each escapes the character after it.
func unescape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// Mask replaces every password in s with Masked, however short: a
// message about a connection is better mangled than telling a password.
// Longer passwords are replaced first, so one that contains another is
// masked whole.
func Mask(s string, passwords []string) string {
	pws := append([]string(nil), passwords...)
	sort.Slice(pws, func(i, j int) bool { return len(pws[i]) > len(pws[j]) })
	for _, pw := range pws {
		if pw != "" {
			s = strings.ReplaceAll(s, pw, Masked)
		}
	}
	return s
}

// MaskConn masks in s every password that the connection string conn
// carries: for error messages of a client that connected with conn.
func MaskConn(s, conn string) string { return Mask(s, Passwords(conn)) }

// containsPassword reports whether s holds "password" in any case,
// without allocating.
func containsPassword(s string) bool {
	const word = "password"
	for i := 0; i+len(word) <= len(s); i++ {
		if s[i]|0x20 == 'p' && strings.EqualFold(s[i:i+len(word)], word) {
			return true
		}
	}
	return false
}

var (
	// urlUserinfo matches scheme://user:PASSWORD@ anywhere in text. The
	// password runs to the last @ of the authority (before any /, ?, #
	// or space), as net/url splits it: http://bob:p@ss@host logs in
	// with "p@ss".
	urlUserinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#]*:)([^\s/?#]+)@`)
	// kvSetting matches password=PASSWORD (DSNs, URL queries) in text;
	// unquoted, a backslash escapes the next character, a space included.
	kvSetting = regexp.MustCompile(`(?i)\b((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|(?:\\.|[^\s&'"\\])+)`)
)

// MaskText masks the passwords of every connection string inside free
// text (a plan argument, a variable's value, an error message): the
// password of scheme://user:PASSWORD@ and the value of password= and
// sslpassword= settings. Text without such a password is returned as is.
func MaskText(s string) string {
	if !strings.Contains(s, "@") && !containsPassword(s) {
		return s // the common case: nothing that could hold a password
	}
	s = urlUserinfo.ReplaceAllString(s, "${1}"+Masked+"@")
	return kvSetting.ReplaceAllString(s, "${1}"+Masked)
}
