package record

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
	"time"
)

// canonicalByDecoding is the canonical encoding by decoding into Go
// values and encoding them again: what appendCanonical must agree with.
func canonicalByDecoding(data []byte, skip string) ([]byte, bool) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, false
	}
	if obj, ok := v.(map[string]any); ok && skip != "" {
		delete(obj, skip)
	}
	out, err := encodeCanonical(v)
	return out, err == nil
}

var canonicalCases = []string{
	`{}`, `[]`, `""`, `0`, `-1.50e+10`, `true`, `null`,
	` { "b" : 1 , "a" : [ 1 , 2.0 , "x" ] } `,
	`{"hash":"h","seq":1,"data":{"hash":"inner stays","z":null,"a":false}}`,
	`{"a":1,"a":2}`,
	`{"b":{"d":1,"c":2},"a":[{"y":1,"x":2}]}`,
	`{"s":"<html> & \u003cescaped\u003e"}`,
	`{"s":"tab\there \"quoted\" back\\slash \/ \u00e9 é \ud83d\ude00"}`,
	`{"s":"line\u2028sep\u2029 and raw  "}`,
	`{"s":"ctl \u0001 \u001f \u007f"}`,
	"{\"s\":\"invalid \xff utf-8\"}",
	"{\"inv\xffkey\":1}",
	`{"é":1,"e":2,"E":3,"":4}`,
	`{"n":12345678901234567890123,"f":1E3}`,
	// Not handled: the decoding path words the error.
	`{"a":1} {"b":2}`, `{"a":}`, `{"a" 1}`, `[1,]`, `01`, `tru`, `{"a":"x`, "\"a\x01b\"", `{"a":1,}`, `nul`, `-`,
}

// TestAppendCanonicalAgrees: the journal's canonical encoder gives the
// bytes that decoding and encoding again gives, and declines what that
// path rejects.
func TestAppendCanonicalAgrees(t *testing.T) {
	for _, in := range canonicalCases {
		for _, skip := range []string{"", "hash"} {
			want, wantOK := canonicalByDecoding([]byte(in), skip)
			got, ok := appendCanonical(nil, []byte(in), skip)
			if ok && (!wantOK || !bytes.Equal(got, want)) {
				t.Errorf("appendCanonical(%q, %q): got %q, want %q (ok %v)", in, skip, got, want, wantOK)
			}
			if !ok && wantOK && json.Valid([]byte(in)) {
				t.Errorf("appendCanonical(%q, %q) declined a valid document", in, skip)
			}
		}
	}
}

// TestHashEventOfRealEvents: events as the journal writes them hash the
// same by both paths.
func TestHashEventOfRealEvents(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run := &Run{ID: "r", Runbook: "<b>&", StartedAt: now, Items: []Item{{Kind: KindCheck, Name: "a", Status: Passed, StartedAt: &now,
		Result: map[string]any{"body": "<html>\n\t\"x\"</html>", "headers": map[string]any{"Content-Type": "text/html"}, "status": 200.0}}}}
	data, _ := json.Marshal(run)
	e := Event{Seq: 3, Type: EventItemFinished, Item: "check.a", OccurredAt: now, RecordedAt: now, Prev: "p", Hash: "old", Data: data}
	line, _ := json.Marshal(e)
	got, err := HashEvent(line)
	if err != nil {
		t.Fatal(err)
	}
	canon, ok := canonicalByDecoding(line, "hash")
	if !ok {
		t.Fatal("reference path failed")
	}
	sum := sha256.Sum256(canon)
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("HashEvent: got %s, want %s", got, want)
	}
}

func FuzzAppendCanonical(f *testing.F) {
	for _, in := range canonicalCases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, ok := appendCanonical(nil, in, "hash")
		if !ok {
			return
		}
		want, wantOK := canonicalByDecoding(in, "hash")
		if !wantOK || !bytes.Equal(got, want) {
			t.Errorf("appendCanonical(%q): got %q, want %q (ok %v)", in, got, want, wantOK)
		}
	})
}

// BenchmarkHashItemEvent hashes an item's event as the journal writes
// one for each check that starts and finishes; "decoding" is the path
// through Go values it replaced.
func BenchmarkHashItemEvent(b *testing.B) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	it := Item{Kind: KindCheck, Name: "c1", Provider: "shell", Action: "true", Status: Passed, StartedAt: &now, Attempts: 1,
		Result: map[string]any{"exit_code": 0.0, "stdout": "", "stderr": "", "duration_ms": 2.0}}
	data, _ := json.Marshal(it)
	line, _ := json.Marshal(Event{Seq: 3, Type: EventItemFinished, Item: "check.c1", OccurredAt: now, RecordedAt: now, Prev: "p", Data: data})
	b.Run("canonical", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := appendCanonical(nil, line, "hash"); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("decoding", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, ok := canonicalByDecoding(line, "hash"); !ok {
				b.Fatal("declined")
			}
		}
	})
}

// BenchmarkMarshalRecord10000 encodes a record of 10,000 checks as the
// state stores it (compact) and as `--format json` shows it (indented).
func BenchmarkMarshalRecord10000(b *testing.B) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	run := &Run{ID: "r", Runbook: "bench", StartedAt: now}
	for i := 0; i < 10000; i++ {
		run.Items = append(run.Items, Item{Kind: KindCheck, Name: "c" + strconv.Itoa(i), Provider: "http", Action: "GET http://127.0.0.1:8080/health", Status: Passed, StartedAt: &now, Attempts: 1,
			Result: map[string]any{"status": 200.0, "body": `{"status":"ok"}`, "json": map[string]any{"status": "ok"}, "headers": map[string]any{"Content-Type": "application/json", "Content-Length": "15"}}, Asserts: []Assert{}})
	}
	for _, tc := range []struct {
		name string
		enc  func() ([]byte, error)
	}{{"compact", run.MarshalCompact}, {"indented", run.Marshal}} {
		b.Run(tc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				data, err := tc.enc()
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(len(data))/(1<<20), "MB")
			}
		})
	}
}
