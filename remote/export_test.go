package remote

import "time"

// SetKillGrace shortens how long a command whose context ended waits for
// a connection that does not answer; it returns the previous bound.
func SetKillGrace(d time.Duration) time.Duration {
	old := killGrace
	killGrace = d
	return old
}
