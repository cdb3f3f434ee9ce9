package record

import (
	"bytes"
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// sealByChain is what Sealer.Seal must agree with: Chain, then
// json.Marshal of the chained event.
func sealByChain(prev *Event, e Event) (Event, []byte, error) {
	if err := Chain(prev, &e); err != nil {
		return e, nil, err
	}
	line, err := json.Marshal(e)
	return e, line, err
}

// TestSealerAgrees: the sealer chains and encodes events exactly as Chain
// and json.Marshal do, whatever their strings and data hold.
func TestSealerAgrees(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	it := Item{Kind: KindCheck, Name: "h1", Provider: "http", Action: "GET http://x/", Status: Passed, StartedAt: &now, Attempts: 1,
		Result:  map[string]any{"body": `{"status":"ok"}`, "headers": map[string]any{"Content-Type": "application/json"}, "json": map[string]any{"status": "ok"}, "status": 200.0},
		Asserts: []Assert{{Condition: "self.status < 400", Passed: true, Severity: "critical"}}}
	item, _ := json.Marshal(it)
	cases := []Event{
		{Type: EventItemFinished, Item: "check.h1", OccurredAt: now, RecordedAt: now, Surface: SurfaceEngine, Data: item},
		{Type: EventItemStarted, Item: "check.h1", OccurredAt: now, RecordedAt: now, Surface: SurfaceEngine, Data: json.RawMessage(`{"kind":"check"}`)},
		{Type: EventAnswer, Item: "step.<a&b>", OccurredAt: now.In(time.FixedZone("x", 3600)), RecordedAt: now, Actor: "ann \"the\" <op>\n\t\x01\u2028é\xff", Surface: "terminal", Data: json.RawMessage(`"yes"`)},
		{Type: EventStop, OccurredAt: now, RecordedAt: now},
		{Type: "", OccurredAt: time.Time{}, RecordedAt: now, Data: json.RawMessage(`null`)},
		// Data as json.Marshal would not write it: compacted and escaped.
		{Type: EventScore, OccurredAt: now, RecordedAt: now, Data: json.RawMessage(" { \"b\" : [1, 2],\n \"a\" : \"<x> & \u2028\" } ")},
		{Type: EventScore, OccurredAt: now, RecordedAt: now, Data: json.RawMessage(`{"s":"tab\there \"q\" \/ \u00e9 \ud83d\ude00 \u003c \u0001","a":{"z":1,"y":2},"e":"\xff"}`)},
		{Type: EventScore, OccurredAt: now, RecordedAt: now, Data: json.RawMessage(`{"a":1,"a":2,"\u0061":3}`)},
	}
	for i, e := range cases {
		for _, prev := range []*Event{nil, {Seq: 7, Hash: "abc"}} {
			want, wantLine, wantErr := sealByChain(prev, e)
			var s Sealer
			got := e
			line, err := s.Seal([]byte("x"), prev, &got)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("case %d: error %v, want %v", i, err, wantErr)
			}
			if err != nil {
				continue
			}
			if !bytes.Equal(line, append([]byte("x"), wantLine...)) {
				t.Errorf("case %d: line\n%s\nwant\nx%s", i, line, wantLine)
			}
			if got.Seq != want.Seq || got.Prev != want.Prev || got.Hash != want.Hash {
				t.Errorf("case %d: sealed as %d %q %q, want %d %q %q", i, got.Seq, got.Prev, got.Hash, want.Seq, want.Prev, want.Hash)
			}
			if h, err := HashEvent(line[1:]); err != nil || h != got.Hash {
				t.Errorf("case %d: the line hashes to %s (%v), not %s", i, h, err, got.Hash)
			}
		}
	}
	// What json cannot encode is an error, as with Chain.
	var s Sealer
	bad := Event{Type: EventScore, OccurredAt: now, RecordedAt: now, Data: json.RawMessage(`{"a":}`)}
	if _, err := s.Seal(nil, nil, &bad); err == nil {
		t.Error("data that is not JSON sealed")
	}
	far := Event{Type: EventScore, OccurredAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), RecordedAt: now}
	if _, err := s.Seal(nil, nil, &far); err == nil {
		t.Error("a time json cannot encode sealed")
	}
}

func FuzzSealer(f *testing.F) {
	for _, in := range canonicalCases {
		f.Add("actor", []byte(in))
	}
	f.Add("<\u2028\xff\"", []byte(`{"x":"\u003c"}`))
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, actor string, data []byte) {
		e := Event{Type: EventScore, Item: actor, Actor: actor, OccurredAt: now, RecordedAt: now, Data: data}
		want, wantLine, wantErr := sealByChain(&Event{Seq: 1, Hash: "h"}, e)
		var s Sealer
		line, err := s.Seal(nil, &Event{Seq: 1, Hash: "h"}, &e)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("error %v, want %v", err, wantErr)
		}
		if err == nil && (!bytes.Equal(line, wantLine) || e.Hash != want.Hash) {
			t.Fatalf("line %s hash %s, want %s hash %s", line, e.Hash, wantLine, want.Hash)
		}
	})
}

// BenchmarkSealItemEvent seals an HTTP check's item.finished event as the
// journal does; "chain" is Chain and json.Marshal, which it replaced.
func BenchmarkSealItemEvent(b *testing.B) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	it := Item{Kind: KindCheck, Name: "h1", Provider: "http", Action: "GET http://127.0.0.1:8000/health", Status: Passed, StartedAt: &now, Attempts: 1,
		Result: map[string]any{"body": `{"status":"ok"}`, "body_truncated": false, "headers": map[string]any{"Content-Length": "15", "Content-Type": "application/json", "Date": "Tue, 01 Dec 2026 02:43:36 GMT"},
			"json": map[string]any{"status": "ok"}, "status": 200.0},
		Asserts: []Assert{{Condition: "self.status < 400", Passed: true, Severity: "critical"}}}
	data, _ := json.Marshal(it)
	e := Event{Type: EventItemFinished, Item: "check.h1", OccurredAt: now, RecordedAt: now, Surface: SurfaceEngine, Data: data}
	prev := &Event{Seq: 3, Hash: "8e4904c8b50546e3b14a2edeb79eb8639e68011823fa520b902b8452ee8267a0"}
	b.Run("sealer", func(b *testing.B) {
		b.ReportAllocs()
		var s Sealer
		var buf []byte
		for i := 0; i < b.N; i++ {
			ev := e
			var err error
			if buf, err = s.Seal(buf[:0], prev, &ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("chain", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, _, err := sealByChain(prev, e); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSealerAllocations: sealing an item event written by SetItemData
// allocates its line and its hash, nothing more (the times are written
// in the sealer's scratch space, the line at its size).
func TestSealerAllocations(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	it := Item{Kind: KindCheck, Name: "c1", Provider: "shell", Action: "true", Status: Passed, StartedAt: &now, Attempts: 1,
		Result:  map[string]any{"exit_code": json.Number("0"), "stdout": "", "stdout_lines": []any{}},
		Asserts: []Assert{{Condition: "self.exit_code == 0", Passed: true, Severity: "critical"}}}
	e := Event{Type: EventItemFinished, Item: "check.c1", OccurredAt: now, RecordedAt: now, Surface: SurfaceEngine}
	if err := e.SetItemData(&it); err != nil {
		t.Fatal(err)
	}
	prev := &Event{Seq: 3, Hash: "8e4904c8b50546e3b14a2edeb79eb8639e68011823fa520b902b8452ee8267a0"}
	var s Sealer
	ev := e
	if _, err := s.Seal(nil, prev, &ev); err != nil { // (the scratch space grows once)
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		ev := e
		if _, err := s.Seal(nil, prev, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("sealing an item event allocated %v times, want 2 (its line and its hash)", allocs)
	}
}

// TestSealerHashesALargeRecordInPlace: an event holding a whole record
// (the run's first and last) is sealed as Chain and json.Marshal seal
// it, without a copy of the record's canonical form in the sealer's
// scratch space.
func TestSealerHashesALargeRecordInPlace(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	run := &Run{ID: "r1", Runbook: "big", Status: Running, StartedAt: now}
	for i := range 2000 {
		run.Items = append(run.Items, Item{Kind: KindCheck, Name: "c" + strconv.Itoa(i), Provider: "http", Action: "GET http://x/<&>", Status: Pending})
	}
	e := Event{Type: EventRunStarted, OccurredAt: now, RecordedAt: now, Actor: "ann", Surface: SurfaceEngine}
	if err := e.SetRunData(run); err != nil {
		t.Fatal(err)
	}
	if len(e.canonicalData()) <= spliceAbove {
		t.Fatalf("the record's canonical form is %d bytes, not more than %d", len(e.canonicalData()), spliceAbove)
	}
	for _, prev := range []*Event{nil, {Seq: 7, Hash: "abc"}} {
		want, wantLine, err := sealByChain(prev, e)
		if err != nil {
			t.Fatal(err)
		}
		var s Sealer
		got := e
		line, err := s.Seal(nil, prev, &got)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(line, wantLine) || got.Hash != want.Hash || got.Seq != want.Seq {
			t.Errorf("sealed as %d %s, want %d %s (lines equal: %v)", got.Seq, got.Hash, want.Seq, want.Hash, bytes.Equal(line, wantLine))
		}
		if c := cap(s.canon); c > 4096 {
			t.Errorf("the sealer's scratch space holds %d bytes: a copy of the record", c)
		}
		// The sealer reused for a small event after it.
		small := Event{Type: EventStop, OccurredAt: now, RecordedAt: now, Data: json.RawMessage(`{"a":1}`)}
		want, wantLine, _ = sealByChain(&got, small)
		if line, err := s.Seal(nil, &got, &small); err != nil || !bytes.Equal(line, wantLine) || small.Hash != want.Hash {
			t.Errorf("the next event sealed as %s (%v), want %s", line, err, wantLine)
		}
	}
}
