package shell

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
)

// BenchmarkShellSelfCPU runs `true` checks two at a time and reports this
// process's own CPU a check (the commands' excluded): what the spawner
// costs the parent, the figure docs/performance.md's "round 7: exec"
// compares.
func BenchmarkShellSelfCPU(b *testing.B) {
	p := New().(*Provider)
	cfg := decode(b, p, `command = ["true"]`)
	selfCPU(b, func() error {
		_, err := p.RunResult(context.Background(), cfg)
		return err
	})
}

// BenchmarkExecTrueSelfCPU is its floor: os/exec `true`, nothing captured.
func BenchmarkExecTrueSelfCPU(b *testing.B) {
	selfCPU(b, func() error { return exec.Command("true").Run() })
}

func selfCPU(b *testing.B, op func() error) {
	b.SetParallelism(1) // GOMAXPROCS goroutines: 2 on the benchmark machine
	var r0, r1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := op(); err != nil {
				b.Error(err)
			}
		}
	})
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
	cpu := r1.Utime.Nano() + r1.Stime.Nano() - r0.Utime.Nano() - r0.Stime.Nano()
	b.ReportMetric(float64(cpu)/1e3/float64(b.N), "selfcpu-µs/op")
}
