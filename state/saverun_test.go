package state

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

// TestSaveRunWithCancelledContext: an interrupted run (or watch cycle)
// saves its record with the context that was cancelled; both stores still
// keep it.
func TestSaveRunWithCancelledContext(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) Store{
		"dir":      func(t *testing.T) Store { return NewDir(t.TempDir()) },
		"postgres": func(t *testing.T) Store { return openPostgres(t, newDatabase(t)) },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			run := &record.Run{ID: record.NewRunID(time.Now()), Runbook: "r", Mode: "exec", Status: record.Failed, Interrupted: true, StartedAt: time.Now().UTC()}
			if _, err := s.SaveRun(ctx, run); err != nil {
				t.Fatalf("SaveRun with a cancelled context: %v", err)
			}
			got, err := s.LoadRun(context.Background(), run.ID)
			if err != nil || !got.Interrupted {
				t.Errorf("the interrupted run's record: %v %+v", err, got)
			}
		})
	}
}

// TestSaveRunNeverReplacesFinalRecord: a running snapshot saved after the
// final record does not replace it, whether the stored record is compact
// (as SaveRun writes it) or indented (as earlier versions did), and
// wherever finished_at stands in it.
func TestSaveRunNeverReplacesFinalRecord(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	final := &record.Run{ID: "20261201T100000.000000Z-0123456789abcdef", Runbook: "r", Status: record.Passed, StartedAt: at, FinishedAt: at.Add(time.Second),
		Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Passed, Result: map[string]any{"finished_at": "not the run's"}}}}
	indented, _ := final.Marshal()
	compact, _ := final.MarshalCompact()
	for _, tc := range []struct {
		name   string
		stored string // "" for none
		final  bool
	}{
		{"none", "", false},
		{"compact final", string(compact), true},
		{"indented final", string(indented), true},
		{"finished_at last", `{"id":"x","items":[{"result":{"finished_at":"0001-01-01T00:00:00Z"}}],"finished_at":"2026-12-01T10:00:01Z"}`, true},
		{"running", `{"id":"x","status":"running","finished_at":"0001-01-01T00:00:00Z","items":[]}`, false},
		{"no finished_at", `{"id":"x","items":[{"result":{"finished_at":"2026-12-01T10:00:01Z"}}]}`, false},
		{"not a record", `[1, 2]`, false},
		{"cut short", `{"id":"x",`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDir(t.TempDir())
			path := filepath.Join(d.runsDir(), final.ID+".json")
			if tc.stored != "" {
				if err := os.MkdirAll(d.runsDir(), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tc.stored), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			running := *final
			running.FinishedAt, running.Status = time.Time{}, record.Running
			if _, err := d.SaveRun(context.Background(), &running); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if kept := string(data) == tc.stored; kept != tc.final {
				t.Errorf("stored record kept: got %v, want %v (now %s)", kept, tc.final, data)
			}
		})
	}
}

// TestSaveRunWritesCompactJSON: the state keeps records as compact JSON,
// which reads back as the same record.
func TestSaveRunWritesCompactJSON(t *testing.T) {
	d := NewDir(t.TempDir())
	run := &record.Run{ID: record.NewRunID(time.Now()), Runbook: "r", Status: record.Passed, StartedAt: time.Now().UTC(),
		Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Passed, Result: map[string]any{"exit_code": 0.0}}}}
	path, err := d.SaveRun(context.Background(), run)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("\n  ")) || !bytes.HasSuffix(data, []byte("}\n")) {
		t.Errorf("stored record is not compact JSON with a final newline:\n%s", data)
	}
	got, err := d.LoadRun(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Items[0].Result["exit_code"] != 0.0 || got.Runbook != "r" {
		t.Errorf("read back: got %+v", got)
	}
}

// plainStore is a Store that takes no encoded record.
type plainStore struct{ Store }

// TestSaveOrSpoolEncoded: a record handed over encoded is stored as those
// bytes, the run given only for its id and status (its items left out),
// by the directory, the database, the spool, and, read back, a store
// that takes no encoded record.
func TestSaveOrSpoolEncoded(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	full := &record.Run{ID: record.NewRunID(at), Runbook: "r", Mode: "check", Status: record.Passed, StartedAt: at, FinishedAt: at.Add(time.Second),
		Items: []record.Item{{Kind: record.KindCheck, Name: "a", Status: record.Passed, Result: map[string]any{"body": "<ok>"}}, {Kind: record.KindCheck, Name: "b", Status: record.Passed}}}
	items := make([][]byte, len(full.Items))
	for i := range full.Items {
		items[i], _ = record.MarshalItem(&full.Items[i])
	}
	head := *full
	head.Items = nil
	enc, err := record.EncodeRun(&head, items)
	if err != nil {
		t.Fatal(err)
	}
	compact, _ := full.MarshalCompact()
	for name, open := range map[string]func(t *testing.T) Store{
		"dir":      func(t *testing.T) Store { return NewDir(t.TempDir()) },
		"postgres": func(t *testing.T) Store { return openPostgres(t, newDatabase(t)) },
		"plain":    func(t *testing.T) Store { return plainStore{NewDir(t.TempDir())} },
	} {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			if _, err := SaveOrSpoolEncoded(ctx, ctx, s, Spool{Dir: t.TempDir()}, &head, enc); err != nil {
				t.Fatal(err)
			}
			got, err := s.LoadRun(ctx, full.ID)
			if err != nil || len(got.Items) != 2 || got.Items[0].Result["body"] != "<ok>" {
				t.Fatalf("LoadRun: %v %+v", err, got)
			}
			if d, ok := s.(*Dir); ok {
				if data, _ := os.ReadFile(filepath.Join(d.runsDir(), full.ID+".json")); string(data) != string(compact) {
					t.Errorf("record file:\n%s\nwant\n%s", data, compact)
				}
			}
		})
	}
	t.Run("spool", func(t *testing.T) {
		blocked := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(blocked, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		sp := Spool{Dir: t.TempDir()}
		_, err := SaveOrSpoolEncoded(context.Background(), context.Background(), NewDir(filepath.Join(blocked, "st")), sp, &head, enc)
		var spooled *SpooledError
		if !errors.As(err, &spooled) {
			t.Fatalf("not spooled: %v", err)
		}
		if data, _ := os.ReadFile(spooled.Path); string(data) != string(compact) {
			t.Errorf("spooled record:\n%s\nwant\n%s", data, compact)
		}
	})
}
