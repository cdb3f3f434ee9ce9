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
// ignoring the signals a session sends, reading lines from a pipe whose
// write end only this process holds. Each command's group is announced on
// the pipe ("+PGID") when it starts and withdrawn ("-PGID") just before
// its leader is reaped, while the leader still holds the id, so the guard
// never names a group id that could have been reused. When runbook exits,
// however it exits, the kernel closes the pipe; the guard reads the end of
// it and sends SIGKILL to every group still announced, then exits. On a
// normal exit that list is empty.

import (
	"os"
	"strconv"
	"sync"
	"syscall"
)

// guardScript is the guard's program (POSIX sh: dash, bash, busybox).
const guardScript = `trap '' HUP INT TERM QUIT PIPE
live=' '
while IFS= read -r l; do
  case $l in
    +*) live="$live${l#+} " ;;
    -*) p=${l#-}
        case $live in *" $p "*) live="${live%%" $p "*} ${live#*" $p "}" ;; esac ;;
  esac
done
for p in $live; do kill -s KILL -- "-$p" 2>/dev/null; done
`

// guardFD is the write end of the pipe to the guard, or -1 when no guard
// could be started (then Pdeathsig is all the protection there is).
var guardFD = sync.OnceValue(startGuard)

// guardMu keeps announcements whole: each is one write, but a failed
// guard is forgotten under it.
var guardMu sync.Mutex

func startGuard() int {
	var pp [2]int
	if err := syscall.Pipe2(pp[:], syscall.O_CLOEXEC); err != nil {
		return -1
	}
	r, w := pp[0], pp[1]
	null, err := syscall.Open(os.DevNull, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = syscall.Close(r)
		_ = syscall.Close(w)
		return -1
	}
	pid, err := syscall.ForkExec("/bin/sh", []string{"runbook-guard", "-c", guardScript}, &syscall.ProcAttr{
		Dir:   "/",
		Env:   []string{"PATH=/usr/bin:/bin"},
		Files: []uintptr{uintptr(r), uintptr(null), uintptr(null)},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	_ = syscall.Close(r)
	_ = syscall.Close(null)
	if err != nil {
		_ = syscall.Close(w)
		return -1
	}
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
	return w
}

// guardAnnounce tells the guard that a command's group is alive (+) or
// about to be reaped (-).
func guardAnnounce(sign byte, pgid int) {
	fd := guardFD()
	if fd < 0 {
		return
	}
	line := strconv.AppendInt([]byte{sign}, int64(pgid), 10)
	line = append(line, '\n')
	guardMu.Lock()
	defer guardMu.Unlock()
	for {
		_, err := syscall.Write(fd, line)
		if err != syscall.EINTR {
			// A failed write (the guard was killed) leaves Pdeathsig.
			return
		}
	}
}
