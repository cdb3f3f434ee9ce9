package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

// freshPostgres opens a store on a new database of the test server.
func freshPostgres(t *testing.T) *state.Postgres {
	t.Helper()
	p, err := state.OpenPostgres(context.Background(), testserver.PostgresDatabase(t, "console_"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestPostgresChangesAreAnnouncedAtOnce: with a PostgreSQL state, a change
// made by another process reaches the event stream through LISTEN/NOTIFY,
// without waiting for a poll (the poll here is an hour).
func TestPostgresChangesAreAnnouncedAtOnce(t *testing.T) {
	p := freshPostgres(t)
	s, err := New(Options{Store: p, Host: "h", Poll: time.Hour, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go s.Run(ctx)
	hs := httptest.NewServer(s)
	defer hs.Close()
	secret, _, err := p.AddToken(ctx, "alice", state.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := hs.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Runs start (saved through the store, as another process would);
	// the first ones may come before the listener has connected.
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			run := &record.Run{ID: fmt.Sprintf("r-notify-%d", i), Runbook: "drill", Mode: "exec", Status: record.Passed, StartedAt: time.Now()}
			if _, err := p.SaveRun(ctx, run); err != nil {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	}()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			var e Event
			if json.Unmarshal([]byte(v), &e) == nil && strings.HasPrefix(e.Run, "r-notify-") && e.Change == "started" {
				return
			}
		}
	}
	t.Fatalf("no event for the run within the deadline: %v", sc.Err())
}
