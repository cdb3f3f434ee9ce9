//go:build linux

package shell

// The guard: nothing runbook starts outlives it.
//
// A command runs in its own process group so that a timeout can stop it
// with everything it started. When runbook itself is killed (kill -9, the
// OOM killer) nobody is left to do that. The kernel helps with the direct
// child only: Pdeathsig sends it SIGKILL when runbook dies, but its own
// children (`sh -c "a | b"`, a script's background job) would go on.
//
// So the first command starts a guard: a small /bin/sh process in a
// process group of its own (Ctrl-C at the terminal does not reach it),
// ignoring the signals a session sends, waiting on a pipe whose write end
// only this process holds. Runbook keeps the list of its commands' groups
// in a file in memory that it shares with the guard (a memfd, fd 3 of
// the guard): a group is added when its command starts and taken out just
// before its leader is reaped, while the leader still holds the id, so
// the guard never names a group id that could have been reused. When
// runbook exits, however it exits, the kernel closes the pipe; the guard
// reads the end of it, then the list, and sends SIGKILL to every group
// on it, then exits. On a normal exit that list is empty.
//
// Until round 4 (docs/performance.md) the groups were announced on the
// pipe itself, "+PGID" and "-PGID" lines the guard read as they came: sh
// reads a pipe a byte at a time, 14 reads and two wake-ups of the guard
// for every command. The list in memory costs the guard nothing while
// runbook runs: 1,000 `true` checks, 11 interleaved rounds, load 2–2.7,
// 2% less CPU and 7% less wall time without announcements on the pipe;
// with the list instead, CPU 870 → 860 ms, wall 605 → 595 ms (load
// 1.4–2.7).

import (
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// guardScript is the guard's program (POSIX sh: dash, bash, busybox). Its
// standard input is the pipe, fd 3 the list of groups, one line of ids
// separated by spaces.
const guardScript = `trap '' HUP INT TERM QUIT PIPE
while IFS= read -r l; do :; done
IFS=' ' read -r live <&3
for p in $live; do kill -s KILL -- "-$p" 2>/dev/null; done
`

// guardFD is the list of groups shared with the guard, or -1 when no
// guard could be started (then Pdeathsig is all the protection there is).
var guardFD = sync.OnceValue(startGuard)

// guardMu guards the list: guardLive and what was last written of it.
var (
	guardMu   sync.Mutex
	guardLive = map[int]struct{}{}
	guardBuf  []byte
	guardLen  int // the longest list written, the file's length
)

func startGuard() int {
	list, err := unix.MemfdCreate("runbook-guard", unix.MFD_CLOEXEC)
	if err != nil {
		// Kernels before 3.17: a file without a name in the temporary
		// directory.
		if list, err = unix.Open(os.TempDir(), unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600); err != nil {
			return -1
		}
	}
	var pp [2]int
	if err := syscall.Pipe2(pp[:], syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(list)
		return -1
	}
	r, w := pp[0], pp[1]
	null, err := syscall.Open(os.DevNull, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = syscall.Close(r)
		_ = syscall.Close(w)
		_ = syscall.Close(list)
		return -1
	}
	pid, err := syscall.ForkExec("/bin/sh", []string{"runbook-guard", "-c", guardScript}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{uintptr(r), uintptr(null), uintptr(null), uintptr(list)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	_ = syscall.Close(r)
	_ = syscall.Close(null)
	if err != nil {
		_ = syscall.Close(w)
		_ = syscall.Close(list)
		return -1
	}
	// w stays open, unwritten, for as long as runbook runs: its end is
	// the guard's signal.
	// The guard is not waited for while runbook runs (it exits only when
	// runbook does); a goroutine reaps it should it die early.
	go func() {
		var ws syscall.WaitStatus
		for {
			if _, err := syscall.Wait4(pid, &ws, 0, nil); err != syscall.EINTR {
				return
			}
		}
	}()
	return list
}

// guardAnnounce tells the guard that a command's group is alive (+) or
// about to be reaped (-): it writes the list of live groups again, padded
// with spaces to the longest list written so that nothing of an older
// one is left at its end.
func guardAnnounce(sign byte, pgid int) {
	fd := guardFD()
	if fd < 0 {
		return
	}
	guardMu.Lock()
	defer guardMu.Unlock()
	if sign == '+' {
		guardLive[pgid] = struct{}{}
	} else {
		delete(guardLive, pgid)
	}
	buf := guardBuf[:0]
	for p := range guardLive {
		buf = strconv.AppendInt(buf, int64(p), 10)
		buf = append(buf, ' ')
	}
	for len(buf) < guardLen-1 {
		buf = append(buf, ' ')
	}
	buf = append(buf, '\n')
	guardBuf, guardLen = buf, len(buf)
	for {
		_, err := syscall.Pwrite(fd, buf, 0)
		if err != syscall.EINTR {
			// A failed write (a full disk under the temporary file)
			// leaves Pdeathsig.
			return
		}
	}
}
