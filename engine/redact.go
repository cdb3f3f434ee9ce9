package engine

import (
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Redacted replaces a sensitive value wherever it would be printed or stored.
const Redacted = "(sensitive)"

// Redactor replaces every occurrence of the run's sensitive values inside
// text: captured output, error messages, response bodies, report cells.
type Redactor struct {
	secrets  []string
	replacer *strings.Replacer
}

// MinSecretLength is the shortest secret replaced inside other text: a
// one- or two-character "secret" would turn every occurrence of a common
// letter or digit into "(sensitive)" and protect nothing. Such values are
// still shown as "(sensitive)" wherever the variable itself is printed.
const MinSecretLength = 3

// NewRedactor returns a Redactor for the given secret strings. Each secret
// is also recognised in the forms runbook itself may print it in: shell
// quoted, Go-quoted (%q), and URL path or query escaped. Longer forms are
// replaced first, so a secret that contains another is redacted whole.
func NewRedactor(secrets []string) *Redactor {
	uniq := map[string]bool{}
	for _, s := range secrets {
		if len(s) < MinSecretLength {
			continue
		}
		for _, form := range []string{
			s,
			strings.ReplaceAll(s, "'", `'\''`),
			strings.Trim(strconv.Quote(s), `"`),
			url.PathEscape(s),
			(&url.URL{Path: s}).EscapedPath(),
			url.QueryEscape(s),
		} {
			uniq[form] = true
		}
	}
	r := &Redactor{}
	for s := range uniq {
		r.secrets = append(r.secrets, s)
	}
	sort.Slice(r.secrets, func(i, j int) bool {
		if len(r.secrets[i]) != len(r.secrets[j]) {
			return len(r.secrets[i]) > len(r.secrets[j])
		}
		return r.secrets[i] < r.secrets[j]
	})
	if len(r.secrets) > 0 {
		pairs := make([]string, 0, 2*len(r.secrets))
		for _, s := range r.secrets {
			pairs = append(pairs, s, Redacted)
		}
		r.replacer = strings.NewReplacer(pairs...)
	}
	return r
}

// String redacts one string.
func (r *Redactor) String(s string) string {
	if r == nil || r.replacer == nil {
		return s
	}
	return r.replacer.Replace(s)
}

// Value redacts every string inside a JSON-like value (maps, slices,
// strings), returning a new value; map keys are redacted too.
func (r *Redactor) Value(v any) any {
	if r == nil || r.replacer == nil {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.String(x)
	case json.Number:
		// A numeric secret (a PIN, a port) inside a result or plan.
		if red := r.String(string(x)); red != string(x) {
			return red
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.Value(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.Value(e)
		}
		return out
	default:
		return v
	}
}

// Empty reports whether there is nothing to redact.
func (r *Redactor) Empty() bool { return r == nil || r.replacer == nil }

// jsonOneLine renders a JSON value compactly; it is used for display only.
func jsonOneLine(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}
