package engine_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/runbookhq/runbook/engine"
)

// BenchmarkLoadBind1000 loads and binds a generated 1000-check runbook:
// the in-process part of `runbook validate`.
func BenchmarkLoadBind1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("runbook \"bench\" {}\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, `check "c%d" {
  title = "check %d"
  http {
    url = "http://127.0.0.1:8000/health/%d"
  }
  assert {
    condition     = self.status == 200 && self.duration_ms < 500
    error_message = "got ${self.status}"
  }
  retry {
    attempts = 2
  }
}
`, i, i, i)
	}
	path := filepath.Join(b.TempDir(), "bench.hcl")
	os.WriteFile(path, []byte(sb.String()), 0o644)
	reg := testRegistry()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg, diags := engine.Load(path, reg)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		if _, diags := engine.Bind(cfg, reg, engine.Inputs{AllowMissing: true}); diags.HasErrors() {
			b.Fatal(diags.Error())
		}
	}
}

// BenchmarkRunHTTP1000 runs 1000 http checks against a local server
// in-process: the engine's own cost per check, without process start-up.
func BenchmarkRunHTTP1000(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	var sb strings.Builder
	sb.WriteString("runbook \"bench\" {}\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "check \"h%d\" {\n  http {\n    url = %q\n  }\n}\n", i, srv.URL)
	}
	path := filepath.Join(b.TempDir(), "bench.hcl")
	os.WriteFile(path, []byte(sb.String()), 0o644)
	reg := testRegistry()
	cfg, diags := engine.Load(path, reg)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	bound, diags := engine.Bind(cfg, reg, engine.Inputs{})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		run, err := engine.Run(context.Background(), bound, engine.Options{Mode: engine.ModeCheck})
		if err != nil || run.Status != "passed" {
			b.Fatalf("%v %s", err, run.Status)
		}
		if _, err := run.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRunShell1000 runs 1000 `true` checks in-process, and
// BenchmarkExecTrue1000 is its floor: os/exec `true` 1000 times with the
// same number of workers. Compare them with benchstat.
func BenchmarkRunShell1000(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("runbook \"bench\" {}\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n", i)
	}
	path := filepath.Join(b.TempDir(), "bench.hcl")
	os.WriteFile(path, []byte(sb.String()), 0o644)
	reg := testRegistry()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg, diags := engine.Load(path, reg)
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		bound, diags := engine.Bind(cfg, reg, engine.Inputs{})
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		run, err := engine.Run(context.Background(), bound, engine.Options{Mode: engine.ModeCheck, Concurrency: runtime.NumCPU()})
		if err != nil || run.Status != "passed" {
			b.Fatalf("%v %s", err, run.Status)
		}
		if _, err := run.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExecTrue1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < runtime.NumCPU(); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					if err := exec.Command("true").Run(); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for j := 0; j < 1000; j++ {
			jobs <- j
		}
		close(jobs)
		wg.Wait()
	}
}
