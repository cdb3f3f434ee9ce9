package engine_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
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

// BenchmarkRunPhaseShell1000 and BenchmarkRunPhaseHTTP1000 time only what
// the engine controls once a runbook is bound: engine.Run of 1000 checks
// against the floor loop doing the same work at the same parallelism in the
// same process, alternated, seven rounds, median ratios of wall time and
// of this process's own CPU time (children excluded).
func BenchmarkRunPhaseShell1000(b *testing.B) {
	bound := bindGenerated(b, func(i int) string {
		return fmt.Sprintf("check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n", i)
	})
	p := runtime.NumCPU()
	runPhase(b, bound, p, func() error { return exec.Command("true").Run() })
}

func BenchmarkRunPhaseHTTP1000(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	bound := bindGenerated(b, func(i int) string {
		return fmt.Sprintf("check \"h%d\" {\n  http {\n    url = %q\n  }\n}\n", i, srv.URL)
	})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	p := runtime.NumCPU()
	runPhase(b, bound, p, func() error {
		resp, err := client.Get(srv.URL)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	})
}

func bindGenerated(b *testing.B, block func(i int) string) *engine.Bound {
	var sb strings.Builder
	sb.WriteString("runbook \"bench\" {}\n")
	for i := 0; i < 1000; i++ {
		sb.WriteString(block(i))
	}
	reg := testRegistry()
	cfg, diags := engine.LoadSource("bench.hcl", []byte(sb.String()), reg)
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	bound, diags := engine.Bind(cfg, reg, engine.Inputs{})
	if diags.HasErrors() {
		b.Fatal(diags.Error())
	}
	return bound
}

func runPhase(b *testing.B, bound *engine.Bound, p int, op func() error) {
	floor := func() {
		jobs := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < p; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range jobs {
					if err := op(); err != nil {
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
	engineRun := func() {
		run, err := engine.Run(context.Background(), bound, engine.Options{Mode: engine.ModeCheck, Concurrency: p})
		if err != nil || run.Status != "passed" {
			b.Fatalf("%v %v", err, run)
		}
	}
	for i := 0; i < b.N; i++ {
		var wall, cpu []float64
		for r := 0; r < 7; r++ {
			fw, fc := timed(floor)
			ew, ec := timed(engineRun)
			wall = append(wall, ew/fw)
			cpu = append(cpu, ec/fc)
		}
		b.ReportMetric(medianOf(wall), "x-floor")
		b.ReportMetric(medianOf(cpu), "x-floor-selfcpu")
	}
}

// timed runs f and returns its wall time and this process's CPU time.
func timed(f func()) (wall, cpu float64) {
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	start := time.Now()
	f()
	wall = float64(time.Since(start))
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu = float64(r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano())
	return wall, cpu
}

func medianOf(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// BenchmarkLiveHeap10000 measures what a 10,000-check runbook keeps alive
// (not what it allocates) after loading, after binding and after the run,
// each after a forced collection: the breakdown in docs/performance.md.
// For where the bytes are, add -memprofile and read it with
// `go tool pprof -sample_index=inuse_space`.
func BenchmarkLiveHeap10000(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		name  string
		block func(i int) string
	}{
		{"shell", func(i int) string {
			return fmt.Sprintf("check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n", i)
		}},
		{"http", func(i int) string {
			return fmt.Sprintf("check \"h%d\" {\n  http {\n    url = %q\n  }\n}\n", i, srv.URL)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var sb strings.Builder
			sb.WriteString("runbook \"bench\" {}\n")
			for i := 0; i < 10000; i++ {
				sb.WriteString(tc.block(i))
			}
			src := []byte(sb.String())
			reg := testRegistry()
			// LIVEHEAP_PROFILE=prefix writes a heap profile at each stage
			// (prefix-TYPE-STAGE.prof), for `go tool pprof
			// -sample_index=inuse_space`.
			prof := os.Getenv("LIVEHEAP_PROFILE")
			stage := func(name string) {
				if prof == "" {
					return
				}
				f, err := os.Create(fmt.Sprintf("%s-%s-%s.prof", prof, tc.name, name))
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if err := pprof.WriteHeapProfile(f); err != nil {
					b.Fatal(err)
				}
			}
			live := func() float64 {
				runtime.GC()
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				return float64(ms.HeapAlloc) / (1 << 20)
			}
			for i := 0; i < b.N; i++ {
				base := live()
				cfg, diags := engine.LoadSource("bench.hcl", src, reg)
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				loaded := live()
				stage("loaded")
				bound, diags := engine.Bind(cfg, reg, engine.Inputs{})
				if diags.HasErrors() {
					b.Fatal(diags.Error())
				}
				bnd := live()
				stage("bound")
				bound.ReleaseSyntax()
				released := live()
				stage("released")
				stacks := &stackPeak{}
				run, err := engine.Run(context.Background(), bound, engine.Options{Mode: engine.ModeCheck, Concurrency: 2, Observer: stacks})
				if err != nil || run.Status != "passed" {
					b.Fatalf("%v %v", err, run.Status)
				}
				ran := live()
				stage("run")
				b.ReportMetric(loaded-base, "loaded-MB")
				b.ReportMetric(bnd-base, "bound-MB")
				b.ReportMetric(released-base, "released-MB")
				b.ReportMetric(ran-base, "run-MB")
				b.ReportMetric(stacks.peakMB, "run-stacks-MB")
				b.ReportMetric(float64(stacks.goroutines), "run-goroutines")
				runtime.KeepAlive(bound)
				runtime.KeepAlive(run)
			}
		})
	}
}

// stackPeak samples, every 500th item started, the goroutine stacks in
// use and how many goroutines there are, keeping the most seen.
type stackPeak struct {
	mu         sync.Mutex
	n          int
	peakMB     float64
	goroutines int
}

func (s *stackPeak) Started(record.Item) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n++; s.n%500 != 1 {
		return
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.peakMB = max(s.peakMB, float64(ms.StackInuse)/(1<<20))
	s.goroutines = max(s.goroutines, runtime.NumGoroutine())
}

func (s *stackPeak) Finished(record.Item) {}
