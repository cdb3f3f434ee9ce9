package checks

import (
	"errors"
	"io"
	"sync"
)

// DefaultCaptureLimit is how many bytes of one output stream (stdout,
// stderr, a response body) a provider keeps unless configured otherwise.
const DefaultCaptureLimit = 1 << 20

// CappedBuffer is an io.Writer that keeps the first Limit bytes written to
// it and counts, but drops, the rest. It never fails a write, so a child
// process is never blocked or killed because its output is large. It is
// safe for concurrent use.
type CappedBuffer struct {
	// Limit is the number of bytes kept; zero means DefaultCaptureLimit.
	Limit int

	mu    sync.Mutex
	buf   []byte
	total int64
}

// Write keeps what fits under the limit and reports the whole of p as
// written.
func (b *CappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	limit := b.Limit
	if limit <= 0 {
		limit = DefaultCaptureLimit
	}
	b.total += int64(len(p))
	if room := limit - len(b.buf); room > 0 {
		if room > len(p) {
			room = len(p)
		}
		b.buf = append(b.buf, p[:room]...)
	}
	return len(p), nil
}

// copyBufs are the scratch buffers ReadFrom reads through, shared: a run
// of many commands would otherwise allocate (and zero) a 32 KiB buffer per
// output stream, which io.Copy does for a writer without ReadFrom.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom reads r to its end, keeping what fits under the limit. os/exec
// copies a child's output through it.
func (b *CappedBuffer) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		m, err := r.Read(buf)
		if m > 0 {
			_, _ = b.Write(buf[:m])
			n += int64(m)
		}
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// String returns the kept bytes.
func (b *CappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// Truncated reports whether more was written than kept.
func (b *CappedBuffer) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total > int64(len(b.buf))
}

// Total returns how many bytes were written in all.
func (b *CappedBuffer) Total() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.total
}
