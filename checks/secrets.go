package checks

import (
	"context"
	"errors"
	"time"
)

// PastDeadline reports whether ctx's deadline has passed. A socket's
// deadline, set from ctx, may fire a moment before ctx itself is done, so
// a client error can arrive while ctx.Err() is still nil.
func PastDeadline(ctx context.Context) bool {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}
