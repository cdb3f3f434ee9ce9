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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Whole-process benchmarks: the built runbook against internal/benchfloor
// doing the same work at the same parallelism. Each round times one run of
// each, alternating, and the benchmark reports the median ratio; absolute
// times on shared machines are not comparable, ratios are. Peak RSS is
// measured in one more run of each runbook command (see peakMB); load does
// not change it. Run them all
// with `make bench`, or one with
// `go test -run '^$' -bench 'Process/Shell1000' -benchtime 1x ./cmd/runbook`.

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

// measure is one run of a command: wall time and CPU time (user +
// system, its waited-for children included).
type measure struct {
	wall, cpu time.Duration
}

// timeCmd runs a command to completion and measures it.
func timeCmd(b *testing.B, dir string, name string, args ...string) measure {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	el := time.Since(start)
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, lastLines(string(out), 20))
	}
	return measure{wall: el, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// peakMB runs a command once under `benchfloor -mode rss`, which reports
// its peak RSS without counting this process's memory, and returns it in
// MB.
func peakMB(b *testing.B, dir string, args []string) float64 {
	cmd := exec.Command(floorBinary(b), append([]string{"-mode", "rss", "--"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("%v: %v\n%s", args, err, out)
	}
	kb, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil {
		b.Fatalf("benchfloor -mode rss said %q: %v", out, err)
	}
	return kb / 1024
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

// row is one line of the summary table printed after BenchmarkProcess.
type row struct {
	work, target                  string
	floorMS, runbookMS, wall, cpu float64
	rssMB                         float64
	timed                         bool
}

// compare alternates the two commands for rounds rounds and reports the
// median ratios and runbook's peak RSS.
func compare(b *testing.B, rounds int, dir string, runbook, floor []string) row {
	var ratios, cpuRatios, rt, ft []float64
	for i := 0; i < rounds; i++ {
		r := timeCmd(b, dir, runbook[0], runbook[1:]...)
		f := timeCmd(b, dir, floor[0], floor[1:]...)
		ratios = append(ratios, float64(r.wall)/float64(f.wall))
		cpuRatios = append(cpuRatios, float64(r.cpu)/float64(f.cpu))
		rt = append(rt, float64(r.wall.Microseconds())/1000)
		ft = append(ft, float64(f.wall.Microseconds())/1000)
	}
	rss := peakMB(b, dir, runbook)
	res := row{floorMS: median(ft), runbookMS: median(rt), wall: median(ratios), cpu: median(cpuRatios), rssMB: rss, timed: true}
	b.ReportMetric(res.wall, "x-floor")
	b.ReportMetric(res.cpu, "x-floor-cpu")
	b.ReportMetric(res.runbookMS, "runbook-ms")
	b.ReportMetric(res.floorMS, "floor-ms")
	b.ReportMetric(res.rssMB, "peak-MB")
	return res
}

// peak runs a command rounds times and reports its median wall time and
// its peak RSS.
func peak(b *testing.B, rounds int, dir string, args ...string) row {
	var ms []float64
	for r := 0; r < rounds; r++ {
		m := timeCmd(b, dir, args[0], args[1:]...)
		ms = append(ms, float64(m.wall.Microseconds())/1000)
	}
	res := row{runbookMS: median(ms), rssMB: peakMB(b, dir, args)}
	b.ReportMetric(res.runbookMS, "runbook-ms")
	b.ReportMetric(res.rssMB, "peak-MB")
	return res
}

func generate(n int, block func(i int) string) string {
	var sb strings.Builder
	sb.WriteString("runbook \"bench\" {}\n\n")
	for i := 0; i < n; i++ {
		sb.WriteString(block(i))
	}
	return sb.String()
}

func shellBlock(i int) string {
	return fmt.Sprintf("check \"c%d\" {\n  shell {\n    command = [\"true\"]\n  }\n}\n\n", i)
}

// validateBlock is a check with every shared setting a real one has.
func validateBlock(i int) string {
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
}

// BenchmarkProcess runs every whole-process comparison as a sub-benchmark
// (Shell1000, HTTP1000, Shell10000, HTTP10000, Startup, ValidateShell10000,
// ValidateHTTP10000, Validate1000, Validate10000) and prints the summary table that docs/performance.md
// shows. `make bench` runs it; the whole takes about two minutes on two
// cores.
func BenchmarkProcess(b *testing.B) {
	bin, floor := binary(b), floorBinary(b)
	p := fmt.Sprint(runtime.NumCPU())
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	url := srv.URL + "/health"
	httpBlock := func(i int) string {
		return fmt.Sprintf("check \"h%d\" {\n  http {\n    url = %q\n  }\n}\n\n", i, url)
	}
	files := map[string]string{
		"one.hcl":  generate(1, shellBlock),
		"s1k.hcl":  generate(1000, shellBlock),
		"s10k.hcl": generate(10000, shellBlock),
		"h1k.hcl":  generate(1000, httpBlock),
		"h10k.hcl": generate(10000, httpBlock),
		"v1k.hcl":  generate(1000, validateBlock),
	}
	// 10,000 checks with every setting are 2.5 MB: over the 1 MiB a file
	// may have, so a directory of four files.
	for f := 0; f < 4; f++ {
		var sb strings.Builder
		if f == 0 {
			sb.WriteString("runbook \"bench\" {}\n\n")
		}
		for i := f * 2500; i < (f+1)*2500; i++ {
			sb.WriteString(validateBlock(i))
		}
		files[fmt.Sprintf("v10k/part%d.hcl", f)] = sb.String()
	}
	dir := writeFilesB(b, files)
	check := func(file string) []string {
		return []string{bin, "check", file, "--concurrency", p, "--state", filepath.Join(dir, "state")}
	}
	floorArgs := func(mode string, n int) []string {
		return []string{floor, "-mode", mode, "-url", url, "-n", fmt.Sprint(n), "-p", p}
	}

	var rows []row
	add := func(name string, f func(b *testing.B) row) {
		var r row
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r = f(b)
			}
		})
		rows = append(rows, r)
	}
	timedRow := func(work, target, file, mode string, n, rounds int) func(b *testing.B) row {
		return func(b *testing.B) row {
			r := compare(b, rounds, dir, check(file), floorArgs(mode, n))
			r.work, r.target = work, target
			return r
		}
	}
	add("Shell1000", timedRow("1,000 × exec `true`", "≤ 1.10×", "s1k.hcl", "exec", 1000, 7))
	add("HTTP1000", timedRow("1,000 HTTP GETs, loopback", "≤ 1.40×", "h1k.hcl", "http", 1000, 7))
	add("Shell10000", timedRow("10,000 × exec `true`", "≤ 1.05×", "s10k.hcl", "exec", 10000, 3))
	add("HTTP10000", timedRow("10,000 HTTP GETs, loopback", "≤ 1.30×", "h10k.hcl", "http", 10000, 5))
	add("Startup", timedRow("start-up, 1 check (vs floor -n 1)", "≤ 1.6×", "one.hcl", "exec", 1, 15))
	validate := func(work, file string) func(b *testing.B) row {
		return func(b *testing.B) row {
			r := peak(b, 5, dir, bin, "validate", file)
			r.work = work
			return r
		}
	}
	add("ValidateShell10000", validate("validate, 10,000 exec checks", "s10k.hcl"))
	add("ValidateHTTP10000", validate("validate, 10,000 http checks", "h10k.hcl"))
	add("Validate1000", validate("validate, 1,000 http checks with assert and retry", "v1k.hcl"))
	add("Validate10000", validate("validate, 10,000 http checks with assert and retry (4 files)", "v10k"))

	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\n| work | floor | runbook | wall / floor | CPU / floor | peak RSS | target |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		if r.work == "" {
			continue // not selected
		}
		if r.timed {
			fmt.Printf("| %s | %.0f ms | %.0f ms | %.2f× | %.2f× | %.0f MB | %s |\n", r.work, r.floorMS, r.runbookMS, r.wall, r.cpu, r.rssMB, r.target)
		} else {
			fmt.Printf("| %s | — | %.0f ms | — | — | %.0f MB | |\n", r.work, r.runbookMS, r.rssMB)
		}
	}
	fmt.Printf("\nload average: %s\n", strings.TrimSpace(string(load)))
}

func writeFilesB(b *testing.B, files map[string]string) string {
	dir := b.TempDir()
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}
