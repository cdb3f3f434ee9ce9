package record

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalRun returns json.Marshal(r), byte for byte: the record through
// encoding/json but for its items (nearly all of its bytes), which are
// written by hand (appendItem) and spliced in where encoding/json wrote
// "items":null. Measured in docs/performance.md, "round 5".
func MarshalRun(r *Run) ([]byte, error) {
	data, _, err := marshalRun(r, false)
	return data, err
}

// SetRunData sets e.Data to MarshalRun(r) and keeps its canonical
// encoding beside it for Sealer, as SetItemData does for an item: the
// journal's first and last events hold the whole record, and reading it
// back to canonicalize it cost 5.5% of the CPU of 10,000 HTTP checks
// (docs/performance.md, "round 6: HTTP").
func (e *Event) SetRunData(r *Run) error {
	e.canonData, e.canonOf = nil, nil
	data, canon, err := marshalRun(r, true)
	if err != nil {
		return err
	}
	e.Data = data
	if canon != nil {
		e.canonData, e.canonOf = canon, data
	}
	return nil
}

// marshalRun is MarshalRun; with canonical, it also returns the
// canonical encoding of those bytes (nil when it could not write it),
// the items' written in the same pass.
func marshalRun(r *Run, canonical bool) (data, canon []byte, err error) {
	data, canon, _, err = marshalRunItems(r, canonical, false)
	return data, canon, err
}

// SetRunDataItems is SetRunData that also returns each item's encoding
// in the record (nil when it was written in one piece), in a copy of
// their own: a journal keeps them to write the record again without
// encoding the items that did not change (see EncodedRun).
func (e *Event) SetRunDataItems(r *Run) ([][]byte, error) {
	e.canonData, e.canonOf = nil, nil
	data, canon, items, err := marshalRunItems(r, true, true)
	if err != nil {
		return nil, err
	}
	e.Data = data
	if canon != nil {
		e.canonData, e.canonOf = canon, data
	}
	return items, nil
}

// firstItemGuess is the room for the first item of a record, before
// marshalRunItems sizes its buffers from it.
const firstItemGuess = 1024

// marshalRunItems is marshalRun; with withItems, it also returns each
// item's encoding, in a copy of their own (nil when it wrote the record
// in one piece).
func marshalRunItems(r *Run, canonical, withItems bool) (data, canon []byte, items [][]byte, err error) {
	whole := func() ([]byte, []byte, [][]byte, error) {
		data, err := json.Marshal(r)
		if err == nil && canonical {
			canon, _ = appendCanonical(nil, data, "")
		}
		return data, canon, nil, err
	}
	if r.Items == nil {
		return whole()
	}
	rest := *r
	rest.Items = nil
	head, err := json.Marshal(&rest)
	if err != nil {
		return nil, nil, nil, err
	}
	at := itemsMember(head)
	if at < 0 {
		return whole()
	}
	// The canonical form of the rest, its "items":null replaced in the
	// same way.
	var canonTail []byte
	if canonical {
		c, ok := appendCanonical(nil, head, "")
		canonAt := -1
		if ok {
			canonAt = itemsMember(c)
		}
		if canonAt < 0 {
			canonical = false
		} else {
			canonTail = c[canonAt+len(`"items":null`):]
			canon = append(make([]byte, 0, len(c)+firstItemGuess), c[:canonAt]...)
			canon = append(canon, `"items":[`...)
		}
	}
	out := make([]byte, 0, len(head)+firstItemGuess)
	var bounds []int // each item's start and end in out
	if withItems {
		bounds = make([]int, 0, 2*len(r.Items))
	}
	out = append(out, head[:at]...)
	out = append(out, `"items":[`...)
	for i := range r.Items {
		if i > 0 {
			out = append(out, ',')
			if canonical {
				canon = append(canon, ',')
			}
		}
		it := &r.Items[i]
		mark := len(out)
		byhand := false
		if byHand(it) {
			out, byhand = appendItem(out, it)
			if !byhand {
				out = out[:mark]
			}
		}
		if !byhand {
			b, err := json.Marshal(it)
			if err != nil {
				return nil, nil, nil, err
			}
			out = append(out, b...)
		}
		if withItems {
			bounds = append(bounds, mark, len(out))
		}
		cmark := len(canon)
		if canonical {
			ok := false
			if byhand {
				canon, ok = appendCanonicalItem(canon, it)
			}
			if !ok {
				if canon, ok = appendCanonical(canon[:cmark], out[mark:], ""); !ok {
					canonical, canon = false, nil
				}
			}
		}
		if i == 0 && len(r.Items) > 1 {
			// Room for the others, each guessed an eighth longer than
			// the first: the guess was 640 bytes an item, a finished
			// HTTP check's, and a planned item is ~170 (the run's first
			// event held 12.8 MB of buffers for 1.7 MB of 10,000
			// planned checks while it was sealed; docs/performance.md,
			// "round 9: the run's live heap").
			more := len(r.Items) - 1
			n := len(out) - mark
			out = slices.Grow(out, more*(n+n/8+1)+len(head)-at)
			if canonical {
				n := len(canon) - cmark
				canon = slices.Grow(canon, more*(n+n/8+1)+len(canonTail)+1)
			}
		}
	}
	out = append(out, ']')
	if canonical {
		canon = append(append(canon, ']'), canonTail...)
	}
	out = append(out, head[at+len(`"items":null`):]...)
	if withItems && len(r.Items) > 0 {
		// The items' bytes in a copy the size they are: they outlive data
		// (a journal keeps them for the run), whose capacity was guessed
		// (6.4 MB for 1.6 MB of 10,000 planned checks; held for the run,
		// BenchmarkJournal10000's held-half-B was 10.4 MB, 6.6 with it).
		first := bounds[0]
		kept := bytes.Clone(out[first:bounds[len(bounds)-1]])
		items = make([][]byte, len(r.Items))
		for i := range items {
			from, to := bounds[2*i]-first, bounds[2*i+1]-first
			items[i] = kept[from:to:to]
		}
	}
	return out, canon, items, nil
}

// itemsMember returns where the top-level member "items":null starts in
// a compact JSON object, or -1.
func itemsMember(data []byte) int {
	const member = `"items":null`
	depth, inString := 0, false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth == 1 && c == '{' && bytes.HasPrefix(data[i+1:], []byte(member)) {
				return i + 1
			}
		case '}', ']':
			depth--
		case ',':
			if depth == 1 && bytes.HasPrefix(data[i+1:], []byte(member)) {
				return i + 1
			}
		}
	}
	return -1
}

// SetItemData sets e.Data to the item as json.Marshal encodes it, and
// keeps its canonical encoding beside it for Sealer,
// written in the same pass instead of read back from Data: the journal
// seals two such events for each check. Measured in docs/performance.md,
// "round 5".
func (e *Event) SetItemData(it *Item) error {
	e.canonData, e.canonOf = nil, nil
	if byHand(it) {
		if data, ok := appendItem(make([]byte, 0, 512), it); ok {
			e.Data = data
			if canon, ok := appendCanonicalItem(make([]byte, 0, len(data)), it); ok {
				e.canonData, e.canonOf = canon, data
			}
			return nil
		}
	}
	// A copy, so that it does not escape: the journal's item, passed by
	// pointer, would otherwise be moved to the heap for every event
	// (~500 B a check; docs/performance.md, "round 8: the journal per
	// check"). Only items left to encoding/json pay for the copy.
	cp := *it
	data, err := json.Marshal(&cp)
	if err != nil {
		return err
	}
	e.Data = data
	return nil
}

// canonicalData returns e.canonData when it still belongs to e.Data.
func (e *Event) canonicalData() []byte {
	if len(e.canonData) == 0 || len(e.Data) == 0 || len(e.Data) != len(e.canonOf) || &e.Data[0] != &e.canonOf[0] {
		return nil
	}
	return e.canonData
}

// byHand reports whether appendItem may write the item: none of the
// members it leaves to encoding/json is set.
func byHand(it *Item) bool {
	return it.Answer == nil && it.Decision == nil && len(it.Checks) == 0 && len(it.Approvals) == 0 && it.Clock == nil && it.Score == nil
}

// appendItem writes the item's members in the order of its fields,
// leaving out the empty omitempty ones. ok is false when a value needs
// encoding/json.
func appendItem(b []byte, it *Item) ([]byte, bool) {
	b = append(b, `{"kind":`...)
	b = marshalString(b, it.Kind)
	b = append(b, `,"name":`...)
	b = marshalString(b, it.Name)
	b = appendOptString(b, `,"title":`, it.Title)
	b = appendOptString(b, `,"description":`, it.Description)
	b = appendOptString(b, `,"check":`, it.Check)
	b = append(b, `,"provider":`...)
	b = marshalString(b, it.Provider)
	b = appendOptString(b, `,"action":`, it.Action)
	b = append(b, `,"status":`...)
	b = marshalString(b, it.Status)
	b = appendOptString(b, `,"expected":`, it.Expected)
	b = append(b, `,"started_at":`...)
	var ok bool
	if b, ok = appendTimePtr(b, it.StartedAt); !ok {
		return b, false
	}
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, it.DurationMS, 10)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(it.Attempts), 10)
	b = append(b, `,"result":`...)
	if it.Result == nil {
		b = append(b, "null"...)
	} else if b, ok = appendJSONObject(b, it.Result); !ok {
		return b, false
	}
	b = append(b, `,"asserts":`...)
	if it.Asserts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range it.Asserts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"condition":`...)
			b = marshalString(b, a.Condition)
			b = append(b, `,"passed":`...)
			b = strconv.AppendBool(b, a.Passed)
			b = append(b, `,"severity":`...)
			b = marshalString(b, a.Severity)
			b = append(b, `,"message":`...)
			b = marshalString(b, a.Message)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"error":`...)
	if it.Error == nil {
		b = append(b, "null"...)
	} else {
		b = marshalString(b, *it.Error)
	}
	b = append(b, `,"answer":null`...)
	b = appendOptString(b, `,"skip_reason":`, it.SkipReason)
	b = appendOptString(b, `,"target":`, it.Target)
	b = appendOptTrue(b, `,"carried_over":true`, it.CarriedOver)
	b = appendOptTrue(b, `,"confirm":true`, it.Confirm)
	b = appendOptTrue(b, `,"manual":true`, it.Manual)
	b = appendOptString(b, `,"instructions":`, it.Instructions)
	b = appendOptTrue(b, `,"required":true`, it.Required)
	b = appendOptString(b, `,"assignee":`, it.Assignee)
	b = appendOptTrue(b, `,"flapping":true`, it.Flapping)
	b = appendOptTrue(b, `,"informational":true`, it.Informational)
	if it.ApprovalsNeeded != 0 {
		b = append(b, `,"approvals_needed":`...)
		b = strconv.AppendInt(b, int64(it.ApprovalsNeeded), 10)
	}
	return append(b, '}'), true
}

func appendOptString(b []byte, member, s string) []byte {
	if s == "" {
		return b
	}
	return marshalString(append(b, member...), s)
}

func appendOptTrue(b []byte, member string, v bool) []byte {
	if !v {
		return b
	}
	return append(b, member...)
}

// appendJSONObject writes m with its keys sorted, as encoding/json does.
func appendJSONObject(b []byte, m map[string]any) ([]byte, bool) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var ok bool
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = marshalString(b, k)
		b = append(b, ':')
		if b, ok = appendJSONValue(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendJSONValue writes the JSON values the engine puts in results;
// ok is false for any other Go value.
func appendJSONValue(b []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return marshalString(b, x), true
	case bool:
		return strconv.AppendBool(b, x), true
	case json.Number:
		if x == "" || !validNumber(string(x)) {
			return b, false
		}
		return append(b, x...), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		return appendJSONObject(b, x)
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		var ok bool
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendJSONValue(b, e); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return b, false
}

// validNumber reports whether s is a JSON number.
func validNumber(s string) bool {
	i := 0
	if s[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// marshalString writes s as json.Marshal does.
func marshalString(b []byte, s string) []byte {
	return appendJSONString(b, s, true)
}

// appendCanonicalItem writes what appendCanonical makes of appendItem's
// bytes: members in order of their names, strings without HTML escapes.
// ok is false where the two could differ (a result key that is not
// valid UTF-8) or appendItem would not write the item.
func appendCanonicalItem(b []byte, it *Item) ([]byte, bool) {
	str := func(b []byte, s string) []byte { return appendJSONString(b, s, false) }
	opt := func(b []byte, member, s string) []byte {
		if s == "" {
			return b
		}
		return str(append(b, member...), s)
	}
	b = append(b, '{')
	if it.Action != "" {
		b = str(append(b, `"action":`...), it.Action)
		b = append(b, ',')
	}
	b = append(b, `"answer":null`...)
	if it.ApprovalsNeeded != 0 {
		b = append(b, `,"approvals_needed":`...)
		b = strconv.AppendInt(b, int64(it.ApprovalsNeeded), 10)
	}
	b = append(b, `,"asserts":`...)
	if it.Asserts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, a := range it.Asserts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"condition":`...)
			b = str(b, a.Condition)
			b = append(b, `,"message":`...)
			b = str(b, a.Message)
			b = append(b, `,"passed":`...)
			b = strconv.AppendBool(b, a.Passed)
			b = append(b, `,"severity":`...)
			b = str(b, a.Severity)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = opt(b, `,"assignee":`, it.Assignee)
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(it.Attempts), 10)
	b = appendOptTrue(b, `,"carried_over":true`, it.CarriedOver)
	b = opt(b, `,"check":`, it.Check)
	b = appendOptTrue(b, `,"confirm":true`, it.Confirm)
	b = opt(b, `,"description":`, it.Description)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendInt(b, it.DurationMS, 10)
	b = append(b, `,"error":`...)
	if it.Error == nil {
		b = append(b, "null"...)
	} else {
		b = str(b, *it.Error)
	}
	b = opt(b, `,"expected":`, it.Expected)
	b = appendOptTrue(b, `,"flapping":true`, it.Flapping)
	b = appendOptTrue(b, `,"informational":true`, it.Informational)
	b = opt(b, `,"instructions":`, it.Instructions)
	b = append(b, `,"kind":`...)
	b = str(b, it.Kind)
	b = appendOptTrue(b, `,"manual":true`, it.Manual)
	b = append(b, `,"name":`...)
	b = str(b, it.Name)
	b = append(b, `,"provider":`...)
	b = str(b, it.Provider)
	b = appendOptTrue(b, `,"required":true`, it.Required)
	var ok bool
	b = append(b, `,"result":`...)
	if it.Result == nil {
		b = append(b, "null"...)
	} else if b, ok = appendCanonicalObject(b, it.Result, str); !ok {
		return b, false
	}
	b = opt(b, `,"skip_reason":`, it.SkipReason)
	b = append(b, `,"started_at":`...)
	if b, ok = appendTimePtr(b, it.StartedAt); !ok {
		return b, false
	}
	b = append(b, `,"status":`...)
	b = str(b, it.Status)
	b = opt(b, `,"target":`, it.Target)
	b = opt(b, `,"title":`, it.Title)
	return append(b, '}'), true
}

// appendCanonicalObject is appendJSONObject for the canonical form; ok is
// false for a key that is not valid UTF-8 (canonical order is that of
// the key once decoded, U+FFFD) and whatever appendJSONValue declines.
func appendCanonicalObject(b []byte, m map[string]any, str func([]byte, string) []byte) ([]byte, bool) {
	var small [16]string
	keys := small[:0]
	for k := range m {
		if !utf8.ValidString(k) {
			return b, false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var ok bool
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = str(b, k)
		b = append(b, ':')
		if b, ok = appendCanonicalValue(b, m[k], str); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendCanonicalValue is appendJSONValue for the canonical form.
func appendCanonicalValue(b []byte, v any, str func([]byte, string) []byte) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return str(b, x), true
	case map[string]any:
		if x == nil {
			return append(b, "null"...), true
		}
		return appendCanonicalObject(b, x, str)
	case []any:
		if x == nil {
			return append(b, "null"...), true
		}
		b = append(b, '[')
		var ok bool
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			if b, ok = appendCanonicalValue(b, e, str); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	}
	return appendJSONValue(b, v)
}

// appendTimePtr appends t as encoding/json writes a *time.Time: null, or
// its RFC 3339 string; false when the time cannot be encoded.
func appendTimePtr(b []byte, t *time.Time) ([]byte, bool) {
	if t == nil {
		return append(b, "null"...), true
	}
	// (As MarshalJSON writes it, without a slice of its own.)
	out, err := appendTimeJSON(b, *t)
	if err != nil {
		return b, false
	}
	return out, true
}
