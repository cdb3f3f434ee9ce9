package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Whole-process benchmarks: the built runbook against internal/benchfloor
// doing the same work at the same parallelism. Each round times one run of
// each, alternating, and the benchmark reports the median ratio; absolute
// times on shared machines are not comparable, ratios are. Run with
// `make bench` (-benchtime 1x: each benchmark does its own rounds).

const benchRounds = 7

var (
	floorOnce sync.Once
	floorPath string
	floorErr  error
)

func floorBinary(b *testing.B) string {
	floorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "benchfloor")
		if err != nil {
			floorErr = err
			return
		}
		floorPath = filepath.Join(dir, "benchfloor")
		if out, err := exec.Command("go", "build", "-o", floorPath, "../../internal/benchfloor").CombinedOutput(); err != nil {
			floorErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if floorErr != nil {
		b.Fatal(floorErr)
	}
	return floorPath
}

// timeCmd runs a command to completion and returns its wall time and CPU
// time (user + system, its waited-for children included).
func timeCmd(b *testing.B, dir string, name string, args ...string) (time.Duration, time.Duration) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(start)
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, lastLines(string(out), 20))
	}
	return el, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// compare alternates the two commands and reports the median ratio.
func compare(b *testing.B, dir string, runbook, floor []string) {
	var ratios, cpuRatios, rt, ft []float64
	for i := 0; i < benchRounds; i++ {
		r, rc := timeCmd(b, dir, runbook[0], runbook[1:]...)
		f, fc := timeCmd(b, dir, floor[0], floor[1:]...)
		ratios = append(ratios, float64(r)/float64(f))
		cpuRatios = append(cpuRatios, float64(rc)/float64(fc))
		rt = append(rt, float64(r.Milliseconds()))
		ft = append(ft, float64(f.Milliseconds()))
	}
	b.ReportMetric(median(ratios), "x-floor")
	b.ReportMetric(median(cpuRatios), "x-floor-cpu")
	b.ReportMetric(median(rt), "runbook-ms")
	b.ReportMetric(median(ft), "floor-ms")
}

func generate(n int, block func(i int) string) string {
	var sb strings.Builder
	sb.WriteString("runbook \"bench\" {}\n\n")
	for i := 0; i < n; i++ {
		sb.WriteString(block(i))
	}
	return sb.String()
}

func BenchmarkProcessShell1000(b *testing.B) {
	bin, floor := binary(b), floorBinary(b)
	p := runtime.NumCPU()
	dir := writeFilesB(b, map[string]string{"bench.hcl": generate(1000, func(i int) string {
		return fmt.Sprintf("check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n\n", i)
	})})
	for i := 0; i < b.N; i++ {
		compare(b, dir,
			[]string{bin, "check", "bench.hcl", "--concurrency", fmt.Sprint(p), "--state", filepath.Join(dir, "state")},
			[]string{floor, "-mode", "exec", "-n", "1000", "-p", fmt.Sprint(p)})
	}
}

func BenchmarkProcessHTTP1000(b *testing.B) {
	bin, floor := binary(b), floorBinary(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	p := runtime.NumCPU()
	dir := writeFilesB(b, map[string]string{"bench.hcl": generate(1000, func(i int) string {
		return fmt.Sprintf("check \"h%d\" {\n  http {\n    url = %q\n  }\n}\n\n", i, srv.URL+"/health")
	})})
	for i := 0; i < b.N; i++ {
		compare(b, dir,
			[]string{bin, "check", "bench.hcl", "--concurrency", fmt.Sprint(p), "--state", filepath.Join(dir, "state")},
			[]string{floor, "-mode", "http", "-url", srv.URL + "/health", "-n", "1000", "-p", fmt.Sprint(p)})
	}
}

// BenchmarkProcessValidate1000 times `runbook validate` of a 1000-check
// runbook, whole process (target: under 100 ms).
func BenchmarkProcessValidate1000(b *testing.B) {
	bin := binary(b)
	dir := writeFilesB(b, map[string]string{"bench.hcl": generate(1000, func(i int) string {
		return fmt.Sprintf(`check "c%d" {
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
	})})
	for i := 0; i < b.N; i++ {
		var ms []float64
		for r := 0; r < benchRounds; r++ {
			el, _ := timeCmd(b, dir, bin, "validate", "bench.hcl")
			ms = append(ms, float64(el.Microseconds())/1000)
		}
		b.ReportMetric(median(ms), "validate-ms")
	}
}

func writeFilesB(b *testing.B, files map[string]string) string {
	dir := b.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
