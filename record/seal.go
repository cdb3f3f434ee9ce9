package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"
)

// Sealer chains events and encodes them as the journal stores them, one
// after another, reusing its scratch space. It does what Chain and
// json.Marshal of the chained event do, in one pass over the event's
// data instead of three: the journal seals two events for each check,
// and encoding each event, encoding it again to hash it, compacting its
// data both times and canonicalizing it was a quarter of a 10,000-check
// HTTP run's CPU (docs/performance.md, "round 3: HTTP"). Its zero value
// is ready to use; it is not safe for concurrent use.
// TestSealerAgrees and FuzzSealer hold it to Chain and json.Marshal.
type Sealer struct {
	canon []byte
	times []byte
	c     canonicalizer
	// spliced, when set, is canonical data left out of canon, to be
	// hashed in place at canon[at:] (see spliceAbove).
	spliced []byte
	at      int
}

// spliceAbove is the size of canonical data (written by SetRunData or
// SetItemData) past which the sealer hashes it where it is instead of
// copying it into its scratch space: a run's first and last events hold
// the whole record (1.7 MB planned and 5 MB finished at 10,000 HTTP
// checks), and the copy was live beside the record's two encodings
// while the event was sealed. With the append's one buffer
// (state.sealEventsTo) and a record sized from its first item: live
// heap as the run starts 39–46 → 25–26 MB, peak RSS 202 → 179 MB at
// 10,000 HTTP checks, CPU unchanged (docs/performance.md, "round 9:
// the run's live heap"). Below it, one Sum256 over one buffer costs no
// allocation.
const spliceAbove = 64 << 10

// appendTimeJSON appends t as t.MarshalJSON writes it.
func appendTimeJSON(b []byte, t time.Time) ([]byte, error) {
	b, err := t.AppendText(append(b, '"'))
	return append(b, '"'), err
}

// Seal numbers and chains e after prev (nil for the first event of a
// run), as Chain does, and appends to dst the event as json.Marshal
// encodes it, without a newline. RecordedAt must be set before.
func (s *Sealer) Seal(dst []byte, prev *Event, e *Event) ([]byte, error) {
	e.Seq, e.Prev, e.Hash = 1, "", ""
	if prev != nil {
		e.Seq, e.Prev = prev.Seq+1, prev.Hash
	}
	// The times as json.Marshal writes them, in the sealer's scratch
	// space rather than a new slice each (MarshalJSON's).
	times, err1 := appendTimeJSON(s.times[:0], e.OccurredAt)
	n := len(times)
	times, err2 := appendTimeJSON(times, e.RecordedAt)
	s.times = times
	occurred, recorded := times[:n:n], times[n:]
	canon, exact, ok := s.canonical(e, occurred, recorded)
	if err1 != nil || err2 != nil || !ok {
		// What the fast path does not handle (a time json cannot
		// encode, data that is not JSON): the general path words the
		// error, if any.
		// (On a copy, so that e does not escape: sealEvents' event
		// would be moved to the heap for every event.)
		s.spliced = nil
		cp := *e
		if err := Chain(prev, &cp); err != nil {
			return dst, err
		}
		*e = cp
		line, err := json.Marshal(&cp)
		if err != nil {
			return dst, err
		}
		return append(dst, line...), nil
	}
	var sum [sha256.Size]byte
	if s.spliced != nil {
		h := sha256.New()
		h.Write(canon[:s.at])
		h.Write(s.spliced)
		h.Write(canon[s.at:])
		h.Sum(sum[:0])
		s.spliced = nil
	} else {
		sum = sha256.Sum256(canon)
	}
	var hx [2 * sha256.Size]byte
	hex.Encode(hx[:], sum[:])
	e.Hash = string(hx[:])
	if dst == nil {
		// One allocation for the line, not one for each time it grows.
		dst = make([]byte, 0, len(e.Data)+len(e.Type)+len(e.Item)+len(e.Actor)+len(e.Surface)+len(times)+len(e.Prev)+len(e.Hash)+160)
	}

	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, e.Seq, 10)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, e.Type, true)
	if e.Item != "" {
		dst = append(dst, `,"item":`...)
		dst = appendJSONString(dst, e.Item, true)
	}
	dst = append(dst, `,"occurred_at":`...)
	dst = append(dst, occurred...)
	dst = append(dst, `,"recorded_at":`...)
	dst = append(dst, recorded...)
	if e.Actor != "" {
		dst = append(dst, `,"actor":`...)
		dst = appendJSONString(dst, e.Actor, true)
	}
	if e.Surface != "" {
		dst = append(dst, `,"surface":`...)
		dst = appendJSONString(dst, e.Surface, true)
	}
	if len(e.Data) > 0 {
		dst = append(dst, `,"data":`...)
		if exact {
			dst = append(dst, e.Data...)
		} else {
			// Compacted and escaped as json.Marshal does.
			data, err := json.Marshal(e.Data)
			if err != nil {
				return dst, err
			}
			dst = append(dst, data...)
		}
	}
	dst = append(dst, `,"prev":`...)
	dst = appendJSONString(dst, e.Prev, true)
	dst = append(dst, `,"hash":`...)
	dst = appendJSONString(dst, e.Hash, true)
	return append(dst, '}'), nil
}

// canonical is the canonical encoding of e without its hash (what
// HashEvent hashes), and whether e.Data is byte for byte what
// json.Marshal writes for it (compact, <, > and & escaped).
func (s *Sealer) canonical(e *Event, occurred, recorded []byte) ([]byte, bool, bool) {
	// Members in order of their names.
	b := append(s.canon[:0], '{')
	sep := false
	member := func(name string) {
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if e.Actor != "" {
		member("actor")
		b = appendJSONString(b, e.Actor, false)
	}
	exact := true
	s.spliced = nil
	if canon := e.canonicalData(); canon != nil {
		// Written beside Data by SetItemData: json.Marshal's bytes.
		member("data")
		if len(canon) > spliceAbove {
			s.spliced, s.at = canon, len(b)
		} else {
			b = append(b, canon...)
		}
	} else if len(e.Data) > 0 {
		member("data")
		s.c = canonicalizer{data: e.Data, out: b, exact: true}
		if !s.c.value("") {
			s.canon = b
			return nil, false, false
		}
		s.c.space()
		if s.c.i != len(e.Data) {
			s.canon = b
			return nil, false, false
		}
		b, exact = s.c.out, s.c.exact
		s.c.data, s.c.out = nil, nil
	}
	if e.Item != "" {
		member("item")
		b = appendJSONString(b, e.Item, false)
	}
	member("occurred_at")
	b = append(b, occurred...)
	member("prev")
	b = appendJSONString(b, e.Prev, false)
	member("recorded_at")
	b = append(b, recorded...)
	member("seq")
	b = strconv.AppendInt(b, e.Seq, 10)
	if e.Surface != "" {
		member("surface")
		b = appendJSONString(b, e.Surface, false)
	}
	member("type")
	b = appendJSONString(b, e.Type, false)
	b = append(b, '}')
	s.canon = b
	return b, exact, true
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes a string: with
// html, as json.Marshal does (<, > and & escaped); without, as an
// Encoder with SetEscapeHTML(false) does, which is the canonical form,
// except that invalid UTF-8 becomes U+FFFD itself rather than its
// escape (the canonical form of the string once stored).
func appendJSONString(dst []byte, s string, html bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (!html || (b != '<' && b != '>' && b != '&')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			if html {
				dst = append(dst, `\ufffd`...)
			} else {
				// What a canonical encoding of the event as stored
				// holds: json.Marshal's \ufffd, decoded.
				dst = append(dst, "\uFFFD"...)
			}
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
