package record

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// encodedTestRun is a record whose items need both encoders: by hand,
// and encoding/json (an answer).
func encodedTestRun() *Run {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	msg := "boom <b> \"quoted\""
	return &Run{
		ID: "20261201T030405Z-enc", Runbook: "r", Mode: "exec", Operator: "ann", StartedAt: at, Status: Running,
		Items: []Item{
			{Kind: KindCheck, Name: "a", Provider: "http", Status: Passed, StartedAt: &at, Result: map[string]any{"status": 200.0, "body": "<ok>"}},
			{Kind: KindStep, Name: "b", Status: Passed, Manual: true, Answer: &Answer{Status: Passed, Operator: "ann", AnsweredAt: at}},
			{Kind: KindCheck, Name: "c", Provider: "shell", Status: Failed, Error: &msg},
		},
	}
}

// TestEncodedRunAgrees holds an EncodedRun, whole or in pieces, to
// MarshalRun, and the items SetRunDataItems returns to MarshalItem.
func TestEncodedRunAgrees(t *testing.T) {
	r := encodedTestRun()
	want, err := MarshalRun(r)
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	items, err := e.SetRunDataItems(r)
	if err != nil || string(e.Data) != string(want) {
		t.Fatalf("SetRunDataItems: %s (%v), want %s", e.Data, err, want)
	}
	if len(items) != len(r.Items) {
		t.Fatalf("%d items, want %d", len(items), len(r.Items))
	}
	for i := range items {
		one, err := MarshalItem(&r.Items[i])
		if err != nil || string(items[i]) != string(one) {
			t.Errorf("item %d: %s, want %s (%v)", i, items[i], one, err)
		}
		if cap(items[i]) != len(items[i]) {
			t.Errorf("item %d has room after it: appending to it would write into the record", i)
		}
	}
	canon, ok := appendCanonical(nil, want, "")
	if !ok || string(e.canonicalData()) != string(canon) {
		t.Fatalf("canonical form: %s, want %s", e.canonicalData(), canon)
	}
	pieces, err := EncodeRun(r, items)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	compact, _ := r.MarshalCompact()
	for name, enc := range map[string]EncodedRun{"whole": Encoded(want), "pieces": pieces} {
		if got := enc.Bytes(); string(got) != string(want) || enc.Len() != len(want) {
			t.Errorf("%s: Bytes %s (Len %d), want %s", name, got, enc.Len(), want)
		}
		var buf bytes.Buffer
		if _, err := enc.WriteTo(&buf); err != nil || buf.String() != string(want) {
			t.Errorf("%s: WriteTo %s (%v), want %s", name, buf.Bytes(), err, want)
		}
		for _, sync := range []bool{false, true} {
			path := filepath.Join(dir, name+".json")
			if err := WriteEncodedAtomic(path, enc, 0o600, sync); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); string(got) != string(compact) {
				t.Errorf("%s: file %s, want MarshalCompact's %s", name, got, compact)
			}
		}
	}
	// Without items: none, or nil.
	for _, items := range [][][]byte{{}, nil} {
		empty := *r
		empty.Items = []Item{}
		if items == nil {
			empty.Items = nil
		}
		enc, err := EncodeRun(&empty, items)
		if want, _ := MarshalRun(&empty); err != nil || string(enc.Bytes()) != string(want) {
			t.Errorf("no items: %s (%v), want %s", enc.Bytes(), err, want)
		}
	}
}

// TestSummaryCount counts as Tally does.
func TestSummaryCount(t *testing.T) {
	r := &Run{Items: []Item{{Status: Passed}, {Status: Failed, Informational: true}, {Status: Skipped, Informational: true}, {Status: Running}, {Status: Declined}, {Status: Warning}}}
	r.Tally()
	var s Summary
	for _, it := range r.Items {
		s.Count(it.Status, it.Informational)
	}
	if s != r.Summary {
		t.Fatalf("Count: %+v, Tally: %+v", s, r.Summary)
	}
}

// TestEncodedRunWriteToAllocations: writing a record from its items'
// encodings allocates nothing for each item (a journal writes every
// item at every snapshot).
func TestEncodedRunWriteToAllocations(t *testing.T) {
	r := encodedTestRun()
	var e Event
	items, err := e.SetRunDataItems(r)
	if err != nil {
		t.Fatal(err)
	}
	for len(items) < 1000 {
		items = append(items, items[0])
	}
	head := *r
	head.Items = nil
	enc, err := EncodeRun(&head, items)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.Grow(enc.Len() * 2)
	allocs := testing.AllocsPerRun(10, func() {
		buf.Reset()
		if _, err := enc.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("writing a record of %d items allocated %v times, want at most 1", len(items), allocs)
	}
}

// TestItemTimeAllocations: an item's times are written without a slice
// of their own each (as MarshalJSON would make).
func TestItemTimeAllocations(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	it := Item{Kind: KindCheck, Name: "a", Provider: "shell", Status: Passed, StartedAt: &at}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := appendItem(buf[:0], &it); !ok {
			t.Fatal("not written by hand")
		}
		if _, ok := appendCanonicalItem(buf[:0], &it); !ok {
			t.Fatal("not written by hand")
		}
	})
	if allocs > 0 {
		t.Errorf("writing an item and its canonical form allocated %v times, want 0", allocs)
	}
}
