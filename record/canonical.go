package record

import (
	"bytes"
	"encoding/json"
	"sort"
	"unicode/utf8"
)

// appendCanonical appends the canonical encoding (see Canonical) of the
// JSON document data to dst, leaving out the top-level object's member
// named skip (if any), without decoding the document into Go values: the
// journal hashes every event it appends (two for each of 10,000 checks),
// and decoding each into maps and encoding it again was 15% of a 10,000
// check run's CPU; this is 1.85× faster (BenchmarkHashItemEvent). It reports false for anything it does not handle
// (malformed JSON, trailing data), for the caller to take the decoding
// path, which words the error. TestAppendCanonicalAgrees and
// FuzzAppendCanonical hold it to that path.
func appendCanonical(dst, data []byte, skip string) ([]byte, bool) {
	c := canonicalizer{data: data, out: dst}
	if !c.value(skip) {
		return nil, false
	}
	c.space()
	return c.out, c.i == len(c.data)
}

// canonicalizer reads data from i on and appends to out. An object's
// member values are appended to out as they are read, then once more in
// order of their names, and that copy moved down over them: the
// scratch space of a document is at most its own size again (a buffer
// per object, copied into its parent's, held 35 MB at once for the
// journal's first event of 10,000 checks).
type canonicalizer struct {
	data []byte
	i    int
	out  []byte
}

func (c *canonicalizer) space() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// value appends the value at c.i; skip names a member to leave out when
// it is an object.
func (c *canonicalizer) value(skip string) bool {
	c.space()
	if c.i >= len(c.data) {
		return false
	}
	switch b := c.data[c.i]; {
	case b == '{':
		return c.object(skip)
	case b == '[':
		c.i++
		c.out = append(c.out, '[')
		c.space()
		if c.i < len(c.data) && c.data[c.i] == ']' {
			c.i++
			c.out = append(c.out, ']')
			return true
		}
		for {
			if !c.value("") {
				return false
			}
			c.space()
			if c.i >= len(c.data) {
				return false
			}
			switch c.data[c.i] {
			case ',':
				c.i++
				c.out = append(c.out, ',')
			case ']':
				c.i++
				c.out = append(c.out, ']')
				return true
			default:
				return false
			}
		}
	case b == '"':
		s, raw, ok := c.str()
		if !ok {
			return false
		}
		c.out = appendCanonicalString(c.out, s, raw)
		return true
	case b == 't' || b == 'f' || b == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(c.data[c.i:], []byte(lit)) {
				c.i += len(lit)
				c.out = append(c.out, lit...)
				return true
			}
		}
		return false
	default:
		start := c.i
		for c.i < len(c.data) && bytes.IndexByte([]byte("+-.0123456789eE"), c.data[c.i]) >= 0 {
			c.i++
		}
		num := c.data[start:c.i]
		// Numbers as written, once they are numbers.
		if len(num) == 0 || !json.Valid(num) {
			return false
		}
		c.out = append(c.out, num...)
		return true
	}
}

// member is an object member: its name, and where its value's canonical
// bytes are in out.
type member struct {
	name, raw  string
	start, end int
}

func (c *canonicalizer) object(skip string) bool {
	c.i++
	base := len(c.out)
	var members []member
	c.space()
	if c.i < len(c.data) && c.data[c.i] == '}' {
		c.i++
		c.out = append(c.out, '{', '}')
		return true
	}
	for {
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != '"' {
			return false
		}
		name, raw, ok := c.str()
		if !ok {
			return false
		}
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != ':' {
			return false
		}
		c.i++
		start := len(c.out)
		if !c.value("") {
			return false
		}
		members = append(members, member{name: name, raw: raw, start: start, end: len(c.out)})
		c.space()
		if c.i >= len(c.data) {
			return false
		}
		if c.data[c.i] == ',' {
			c.i++
			continue
		}
		if c.data[c.i] != '}' {
			return false
		}
		c.i++
		break
	}
	// Sorted by name; of members named alike, the last counts (as when
	// decoding into a map).
	sort.SliceStable(members, func(a, b int) bool { return members[a].name < members[b].name })
	sorted := len(c.out)
	c.out = append(c.out, '{')
	first := true
	for k, m := range members {
		if (k+1 < len(members) && members[k+1].name == m.name) || (skip != "" && m.name == skip) {
			continue
		}
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		c.out = appendCanonicalString(c.out, m.name, m.raw)
		c.out = append(c.out, ':')
		c.out = append(c.out, c.out[m.start:m.end]...)
	}
	c.out = append(c.out, '}')
	c.out = c.out[:base+copy(c.out[base:], c.out[sorted:])]
	return true
}

// str reads the string at c.i: its value, and its text between the
// quotes when that is already canonical (else "").
func (c *canonicalizer) str() (string, string, bool) {
	start := c.i
	c.i++
	plain := true
	for c.i < len(c.data) {
		switch b := c.data[c.i]; {
		case b == '"':
			c.i++
			raw := c.data[start+1 : c.i-1]
			if plain && utf8.Valid(raw) && !bytes.Contains(raw, []byte("\u2028")) && !bytes.Contains(raw, []byte("\u2029")) {
				s := string(raw)
				return s, s, true
			}
			var s string
			if err := json.Unmarshal(c.data[start:c.i], &s); err != nil {
				return "", "", false
			}
			return s, "", true
		case b == '\\':
			plain = false
			c.i += 2
		case b < 0x20:
			return "", "", false
		default:
			c.i++
		}
	}
	return "", "", false
}

// appendCanonicalString appends s as a JSON string in canonical form;
// raw, when not empty, is that form's text between the quotes.
func appendCanonicalString(dst []byte, s, raw string) []byte {
	if raw != "" || s == "" {
		dst = append(dst, '"')
		dst = append(dst, raw...)
		return append(dst, '"')
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)
	return append(dst, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
