package record

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// EncodedRun is a run record encoded as MarshalRun encodes it, kept in
// pieces to be written one after the other: the record's other members
// around its items, and each item's encoding. A journal that keeps each
// item's encoding writes the record of a run again without encoding the
// items that did not change, and the final record, encoded once for the
// journal's last event, is stored as those very bytes (see
// docs/performance.md, "round 7: the run's records").
type EncodedRun struct {
	whole      []byte   // the whole encoding, or nil
	head, tail []byte   // around the items' array
	items      [][]byte // each item's encoding
}

// Encoded is data, MarshalRun's encoding of a record (or json.Marshal's,
// the same bytes), as an EncodedRun.
func Encoded(data []byte) EncodedRun { return EncodedRun{whole: data} }

// EncodeRun is the record r with items as its items' encodings (each as
// MarshalItem writes it, in order); r.Items is not read. Nil items are
// written as null, as json.Marshal writes nil Items.
func EncodeRun(r *Run, items [][]byte) (EncodedRun, error) {
	rest := *r
	rest.Items = nil
	head, err := json.Marshal(&rest)
	if err != nil {
		return EncodedRun{}, err
	}
	if items == nil {
		return Encoded(head), nil
	}
	at := itemsMember(head)
	if at < 0 {
		return EncodedRun{}, fmt.Errorf("encode run record: no items member")
	}
	return EncodedRun{head: head[:at], tail: head[at+len(`"items":null`):], items: items}, nil
}

// IsZero reports whether e holds no encoding.
func (e EncodedRun) IsZero() bool { return e.whole == nil && e.head == nil }

// Len is the length of the encoding.
func (e EncodedRun) Len() int {
	if e.head == nil {
		return len(e.whole)
	}
	n := len(e.head) + len(`"items":[]`) + len(e.tail)
	for i, it := range e.items {
		if i > 0 {
			n++
		}
		n += len(it)
	}
	return n
}

// Bytes returns the encoding in one piece.
func (e EncodedRun) Bytes() []byte {
	if e.head == nil {
		return e.whole
	}
	b := make([]byte, 0, e.Len())
	b = append(b, e.head...)
	b = append(b, `"items":[`...)
	for i, it := range e.items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	b = append(b, ']')
	return append(b, e.tail...)
}

// The pieces WriteTo writes between the items: a []byte{','} written
// to an io.Writer is a new slice each time, one allocation for every
// item of every snapshot (10,000 a snapshot at 10,000 checks).
var (
	itemsOpen  = []byte(`"items":[`)
	comma      = []byte{','}
	itemsClose = []byte{']'}
)

// WriteTo writes the encoding to w, in pieces; w should buffer them.
func (e EncodedRun) WriteTo(w io.Writer) (int64, error) {
	if e.head == nil {
		n, err := w.Write(e.whole)
		return int64(n), err
	}
	var total int64
	write := func(b []byte) error {
		n, err := w.Write(b)
		total += int64(n)
		return err
	}
	if err := write(e.head); err != nil {
		return total, err
	}
	if err := write(itemsOpen); err != nil {
		return total, err
	}
	for i, it := range e.items {
		if i > 0 {
			if err := write(comma); err != nil {
				return total, err
			}
		}
		if err := write(it); err != nil {
			return total, err
		}
	}
	if err := write(itemsClose); err != nil {
		return total, err
	}
	return total, write(e.tail)
}

// MarshalItem returns json.Marshal(it), written by hand when it can be
// (as MarshalRun writes the items of a record).
func MarshalItem(it *Item) ([]byte, error) {
	if byHand(it) {
		if data, ok := appendItem(make([]byte, 0, 512), it); ok {
			return data, nil
		}
	}
	return json.Marshal(it)
}

// WriteEncodedAtomic is WriteFileAtomic (WriteFileAtomicNoSync unless
// sync) of the record e with a final newline, as MarshalCompact writes
// it: through a buffer when e is in pieces, never in one piece.
func WriteEncodedAtomic(path string, e EncodedRun, perm os.FileMode, sync bool) error {
	if e.head == nil {
		// (Two writes: a copy of the record for its newline would cost
		// more than the second system call.)
		return writeFileAtomicFunc(path, perm, sync, func(f *os.File) error {
			if _, err := f.Write(e.whole); err != nil {
				return err
			}
			_, err := f.Write([]byte{'\n'})
			return err
		})
	}
	return writeFileAtomicFunc(path, perm, sync, func(f *os.File) error {
		w := bufio.NewWriterSize(f, 256<<10)
		if _, err := e.WriteTo(w); err != nil {
			return err
		}
		if err := w.WriteByte('\n'); err != nil {
			return err
		}
		return w.Flush()
	})
}
