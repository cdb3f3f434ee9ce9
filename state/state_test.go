package state

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func freshDir(t *testing.T) opener {
	path := filepath.Join(t.TempDir(), ".runbook")
	return func(t *testing.T) Store {
		d := NewDir(path)
		t.Cleanup(func() { d.Close() })
		return d
	}
}

func TestDirStore(t *testing.T) { testStore(t, freshDir) }

// TestDirLayout pins the files a state directory holds, which docs/state.md
// describes and operators read by hand.
func TestDirLayout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".runbook")
	d := NewDir(path)
	defer d.Close()
	if st, err := d.Stop(ctx); err != nil || st.On {
		t.Fatalf("Stop of a missing directory: got %+v, %v; want off", st, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("reading created the state directory (stat: %v)", err)
	}
	if _, err := d.SaveRun(ctx, testRun("20251202T131219Z-3f9a", "passed")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetStop(ctx, true, AuditEntry{User: "alice", Host: "ops-1", Reason: "drill"}); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveWatch(ctx, "a/b", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if l, err := d.Lead(ctx, "shadow"); err != nil || l == nil {
		t.Fatalf("Lead: %v %v", l, err)
	} else {
		defer l.Release()
	}
	var files []string
	err := filepath.WalkDir(path, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(path, p)
			files = append(files, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{".lock", "audit.log", "lead/shadow.gen", "lead/shadow.lock", "runs/20251202T131219Z-3f9a.json", "stop.json", "watch/a%2Fb.json"}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("state directory files (-want +got):\n%s", diff)
	}

	var st StopState
	data, _ := os.ReadFile(filepath.Join(path, "stop.json"))
	if err := decodeStrict(data, &st); err != nil || !st.On || st.By != "alice" || st.Reason != "drill" {
		t.Errorf("stop.json: got %+v (%v) from %s", st, err, data)
	}
	trail, _ := os.ReadFile(filepath.Join(path, "audit.log"))
	var e AuditEntry
	if err := decodeStrict(bytes.TrimSpace(trail), &e); err != nil || e.Action != "enable" || e.User != "alice" || e.Host != "ops-1" {
		t.Errorf("audit.log: got %+v (%v) from %s", e, err, trail)
	}
}

func TestFileKey(t *testing.T) {
	for _, tc := range []struct{ key, want string }{
		{"shadow-monitor", "shadow-monitor"},
		{"m4_tabletop.v2", "m4_tabletop.v2"},
		{"a/b", "a%2Fb"},
		{"a%2Fb", "a%252Fb"},
		{"..", "%2E."},
		{"../x", "%2E.%2Fx"},
		{".hidden", "%2Ehidden"},
		{"two words", "two%20words"},
		{"é", "%C3%A9"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			got, err := fileKey(tc.key)
			if err != nil || got != tc.want {
				t.Errorf("fileKey(%q): got %q, %v; want %q", tc.key, got, err, tc.want)
			}
		})
	}
	if _, err := fileKey(""); err == nil {
		t.Errorf("fileKey(\"\"): got no error")
	}
}

// TestDirAuditDamaged: a damaged trail is an error naming the line, not
// a silently shorter trail.
func TestDirAuditDamaged(t *testing.T) {
	for _, tc := range []struct {
		name, content, err string
	}{
		{"truncated line", `{"time":"2025-12-02T13:00:00Z","action":"enable","user":"a","host":"h","reason":"r"}` + "\n" + `{"time":"2025-12-02T1`, "line 2"},
		{"unknown action", `{"time":"2025-12-02T13:00:00Z","action":"toggle","user":"a","host":"h"}` + "\n", `line 1: unknown action "toggle"`},
		{"unknown field", `{"time":"2025-12-02T13:00:00Z","action":"enable","user":"a","host":"h","extra":1}` + "\n", "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "audit.log"), []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := NewDir(dir).Audit(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Audit: got %v, want an error containing %q", err, tc.err)
			}
		})
	}
}

// TestDirConcurrentTogglers: ten processes toggle the stop at once, many
// times each; the trail must hold every change as a well-formed line, each
// process's changes in its own order, and the flag must be the last one.
func TestDirConcurrentTogglers(t *testing.T) {
	const procs, each = 10, 20
	path := filepath.Join(t.TempDir(), ".runbook")
	var hs []*helper
	for i := 0; i < procs; i++ {
		hs = append(hs, startHelper(t, "toggle", "DIR="+path, "ID="+strconv.Itoa(i), "N="+strconv.Itoa(each)))
	}
	for _, h := range hs { // all started: let them go at once
		h.stdin.Close()
	}
	for i, h := range hs {
		if err := h.cmd.Wait(); err != nil {
			t.Fatalf("toggler %d: %v", i, err)
		}
	}

	data, err := os.ReadFile(filepath.Join(path, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	var trail []AuditEntry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		var e AuditEntry
		if err := decodeStrict(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit.log line %d %q: %v", n, sc.Text(), err)
		}
		trail = append(trail, e)
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Errorf("audit.log does not end with a newline")
	}
	if len(trail) != procs*each {
		t.Fatalf("audit.log: got %d entries, want %d", len(trail), procs*each)
	}
	next := map[string]int{} // user → next expected sequence number
	for n, e := range trail {
		var id, j int
		if _, err := fmt.Sscanf(e.Reason, "p%d #%d", &id, &j); err != nil {
			t.Fatalf("entry %d: reason %q: %v", n+1, e.Reason, err)
		}
		wantAction := ActionDisable
		if (id+j)%2 == 0 {
			wantAction = ActionEnable
		}
		if e.User != fmt.Sprintf("u%d", id) || e.Host != fmt.Sprintf("h%d", id) || e.Action != wantAction || e.Time.IsZero() {
			t.Errorf("entry %d: got %+v, want user u%d host h%d action %s", n+1, e, id, id, wantAction)
		}
		if next[e.User] != j {
			t.Errorf("entry %d: %s's change #%d, want #%d (lost or reordered)", n+1, e.User, j, next[e.User])
		}
		if n > 0 && e.Time.Before(trail[n-1].Time) {
			t.Errorf("entry %d at %v is before entry %d at %v", n+1, e.Time, n, trail[n-1].Time)
		}
		next[e.User] = j + 1
	}
	for i := 0; i < procs; i++ {
		if u := fmt.Sprintf("u%d", i); next[u] != each {
			t.Errorf("%s: got %d changes in the trail, want %d", u, next[u], each)
		}
	}

	got, err := NewDir(path).Stop(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	last := trail[len(trail)-1]
	if diff := cmp.Diff(last.state(), got); diff != "" {
		t.Errorf("final stop against the trail's last entry (-want +got):\n%s", diff)
	}
	entries, _ := os.ReadDir(path)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{".lock", "audit.log", "stop.json"}, names); diff != "" {
		t.Errorf("files left in the state directory (-want +got):\n%s", diff)
	}
}

// TestDirLeadProcesses: the lease is held by another process until that
// process dies.
func TestDirLeadProcesses(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), ".runbook")
	first := startHelper(t, "lead", "DIR="+path, "KEY=shadow")
	if line, err := first.out.ReadString('\n'); err != nil || line != "leading\n" {
		t.Fatalf("first process: got %q, %v; want leading", line, err)
	}
	second := startHelper(t, "lead", "DIR="+path, "KEY=shadow")
	if line, err := second.out.ReadString('\n'); err != nil || line != "standby\n" {
		t.Fatalf("second process: got %q, %v; want standby", line, err)
	}
	second.stdin.Close()
	if err := second.cmd.Wait(); err != nil {
		t.Fatal(err)
	}

	d := NewDir(path)
	defer d.Close()
	if l, err := d.Lead(ctx, "shadow"); err != nil || l != nil {
		t.Fatalf("Lead while another process leads: got %v, %v; want nil", l, err)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if l, err := d.Lead(ctx, "shadow"); err != nil || l == nil {
		t.Fatalf("Lead after the leader died: got %v, %v; want a lease", l, err)
	}
}

// BenchmarkDirStop measures what every exec with mutating steps pays to
// read the stop.
func BenchmarkDirStop(b *testing.B) {
	ctx := context.Background()
	d := NewDir(b.TempDir())
	if _, err := d.SetStop(ctx, true, AuditEntry{User: "alice", Host: "ops-1", Reason: "bench"}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := d.Stop(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDirSetStop measures one audited change: lock, append and sync
// the trail, replace stop.json.
func BenchmarkDirSetStop(b *testing.B) {
	ctx := context.Background()
	d := NewDir(b.TempDir())
	on := false
	for b.Loop() {
		on = !on
		if _, err := d.SetStop(ctx, on, AuditEntry{User: "alice", Host: "ops-1", Reason: "bench"}); err != nil {
			b.Fatal(err)
		}
	}
}
