package record

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf16"
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
	// members is a stack of the members of the objects being read,
	// reused from object to object.
	members []member
	// exact stays true while data is what json.Marshal writes for it
	// as a json.RawMessage: compact, with <, >, &, U+2028 and U+2029
	// escaped (Sealer writes such data as it is).
	exact bool
}

func (c *canonicalizer) space() {
	for c.i < len(c.data) {
		switch c.data[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
			c.exact = false
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
		start := c.i
		raw, plain, ok := c.str()
		if !ok {
			return false
		}
		if plain {
			c.out = append(c.out, '"')
			c.out = append(c.out, raw...)
			c.out = append(c.out, '"')
			return true
		}
		if out, ok := appendUnescaped(c.out, raw); ok {
			c.out = out
			return true
		}
		var s string
		if err := json.Unmarshal(c.data[start:c.i], &s); err != nil {
			return false
		}
		c.out = appendJSONString(c.out, s, false)
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

// member is an object member: its name (decoded), whether the name's
// text in data is already canonical, and where its value's canonical
// bytes are in out.
type member struct {
	name       []byte
	plain      bool
	start, end int
}

func (c *canonicalizer) object(skip string) bool {
	c.i++
	base := len(c.out)
	mark := len(c.members)
	defer func() { c.members = c.members[:mark] }()
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
		start := c.i
		name, plain, ok := c.str()
		if !ok {
			return false
		}
		if !plain {
			var s string
			if err := json.Unmarshal(c.data[start:c.i], &s); err != nil {
				return false
			}
			name = []byte(s)
		}
		c.space()
		if c.i >= len(c.data) || c.data[c.i] != ':' {
			return false
		}
		c.i++
		vstart := len(c.out)
		if !c.value("") {
			return false
		}
		c.members = append(c.members, member{name: name, plain: plain, start: vstart, end: len(c.out)})
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
	// decoding into a map). Most objects come sorted already (maps, as
	// json.Marshal writes them).
	members := c.members[mark:]
	if !slices.IsSortedFunc(members, compareMembers) {
		slices.SortStableFunc(members, compareMembers)
	}
	sorted := len(c.out)
	c.out = append(c.out, '{')
	first := true
	for k, m := range members {
		if (k+1 < len(members) && bytes.Equal(members[k+1].name, m.name)) || (skip != "" && string(m.name) == skip) {
			continue
		}
		if !first {
			c.out = append(c.out, ',')
		}
		first = false
		if m.plain {
			c.out = append(c.out, '"')
			c.out = append(c.out, m.name...)
			c.out = append(c.out, '"')
		} else {
			c.out = appendJSONString(c.out, string(m.name), false)
		}
		c.out = append(c.out, ':')
		c.out = append(c.out, c.out[m.start:m.end]...)
	}
	c.out = append(c.out, '}')
	c.out = c.out[:base+copy(c.out[base:], c.out[sorted:])]
	return true
}

func compareMembers(a, b member) int { return bytes.Compare(a.name, b.name) }

// str reads the string at c.i: its text between the quotes, and whether
// that text is already canonical (valid UTF-8 without escapes, U+2028 or
// U+2029).
func (c *canonicalizer) str() ([]byte, bool, bool) {
	start := c.i
	c.i++
	plain, ascii := true, true
	for c.i < len(c.data) {
		switch b := c.data[c.i]; {
		case b == '"':
			c.i++
			raw := c.data[start+1 : c.i-1]
			if plain && !ascii && !utf8.Valid(raw) {
				plain = false
			}
			return raw, plain, true
		case b == '\\':
			plain = false
			c.i += 2
		case b < 0x20:
			return nil, false, false
		case b == '<' || b == '>' || b == '&':
			c.exact = false
			c.i++
		case b >= utf8.RuneSelf:
			ascii = false
			if b == 0xE2 && c.i+2 < len(c.data) && c.data[c.i+1] == 0x80 && c.data[c.i+2]&^1 == 0xA8 {
				// U+2028 or U+2029: escaped in canonical form and
				// by json.Marshal.
				plain, c.exact = false, false
			}
			c.i++
		default:
			c.i++
		}
	}
	return nil, false, false
}

// appendUnescaped appends the JSON string whose text between the quotes
// is raw (not plain, see str) in canonical form, decoding its escapes.
// It declines (false) escaped surrogates and invalid UTF-8, which
// decoding replaces: the caller takes that path then.
func appendUnescaped(dst, raw []byte) ([]byte, bool) {
	dst = append(dst, '"')
	for i := 0; i < len(raw); {
		b := raw[i]
		switch {
		case b == '\\':
			if i+1 >= len(raw) {
				return dst, false
			}
			switch e := raw[i+1]; e {
			case '"', '\\', 'b', 'f', 'n', 'r', 't':
				dst = append(dst, '\\', e)
				i += 2
			case '/':
				dst = append(dst, '/')
				i += 2
			case 'u':
				if i+6 > len(raw) {
					return dst, false
				}
				r, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
				if err != nil || utf16.IsSurrogate(rune(r)) {
					return dst, false
				}
				dst = appendRune(dst, rune(r))
				i += 6
			default:
				return dst, false
			}
		case b < utf8.RuneSelf:
			dst = append(dst, b)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				return dst, false
			}
			if r == '\u2028' || r == '\u2029' {
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return append(dst, '"'), true
}

// appendRune appends r (not a surrogate) as it is inside a canonical
// JSON string.
func appendRune(dst []byte, r rune) []byte {
	switch {
	case r == '"' || r == '\\':
		return append(dst, '\\', byte(r))
	case r == '\b':
		return append(dst, '\\', 'b')
	case r == '\f':
		return append(dst, '\\', 'f')
	case r == '\n':
		return append(dst, '\\', 'n')
	case r == '\r':
		return append(dst, '\\', 'r')
	case r == '\t':
		return append(dst, '\\', 't')
	case r < 0x20:
		return append(dst, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&0xF])
	case r == '\u2028' || r == '\u2029':
		return append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
	}
	return utf8.AppendRune(dst, r)
}
