package state

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/runbookhq/runbook/record"
)

func TestDirConsole(t *testing.T)      { testConsole(t, freshDir) }
func TestPostgresConsole(t *testing.T) { testConsole(t, freshPostgres) }

// testConsole runs the behaviour every Console must have.
func testConsole(t *testing.T, fresh func(t *testing.T) opener) {
	ctx := context.Background()
	yes := true

	t.Run("questions", func(t *testing.T) {
		open := fresh(t)
		c, _ := ConsoleOf(open(t))
		const run = "20261201T000000Z-aaaa"
		if _, err := c.Reply(ctx, run, "drill", Reply{Status: record.Passed, By: "bob"}); !errors.Is(err, ErrNotWaiting) {
			t.Fatalf("reply before ask: got %v, want ErrNotWaiting", err)
		}
		if err := c.Ask(ctx, run, "drill", QuestionAnswer); err != nil {
			t.Fatal(err)
		}
		if err := c.Ask(ctx, run, "restart", QuestionConfirm); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Reply(ctx, run, "drill", Reply{Status: "maybe", By: "bob"}); err == nil || errors.Is(err, ErrNotWaiting) {
			t.Errorf("bad status: got %v, want a validation error", err)
		}
		if _, err := c.Reply(ctx, run, "restart", Reply{Status: record.Passed, By: "bob"}); err == nil {
			t.Errorf("an answer to a confirm: got no error")
		}
		// Two processes reply at once: exactly one wins.
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = open(t).(Console).Reply(ctx, run, "drill", Reply{Status: record.Passed, Note: "<b>ok</b>", By: "bob", Surface: record.SurfaceConsole})
			}()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrNotWaiting):
				t.Errorf("a losing reply: got %v, want ErrNotWaiting", err)
			}
		}
		if won != 1 {
			t.Errorf("concurrent replies: %d won, want 1", won)
		}
		if _, err := c.Reply(ctx, run, "restart", Reply{Confirm: &yes, By: "carol", Surface: record.SurfaceTerminal}); err != nil {
			t.Fatal(err)
		}
		if err := c.Ask(ctx, run, "later", QuestionAnswer); err != nil {
			t.Fatal(err)
		}
		if err := c.Withdraw(ctx, run, "later"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Reply(ctx, run, "later", Reply{Status: record.Passed, By: "bob"}); !errors.Is(err, ErrNotWaiting) {
			t.Errorf("reply after withdraw: got %v, want ErrNotWaiting", err)
		}
		qs, err := open(t).(Console).Questions(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, q := range qs {
			s := q.Step + ":" + q.State
			if q.Reply != nil {
				s += ":" + q.Reply.By + ":" + q.Reply.Surface
			}
			got = append(got, s)
		}
		want := "drill:answered:bob:console later:closed restart:answered:carol:terminal"
		if strings.Join(got, " ") != want {
			t.Errorf("questions: got %q, want %q", strings.Join(got, " "), want)
		}
		if qs[0].Reply.Note != "<b>ok</b>" {
			t.Errorf("note: got %q", qs[0].Reply.Note)
		}
	})

	t.Run("tokens", func(t *testing.T) {
		open := fresh(t)
		c, _ := ConsoleOf(open(t))
		secret, tok, err := c.AddToken(ctx, "alice", RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, "rbk_") || len(secret) != 4+64 || strings.Contains(tok.Hash, secret) {
			t.Errorf("secret %q, hash %q", secret, tok.Hash)
		}
		if _, _, err := c.AddToken(ctx, "alice", RoleViewer); !errors.Is(err, ErrTokenExists) {
			t.Errorf("a second alice: got %v, want ErrTokenExists", err)
		}
		if _, _, err := c.AddToken(ctx, "bob", "admin"); err == nil {
			t.Errorf("role admin: got no error")
		}
		if _, _, err := c.AddToken(ctx, "bob", RoleViewer); err != nil {
			t.Fatal(err)
		}
		got, err := open(t).(Console).Authenticate(ctx, secret)
		if err != nil || got.Name != "alice" || got.Role != RoleOperator || got.LastUsed.IsZero() {
			t.Errorf("Authenticate: got %+v, %v", got, err)
		}
		if _, err := c.Authenticate(ctx, secret+"x"); !errors.Is(err, ErrNoToken) {
			t.Errorf("a wrong secret: got %v, want ErrNoToken", err)
		}
		all, err := c.Tokens(ctx)
		if err != nil || len(all) != 2 || all[0].Name != "alice" || all[1].Name != "bob" {
			t.Errorf("Tokens: got %+v, %v", all, err)
		}
		if err := c.RevokeToken(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := c.RevokeToken(ctx, "alice"); !errors.Is(err, ErrNoToken) {
			t.Errorf("revoke twice: got %v, want ErrNoToken", err)
		}
		if _, err := c.Authenticate(ctx, secret); !errors.Is(err, ErrNoToken) {
			t.Errorf("a revoked token: got %v, want ErrNoToken", err)
		}
	})

	t.Run("signoffs", func(t *testing.T) {
		s := fresh(t)(t)
		c, _ := ConsoleOf(s)
		run := testRun("20261201T000000Z-bbbb", record.Passed)
		if _, err := s.SaveRun(ctx, run); err != nil {
			t.Fatal(err)
		}
		signed, err := c.SignOff(ctx, run.ID, record.Signoff{Role: "Operator", Name: "alice", Statement: "done", Surface: record.SurfaceConsole})
		if err != nil {
			t.Fatal(err)
		}
		if len(signed.Signoffs) != 1 || signed.Signoffs[0].At.IsZero() {
			t.Errorf("signed: %+v", signed.Signoffs)
		}
		if _, err := c.SignOff(ctx, run.ID, record.Signoff{Role: "Operator", Name: "bob"}); !errors.Is(err, ErrSigned) {
			t.Errorf("a role signed twice: got %v, want ErrSigned", err)
		}
		back, err := s.LoadRun(ctx, run.ID)
		if err != nil || len(back.Signoffs) != 1 || back.Signoffs[0].Name != "alice" {
			t.Errorf("LoadRun after sign-off: %+v, %v", back, err)
		}
		live := testRun("20261201T000000Z-cccc", record.Running)
		live.PID, live.Host, live.StartedAt = 1, "", time.Now() // a live process (init) on this host
		if _, err := s.SaveRun(ctx, live); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SignOff(ctx, live.ID, record.Signoff{Role: "Operator", Name: "alice"}); !errors.Is(err, ErrRunRunning) {
			t.Errorf("a running run: got %v, want ErrRunRunning", err)
		}
		if _, err := c.SignOff(ctx, "nope", record.Signoff{Role: "Operator", Name: "alice"}); err == nil {
			t.Errorf("an unknown run: got no error")
		}
	})
}
