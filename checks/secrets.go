package checks

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
)

// PastDeadline reports whether ctx's deadline has passed. A socket's
// deadline, set from ctx, may fire a moment before ctx itself is done, so
// a client error can arrive while ctx.Err() is still nil.
func PastDeadline(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// URLPasswords returns the password a connection URL (postgres://,
// redis://, http://) carries in its user information, in the forms an
// error message may quote it: as written, query-escaped and path-escaped.
// A URL too broken to parse still gives up what sits between the user's
// colon and the last @.
func URLPasswords(raw string) []string {
	var out []string
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
		}
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		rest := raw[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				out = append(out, rest[colon+1:at])
			}
		}
	}
	return out
}

// Mask replaces every secret of at least 3 bytes in s with "xxxxx", for
// error messages of providers that connect with credentials.
func Mask(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 3 {
			s = strings.ReplaceAll(s, sec, "xxxxx")
		}
	}
	return s
}
