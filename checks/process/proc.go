package process

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// procInfo is what the provider reads about one process.
type procInfo struct {
	pid     int
	comm    string // command name, as in /proc/PID/comm
	state   byte   // R, S, D, Z, …
	start   uint64 // start time in clock ticks after boot
	argv0   string
	cmdline string // arguments joined by spaces
}

// inspect reads a process's stat and cmdline. ok is false when the process
// does not exist, has died or is a zombie.
func (p *Provider) inspect(pid int) (info procInfo, ok bool, err error) {
	dir := filepath.Join(p.proc, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH) {
		return info, false, nil
	}
	if err != nil {
		return info, false, fmt.Errorf("read process %d: %w", pid, err)
	}
	info, err = parseStat(stat)
	if err != nil {
		return info, false, fmt.Errorf("process %d: %w", pid, err)
	}
	info.pid = pid
	if info.state == 'Z' || info.state == 'X' || info.state == 'x' {
		return info, false, nil
	}
	// A kernel thread, or a process exiting meanwhile, has no command line.
	if raw, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil {
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		info.argv0 = args[0]
		info.cmdline = strings.Join(args, " ")
	}
	return info, true, nil
}

// parseStat reads the fields it needs from the contents of /proc/PID/stat:
// "PID (COMM) STATE PPID … STARTTIME …", where COMM may itself hold spaces
// and parentheses, so it spans from the first "(" to the last ")".
func parseStat(stat []byte) (procInfo, error) {
	var info procInfo
	open := bytes.IndexByte(stat, '(')
	closing := bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return info, fmt.Errorf("malformed stat %q", stat)
	}
	info.comm = string(stat[open+1 : closing])
	// Fields after the command name, numbered from 3 (state) as in proc(5).
	fields := strings.Fields(string(stat[closing+1:]))
	const state, starttime = 3, 22
	if len(fields) <= starttime-state {
		return info, fmt.Errorf("malformed stat %q: too few fields", stat)
	}
	info.state = fields[0][0]
	start, err := strconv.ParseUint(fields[starttime-state], 10, 64)
	if err != nil {
		return info, fmt.Errorf("malformed stat start time %q", fields[starttime-state])
	}
	info.start = start
	return info, nil
}

// uptime returns the seconds since boot, from /proc/uptime.
func (p *Provider) uptime() (float64, error) {
	raw, err := os.ReadFile(filepath.Join(p.proc, "uptime"))
	if err != nil {
		return 0, fmt.Errorf("read uptime: %w", err)
	}
	fields := strings.Fields(string(raw))
	if len(fields) == 0 {
		return 0, fmt.Errorf("malformed uptime %q", raw)
	}
	up, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return 0, fmt.Errorf("malformed uptime %q", raw)
	}
	return up, nil
}
