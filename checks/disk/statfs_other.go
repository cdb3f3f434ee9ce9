//go:build !linux && !darwin && !freebsd

package disk

import (
	"errors"
	"runtime"
)

// statfs is not available on this system.
func statfs(path string) (Usage, error) {
	return Usage{}, errors.New("disk usage is not supported on " + runtime.GOOS)
}
