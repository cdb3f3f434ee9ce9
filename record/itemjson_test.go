package record

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// checkMarshalItem fails unless SetItemData sets what json.Marshal
// writes (or fails where it fails), with beside it the canonical form
// appendCanonical makes of those bytes, and unless Sealer seals the
// event as it does one whose data it reads.
func checkMarshalItem(t testing.TB, it Item) {
	t.Helper()
	want, wantErr := json.Marshal(it)
	var e Event
	err := e.SetItemData(&it)
	if (err != nil) != (wantErr != nil) || string(e.Data) != string(want) {
		t.Fatalf("SetItemData:\ngot  %s (%v)\nwant %s (%v)", e.Data, err, want, wantErr)
	}
	if err != nil {
		return
	}
	if e.canonData != nil {
		if canon, ok := appendCanonical(nil, e.Data, ""); !ok || string(canon) != string(e.canonData) {
			t.Fatalf("canonical form:\ngot  %s\nwant %s (ok %v)", e.canonData, canon, ok)
		}
	}
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	e.Type, e.Item, e.OccurredAt, e.RecordedAt = EventItemFinished, "check.x", at, at
	plain := Event{Type: e.Type, Item: e.Item, OccurredAt: at, RecordedAt: at, Data: bytes.Clone(e.Data)}
	var s1, s2 Sealer
	prev := &Event{Seq: 1, Hash: "h"}
	got, err1 := s1.Seal(nil, prev, &e)
	want, err2 := s2.Seal(nil, prev, &plain)
	if err1 != nil || err2 != nil || string(got) != string(want) || e.Hash != plain.Hash {
		t.Fatalf("Seal:\ngot  %s (%v)\nwant %s (%v)", got, err1, want, err2)
	}
}

// TestMarshalItemAgrees holds SetItemData to json.Marshal and the
// canonical form.
func TestMarshalItemAgrees(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	far := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	msg := "boom <b> & \"quotes\"\n\t\x01 \u2028 \xff"
	tests := map[string]Item{
		"zero": {},
		"http check": {
			Kind: KindCheck, Name: "h1", Provider: "http", Action: "GET http://127.0.0.1/health",
			Status: Passed, StartedAt: &at, DurationMS: 3, Attempts: 1,
			Result: map[string]any{
				"status": json.Number("200"), "body": `{"status":"ok"}`, "body_truncated": false,
				"headers": map[string]any{"Content-Type": "application/json", "Date": "Tue"},
				"json":    map[string]any{"status": "ok", "n": json.Number("-1.5e+3"), "list": []any{nil, true, "x<y"}},
			},
			Asserts: []Assert{{Condition: "self.status < 400", Severity: "critical", Passed: true}},
		},
		"every optional member": {
			Kind: KindStep, Name: "s", Title: "T & <t>", Description: "d", Check: "c", Provider: "shell",
			Action: "a", Status: Failed, Expected: "e", DurationMS: -1, Attempts: 3,
			Result: map[string]any{}, Asserts: []Assert{}, Error: &msg, SkipReason: "r", Target: "web",
			CarriedOver: true, Confirm: true, Manual: true, Instructions: "i\u2029", Required: true,
			Assignee: "sre", Flapping: true, Informational: true, ApprovalsNeeded: 2,
		},
		"empty result values": {
			Result: map[string]any{"a": map[string]any(nil), "b": []any(nil), "c": []any{}, "d": map[string]any{}},
		},
		"other Go values in the result": {Result: map[string]any{"f": 1.5, "i": 7, "s": []string{"x"}}},
		"invalid number":                {Result: map[string]any{"n": json.Number("1e")}},
		"leading zero":                  {Result: map[string]any{"n": json.Number("01")}},
		"empty number":                  {Result: map[string]any{"n": json.Number("")}},
		"answer":                        {Answer: &Answer{Status: Passed, AnsweredAt: at}},
		"decision":                      {Decision: &Decision{Confirmed: true, At: at}},
		"nested checks":                 {Kind: KindStep, Checks: []Item{{Kind: KindCheck, Name: "x", Result: map[string]any{"k": "<"}}}},
		"approvals":                     {Approvals: []Decision{{At: at}}},
		"clock":                         {Clock: &Clock{}},
		"score":                         {Score: &Score{}},
		"time beyond json":              {StartedAt: &far},
	}
	for name, it := range tests {
		t.Run(name, func(t *testing.T) { checkMarshalItem(t, it) })
	}
	// The case the journal meets for every check takes the hand-written
	// path, canonical form and all.
	var e Event
	it := tests["http check"]
	if err := e.SetItemData(&it); err != nil || e.canonicalData() == nil {
		t.Errorf("an HTTP check's item: no canonical form written beside its data (err %v)", err)
	}
}

// FuzzMarshalItem holds SetItemData to json.Marshal for any strings and
// numbers in an item's members and result.
func FuzzMarshalItem(f *testing.F) {
	f.Add("h1", "GET <x> & y", "200", "{\"a\":1}", "k\u2028", "\xff\x00")
	f.Add("", "", "-0.5E-7", "", "", "")
	f.Fuzz(func(t *testing.T, name, action, num, body, key, val string) {
		msg := val + body
		checkMarshalItem(t, Item{
			Kind: KindCheck, Name: name, Action: action, Title: key, Status: Passed, Error: &msg,
			Result: map[string]any{
				"status": json.Number(num), "body": body, key: val,
				"h": map[string]any{val: key, body: nil}, "l": []any{name, json.Number(num), false},
			},
			Asserts: []Assert{{Condition: action, Message: body}},
		})
	})
}

func BenchmarkMarshalHTTPItem(b *testing.B) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	it := Item{
		Kind: KindCheck, Name: "h1", Provider: "http", Action: "GET http://127.0.0.1:39255/health",
		Status: Passed, StartedAt: &at, DurationMS: 3, Attempts: 1,
		Result: map[string]any{
			"status": json.Number("200"), "body": `{"status":"ok"}`, "body_truncated": false,
			"headers": map[string]any{"Content-Type": "application/json", "Date": "Tue, 01 Dec 2026 03:04:05 GMT", "Content-Length": "15"},
			"json":    map[string]any{"status": "ok"},
		},
		Asserts: []Assert{{Condition: "self.status < 400", Severity: "critical", Passed: true}},
	}
	b.Run("json.Marshal", func(b *testing.B) {
		for b.Loop() {
			_, _ = json.Marshal(it)
		}
	})
	b.Run("SetItemData", func(b *testing.B) {
		for b.Loop() {
			var e Event
			_ = e.SetItemData(&it)
		}
	})
}

// TestMarshalRunAgrees holds MarshalRun to json.Marshal.
func TestMarshalRunAgrees(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	check := Item{Kind: KindCheck, Name: "h", Status: Passed, Result: map[string]any{"items": nil, "s": `"items":null`}}
	tests := map[string]Run{
		"zero":     {},
		"no items": {ID: "r", Variables: map[string]any{"items": nil}},
		"empty":    {ID: "r", Items: []Item{}},
		"items": {
			ID: "r", Title: `"items":null,`, Variables: map[string]any{"items": nil, "x": []any{map[string]any{"items": nil}}},
			StartedAt: at, Items: []Item{check, {Kind: KindStep, Answer: &Answer{Status: Passed}}, {Result: map[string]any{"f": 1.5}}, check},
			Reports: []ReportOutput{{Name: "md"}}, Exercise: &Exercise{Injects: []Inject{{Name: "i"}}},
		},
		"a result key canonical order cannot write by hand": {
			ID: "r", Items: []Item{check, {Kind: KindCheck, Name: "k", Result: map[string]any{"\xff": "<", "a": true}}, check},
		},
	}
	for name, r := range tests {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(&r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := MarshalRun(&r)
			if err != nil || string(got) != string(want) {
				t.Fatalf("got  %s (%v)\nwant %s", got, err, want)
			}
			if c, err := r.MarshalCompact(); err != nil || string(c) != string(want)+"\n" {
				t.Fatalf("MarshalCompact: got %s (%v)", c, err)
			}
			checkSetRunData(t, &r, want)
		})
	}
}

// checkSetRunData fails unless SetRunData sets want with its canonical
// form beside it, and Sealer seals the event as one whose data it reads.
func checkSetRunData(t *testing.T, r *Run, want []byte) {
	t.Helper()
	var e Event
	if err := e.SetRunData(r); err != nil || string(e.Data) != string(want) {
		t.Fatalf("SetRunData:\ngot  %s (%v)\nwant %s", e.Data, err, want)
	}
	canon, ok := appendCanonical(nil, want, "")
	if !ok || string(e.canonicalData()) != string(canon) {
		t.Fatalf("canonical form:\ngot  %s\nwant %s (ok %v)", e.canonicalData(), canon, ok)
	}
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	e.Type, e.OccurredAt, e.RecordedAt = EventRunFinished, at, at
	plain := Event{Type: e.Type, OccurredAt: at, RecordedAt: at, Data: bytes.Clone(e.Data)}
	var s1, s2 Sealer
	got, err1 := s1.Seal(nil, nil, &e)
	sealed, err2 := s2.Seal(nil, nil, &plain)
	if err1 != nil || err2 != nil || string(got) != string(sealed) || e.Hash != plain.Hash {
		t.Fatalf("Seal:\ngot  %s (%v)\nwant %s (%v)", got, err1, sealed, err2)
	}
}

// TestItemsMember finds only the top-level member.
func TestItemsMember(t *testing.T) {
	tests := map[string]int{
		`{"items":null}`:                    1,
		`{"a":{"items":null},"items":null}`: 20,
		`{"a":"\",\"items\":null","b":1}`:   -1,
		`{"a":["x",{"items":null}]}`:        -1,
		`{"a":"\\","items":null}`:           10,
		`{"items":[]}`:                      -1,
	}
	for in, want := range tests {
		if got := itemsMember([]byte(in)); got != want {
			t.Errorf("itemsMember(%s) = %d, want %d", in, got, want)
		}
	}
}

// TestSetItemDataReplaced seals the data an event holds, not the
// canonical form of data it held before.
func TestSetItemDataReplaced(t *testing.T) {
	at := time.Date(2026, 12, 1, 3, 4, 5, 6, time.UTC)
	e := Event{Type: EventItemFinished, OccurredAt: at, RecordedAt: at}
	if err := e.SetItemData(&Item{Kind: KindCheck, Name: "a"}); err != nil {
		t.Fatal(err)
	}
	e.Data = json.RawMessage(`{"kind":"check","name":"b"}`)
	plain := e
	plain.canonData, plain.canonOf = nil, nil
	var s Sealer
	got, _ := s.Seal(nil, nil, &e)
	want, _ := s.Seal(nil, nil, &plain)
	if string(got) != string(want) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// TestHandWrittenItemKnowsEveryField fails when Item or Assert gains a
// member: appendItem and appendCanonicalItem must write it (or byHand
// leave such items to encoding/json) before this list changes.
func TestHandWrittenItemKnowsEveryField(t *testing.T) {
	names := func(v any) []string {
		var out []string
		ty := reflect.TypeOf(v)
		for i := 0; i < ty.NumField(); i++ {
			out = append(out, ty.Field(i).Tag.Get("json"))
		}
		return out
	}
	wantItem := []string{"kind", "name", "title,omitempty", "description,omitempty", "check,omitempty", "provider",
		"action,omitempty", "status", "expected,omitempty", "started_at", "duration_ms", "attempts", "result",
		"asserts", "error", "answer", "skip_reason,omitempty", "target,omitempty", "carried_over,omitempty",
		"confirm,omitempty", "manual,omitempty", "instructions,omitempty", "required,omitempty",
		"assignee,omitempty", "decision,omitempty", "flapping,omitempty", "checks,omitempty",
		"informational,omitempty", "approvals_needed,omitempty", "approvals,omitempty", "clock,omitempty",
		"score,omitempty"}
	if d := cmp.Diff(wantItem, names(Item{})); d != "" {
		t.Errorf("Item's members changed; teach appendItem and appendCanonicalItem (-known +now):\n%s", d)
	}
	if d := cmp.Diff([]string{"condition", "passed", "severity", "message"}, names(Assert{})); d != "" {
		t.Errorf("Assert's members changed (-known +now):\n%s", d)
	}
}

// TestRunDataSizedToItsItems: the run's first event (every item
// planned, ~170 bytes each) holds buffers about its size, not 640
// bytes an item (a finished HTTP check's).
func TestRunDataSizedToItsItems(t *testing.T) {
	run := &Run{ID: "r1", Runbook: "big", Status: Running}
	for i := range 10000 {
		run.Items = append(run.Items, Item{Kind: KindCheck, Name: "c" + strconv.Itoa(i), Provider: "shell", Action: "true", Status: Pending})
	}
	var e Event
	items, err := e.SetRunDataItems(run)
	if err != nil || len(items) != len(run.Items) {
		t.Fatal(len(items), err)
	}
	canon := e.canonicalData()
	if canon == nil {
		t.Fatal("no canonical form beside the data")
	}
	for _, b := range []struct {
		name      string
		len, cap_ int
	}{{"data", len(e.Data), cap(e.Data)}, {"canonical form", len(canon), cap(canon)}} {
		if b.cap_ > b.len*5/4 {
			t.Errorf("the %s holds %d bytes for %d", b.name, b.cap_, b.len)
		}
	}
}
