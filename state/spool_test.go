package state

import (
	"context"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// finishesDuringFlush is a real directory store on which the spooled
// run's own final save lands between Flush's LoadRun (which finds the
// run not finished yet) and Flush's SaveRun: what happens when a run ends
// while another process (a watch cycle, the next command) flushes the
// spool that holds the run's journal.
type finishesDuringFlush struct {
	Store
	final *record.Run
	done  bool
}

func (s *finishesDuringFlush) LoadRun(ctx context.Context, ref string) (*record.Run, error) {
	r, err := s.Store.LoadRun(ctx, ref)
	if !s.done && ref == s.final.ID {
		s.done = true
		if _, serr := s.Store.SaveRun(ctx, s.final); serr != nil {
			panic(serr)
		}
	}
	return r, err
}

// TestFlushKeepsAFinalRecordSavedMeanwhile: Flush's look at the stored
// record and its save are two calls; a final record stored between them
// is not replaced by the older spooled journal (which Settle would later
// show as abandoned): the store's save refuses it.
func TestFlushKeepsAFinalRecordSavedMeanwhile(t *testing.T) {
	ctx := context.Background()
	dir := NewDir(t.TempDir())
	sp := Spool{Dir: t.TempDir()}
	running := testRun("20261130T232034.123456Z-00000000000000a1", record.Running)
	running.FinishedAt = time.Time{}
	final := testRun(running.ID, record.Passed)
	store := &finishesDuringFlush{Store: dir, final: final}
	if _, err := sp.Put(store, running); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Flush(ctx, store); err != nil {
		t.Fatal(err)
	}
	got, err := dir.LoadRun(ctx, running.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != record.Passed {
		t.Errorf("stored status %q: the run's final record was replaced by its older spooled journal", got.Status)
	}
	if left := sp.Pending(dir); len(left) != 0 {
		t.Errorf("still spooled: %v", left)
	}
}

// respoolsDuringSave is a real directory store on which the run's own
// journal is spooled again (a newer copy) while Flush saves the older one.
type respoolsDuringSave struct {
	Store
	spool Spool
	newer *record.Run
}

func (s *respoolsDuringSave) SaveRun(ctx context.Context, run *record.Run) (string, error) {
	where, err := s.Store.SaveRun(ctx, run)
	if s.newer != nil {
		if _, perr := s.spool.Put(s, s.newer); perr != nil {
			panic(perr)
		}
		s.newer = nil
	}
	return where, err
}

// TestFlushKeepsACopySpooledAgainMeanwhile: a newer copy of a run spooled
// while Flush saved the older one stays in the spool for the next flush.
func TestFlushKeepsACopySpooledAgainMeanwhile(t *testing.T) {
	ctx := context.Background()
	dir := NewDir(t.TempDir())
	sp := Spool{Dir: t.TempDir()}
	older := testRun("20261130T232034.123456Z-00000000000000a2", record.Running)
	older.FinishedAt = time.Time{}
	newer := testRun(older.ID, record.Running)
	newer.FinishedAt = time.Time{}
	newer.UpdatedAt = older.StartedAt.Add(time.Minute)
	store := &respoolsDuringSave{Store: dir, spool: sp, newer: newer}
	if _, err := sp.Put(store, older); err != nil {
		t.Fatal(err)
	}
	if _, err := sp.Flush(ctx, store); err != nil {
		t.Fatal(err)
	}
	if left := sp.Pending(store); len(left) != 1 {
		t.Fatalf("spooled after the flush: %v, want the newer copy", left)
	}
	if _, err := sp.Flush(ctx, store); err != nil {
		t.Fatal(err)
	}
	got, err := dir.LoadRun(ctx, older.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.UpdatedAt.Equal(newer.UpdatedAt) {
		t.Errorf("stored journal of %v, want the newer one of %v", got.UpdatedAt, newer.UpdatedAt)
	}
}

// TestFlushEndsWithItsContext: a cancelled flush stores nothing and
// leaves the records spooled.
func TestFlushEndsWithItsContext(t *testing.T) {
	dir := NewDir(t.TempDir())
	sp := Spool{Dir: t.TempDir()}
	if _, err := sp.Put(dir, testRun("20261130T232034.123456Z-00000000000000a3", record.Passed)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done, err := sp.Flush(ctx, dir)
	if err == nil || len(done) != 0 {
		t.Errorf("Flush with a cancelled context: stored %v, %v", done, err)
	}
	if left := sp.Pending(dir); len(left) != 1 {
		t.Errorf("spooled: %v", left)
	}
}
