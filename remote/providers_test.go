package remote_test

import (
	"context"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/runbookhq/runbook/checks/process"
	"github.com/runbookhq/runbook/checks/shell"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/remote"
	"github.com/zclconf/go-cty/cty"
)

// Env names are not shell words: a name that is not an identifier must
// not run as shell code on the target.
func TestRemoteEnvNameIsNotShellCode(t *testing.T) {
	servers := testserver.SSH(t)
	p := remote.NewPool([]*remote.Target{target("web-1", servers[0])})
	defer p.Close()
	marker := filepath.Join(t.TempDir(), "pwned")
	prov := shell.New()
	cfg := checkstest.Decode(t, prov, `
command = "echo ok"
env     = { (var.name) = "v" }
`, map[string]cty.Value{"name": cty.StringVal("X;touch " + marker + ";Y")})
	_, err := prov.(checks.Remote).RunOn(context.Background(), p.Host("web-1"), cfg)
	if _, serr := os.Stat(marker); serr == nil {
		t.Fatalf("env name ran as shell code on the target (created %s); RunOn error: %v", marker, err)
	}
	if err == nil || !strings.Contains(err.Error(), "not a valid variable name") {
		t.Fatalf("got error %v, want one saying the env name is not valid", err)
	}
}

// Env values (often tokens) must not appear in the target's process
// list, where every user of the target can read them: locally they go in
// the environment, not in argv.
func TestRemoteEnvValueIsNotInArgv(t *testing.T) {
	servers := testserver.SSH(t)
	p := remote.NewPool([]*remote.Target{target("web-1", servers[0])})
	defer p.Close()
	prov := shell.New()
	cfg := checkstest.Decode(t, prov, `
command = "cat /proc/$$/cmdline /proc/$PPID/cmdline | tr '\\0' ' '"
env     = { TOKEN = "s3cret-token-value" }
`, nil)
	res, err := prov.(checks.Remote).RunOn(context.Background(), p.Host("web-1"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := res.GetAttr("stdout").AsString()
	if !strings.Contains(out, "sh") {
		t.Fatalf("no command lines read: %q", out)
	}
	if strings.Contains(out, "s3cret-token-value") {
		t.Fatalf("the env value is in the remote process's argv, readable by any user of the target in ps: %q", out)
	}
}

// A process whose name has a space (comm "my daemon": tmux's "tmux:
// server", a program so named) is found on a target as it is locally;
// ps prints comm and args as space-separated fields, which the remote
// listing splits as if names had none.
func TestRemoteProcessNameWithASpace(t *testing.T) {
	servers := testserver.SSH(t)
	p := remote.NewPool([]*remote.Target{target("web-1", servers[0])})
	defer p.Close()
	dir := t.TempDir()
	bin := filepath.Join(dir, "my daemon")
	data, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.Command(bin, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	time.Sleep(200 * time.Millisecond)
	prov := process.New()
	cfg := checkstest.Decode(t, prov, `name = "my daemon"`, nil)
	local, err := prov.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	remoteRes, err := prov.(checks.Remote).RunOn(context.Background(), p.Host("web-1"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !local.GetAttr("running").True() {
		t.Fatal("the process is not found locally")
	}
	if l, r := local.GetAttr("running").True(), remoteRes.GetAttr("running").True(); l != r {
		t.Fatalf("running: locally %v, on the target (the same machine) %v", l, r)
	}
}
