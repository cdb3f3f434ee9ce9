package checks

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestCappedBufferReadFrom(t *testing.T) {
	src := strings.Repeat("0123456789", 10_000) // 100 kB, over the limit
	b := &CappedBuffer{Limit: 1000}
	n, err := io.Copy(b, strings.NewReader(src))
	if err != nil || n != int64(len(src)) {
		t.Fatalf("copied %d, %v; want %d, nil", n, err, len(src))
	}
	if b.String() != src[:1000] || !b.Truncated() || b.Total() != int64(len(src)) {
		t.Fatalf("kept %d bytes, truncated %v, total %d", len(b.String()), b.Truncated(), b.Total())
	}

	// A read error other than EOF is returned, with what came before kept.
	b = &CappedBuffer{}
	boom := errors.New("boom")
	_, err = b.ReadFrom(io.MultiReader(strings.NewReader("abc"), errReader{boom}))
	if !errors.Is(err, boom) || b.String() != "abc" {
		t.Fatalf("got %q, %v", b.String(), err)
	}

	// Reading goes through a shared buffer: no allocation per stream
	// beyond what is kept.
	b = &CappedBuffer{Limit: 16}
	r := bytes.NewReader(make([]byte, 64<<10))
	allocs := testing.AllocsPerRun(50, func() {
		r.Seek(0, io.SeekStart)
		b.buf, b.total = b.buf[:0], 0
		if _, err := b.ReadFrom(r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("ReadFrom allocated %.0f times per stream", allocs)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
