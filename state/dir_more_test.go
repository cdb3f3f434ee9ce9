package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// auditLine is one well-formed line of audit.log.
func auditLine(t *testing.T, e AuditEntry) []byte {
	t.Helper()
	data, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return append(data, '\n')
}

// mountTmpfs mounts a tmpfs of size on a new directory, unmounted when the
// test ends; it skips the test where mounting is not allowed.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	mnt := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small tmpfs to fill up (needs root): %v: %s", err, bytes.TrimSpace(out))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

// fill writes a file in dir until the file system is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := bytes.Repeat([]byte("x"), 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill: %v", err)
			}
			break
		}
	}
	for {
		if _, err := f.Write([]byte("x")); err != nil {
			break
		}
	}
}

// TestDirStopOnFullDisk: on a full file system a change of the stop fails
// cleanly — audit.log and stop.json exactly as they were, no partial line,
// no temporary file — whether the audit line itself is cut short or the
// new stop.json cannot be written after it.
func TestDirStopOnFullDisk(t *testing.T) {
	ctx := context.Background()
	const page = 4096
	for _, tc := range []struct {
		name string
		// trailSize is audit.log's size before the change: 20 bytes short
		// of a page, the audit line is cut short; with room to spare in
		// its page, the line fits and stop.json is what fails.
		trailSize int
	}{
		{"the audit line is cut short", page - 20},
		{"stop.json cannot be written", 300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mnt := mountTmpfs(t, "64k")
			path := filepath.Join(mnt, ".runbook")
			d := NewDir(path)
			defer d.Close()
			if _, err := d.SetStop(ctx, true, AuditEntry{User: "alice", Host: "ops-1", Reason: "before"}); err != nil {
				t.Fatal(err)
			}
			// A trail of well-formed lines of exactly trailSize bytes.
			e := AuditEntry{Time: time.Date(2026, 11, 30, 23, 20, 34, 123457000, time.UTC), Action: ActionEnable, User: "alice", Host: "ops-1"}
			first := auditLine(t, e)
			e.Reason = "r"
			e.Reason = strings.Repeat("r", tc.trailSize-len(first)-len(auditLine(t, e))+1)
			trail := append(first, auditLine(t, e)...)
			if len(trail) != tc.trailSize {
				t.Fatalf("built a trail of %d bytes, want %d", len(trail), tc.trailSize)
			}
			if err := os.WriteFile(filepath.Join(path, "audit.log"), trail, 0o644); err != nil {
				t.Fatal(err)
			}
			stopBefore, err := os.ReadFile(filepath.Join(path, "stop.json"))
			if err != nil {
				t.Fatal(err)
			}
			fill(t, mnt)

			_, err = d.SetStop(ctx, false, AuditEntry{User: "bob", Host: "ops-2", Reason: "the disk is full: " + strings.Repeat("x", 100)})
			if err == nil || !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "nothing changed") {
				t.Fatalf("SetStop on a full disk: got %v, want an ENOSPC error saying nothing changed", err)
			}
			if got, _ := os.ReadFile(filepath.Join(path, "audit.log")); !bytes.Equal(got, trail) {
				t.Errorf("audit.log changed:\n got %q\nwant %q", got, trail)
			}
			if got, _ := os.ReadFile(filepath.Join(path, "stop.json")); !bytes.Equal(got, stopBefore) {
				t.Errorf("stop.json changed:\n got %s\nwant %s", got, stopBefore)
			}
			entries, _ := os.ReadDir(path)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if diff := cmp.Diff([]string{".lock", "audit.log", "stop.json"}, names); diff != "" {
				t.Errorf("files in the state directory (-want +got):\n%s", diff)
			}
			if st, err := d.Stop(ctx); err != nil || !st.On || st.Reason != "before" {
				t.Errorf("Stop after the failed change: got %+v, %v; want still on", st, err)
			}

			// With room again, the next change is whole.
			if err := os.Remove(filepath.Join(mnt, "filler")); err != nil {
				t.Fatal(err)
			}
			if _, err := d.SetStop(ctx, false, AuditEntry{User: "bob", Host: "ops-2", Reason: "room again"}); err != nil {
				t.Fatal(err)
			}
			got, err := d.Audit(ctx)
			if err != nil || len(got) != 3 || got[2].User != "bob" {
				t.Errorf("Audit after freeing space: got %d entries, %v; want 3 whole ones", len(got), err)
			}
		})
	}
}

// TestDirAuditTornLine: an incomplete last line (left by a version that did
// not roll a failed append back) is skipped with a warning, never hides
// the other entries, and the next change's line stays whole after it.
func TestDirAuditTornLine(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	good := auditLine(t, AuditEntry{Time: time.Date(2025, 12, 2, 13, 0, 0, 0, time.UTC), Action: ActionEnable, User: "alice", Host: "ops-1", Reason: "drill"})
	torn := []byte(`{"time":"2025-12-02T14:00:00Z","action":"disable","us`)
	if err := os.WriteFile(filepath.Join(path, "audit.log"), append(append([]byte{}, good...), torn...), 0o644); err != nil {
		t.Fatal(err)
	}
	d := NewDir(path)
	trail, err := d.Audit(ctx)
	var damage *AuditDamageError
	if !errors.As(err, &damage) || damage.Damaged() || len(damage.Problems) != 1 || damage.Problems[0].Line != 2 || !damage.Problems[0].Torn {
		t.Fatalf("Audit with a torn last line: got %v, want a torn line 2 and no damage", err)
	}
	if len(trail) != 1 || trail[0].User != "alice" {
		t.Errorf("Audit with a torn last line: got %+v, want alice's entry", trail)
	}

	if _, err := d.SetStop(ctx, false, AuditEntry{User: "bob", Host: "ops-2"}); err != nil {
		t.Fatal(err)
	}
	trail, err = d.Audit(ctx)
	if !errors.As(err, &damage) || damage.Damaged() || damage.Problems[0].Line != 2 {
		t.Errorf("Audit after the next change: got %v, want still only the torn line 2", err)
	}
	if len(trail) != 2 || trail[1].User != "bob" || trail[1].Action != ActionDisable {
		t.Errorf("Audit after the next change: got %+v, want alice's and bob's entries", trail)
	}
	data, _ := os.ReadFile(filepath.Join(path, "audit.log"))
	if lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n"); len(lines) != 3 || lines[1] != string(torn) {
		t.Errorf("audit.log: got %q, want the torn fragment kept on its own line", data)
	}
}

// TestDirAuditDamageShowsTheRest: a damaged line in the middle is reported
// by number, with every other entry.
func TestDirAuditDamageShowsTheRest(t *testing.T) {
	path := t.TempDir()
	e := AuditEntry{Time: time.Date(2025, 12, 2, 13, 0, 0, 0, time.UTC), Action: ActionEnable, User: "alice", Host: "ops-1", Reason: "a"}
	var data []byte
	data = append(data, auditLine(t, e)...)
	data = append(data, "not json at all\n"...)
	e.User, e.Action = "bob", ActionDisable
	data = append(data, auditLine(t, e)...)
	if err := os.WriteFile(filepath.Join(path, "audit.log"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	trail, err := NewDir(path).Audit(context.Background())
	var damage *AuditDamageError
	if !errors.As(err, &damage) || !damage.Damaged() || damage.Problems[0].Line != 2 || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("Audit: got %v, want damage at line 2", err)
	}
	if len(trail) != 2 || trail[0].User != "alice" || trail[1].User != "bob" {
		t.Errorf("Audit: got %+v, want both whole entries", trail)
	}
}

// TestDirStopDamaged: a stop.json that does not parse stops every change,
// saying so, until a forced change replaces it — recorded in the trail.
func TestDirStopDamaged(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir()
	if err := os.WriteFile(filepath.Join(path, "stop.json"), []byte(`{"on": tr`), 0o644); err != nil {
		t.Fatal(err)
	}
	d := NewDir(path)
	var damaged *DamagedStopError
	if _, err := d.Stop(ctx); !errors.As(err, &damaged) {
		t.Errorf("Stop: got %v, want a *DamagedStopError", err)
	}
	_, err := d.ChangeStop(ctx, StopRequest{On: true, Entry: AuditEntry{User: "alice", Host: "ops-1", Reason: "r"}})
	if !errors.As(err, &damaged) || !strings.Contains(err.Error(), "stop.json") {
		t.Fatalf("ChangeStop over a damaged stop: got %v, want a *DamagedStopError naming stop.json", err)
	}
	if _, err := os.Stat(filepath.Join(path, "audit.log")); !os.IsNotExist(err) {
		t.Errorf("a refused change wrote the audit trail (stat: %v)", err)
	}
	c, err := d.ChangeStop(ctx, StopRequest{On: true, Force: true, Entry: AuditEntry{User: "alice", Host: "ops-1", Reason: "r"}})
	if err != nil {
		t.Fatalf("forced ChangeStop: %v", err)
	}
	if c.Before != (StopState{}) || !c.After.On || !strings.Contains(c.Entry.Repair, "damaged stop.json") {
		t.Errorf("forced change: got %+v", c)
	}
	if st, err := d.Stop(ctx); err != nil || !st.On {
		t.Errorf("Stop after the repair: got %+v, %v", st, err)
	}
	trail, err := d.Audit(ctx)
	if err != nil || len(trail) != 1 || trail[0].Repair == "" {
		t.Errorf("Audit after the repair: got %+v, %v; want one entry saying what it repaired", trail, err)
	}
}

// TestDirSymlinks: a symbolic link inside the state directory is never
// written through; the state directory itself may be one.
func TestDirSymlinks(t *testing.T) {
	ctx := context.Background()
	entry := AuditEntry{User: "alice", Host: "ops-1", Reason: "r"}
	for _, tc := range []struct {
		name  string
		dir   bool
		write func(d *Dir) error
	}{
		{".lock", false, func(d *Dir) error { _, err := d.SetStop(ctx, true, entry); return err }},
		{"audit.log", false, func(d *Dir) error { _, err := d.SetStop(ctx, true, entry); return err }},
		{"stop.json", false, func(d *Dir) error { _, err := d.SetStop(ctx, true, entry); return err }},
		{"runs", true, func(d *Dir) error { _, err := d.SaveRun(ctx, testRun("20251202T131219Z-3f9a", "passed")); return err }},
		{"watch", true, func(d *Dir) error { return d.SaveWatch(ctx, "shadow", []byte("{}")) }},
		{"lead", true, func(d *Dir) error { _, err := d.Lead(ctx, "shadow"); return err }},
		{"locks", true, func(d *Dir) error { _, err := d.Acquire(ctx, "deploy/", Holder{}); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir()
			target := filepath.Join(t.TempDir(), "target")
			if tc.dir {
				if err := os.Mkdir(target, 0o755); err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(target, []byte("precious\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.name != ".lock" {
				// The lock file exists already, as after any earlier change.
				if err := os.WriteFile(filepath.Join(path, ".lock"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink(target, filepath.Join(path, tc.name)); err != nil {
				t.Fatal(err)
			}
			d := NewDir(path)
			defer d.Close()
			err := tc.write(d)
			var link *SymlinkError
			if !errors.As(err, &link) || !strings.Contains(err.Error(), "symbolic link") || link.Path != filepath.Join(path, tc.name) {
				t.Fatalf("got %v, want a *SymlinkError for %s", err, tc.name)
			}
			if tc.dir {
				if entries, _ := os.ReadDir(target); len(entries) != 0 {
					t.Errorf("wrote into the link's target: %v", entries)
				}
			} else if data, _ := os.ReadFile(target); string(data) != "precious\n" {
				t.Errorf("the link's target changed: %q", data)
			}
			if fi, err := os.Lstat(filepath.Join(path, tc.name)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the link was replaced or removed (%v)", err)
			}
			if tc.name == "stop.json" {
				if _, err := os.Stat(filepath.Join(path, "audit.log")); !os.IsNotExist(err) {
					t.Errorf("the trail records a change that was refused")
				}
			}
		})
	}

	t.Run("the state directory itself may be a link", func(t *testing.T) {
		real := t.TempDir()
		link := filepath.Join(t.TempDir(), ".runbook")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		d := NewDir(link)
		defer d.Close()
		if _, err := d.SetStop(ctx, true, entry); err != nil {
			t.Fatal(err)
		}
		if _, err := d.SaveRun(ctx, testRun("20251202T131219Z-3f9a", "passed")); err != nil {
			t.Fatal(err)
		}
		l, err := d.Acquire(ctx, "deploy/", Holder{Operator: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		l.Release()
		if _, err := os.Stat(filepath.Join(real, "runs", "20251202T131219Z-3f9a.json")); err != nil {
			t.Errorf("the run was not written through the directory's link: %v", err)
		}
	})
}

func TestNoSymlinks(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "reports"), 0o755); err != nil {
		t.Fatal(err)
	}
	elsewhere := t.TempDir()
	if err := os.Symlink(elsewhere, filepath.Join(root, "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(elsewhere, "x.md"), filepath.Join(root, "reports", "x.md")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		bad  bool
	}{
		{filepath.Join(root, "reports", "a.md"), false},
		{filepath.Join(root, "new", "a.md"), false},
		{filepath.Join(root, "reports", "x.md"), true},
		{filepath.Join(root, "linked", "a.md"), true},
		{filepath.Join(elsewhere, "a.md"), false}, // outside: the user's path
	} {
		err := NoSymlinks(root, tc.path)
		if (err != nil) != tc.bad {
			t.Errorf("NoSymlinks(%s): got %v, want error: %v", tc.path, err, tc.bad)
		}
	}
}

// TestDirProcLockProcesses: the procedure lock is held by another process
// until it dies; its holder is then taken over with a warning naming it.
func TestDirProcLockProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".runbook")
	first := startHelper(t, "acquire", "DIR="+path, "KEY=deploy/", "OPERATOR=alice")
	if line, err := first.out.ReadString('\n'); err != nil || line != "held\n" {
		t.Fatalf("first process: got %q, %v; want held", line, err)
	}
	second := startHelper(t, "acquire", "DIR="+path, "KEY=deploy/", "OPERATOR=bob")
	line, err := second.out.ReadString('\n')
	host, _ := os.Hostname()
	for _, want := range []string{`runbook "deploy" is already running`, "alice on " + host, "pid " + itoa(first.cmd.Process.Pid)} {
		if err != nil || !strings.Contains(line, want) {
			t.Errorf("second process: got %q, %v; want it to contain %q", line, err, want)
		}
	}
	second.stdin.Close()
	_ = second.cmd.Wait()

	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	d := NewDir(path)
	defer d.Close()
	l, err := d.Acquire(ctx, "deploy/", Holder{Operator: "carol", Host: host, PID: os.Getpid(), Since: time.Now()})
	if err != nil {
		t.Fatalf("Acquire after the holder died: %v", err)
	}
	defer l.Release()
	if l.Stale == nil || l.Stale.Operator != "alice" || l.Stale.PID != first.cmd.Process.Pid || !strings.Contains(l.StaleWhy, "is gone") {
		t.Errorf("takeover: got stale %+v (%s), want alice's pid %d, gone", l.Stale, l.StaleWhy, first.cmd.Process.Pid)
	}
	if w := l.Warning("deploy/"); !strings.Contains(w, "took over") || !strings.Contains(w, "alice") {
		t.Errorf("Warning: got %q", w)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestHostDir(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
		err  bool
	}{
		{map[string]string{"XDG_STATE_HOME": "/x/state", "HOME": "/home/u"}, "/x/state/runbook", false},
		{map[string]string{"XDG_STATE_HOME": "relative", "HOME": "/home/u"}, "/home/u/.local/state/runbook", false},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.local/state/runbook", false},
		{map[string]string{}, "", true},
	} {
		got, err := HostDir(func(k string) string { return tc.env[k] })
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("HostDir(%v): got %q, %v; want %q (error: %v)", tc.env, got, err, tc.want, tc.err)
		}
	}
}

func TestOrderIDs(t *testing.T) {
	started := map[string]time.Time{
		"20251202T131219Z-ffff": time.Date(2025, 12, 2, 13, 12, 19, 100, time.UTC),
		"20251202T131219Z-0000": time.Date(2025, 12, 2, 13, 12, 19, 900_000_000, time.UTC),
	}
	ids := []string{
		"20251202T131219Z-0000",
		"20261130T232034.000002Z-00",
		"custom",
		"20251202T131219.500000Z-aa",
		"20251202T131219Z-ffff",
		"20261130T232034.000001Z-ff",
		"20251202T131218Z-9999",
	}
	orderIDs(ids, func(id string) (time.Time, bool) { t, ok := started[id]; return t, ok })
	want := []string{
		"custom",
		"20251202T131218Z-9999",
		"20251202T131219Z-ffff",
		"20251202T131219.500000Z-aa",
		"20251202T131219Z-0000",
		"20261130T232034.000001Z-ff",
		"20261130T232034.000002Z-00",
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("orderIDs (-want +got):\n%s", diff)
	}

}

// TestDirCorruptRun: a record that does not parse is listed, not hidden,
// and passed over by Last.
func TestDirCorruptRun(t *testing.T) {
	ctx := context.Background()
	d := NewDir(t.TempDir())
	good := runAt(time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC), "deploy", "exec", "", "failed")
	if _, err := d.SaveRun(ctx, good); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path, "runs", "20261130T110000.000000Z-bad.json"), []byte(`{"id": "x", "star`), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []RunEntry
	if err := d.Runs(ctx, Filter{Runbook: "deploy"}, func(e RunEntry) bool { got = append(got, e); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Err == nil || got[0].ID != "20261130T110000.000000Z-bad" || got[1].Run == nil {
		t.Errorf("Runs: got %+v, want the corrupt record first, then the good one", got)
	}
	if last, err := Last(ctx, d, Filter{Mode: "exec", Resumable: true}); err != nil || last.ID != good.ID {
		t.Errorf("Last: got %v, %v; want %s", last, err, good.ID)
	}
}

// TestDirLockWaitEndsWithTheContext: a change of a state directory whose
// lock another holder keeps (here an open file description of its own:
// flock treats it as another process) waits no longer than its context
// allows, and says which lock file is held; once the lock is free, the
// change goes through.
func TestDirLockWaitEndsWithTheContext(t *testing.T) {
	d := NewDir(t.TempDir())
	ctx := context.Background()
	if _, err := d.SaveRun(ctx, testRun("20251202T131219Z-1001", "passed")); err != nil {
		t.Fatal(err)
	}
	lockPath := filepath.Join(d.Path, ".lock")
	holder, err := os.Open(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	entry := AuditEntry{User: "alice", Host: "ops-1", Reason: "test"}
	for name, call := range map[string]func(context.Context) error{
		"save a run": func(ctx context.Context) error {
			_, err := d.SaveRun(ctx, testRun("20251202T131219Z-1002", "passed"))
			return err
		},
		"change the stop": func(ctx context.Context) error {
			_, err := d.SetStop(ctx, true, entry)
			return err
		},
		"read the audit trail": func(ctx context.Context) error {
			_, err := d.Audit(ctx)
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			err := call(ctx)
			if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), lockPath) {
				t.Errorf("with the lock held elsewhere: %v, want its deadline and the lock file named", err)
			}
		})
	}
	// A save that an interrupted run makes (cancelled context) still waits
	// for the lock, within the context's deadline.
	cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cancel()
	fd := int(holder.Fd())
	unlocked := make(chan struct{})
	go func() {
		defer close(unlocked)
		time.Sleep(50 * time.Millisecond)
		_ = syscall.Flock(fd, syscall.LOCK_UN)
	}()
	if _, err := d.SaveRun(cctx, testRun("20251202T131219Z-1003", "passed")); err != nil {
		t.Errorf("a cancelled save once the lock is free: %v", err)
	}
	<-unlocked // before the deferred Close of holder
}
