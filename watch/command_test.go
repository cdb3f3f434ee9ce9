package watch_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/watch"
)

// TestPlaybookCommandRunsAsGiven: the command an alert offers runs the
// playbook as the watch would — its var files, its variables, its state —
// and never shows a sensitive value.
func TestPlaybookCommandRunsAsGiven(t *testing.T) {
	const secret = "s3cr3t-t0k3n"
	f := newFixture(t, "token="+secret)
	w := f.watcher(func(o *watch.Options) {
		o.VarFiles = []string{"prod vars.hcl"}
		o.Vars = append(append([]string{}, f.vars...), "note=100% it's fine")
	})
	f.set("alpha", false)
	f.cycle(w)
	f.hooks.mu.Lock()
	if len(f.hooks.payloads) == 0 {
		f.hooks.mu.Unlock()
		t.Fatal("no alert was sent")
	}
	tr := f.hooks.payloads[0].body["transitions"].([]any)[0].(map[string]any)
	f.hooks.mu.Unlock()
	command := tr["playbooks"].([]any)[0].(map[string]any)["command"].(string)
	if strings.Contains(command, secret) {
		t.Fatalf("the command shows the sensitive value: %s", command)
	}
	// What a shell makes of it, word by word.
	out, err := exec.Command("sh", "-c", `set -- `+command+`; for a; do printf '%s\n' "$a"; done`).Output()
	if err != nil {
		t.Fatalf("sh cannot parse %s: %v", command, err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	want := []string{"runbook", "exec", "testdata/watch.hcl",
		"--var-file", "prod vars.hcl",
		"--var", "dir=" + f.dir, "--var", "hook_url=" + f.hooks.URL + "/hook", "--var", "token=...", "--var", "note=100% it's fine",
		"--state", f.state, "--playbook", "restore_alpha"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the command's words (-want +got):\n%s\ncommand: %s", diff, command)
	}
	if lines := f.logLines("the suggested playbook command shows sensitive variables as name=...: supply their values (or RUNBOOK_VAR_name) to run it"); len(lines) != 1 || lines[0]["variables"] != "token" {
		t.Errorf("the log does not say which value the command leaves out: %v", lines)
	}
}
