package state

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/runbookhq/runbook/record"
)

// Settle returns how a reader should see a stored run. A record the
// journal left with status "running" belongs either to a live process or
// to one that died without finishing it (SIGKILL, the OOM killer, a power
// cut); the latter is reported as "abandoned". Only the run's host can
// look for its process: a run of another host is abandoned when its
// journal, which a live run writes at least every Heartbeat, has not been
// heard of for StaleAfter.
func Settle(run *record.Run) *record.Run {
	if run == nil || run.Status != record.Running {
		return run
	}
	if host, _ := os.Hostname(); run.Host != "" && run.Host != host {
		if run.UpdatedAt.IsZero() || time.Since(run.UpdatedAt) <= StaleAfter {
			return run
		}
	} else if ProcessAlive(run.PID, run.StartedAt) {
		return run
	}
	// Items it never reached are not pending answers: they were skipped
	// by its death.
	for i := range run.Items {
		if it := &run.Items[i]; it.Status == record.Pending && it.StartedAt == nil {
			it.Status, it.SkipReason = record.Skipped, "not reached: the run was abandoned"
		}
	}
	run.Tally()
	run.Status = record.Abandoned
	return run
}

// Heartbeat is how often a running run's journal writes its record at
// least, changed or not; StaleAfter is how long a run of another host may
// go unheard of before readers take it as abandoned.
const (
	Heartbeat  = 15 * time.Second
	StaleAfter = 2 * time.Minute
)

// ProcessAlive reports whether pid is a live process on this host that
// started no later than startedAt (a later one reuses the pid of a dead
// run). A zero pid is never alive.
func ProcessAlive(pid int, startedAt time.Time) bool {
	if pid <= 0 {
		return false
	}
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	start, zombie, ok := processStart(pid)
	if zombie {
		// Dead, not yet reaped by its parent (a supervisor that waits
		// later, an init that does not reap): kill(pid, 0) still works.
		return false
	}
	if !ok || startedAt.IsZero() {
		return true // no /proc: the signal check is all there is
	}
	// Clock ticks make the start time coarse (10 ms); a second of slack
	// also covers clock steps.
	return !start.After(startedAt.Add(time.Second))
}

// processStart reads when a process started from /proc (Linux), and
// whether it is a zombie (dead, not reaped).
func processStart(pid int) (start time.Time, zombie, ok bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}, false, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return time.Time{}, false, false
	}
	fields := strings.Fields(string(stat[i+1:]))
	// fields[0] is field 3 (state); starttime is field 22.
	if len(fields) < 20 {
		return time.Time{}, false, false
	}
	if fields[0] == "Z" || fields[0] == "X" {
		return time.Time{}, true, true
	}
	ticks, err := strconv.ParseUint(fields[19], 10, 64)
	if err != nil {
		return time.Time{}, false, false
	}
	btime, ok := bootTime()
	if !ok {
		return time.Time{}, false, false
	}
	const hz = 100 // USER_HZ, fixed at 100 on every Linux ABI
	return btime.Add(time.Duration(ticks) * time.Second / hz), false, true
}

func bootTime() (time.Time, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(s, 0), true
		}
	}
	return time.Time{}, false
}
