package process

import "golang.org/x/sys/unix"

// atClkTck is the ELF auxiliary vector entry holding sysconf(_SC_CLK_TCK).
const atClkTck = 17

// clockTicks returns the number of clock ticks per second that /proc uses
// for start times. The kernel hands it to every process in its auxiliary
// vector (that is where getconf CLK_TCK reads it too); 100, the value on
// every mainstream Linux architecture, is the fallback.
func clockTicks() float64 {
	auxv, err := unix.Auxv()
	if err != nil {
		return 100
	}
	for _, kv := range auxv {
		if kv[0] == atClkTck && kv[1] > 0 {
			return float64(kv[1])
		}
	}
	return 100
}
