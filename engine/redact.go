package engine

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/runbookhq/runbook/record"
)

// Redacted replaces a sensitive value wherever it would be printed or stored.
const Redacted = "(sensitive)"

// Redactor replaces every occurrence of the run's sensitive values inside
// text: captured output, error messages, response bodies, report cells.
// Strings derived from sensitive values (by a function, a template, a
// provider argument) are added to it as the run discovers them, so it is
// safe for concurrent use; a Redactor with nothing to redact costs one
// atomic load per call.
type Redactor struct {
	mu       sync.Mutex
	added    map[string]bool // every secret added so far
	known    map[string]bool // every form of them
	secrets  []string        // the forms, longest first
	replacer atomic.Pointer[strings.Replacer]
}

// MinSecretLength is the shortest secret replaced inside other text: a
// one- or two-character "secret" would turn every occurrence of a common
// letter or digit into "(sensitive)" and protect nothing. Such values are
// still shown as "(sensitive)" wherever the variable itself is printed.
const MinSecretLength = 3

// NewRedactor returns a Redactor for the given secret strings. Each secret
// is also recognised in the forms it is commonly printed in: shell
// quoted, Go-quoted (%q), JSON-escaped, URL path or query escaped,
// base64-encoded (alone or inside a longer encoded text), upper- and
// lower-cased; a URL's password also as the basic authentication a
// client sends for it. Longer forms are replaced first,
// so a secret that contains another is redacted whole.
func NewRedactor(secrets []string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// forms returns the text forms a secret is recognised in.
func forms(s string) []string {
	js, _ := json.Marshal(s)
	return append([]string{
		s,
		strings.ReplaceAll(s, "'", `'\''`),
		strings.Trim(strconv.Quote(s), `"`),
		strings.Trim(string(js), `"`),
		url.PathEscape(s),
		(&url.URL{Path: s}).EscapedPath(),
		url.QueryEscape(s),
		base64.StdEncoding.EncodeToString([]byte(s)),
		base64.RawStdEncoding.EncodeToString([]byte(s)),
		base64.URLEncoding.EncodeToString([]byte(s)),
		strings.ToUpper(s),
		strings.ToLower(s),
	}, base64Inner(s)...)
}

// base64Inner returns the base64 text of s as it appears inside the
// base64 encoding of a longer text that contains s (an Authorization
// header's base64("user:" + secret)): s may start at any of the three
// byte offsets of a base64 group, and each gives different characters.
// Only the characters that depend on s alone are kept; those at either
// end, shared with the neighbouring bytes, are dropped.
func base64Inner(s string) []string {
	var out []string
	n := len(s)
	for k := 0; k < 3; k++ {
		buf := make([]byte, k+n)
		copy(buf[k:], s)
		// Character i holds bits [6i, 6i+6); s holds bits [8k, 8(k+n)).
		start, end := (8*k+5)/6, 8*(k+n)/6
		if end <= start {
			continue
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			out = append(out, enc.EncodeToString(buf)[start:end])
		}
	}
	return out
}

// withUserinfo returns secrets followed by the credentials inside those
// that are URLs with a password (http://user:pass@host/): a client sends
// them as basic authentication, base64("user:pass"), and a server may
// echo that header back.
func withUserinfo(secrets []string) []string {
	out := secrets
	for _, s := range secrets {
		if !strings.Contains(s, "://") || !strings.Contains(s, "@") {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.User == nil {
			continue
		}
		if pass, ok := u.User.Password(); ok && pass != "" {
			if len(out) == len(secrets) {
				out = append([]string(nil), secrets...)
			}
			out = append(out, u.User.Username()+":"+pass, pass)
		}
	}
	return out
}

// Add registers more secrets (with their forms) to redact from now on:
// strings derived from sensitive values as a run computes them.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	added := false
	for _, s := range withUserinfo(secrets) {
		if len(s) < MinSecretLength || r.added[s] {
			continue
		}
		if r.known == nil {
			r.known, r.added = map[string]bool{}, map[string]bool{}
		}
		r.added[s] = true
		for _, f := range forms(s) {
			// A form inside "(sensitive)" would redact the redaction again.
			if len(f) >= MinSecretLength && !r.known[f] && !strings.Contains(Redacted, f) {
				r.known[f] = true
				r.secrets = append(r.secrets, f)
				added = true
			}
		}
	}
	if !added {
		return
	}
	sort.Slice(r.secrets, func(i, j int) bool {
		if len(r.secrets[i]) != len(r.secrets[j]) {
			return len(r.secrets[i]) > len(r.secrets[j])
		}
		return r.secrets[i] < r.secrets[j]
	})
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, Redacted)
	}
	r.replacer.Store(strings.NewReplacer(pairs...))
}

// String redacts one string.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	rep := r.replacer.Load()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// Cut redacts a string that was cut short (captured output over its cap):
// besides every whole secret, a trailing piece of at least MinSecretLength
// bytes that begins a secret is replaced too, since the rest of the secret
// was cut away.
func (r *Redactor) Cut(s string) string {
	s = r.String(s)
	if r == nil || r.replacer.Load() == nil {
		return s
	}
	r.mu.Lock()
	secrets := r.secrets
	r.mu.Unlock()
	best := 0
	for _, sec := range secrets {
		for n := len(sec) - 1; n >= MinSecretLength && n > best; n-- {
			if strings.HasSuffix(s, sec[:n]) {
				best = n
				break
			}
		}
	}
	if best == 0 {
		return s
	}
	return s[:len(s)-best] + Redacted
}

// ValueCut is Value for a result that was cut short: every string is
// redacted with Cut.
func (r *Redactor) ValueCut(v any) any {
	if r.Empty() {
		return v
	}
	switch x := v.(type) {
	case string:
		return r.Cut(x)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[r.String(k)] = r.ValueCut(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = r.ValueCut(e)
		}
		return out
	}
	return r.Value(v)
}

// Value redacts every string inside a JSON-like value (maps, slices,
// strings), returning a new value; map keys are redacted too.
func (r *Redactor) Value(v any) any {
	if r.Empty() {
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
func (r *Redactor) Empty() bool { return r == nil || r.replacer.Load() == nil }

// jsonOneLine renders a JSON value compactly; it is used for display only.
func jsonOneLine(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	return string(data)
}

// Item redacts every text field of a run record's item in place: the one
// pass an item goes through on its way out (to an Observer, the journal,
// the record), so that a secret the run learned of only after the item
// was built is still caught.
func (r *Redactor) Item(it *record.Item) {
	if r.Empty() {
		return
	}
	for _, p := range []*string{&it.Title, &it.Description, &it.Action, &it.Expected, &it.SkipReason, &it.Instructions, &it.Assignee} {
		*p = r.String(*p)
	}
	if it.Error != nil {
		e := r.String(*it.Error)
		it.Error = &e
	}
	if it.Result != nil {
		if cut(it.Result) {
			it.Result = r.ValueCut(it.Result).(map[string]any)
		} else {
			it.Result = r.Value(it.Result).(map[string]any)
		}
	}
	if len(it.Asserts) > 0 {
		asserts := make([]record.Assert, len(it.Asserts))
		for i, a := range it.Asserts {
			a.Condition, a.Message = r.String(a.Condition), r.String(a.Message)
			asserts[i] = a
		}
		it.Asserts = asserts
	}
	if it.Answer != nil {
		a := *it.Answer
		a.Note = r.String(a.Note)
		it.Answer = &a
	}
	if len(it.Checks) > 0 {
		nested := make([]record.Item, len(it.Checks))
		for i, c := range it.Checks {
			r.Item(&c)
			nested[i] = c
		}
		it.Checks = nested
	}
}

// Run redacts every text field of a run record in place: its header,
// tags, variables, items, report outputs and sign-offs.
func (r *Redactor) Run(run *record.Run) {
	if r.Empty() {
		return
	}
	for _, p := range []*string{&run.Title, &run.Description, &run.Document, &run.Owner} {
		*p = r.String(*p)
	}
	if len(run.Tags) > 0 {
		tags := make([]string, len(run.Tags))
		for i, t := range run.Tags {
			tags[i] = r.String(t)
		}
		run.Tags = tags
	}
	if len(run.Reports) > 0 {
		reports := make([]record.ReportOutput, len(run.Reports))
		for i, o := range run.Reports {
			o.Template, o.Path = r.String(o.Template), r.String(o.Path)
			if len(o.Roles) > 0 {
				roles := make([]string, len(o.Roles))
				for j, role := range o.Roles {
					roles[j] = r.String(role)
				}
				o.Roles = roles
			}
			reports[i] = o
		}
		run.Reports = reports
	}
	if len(run.Signoffs) > 0 {
		signoffs := make([]record.Signoff, len(run.Signoffs))
		for i, so := range run.Signoffs {
			so.Role, so.Name, so.Statement = r.String(so.Role), r.String(so.Name), r.String(so.Statement)
			signoffs[i] = so
		}
		run.Signoffs = signoffs
	}
	if run.Variables != nil {
		run.Variables = r.Value(run.Variables).(map[string]any)
	}
	for i := range run.Items {
		r.Item(&run.Items[i])
	}
}
