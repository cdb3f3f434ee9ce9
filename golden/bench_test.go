package golden

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// writeShadowRun writes n pairs of realistic golden files of about 4 KB
// (NAME.json and NAME.replay.json) into dir: the replay's timestamps and
// durations differ everywhere, and every 50th pair has a real violation.
// It returns the bytes written.
func writeShadowRun(tb testing.TB, dir string, n int) int64 {
	tb.Helper()
	var total int64
	base := time.Date(2025, 12, 2, 12, 12, 19, 0, time.UTC)
	for i := range n {
		for side := range 2 {
			start := base.Add(time.Duration(i)*time.Second + time.Duration(side)*time.Hour)
			steps := make([]any, 10)
			for s := range steps {
				status := "ok"
				if side == 1 && i%50 == 0 && s == 3 {
					status = "failed"
				}
				steps[s] = map[string]any{
					"name":        fmt.Sprintf("step-%02d", s),
					"status":      status,
					"started_at":  start.Add(time.Duration(s) * time.Millisecond * 37).Format(time.RFC3339Nano),
					"duration_ms": 30 + (i*7+s*13+side*5)%50,
					"output": map[string]any{
						"count": i*10 + s,
						"score": json.Number(strconv.FormatFloat(float64(i%997)/997+float64(s)/10, 'g', -1, 64)),
						"items": []any{"alpha", "beta", "gamma", s, i % 7},
						"label": fmt.Sprintf("workflow %d step %d", i, s),
					},
				}
			}
			doc := map[string]any{
				"workflow_id": fmt.Sprintf("wf-%06d", i),
				"seed":        i * 31,
				"started_at":  start.Format(time.RFC3339Nano),
				"finished_at": start.Add(812 * time.Millisecond).Format(time.RFC3339Nano),
				"duration_ms": 800 + side*17,
				"steps":       steps,
				"result":      map[string]any{"total": int64(12345678901234567) + int64(i), "ok": true},
			}
			data, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				tb.Fatal(err)
			}
			name := fmt.Sprintf("wf-%06d.json", i)
			if side == 1 {
				name = fmt.Sprintf("wf-%06d.replay.json", i)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
				tb.Fatal(err)
			}
			total += int64(len(data))
		}
	}
	return total
}

// floorScan is the floor the comparer is measured against: read both files
// of every pair and json.Unmarshal them, with the same bounded parallelism
// and nothing else.
func floorScan(pairs []Pair, workers int) error {
	jobs := make(chan Pair)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range workers {
		wg.Go(func() {
			for p := range jobs {
				for _, path := range []string{p.Left, p.Right} {
					data, err := os.ReadFile(path)
					var v any
					if err == nil {
						err = json.Unmarshal(data, &v)
					}
					if err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
			}
		})
	}
	for _, p := range pairs {
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

// BenchmarkScan compares the comparer's throughput on 2,000 pairs of 4 KB
// golden files (about 15 MB) with the floor: read and json.Unmarshal the same
// files with the same parallelism, nothing else.
//
//	go test -run '^$' -bench Scan -benchtime 10x ./golden/
//
// Each iteration runs the floor and then the comparer, so both see the same
// machine load; the metrics are each one's wall time and CPU time per scan
// and the comparer's speed as a percentage of the floor's (wall-pct,
// cpu-pct: 100 means as fast as the floor).
func BenchmarkScan(b *testing.B) {
	dir := b.TempDir()
	size := writeShadowRun(b, dir, 2000)
	pairs, err := Pairs(dir, dir, ReplaySuffixRule)
	if err != nil {
		b.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	c, err := NewComparer(Options{})
	if err != nil {
		b.Fatal(err)
	}
	var wall, cpu [2]time.Duration
	measure := func(i int, f func()) {
		c0, t0 := cpuTime(), time.Now()
		f()
		wall[i] += time.Since(t0)
		cpu[i] += cpuTime() - c0
	}
	b.SetBytes(2 * size)
	for b.Loop() {
		measure(0, func() {
			if err := floorScan(pairs, workers); err != nil {
				b.Fatal(err)
			}
		})
		measure(1, func() {
			s := NewSummary(0)
			if err := c.Scan(context.Background(), pairs, workers, func(r *PairResult) error { s.Add(r); return nil }); err != nil {
				b.Fatal(err)
			}
			if s.Files != 2000 || s.Counts.Get(DeterminismViolation) != 40 {
				b.Fatalf("got %d files, %d violations; want 2000, 40", s.Files, s.Counts.Get(DeterminismViolation))
			}
		})
	}
	n := float64(b.N)
	b.ReportMetric(float64(wall[0].Milliseconds())/n, "floor-ms")
	b.ReportMetric(float64(wall[1].Milliseconds())/n, "compare-ms")
	b.ReportMetric(float64(cpu[0].Milliseconds())/n, "floor-cpu-ms")
	b.ReportMetric(float64(cpu[1].Milliseconds())/n, "compare-cpu-ms")
	b.ReportMetric(100*wall[0].Seconds()/wall[1].Seconds(), "wall-pct")
	b.ReportMetric(100*cpu[0].Seconds()/cpu[1].Seconds(), "cpu-pct")
}

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCompare measures one pair in memory, without file reads.
func BenchmarkCompare(b *testing.B) {
	dir := b.TempDir()
	writeShadowRun(b, dir, 1)
	left, _ := os.ReadFile(filepath.Join(dir, "wf-000000.json"))
	right, _ := os.ReadFile(filepath.Join(dir, "wf-000000.replay.json"))
	c, err := NewComparer(Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(left) + len(right)))
	b.ReportAllocs()
	for b.Loop() {
		c.Compare("x", left, right)
	}
}

// TestScanMemory100k scans 100,000 pairs of 4 KB files (800 MB on disk)
// in a child process and checks its peak RSS (VmHWM) stays under 200 MB.
// It takes minutes and disk space, so it runs only when asked:
//
//	GOLDEN_RSS=1 go test -run TestScanMemory100k -v -timeout 30m ./golden/
//
// It also times the floor (read + json.Unmarshal) on the same files in
// another child process and logs both.
func TestScanMemory100k(t *testing.T) {
	if dir := os.Getenv("GOLDEN_RSS_CHILD"); dir != "" {
		rssChild(t, dir, os.Getenv("GOLDEN_RSS_MODE"))
		return
	}
	if os.Getenv("GOLDEN_RSS") == "" {
		t.Skip("set GOLDEN_RSS=1 to scan 100,000 pairs and measure peak RSS")
	}
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("GOLDEN_RSS_PAIRS")); err == nil && v > 0 {
		n = v
	}
	dir := t.TempDir()
	start := time.Now()
	size := writeShadowRun(t, dir, n)
	t.Logf("wrote %d pairs, %.1f MB, in %s", n, float64(size)/1e6, time.Since(start).Round(time.Second))

	type sample struct {
		hwmKB     int
		wall, cpu time.Duration
	}
	run := func(mode string) sample {
		cmd := exec.Command(os.Args[0], "-test.run=^TestScanMemory100k$", "-test.v")
		cmd.Env = append(os.Environ(), "GOLDEN_RSS_CHILD="+dir, "GOLDEN_RSS_MODE="+mode)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s child: %v\n%s", mode, err, out)
		}
		cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			var s sample
			var ns int64
			if _, err := fmt.Sscanf(strings.TrimSpace(sc.Text()), "rss-result hwm_kb=%d elapsed_ns=%d", &s.hwmKB, &ns); err == nil {
				s.wall, s.cpu = time.Duration(ns), cpu
				t.Logf("%-7s %d pairs in %s wall, %s CPU (%.0f pairs/s), peak RSS %.1f MB", mode, n,
					s.wall.Round(time.Millisecond), s.cpu.Round(time.Millisecond), float64(n)/s.wall.Seconds(), float64(s.hwmKB)/1024)
				return s
			}
		}
		t.Fatalf("%s child printed no result:\n%s", mode, out)
		return sample{}
	}
	// Warm the page cache, then alternate so both see the same load.
	run("floor")
	var floor, compare []sample
	for range 2 {
		floor = append(floor, run("floor"))
		compare = append(compare, run("compare"))
	}
	best := func(ss []sample) (s sample) {
		for i, x := range ss {
			if i == 0 || x.wall < s.wall {
				s.wall = x.wall
			}
			if i == 0 || x.cpu < s.cpu {
				s.cpu = x.cpu
			}
			s.hwmKB = max(s.hwmKB, x.hwmKB)
		}
		return s
	}
	f, c := best(floor), best(compare)
	t.Logf("best of 2: compare %s wall / %s CPU, floor %s wall / %s CPU", c.wall.Round(time.Millisecond), c.cpu.Round(time.Millisecond),
		f.wall.Round(time.Millisecond), f.cpu.Round(time.Millisecond))
	t.Logf("compare throughput is %.0f%% of the floor's by wall time, %.0f%% by CPU time; peak RSS %.1f MB (floor %.1f MB)",
		100*f.wall.Seconds()/c.wall.Seconds(), 100*f.cpu.Seconds()/c.cpu.Seconds(), float64(c.hwmKB)/1024, float64(f.hwmKB)/1024)
	if c.hwmKB > 200*1024 {
		t.Errorf("peak RSS: got %.1f MB, want under 200 MB", float64(c.hwmKB)/1024)
	}
}

// rssChild runs in the child process: it lists and scans dir (or runs the
// floor) and prints its peak RSS and the elapsed time.
func rssChild(t *testing.T, dir, mode string) {
	start := time.Now()
	pairs, err := Pairs(dir, dir, ReplaySuffixRule)
	if err != nil {
		t.Fatal(err)
	}
	workers := runtime.GOMAXPROCS(0)
	switch mode {
	case "floor":
		if err := floorScan(pairs, workers); err != nil {
			t.Fatal(err)
		}
	default:
		c, err := NewComparer(Options{})
		if err != nil {
			t.Fatal(err)
		}
		s := NewSummary(0)
		if err := c.Scan(context.Background(), pairs, workers, func(r *PairResult) error { s.Add(r); return nil }); err != nil {
			t.Fatal(err)
		}
		if s.Files != len(pairs) {
			t.Fatalf("scanned %d of %d pairs", s.Files, len(pairs))
		}
	}
	elapsed := time.Since(start)
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	hwm := 0
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm, _ = strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
		}
	}
	fmt.Printf("rss-result hwm_kb=%d elapsed_ns=%d\n", hwm, elapsed.Nanoseconds())
}
