//go:build unix

package watch_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/alert"
	"github.com/runbookhq/runbook/checks/builtin"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/watch"
)

// TestStopSignalToChecksIsNotAFailure: a service manager that stops the
// watch signals every process of the service (systemd's default
// KillMode=control-group), so the check command in flight dies of SIGTERM
// too. Once the watch's own stop signal has come, such a cycle is
// interrupted: no health change, no alert. A command killed while the
// watch is not stopping is a failure like any other.
func TestStopSignalToChecksIsNotAFailure(t *testing.T) {
	tests := []struct {
		name            string
		stopping        bool
		wantInterrupted bool
		wantHealth      string
		wantAlerts      int
	}{
		{name: "the watch is stopping: the cycle is interrupted", stopping: true, wantInterrupted: true, wantHealth: "HEALTHY"},
		{name: "the watch is not stopping: the check failed", stopping: false, wantHealth: "CRITICAL", wantAlerts: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hooks := newHooks(t)
			dir := t.TempDir()
			src := filepath.Join(dir, "stop.hcl")
			if err := os.WriteFile(src, []byte(`
runbook "stop" {}
variable "dir" {
  type = string
}
variable "hook_url" {
  type = string
}
# Hangs, its shell's pid written down, while dir/hang exists.
check "svc" {
  shell {
    command = "if [ -e '${var.dir}/hang' ]; then echo $$ > '${var.dir}/pid.tmp' && mv '${var.dir}/pid.tmp' '${var.dir}/pid'; exec sleep 30; fi"
  }
}
alert "hook" {
  webhook {
    url = var.hook_url
  }
}
`), 0o644); err != nil {
				t.Fatal(err)
			}
			reg := engine.Registry{Providers: builtin.Providers, Planned: builtin.Planned}
			cfg, diags := engine.Load(src, reg)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			b, diags := engine.Bind(cfg, reg, engine.Inputs{Vars: []string{"dir=" + dir, "hook_url=" + hooks.URL + "/hook"}})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			alerts, diags := alert.Load(b)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			logs := &logBuffer{}
			w, err := watch.New(context.Background(), watch.Options{
				Bound: b, Store: state.NewDir(t.TempDir()), Alerts: alerts,
				Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if c, err := w.Cycle(context.Background()); err != nil || c.Health != "HEALTHY" {
				t.Fatalf("first cycle: %v, %+v", err, c)
			}
			if err := os.WriteFile(filepath.Join(dir, "hang"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			type result struct {
				c   *watch.Cycle
				err error
			}
			done := make(chan result, 1)
			go func() {
				c, err := w.Once(ctx)
				done <- result{c, err}
			}()
			var pid int
			deadline := time.Now().Add(10 * time.Second)
			for pid == 0 {
				if time.Now().After(deadline) {
					t.Fatal("the check's command never started")
				}
				time.Sleep(10 * time.Millisecond)
				data, _ := os.ReadFile(filepath.Join(dir, "pid"))
				pid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
			}
			// SIGTERM to the command's whole process group, as systemd
			// sends it to the service's cgroup; the watch's own signal
			// comes a moment later.
			if err := syscall.Kill(-pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			if tt.stopping {
				time.Sleep(100 * time.Millisecond)
				cancel()
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			if r.c.Run.Interrupted != tt.wantInterrupted {
				t.Errorf("interrupted: got %v, want %v (items %+v)", r.c.Run.Interrupted, tt.wantInterrupted, r.c.Run.Items)
			}
			if h := w.Status().Health; h != tt.wantHealth {
				t.Errorf("health: got %s, want %s", h, tt.wantHealth)
			}
			fctx, fcancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer fcancel()
			_ = w.Flush(fctx)
			if got := hooks.take(); len(got) != tt.wantAlerts {
				t.Errorf("alerts: got %v, want %d", got, tt.wantAlerts)
			}
			if tt.stopping && !strings.Contains(logs.String(), `"checks":"svc"`) {
				t.Errorf("the log does not say which checks the stop signal killed:\n%s", logs.String())
			}
		})
	}
}
