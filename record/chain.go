package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Canonical re-encodes a JSON document in the canonical form the journal
// hashes and `runbook sign` signs: no insignificant white space, object
// members sorted by name (byte order of their UTF-8), numbers exactly as
// written, strings as Go's encoding/json writes them without HTML
// escaping (\" \\ \b \f \n \r \t, other control characters as \u00XX,
// U+2028 and U+2029 as \u2028 and \u2029, everything else as UTF-8).
func Canonical(data []byte) ([]byte, error) {
	if out, ok := appendCanonical(nil, data, ""); ok {
		return out, nil
	}
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	return encodeCanonical(v)
}

// CanonicalJSON is the canonical encoding (see Canonical) of v.
func CanonicalJSON(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return Canonical(data)
}

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode JSON: more than one value")
	}
	return v, nil
}

func encodeCanonical(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// HashEvent returns the hash of an event given as JSON: the hex SHA-256
// of the canonical encoding (see Canonical) of the event's object
// without its "hash" member.
func HashEvent(data []byte) (string, error) {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		if canon, ok := appendCanonical(nil, data, "hash"); ok {
			sum := sha256.Sum256(canon)
			return hex.EncodeToString(sum[:]), nil
		}
	}
	v, err := decodeJSON(data)
	if err != nil {
		return "", err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return "", fmt.Errorf("an event is a JSON object")
	}
	delete(obj, "hash")
	canon, err := encodeCanonical(obj)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

// ComputeHash returns the hash the event should carry (see HashEvent).
func (e Event) ComputeHash() (string, error) {
	e.Hash = ""
	data, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	return HashEvent(data)
}

// Chain numbers and chains e after prev (nil for the first event of a
// run): it sets Seq, Prev and Hash. RecordedAt must be set before.
func Chain(prev *Event, e *Event) error {
	e.Seq, e.Prev = 1, ""
	if prev != nil {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	h, err := e.ComputeHash()
	if err != nil {
		return err
	}
	e.Hash = h
	return nil
}

// Label names an event in messages: "event 14 (item.finished step.x)".
func (e Event) Label() string {
	if e.Item != "" {
		return fmt.Sprintf("event %d (%s %s)", e.Seq, e.Type, e.Item)
	}
	return fmt.Sprintf("event %d (%s)", e.Seq, e.Type)
}

// ChainError is the first event of a journal that breaks its chain.
type ChainError struct {
	// Seq is the event's number (or, for a missing event, the number
	// expected there).
	Seq    int64
	Label  string
	Reason string
}

func (e *ChainError) Error() string { return e.Label + ": " + e.Reason }

// CheckChain checks that events are numbered from 1 without gaps, that
// each carries the hash of the one before, and that each one's hash is
// its own (of Raw, for an event read from a journal). It returns the first event that does not, as a *ChainError.
func CheckChain(events []Event) error {
	var prev *Event
	for i := range events {
		e := &events[i]
		want := int64(i + 1)
		if e.Seq != want {
			for _, later := range events[i+1:] {
				if later.Seq == want {
					return &ChainError{Seq: e.Seq, Label: e.Label(), Reason: fmt.Sprintf("out of order (event %d comes after it)", want)}
				}
			}
			if e.Seq > want {
				return &ChainError{Seq: want, Label: fmt.Sprintf("event %d", want), Reason: fmt.Sprintf("missing (the journal goes on with event %d)", e.Seq)}
			}
			return &ChainError{Seq: e.Seq, Label: e.Label(), Reason: fmt.Sprintf("repeated or out of order (expected event %d here)", want)}
		}
		h, err := e.ComputeHash()
		if len(e.Raw) > 0 {
			h, err = HashEvent(e.Raw)
		}
		if err != nil {
			return &ChainError{Seq: e.Seq, Label: e.Label(), Reason: err.Error()}
		}
		if h != e.Hash {
			return &ChainError{Seq: e.Seq, Label: e.Label(), Reason: "hash does not match"}
		}
		wantPrev := ""
		if prev != nil {
			wantPrev = prev.Hash
		}
		if e.Prev != wantPrev {
			return &ChainError{Seq: e.Seq, Label: e.Label(), Reason: "does not follow the event before it (prev is not its hash)"}
		}
		prev = e
	}
	return nil
}

// Fold rebuilds a run's record from its journal: run.started gives the
// header and the planned items, item.started and item.finished replace an
// item (or add one), report adds (or replaces, by name) a rendered
// document, signoff and signature add a sign-off, score sets the score of
// the step it names (a score given after the run ended), and run.finished
// gives the final record. Other events (answers, approvals, stop toggles,
// ...) are evidence: the items they concern carry their outcome.
func Fold(events []Event) (*Run, error) {
	var run *Run
	for _, e := range events {
		if run == nil && e.Type != EventRunStarted {
			return nil, fmt.Errorf("%s: the journal does not begin with %s", e.Label(), EventRunStarted)
		}
		switch e.Type {
		case EventRunStarted, EventRunFinished:
			var r Run
			if err := json.Unmarshal(e.Data, &r); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Label(), err)
			}
			run = &r
		case EventItemStarted, EventItemFinished:
			var it Item
			if err := json.Unmarshal(e.Data, &it); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Label(), err)
			}
			if p := run.Item(it.Kind, it.Name); p != nil {
				*p = it
			} else {
				run.Items = append(run.Items, it)
			}
		case EventReport:
			var o ReportOutput
			if err := json.Unmarshal(e.Data, &o); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Label(), err)
			}
			replaced := false
			for i := range run.Reports {
				if run.Reports[i].Name == o.Name {
					run.Reports[i], replaced = o, true
				}
			}
			if !replaced {
				run.Reports = append(run.Reports, o)
			}
		case EventScore:
			var sc Score
			if err := json.Unmarshal(e.Data, &sc); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Label(), err)
			}
			kind, name, _ := strings.Cut(e.Item, ".")
			if p := run.Item(kind, name); p != nil {
				p.Score = &sc
			}
		case EventSignoff, EventSignature:
			var s Signoff
			if err := json.Unmarshal(e.Data, &s); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Label(), err)
			}
			run.Signoffs = append(run.Signoffs, s)
		}
	}
	if run == nil {
		return nil, fmt.Errorf("the journal is empty")
	}
	return run, nil
}

// Diff compares a stored record with the record its journal folds to and
// describes the first difference, as `items[3].status is "passed", the
// journal says "failed"`; it returns "" when they match. Numbers are
// compared by value (a database may write 1.50 as 1.5).
func Diff(stored, folded *Run) (string, error) {
	a, err := toValue(stored)
	if err != nil {
		return "", err
	}
	b, err := toValue(folded)
	if err != nil {
		return "", err
	}
	return diffValue("", a, b), nil
}

func toValue(r *Run) (any, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode run record: %w", err)
	}
	return decodeJSON(data)
}

func diffValue(path string, got, want any) string {
	name := path
	if name == "" {
		name = "the record"
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s is %s, the journal says %s", name, show(got), show(want))
		}
		for k := range w {
			// A key the database stored without its NUL (see storedNUL)
			// is the same key.
			if _, ok := g[k]; !ok && strings.Contains(k, "\x00") {
				if v, ok := g[storedNUL(k)]; ok {
					g[k] = v
					delete(g, storedNUL(k))
				}
			}
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			gv, gok := g[k]
			wv, wok := w[k]
			switch {
			case !gok:
				return fmt.Sprintf("%s is missing, the journal says %s", p, show(wv))
			case !wok:
				return fmt.Sprintf("%s is %s, the journal has no such field", p, show(gv))
			}
			if d := diffValue(p, gv, wv); d != "" {
				return d
			}
		}
		return ""
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s is %s, the journal says %s", name, show(got), show(want))
		}
		for i := 0; i < len(w) && i < len(g); i++ {
			if d := diffValue(path+"["+strconv.Itoa(i)+"]", g[i], w[i]); d != "" {
				return d
			}
		}
		if len(g) != len(w) {
			return fmt.Sprintf("%s has %d entries, the journal says %d", name, len(g), len(w))
		}
		return ""
	case string:
		if g, ok := got.(string); ok && g == storedNUL(w) {
			return ""
		}
	case json.Number:
		if g, ok := got.(json.Number); ok {
			gf, err1 := g.Float64()
			wf, err2 := w.Float64()
			if err1 == nil && err2 == nil && gf == wf {
				return ""
			}
		}
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Sprintf("%s is %s, the journal says %s", name, show(got), show(want))
	}
	return ""
}

// storedNUL is text as a PostgreSQL state stores it in a record: jsonb
// cannot hold the character NUL, so the state writes U+FFFD in its place
// (a command's output may hold NUL bytes). The journal keeps the text as
// it was, so Diff takes the two as the same, as it takes 1.50 and 1.5.
func storedNUL(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func show(v any) string {
	if v == nil {
		return "null"
	}
	data, err := encodeCanonical(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(data)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return strings.TrimSpace(s)
}

// Signed is what `runbook sign` signs: the record folded from the journal
// up to and including the event Head (of number Seq).
type Signed struct {
	Head string `json:"chain_head"`
	Seq  int64  `json:"chain_seq"`
	Run  *Run   `json:"run"`
}

// SignedBytes returns the exact bytes a signature of a run covers, for
// the journal events[:n]: the canonical encoding (see Canonical) of
// {"chain_head": hash of event n, "chain_seq": n, "run": the record
// folded from events 1..n}, followed by a newline.
func SignedBytes(events []Event) ([]byte, error) {
	if len(events) == 0 {
		return nil, fmt.Errorf("the run has no journal")
	}
	run, err := Fold(events)
	if err != nil {
		return nil, err
	}
	last := events[len(events)-1]
	data, err := CanonicalJSON(Signed{Head: last.Hash, Seq: last.Seq, Run: run})
	if err != nil {
		return nil, err
	}
	return append(data, '\n'), nil
}
