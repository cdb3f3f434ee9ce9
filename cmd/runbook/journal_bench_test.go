package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// BenchmarkJournal10000 runs a journal through a run of 10,000 HTTP
// checks as the engine reports them (as planned, each started and
// finished, a snapshot every 500 items, the run's end and its record
// saved) and reports the bytes the journal holds once every item
// finished, the planned items given to Begin included (held-B), and
// when half of them had (held-half-B), besides the time and allocations of the whole.
func BenchmarkJournal10000(b *testing.B) {
	const n = 10000
	at := time.Now().UTC()
	planned := make([]record.Item, n)
	done := make([]record.Item, n)
	for i := range planned {
		planned[i] = record.Item{Kind: record.KindCheck, Name: fmt.Sprintf("h%d", i), Provider: "http", Status: record.Pending,
			Asserts: []record.Assert{{Condition: "self.status < 400", Severity: "critical"}}}
		d := planned[i]
		d.Status, d.StartedAt, d.Attempts, d.Action = record.Passed, &at, 1, "GET http://127.0.0.1:18771/health"
		d.Result = map[string]any{"body": `{"status":"ok"}`, "body_truncated": false, "status": 200.0,
			"headers": map[string]any{"Content-Length": "15", "Content-Type": "application/json", "Date": "Tue, 01 Dec 2026 04:49:02 GMT"},
			"json":    map[string]any{"status": "ok"}}
		d.Asserts = []record.Assert{{Condition: "self.status < 400", Passed: true, Severity: "critical"}}
		done[i] = d
	}
	old := heartbeat
	heartbeat = time.Hour
	defer func() { heartbeat = old }()
	b.Setenv("TMPDIR", b.TempDir())
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	var held, half float64
	b.ReportAllocs()
	for k := 0; k < b.N; k++ {
		store := state.NewDir(filepath.Join(b.TempDir(), "st"))
		b.StopTimer()
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		b.StartTimer()
		j := newJournal(store, io.Discard)
		// (The engine's copy of the planned items, for Begin.)
		head := record.Run{ID: record.NewRunID(at), Runbook: "r", Mode: "check", StartedAt: at}
		run := head
		run.Items = append([]record.Item(nil), planned...)
		j.Begin(&run)
		for i := range done {
			j.Started(planned[i])
			j.Finished(done[i])
			if i%500 == 499 {
				j.flushEvents(j.progress)
				j.save(j.progress)
			}
			if i == n/2-1 {
				b.StopTimer()
				var m runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&m)
				half += float64(int64(m.HeapAlloc) - int64(m0.HeapAlloc))
				b.StartTimer()
			}
		}
		j.flushEvents(j.progress)
		j.save(j.progress)
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&m1)
		if p := os.Getenv("JOURNAL_HEAP_PROFILE"); p != "" {
			if f, err := os.Create(p); err == nil {
				_ = pprof.WriteHeapProfile(f)
				f.Close()
			}
		}
		held += float64(int64(m1.HeapAlloc) - int64(m0.HeapAlloc))
		j.Close()
		b.StartTimer()
		final := head
		final.Items = done
		final.FinishedAt = time.Now().UTC()
		final.Tally()
		finishAndSave(b, a, j, store, &final)
	}
	b.ReportMetric(held/float64(b.N), "held-B")
	b.ReportMetric(half/float64(b.N), "held-half-B")
}

func finishAndSave(b *testing.B, a *app, j *journal, store state.Store, run *record.Run) {
	ctx := context.Background()
	enc := j.Finish(ctx, run)
	if err := a.saveRecord(ctx, store, run, enc); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkJournalChecks is the journal's share of each check of a run,
// as the engine reports them: 10,000 `shell` checks started and
// finished, their events appended and the record written every 300
// checks (as the flusher does every 250 ms of a run of `true` checks at
// concurrency 2). The run's start and end are not timed. ns/op and
// allocs/op are per check.
func BenchmarkJournalChecks(b *testing.B) {
	const n, every = 10000, 300
	at := time.Now().UTC()
	planned := make([]record.Item, n)
	done := make([]record.Item, n)
	for i := range planned {
		planned[i] = record.Item{Kind: record.KindCheck, Name: fmt.Sprintf("c%d", i), Provider: "shell", Status: record.Pending,
			Asserts: []record.Assert{{Condition: "self.exit_code == 0", Severity: "critical"}}}
		d := planned[i]
		d.Status, d.StartedAt, d.Attempts, d.Action, d.DurationMS = record.Passed, &at, 1, "true", 1
		d.Result = map[string]any{"exit_code": json.Number("0"), "stderr": "", "stderr_truncated": false,
			"stdout": "", "stdout_lines": []any{}, "stdout_truncated": false}
		d.Asserts = []record.Assert{{Condition: "self.exit_code == 0", Passed: true, Severity: "critical"}}
		done[i] = d
	}
	old := heartbeat
	heartbeat = time.Hour
	defer func() { heartbeat = old }()
	b.Setenv("TMPDIR", b.TempDir())
	b.ReportAllocs()
	b.ResetTimer()
	for k := 0; k < b.N; {
		b.StopTimer()
		store := state.NewDir(filepath.Join(b.TempDir(), "st"))
		j := newJournal(store, io.Discard)
		run := record.Run{ID: record.NewRunID(at), Runbook: "r", Mode: "check", StartedAt: at}
		run.Items = append([]record.Item(nil), planned...)
		j.Begin(&run)
		b.StartTimer()
		for i := 0; i < n && k < b.N; i, k = i+1, k+1 {
			j.Started(planned[i])
			j.Finished(done[i])
			if i%every == every-1 {
				j.flushEvents(j.progress)
				j.save(j.progress)
			}
		}
		j.flushEvents(j.progress)
		j.save(j.progress)
		b.StopTimer()
		j.Close()
		b.StartTimer()
	}
}
