package engine_test

import (
	"context"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/internal/testserver"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) { testserver.Main(m) }

const targetsRunbook = `
runbook "reach" {}

variable "user" { type = string }
variable "key" { type = string }
variable "known" { type = string }
variable "empty_known" { type = string }
variable "port1" { type = number }
variable "port2" { type = number }
variable "down_port" { type = number }
variable "file" { type = string }
variable "log" { type = string }
variable "pid_file" { type = string }
variable "token" {
  type      = string
  sensitive = true
}

target "web-1" {
  ssh {
    host             = "127.0.0.1"
    port             = var.port1
    user             = var.user
    private_key_file = var.key
    known_hosts_file = var.known
  }
}

target "web-2" {
  ssh {
    host             = "127.0.0.1"
    port             = var.port2
    user             = var.user
    private_key_file = var.key
    known_hosts_file = var.known
  }
}

target "down" {
  ssh {
    host             = "127.0.0.1"
    port             = var.down_port
    user             = var.user
    private_key_file = var.key
    known_hosts_file = var.known
    connect_timeout  = "300ms"
  }
}

target "stranger" {
  ssh {
    host             = "127.0.0.1"
    port             = var.port1
    user             = var.user
    private_key_file = var.key
    known_hosts_file = var.empty_known
  }
}

check "port" {
  on = [target.web-1, target.web-2]
  shell {
    command = "echo $SSH_CONNECTION | cut -d' ' -f4"
  }
}

check "root_disk" {
  on = [target.web-1, target.web-2]
  disk {
    path = "/"
  }
  assert {
    condition = self.total_bytes > 0
  }
}

check "marker" {
  on = target.web-1
  file {
    path = var.file
  }
}

check "mismatches" {
  on = target.web-2
  log {
    path    = var.log
    pattern = "[0-9]+ mismatches"
    exclude = ", 0 mismatches"
    tail    = 1
  }
  assert {
    condition     = self.matches == 0
    error_message = "${self.matches} mismatch lines, the last: ${join("", self.lines)}"
  }
}

check "missing_log" {
  on = target.web-1
  log {
    path    = "${var.log}.missing"
    pattern = "x"
  }
}

check "sleeper_by_name" {
  on = target.web-1
  process {
    name          = "sleep"
    match_cmdline = "^sleep 3017$"
  }
}

check "sleeper_by_pid_file" {
  on = target.web-2
  process {
    pid_file = var.pid_file
  }
}

check "no_such_process" {
  on = target.web-1
  process {
    name = "no-such-process-name"
  }
  assert {
    condition = !self.running
  }
}

check "env_dir_list" {
  on = target.web-1
  shell {
    command = ["sh", "-c", "echo \"$GREETING\" \"$0\"; pwd; cat", "a b"]
    env     = { GREETING = "it's $HOME" }
    dir     = "/"
    stdin   = "in"
  }
}

check "secret_output" {
  on = target.web-2
  shell {
    command = "echo token=${var.token}"
  }
}

check "unreachable" {
  on = target.down
  shell {
    command = "true"
  }
}

check "unknown_host_key" {
  on = target.stranger
  shell {
    command = "true"
  }
}

check "after_ports" {
  depends_on = [check.port]
  shell {
    command = "true"
  }
}
`

func TestTargets(t *testing.T) {
	servers := testserver.SSH(t)
	dir := t.TempDir()
	emptyKnown := filepath.Join(dir, "empty_known")
	marker := filepath.Join(dir, "marker")
	logFile := filepath.Join(dir, "shadow.log")
	if err := os.WriteFile(logFile, []byte("cycle 1: 9 workflows, 0 mismatches\ncycle 2: 3 mismatches detected\ncycle 3: 1 mismatches detected\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sleeper := osexec.Command("sleep", "3017")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sleeper.Process.Kill(); _ = sleeper.Wait() })
	pidFile := filepath.Join(dir, "sleeper.pid")
	if err := os.WriteFile(pidFile, []byte(strconv.Itoa(sleeper.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{emptyKnown, marker} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(emptyKnown, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	silent := testserver.Silent(t)
	_, downPort, _ := strings.Cut(silent, ":")
	s1, s2 := servers[0], servers[1]
	b := bind(t, targetsRunbook, engine.Inputs{Vars: []string{
		"user=" + s1.User, "key=" + s1.KeyFile, "known=" + s1.KnownHosts, "empty_known=" + emptyKnown,
		"port1=" + strconv.Itoa(s1.Port), "port2=" + strconv.Itoa(s2.Port), "down_port=" + downPort,
		"file=" + marker, "token=tok-s3cr3t-value", "log=" + logFile, "pid_file=" + pidFile,
	}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck, Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	type item struct{ Name, Target, Status, Detail string }
	var got []item
	for _, it := range r.Items {
		detail := ""
		switch {
		case it.Error != nil:
			detail = *it.Error
		case it.Name == "mismatches" && len(it.Asserts) > 0:
			detail = it.Asserts[0].Message
		case strings.HasPrefix(it.Name, "sleeper"):
			detail = fmt.Sprintf("%v %v %v", it.Result["running"], it.Result["pid"], it.Result["count"])
		case strings.HasPrefix(it.Name, "port["), it.Name == "secret_output", it.Name == "env_dir_list":
			detail = strings.TrimSpace(it.Result["stdout"].(string))
		}
		got = append(got, item{it.Name, it.Target, it.Status, detail})
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Name < got[j].Name })
	fp := ssh.FingerprintSHA256(s1.HostKey)
	// Errors are long: keep what the test asserts on.
	for i, g := range got {
		switch g.Name {
		case "unreachable":
			if strings.Contains(g.Detail, `target "down"`) && strings.Contains(g.Detail, "no answer within 300ms") {
				got[i].Detail = "connect timeout"
			}
		case "missing_log":
			if strings.Contains(g.Detail, "on web-1") && strings.Contains(g.Detail, "No such file") {
				got[i].Detail = "no such file"
			}
		case "unknown_host_key":
			if strings.Contains(g.Detail, "is unknown") && strings.Contains(g.Detail, fp) {
				got[i].Detail = "unknown host key " + fp
			}
		}
	}
	want := []item{
		{"after_ports", "", "passed", ""},
		{"env_dir_list", "web-1", "passed", "it's $HOME a b\n/\nin"},
		{"marker", "web-1", "passed", ""},
		{"mismatches", "web-2", "failed", "2 mismatch lines, the last: cycle 3: 1 mismatches detected"},
		{"missing_log", "web-1", "failed", "no such file"},
		{"no_such_process", "web-1", "passed", ""},
		{"port[web-1]", "web-1", "passed", strconv.Itoa(s1.Port)},
		{"port[web-2]", "web-2", "passed", strconv.Itoa(s2.Port)},
		{"root_disk[web-1]", "web-1", "passed", ""},
		{"root_disk[web-2]", "web-2", "passed", ""},
		{"secret_output", "web-2", "passed", "token=(sensitive)"},
		{"sleeper_by_name", "web-1", "passed", fmt.Sprintf("true %d 1", sleeper.Process.Pid)},
		{"sleeper_by_pid_file", "web-2", "passed", fmt.Sprintf("true %d 1", sleeper.Process.Pid)},
		{"unknown_host_key", "stranger", "failed", "unknown host key " + fp},
		{"unreachable", "down", "failed", "connect timeout"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}

	// plan shows where each item runs.
	plan, err := engine.Plan(b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	for _, pi := range plan {
		if pi.Name == "port[web-2]" && pi.Target != "web-2 (ssh 127.0.0.1:"+strconv.Itoa(s2.Port)+")" {
			t.Errorf("plan target of port[web-2]: %q", pi.Target)
		}
	}
	// --only takes an item's name (all its targets) or one target's item.
	for only, want := range map[string][]string{
		"port":              {"port[web-1]", "port[web-2]"},
		"check.port[web-2]": {"port[web-2]"},
		"root_disk[web-1]":  {"root_disk[web-1]"},
	} {
		plan, err := engine.Plan(b, engine.Options{Mode: engine.ModeCheck, Only: []string{only}})
		if err != nil {
			t.Fatal(err)
		}
		var selected []string
		for _, pi := range plan {
			if pi.Selected {
				selected = append(selected, pi.Name)
			}
		}
		if diff := cmp.Diff(want, selected); diff != "" {
			t.Errorf("--only %s (-want +got):\n%s", only, diff)
		}
	}
	if len(b.InsecureTargets()) != 0 {
		t.Errorf("insecure targets: %v", b.InsecureTargets())
	}
}

func TestRemoteSteps(t *testing.T) {
	servers := testserver.SSH(t)
	s1, s2 := servers[0], servers[1]
	dir := t.TempDir()
	mark, pidFile := filepath.Join(dir, "mark"), filepath.Join(dir, "pid")
	src := `runbook "steps" {}
variable "user" { type = string }
variable "key" { type = string }
variable "known" { type = string }
target "web-1" {
  ssh {
    host             = "127.0.0.1"
    port             = ` + strconv.Itoa(s1.Port) + `
    user             = var.user
    private_key_file = var.key
    known_hosts_file = var.known
  }
}
target "web-2" {
  ssh {
    host             = "127.0.0.1"
    port             = ` + strconv.Itoa(s2.Port) + `
    user             = var.user
    private_key_file = var.key
    known_hosts_file = var.known
  }
}
step "mutate" {
  on      = [target.web-1, target.web-2]
  confirm = true
  shell {
    command = "echo $SSH_CONNECTION | cut -d' ' -f4 >> ` + mark + `"
  }
}
step "slow" {
  on      = target.web-1
  timeout = "1s"
  shell {
    command = "(trap '' HUP; exec sleep 60) & echo $! > ` + pidFile + `; wait"
  }
}
`
	b := bind(t, src, engine.Inputs{Vars: []string{"user=" + s1.User, "key=" + s1.KeyFile, "known=" + s1.KnownHosts}})
	for _, yes := range []bool{false, true} {
		r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Yes: yes})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range r.Items {
			e := ""
			if it.Error != nil {
				e = *it.Error
			}
			got = append(got, it.Name+" "+it.Target+" "+it.Status+" "+e)
		}
		data, _ := os.ReadFile(mark)
		if !yes {
			// Not confirmed: nothing ran on either target.
			if len(data) != 0 || !strings.Contains(got[0], "--yes") {
				t.Fatalf("without --yes: %q, mark %q", got, data)
			}
			continue
		}
		if want := strconv.Itoa(s1.Port) + "\n" + strconv.Itoa(s2.Port) + "\n"; string(data) != want {
			t.Errorf("mark: got %q, want %q (one target after the other)", data, want)
		}
		if len(got) != 3 || !strings.HasPrefix(got[0], "mutate[web-1] web-1 passed") || !strings.HasPrefix(got[1], "mutate[web-2] web-2 passed") ||
			!strings.HasPrefix(got[2], "slow web-1 failed timed out after 1s") {
			t.Errorf("items: %q", got)
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	// The remote process group was killed: the child that ignores SIGHUP
	// is gone (or a zombie of this machine's init).
	for i := 0; ; i++ {
		st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if _, rest, _ := strings.Cut(string(st), ") "); err != nil || strings.HasPrefix(rest, "Z") {
			break
		}
		if i > 200 {
			t.Fatalf("the remote child %d of the timed-out step still runs", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
