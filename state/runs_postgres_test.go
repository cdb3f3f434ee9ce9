package state

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/record"
)

// TestNewestRunDoesNotReadTheWholeHistory: reading the newest run
// (history --limit N, exec --resume last, report without RUN: Runs with a
// callback that stops) reads a page, not every matching record. Here:
// 40,000 watch records of ~6 kB (240 MB), which take about 0.5 s to read
// in full on a loopback link, against a 200 ms call deadline, which a
// drain of the rest of the history would run into (throwing its
// connection away).
func TestNewestRunDoesNotReadTheWholeHistory(t *testing.T) {
	ctx := context.Background()
	dsn := newDatabase(t)
	openPostgres(t, dsn).Close()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	start := time.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO runbook.runs (id, runbook, status, started_at, record)
SELECT 'w' || lpad(i::text, 8, '0'), 'shadow', 'passed', now() - make_interval(secs => 100000 - i),
	jsonb_build_object('id', 'w' || lpad(i::text, 8, '0'), 'runbook', 'shadow', 'mode', 'watch', 'status', 'passed',
		'items', jsonb_build_array(jsonb_build_object('kind', 'check', 'name', 'c', 'status', 'passed',
			'result', jsonb_build_object('stdout', repeat(md5(i::text), 190)))))
FROM generate_series(1, 40000) i`); err != nil {
		t.Fatal(err)
	}
	t.Logf("inserted in %v", time.Since(start))
	p := openWith(t, dsn, PostgresOptions{Timeout: 200 * time.Millisecond})
	start = time.Now()
	n := 0
	conns := p.pool.Stat().NewConnsCount()
	err = p.Runs(ctx, Filter{}, func(RunEntry) bool { n++; return false })
	took := time.Since(start)
	t.Logf("Runs stopping at the first entry: %d entries, %v, took %v", n, err, took)
	if err != nil || took >= 200*time.Millisecond {
		t.Errorf("reading the newest run took the whole deadline (%v, %v): the rest of the history was drained", took, err)
	}
	if err := p.Runs(ctx, Filter{}, func(RunEntry) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if got := p.pool.Stat().NewConnsCount() - conns; got > 0 {
		t.Errorf("%d new connections: the drain cut by the deadline closed the pooled one", got)
	}
}

// TestRunsPagesThroughTheHistory: Runs reads a history longer than a page
// in full, newest first, with the filters applied across pages.
func TestRunsPagesThroughTheHistory(t *testing.T) {
	ctx := context.Background()
	p := openPostgres(t, newDatabase(t))
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const n = 2*runsPage + 17
	for i := range n {
		r := testRun(fmt.Sprintf("20260102T030405Z-%04d", i), record.Passed)
		// Pairs of runs share a start time: the id orders them.
		r.StartedAt = start.Add(time.Duration(i/2) * time.Second)
		r.FinishedAt = r.StartedAt.Add(time.Second)
		r.Mode = "check"
		if i%3 == 0 {
			r.Mode = "watch"
		}
		if i%5 == 0 {
			r.Status = record.Failed
		}
		if _, err := p.SaveRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		f    Filter
		want func(i int) bool
	}{
		{"all", Filter{}, func(int) bool { return true }},
		{"watch", Filter{Mode: "watch"}, func(i int) bool { return i%3 == 0 }},
		{"failed", Filter{Status: record.Failed}, func(i int) bool { return i%5 == 0 }},
		{"failed checks", Filter{Mode: "check", Status: record.Failed}, func(i int) bool { return i%5 == 0 && i%3 != 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want, got []string
			for i := n - 1; i >= 0; i-- {
				if tt.want(i) {
					want = append(want, fmt.Sprintf("20260102T030405Z-%04d", i))
				}
			}
			err := p.Runs(ctx, tt.f, func(e RunEntry) bool {
				got = append(got, e.ID)
				return true
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Runs(%+v) (-want +got):\n%s", tt.f, diff)
			}
		})
	}
}
