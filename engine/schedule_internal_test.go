package engine

import (
	"testing"
	"time"
)

// A cron that never fires again leaves its check never due (not due at
// every cycle): its next time is zero.
func TestScheduleNeverFiringIsNeverDue(t *testing.T) {
	sched, err := scheduleParser.Parse("0 0 30 2 *")
	if err != nil {
		t.Fatal(err)
	}
	s := &Schedule{Cron: "0 0 30 2 *", cron: sched}
	last := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	if s.Due(last, last.Add(time.Minute)) {
		t.Fatalf("cron %q is due a minute after it ran (next %v)", s.Cron, s.Next(last))
	}
	if !s.Due(time.Time{}, last) {
		t.Fatal("a check that never ran is not due")
	}
}
