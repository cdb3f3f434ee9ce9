package record

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"keys sorted, no space", `{ "b": 1, "a": [ true, null ] }`, `{"a":[true,null],"b":1}`},
		{"nested keys sorted", `{"z":{"y":1,"x":2}}`, `{"z":{"x":2,"y":1}}`},
		{"numbers as written", `{"n":1.50,"m":1e3,"big":12345678901234567890}`, `{"big":12345678901234567890,"m":1e3,"n":1.50}`},
		{"no HTML escaping", `{"s":"<a&b>"}`, `{"s":"<a&b>"}`},
		{"UTF-8 kept, controls escaped", `{"s":"é\u0001\n"}`, `{"s":"é\u0001\n"}`},
		{"keys by bytes", `{"é":1,"z":2,"A":3}`, `{"A":3,"z":2,"é":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
	if _, err := Canonical([]byte(`{"a":1} {"b":2}`)); err == nil {
		t.Error("two values: no error")
	}
}

func TestHashEventIsSHA256OfCanonicalWithoutHash(t *testing.T) {
	line := `{"seq":1,"type":"run.started","occurred_at":"2026-12-01T01:02:03Z","recorded_at":"2026-12-01T01:02:03Z","data":{"id":"x"},"prev":"","hash":"ignored"}`
	canon := `{"data":{"id":"x"},"occurred_at":"2026-12-01T01:02:03Z","prev":"","recorded_at":"2026-12-01T01:02:03Z","seq":1,"type":"run.started"}`
	sum := sha256.Sum256([]byte(canon))
	got, err := HashEvent([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	var e Event
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if h, _ := e.ComputeHash(); h != got {
		t.Errorf("ComputeHash %s, HashEvent %s", h, got)
	}
}

// chain builds a journal of a run with a failed step.
func chain(t *testing.T) []Event {
	t.Helper()
	at := time.Date(2026, 12, 1, 1, 2, 3, 0, time.UTC)
	planned := &Run{ID: "r1", Runbook: "rb", Status: Running, StartedAt: at, Items: []Item{{Kind: KindStep, Name: "a", Status: Pending}, {Kind: KindStep, Name: "b", Status: Pending}}}
	final := *planned
	final.Items = []Item{{Kind: KindStep, Name: "a", Status: Passed}, {Kind: KindStep, Name: "b", Status: Failed}}
	final.FinishedAt = at.Add(time.Second)
	final.Tally()
	final.Reports = []ReportOutput{{Name: "summary", Path: "/x.md", SHA256: "00"}}
	raw := func(v any) json.RawMessage { d, _ := json.Marshal(v); return d }
	evs := []Event{
		{Type: EventRunStarted, Data: raw(planned)},
		{Type: EventItemStarted, Item: "step.a", Data: raw(Item{Kind: KindStep, Name: "a", Status: Running})},
		{Type: EventItemFinished, Item: "step.a", Data: raw(final.Items[0])},
		{Type: EventItemFinished, Item: "step.b", Data: raw(final.Items[1])},
		{Type: EventReport, Item: "report.summary", Data: raw(final.Reports[0])},
		{Type: EventRunFinished, Data: raw(&final)},
		{Type: EventSignoff, Actor: "ann", Data: raw(Signoff{Role: "sre", Name: "ann", At: at})},
	}
	var prev *Event
	for i := range evs {
		evs[i].OccurredAt, evs[i].RecordedAt = at, at
		if err := Chain(prev, &evs[i]); err != nil {
			t.Fatal(err)
		}
		prev = &evs[i]
	}
	return evs
}

func TestCheckChain(t *testing.T) {
	tests := []struct {
		name   string
		change func([]Event) []Event
		want   string
	}{
		{"whole", func(e []Event) []Event { return e }, ""},
		{"edited", func(e []Event) []Event {
			e[3].Data = json.RawMessage(strings.Replace(string(e[3].Data), `"failed"`, `"passed"`, 1))
			return e
		}, "event 4 (item.finished step.b): hash does not match"},
		{"deleted", func(e []Event) []Event { return append(e[:2], e[3:]...) }, "event 3: missing (the journal goes on with event 4)"},
		{"rehashed without its predecessor", func(e []Event) []Event {
			e[3].Prev = "beef"
			e[3].Hash, _ = e[3].ComputeHash()
			return e
		}, "event 4 (item.finished step.b): does not follow the event before it"},
		{"out of order", func(e []Event) []Event { e[2], e[3] = e[3], e[2]; return e }, "event 4 (item.finished step.b): out of order (event 3 comes after it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckChain(tt.change(chain(t)))
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("got %v, want a whole chain", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestFoldAndDiff(t *testing.T) {
	evs := chain(t)
	// Before the end: the items as the journal last said.
	mid, err := Fold(evs[:4])
	if err != nil {
		t.Fatal(err)
	}
	if mid.Item(KindStep, "b").Status != Failed || mid.Status != Running {
		t.Errorf("fold of 4 events: b %s, run %s", mid.Item(KindStep, "b").Status, mid.Status)
	}
	got, err := Fold(evs)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != Failed || len(got.Reports) != 1 || len(got.Signoffs) != 1 || got.Signoffs[0].Name != "ann" {
		t.Errorf("fold: %+v", got)
	}
	stored, _ := Fold(evs)
	if d, _ := Diff(stored, got); d != "" {
		t.Errorf("an equal record differs: %s", d)
	}
	tests := []struct {
		name   string
		change func(*Run)
		want   string
	}{
		{"item status", func(r *Run) { r.Items[1].Status = Passed }, `items[1].status is "passed", the journal says "failed"`},
		{"an item more", func(r *Run) { r.Items = append(r.Items, Item{Name: "c"}) }, "items has 3 entries, the journal says 2"},
		{"signoff gone", func(r *Run) { r.Signoffs = nil }, `signoffs is missing`},
		{"summary", func(r *Run) { r.Summary.Failed = 0 }, `summary.failed is 0, the journal says 1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := Fold(evs)
			tt.change(r)
			d, err := Diff(r, got)
			if err != nil || !strings.Contains(d, tt.want) {
				t.Errorf("got %q (%v), want %q", d, err, tt.want)
			}
		})
	}
	if _, err := Fold(evs[1:]); err == nil || !strings.Contains(err.Error(), "does not begin with run.started") {
		t.Errorf("fold without run.started: %v", err)
	}
}

func TestSignedBytes(t *testing.T) {
	evs := chain(t)
	data, err := SignedBytes(evs[:6])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `{"chain_head":"`+evs[5].Hash+`","chain_seq":6,"run":{`) || !strings.HasSuffix(string(data), "}\n") {
		t.Errorf("signed bytes: %s", data)
	}
	canon, _ := Canonical(data)
	if string(canon)+"\n" != string(data) {
		t.Error("the signed bytes are not canonical")
	}
	later, _ := SignedBytes(evs)
	if string(later) == string(data) {
		t.Error("the signed bytes do not change with the journal")
	}
}

// TestDiffTakesStoredNULAsTheSame: a PostgreSQL state stores U+FFFD for
// NUL in text and in keys (jsonb cannot hold it); Diff takes the two as
// the same, and still reports any other difference.
func TestDiffTakesStoredNULAsTheSame(t *testing.T) {
	item := func(out, key string) Item {
		return Item{Kind: KindCheck, Name: "c", Status: Failed, Result: map[string]any{"stdout": out, key: "v"}}
	}
	folded := &Run{ID: "r", Items: []Item{item("a\x00b", "k\x00")}}
	for _, tc := range []struct {
		stored Item
		want   string
	}{
		{item("a\uFFFDb", "k\uFFFD"), ""},
		{item("a\x00b", "k\x00"), ""},
		{item("aXb", "k\uFFFD"), `items[0].result.stdout is "aXb"`},
		{item("a\uFFFDb", "kX"), `items[0].result.k`},
	} {
		got, err := Diff(&Run{ID: "r", Items: []Item{tc.stored}}, folded)
		if err != nil {
			t.Fatal(err)
		}
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("Diff(%q): %q, want %q", tc.stored.Result, got, tc.want)
		}
	}
}
