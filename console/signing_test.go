package console

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/runbookhq/runbook/internal/sshsig"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
)

// finishedRun saves a finished run with a journal.
func (f *fixture) finishedRun(id string, roles ...string) *record.Run {
	f.t.Helper()
	at := time.Now().UTC().Truncate(time.Second)
	run := &record.Run{ID: id, Runbook: "drill", Mode: "exec", Operator: "alice", StartedAt: at, FinishedAt: at.Add(time.Second),
		Items:   []record.Item{{Kind: record.KindStep, Name: "s", Status: record.Passed}},
		Reports: []record.ReportOutput{{Name: "completion", Template: "tabletop", Path: "/nonexistent/report.md", Roles: roles}},
	}
	run.Tally()
	data, _ := json.Marshal(run)
	ctx := context.Background()
	if _, err := f.dir.AppendEvents(ctx, id, []record.Event{{Type: record.EventRunStarted, Data: data}, {Type: record.EventRunFinished, Data: data}}); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.store.SaveRun(ctx, run); err != nil {
		f.t.Fatal(err)
	}
	return run
}

// sshSign signs msg with ssh-keygen and a new key, returning the
// signature and the public key line.
func sshSign(t *testing.T, msg []byte) (sig, pub string) {
	t.Helper()
	key := testserver.SSHKeygen(t, "ed25519")
	cmd := exec.Command("ssh-keygen", "-Y", "sign", "-n", "runbook", "-f", key)
	cmd.Stdin = bytes.NewReader(msg)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v", err)
	}
	p, _ := os.ReadFile(key + ".pub")
	return string(out), strings.TrimSpace(string(p))
}

func TestSignoffBySSHKey(t *testing.T) {
	signers := filepath.Join(t.TempDir(), "allowed_signers")
	f := newFixture(t, Options{AllowedSigners: signers})
	op := f.token("alice", "operator")
	f.finishedRun("r3", "SRE", "Lead", "QA", "Ops")
	ctx := context.Background()
	evs, _ := f.dir.Events(ctx, "r3")
	msg, err := record.SignedBytes(evs)
	if err != nil {
		t.Fatal(err)
	}
	sig, pub := sshSign(t, msg)
	otherSig, otherPub := sshSign(t, msg)
	startMsg, err := record.SignedBytes(evs[:1])
	if err != nil {
		t.Fatal(err)
	}
	startSig, startPub := sshSign(t, startMsg)
	wrongSig, _ := sshSign(t, []byte("some other document\n"))
	if err := os.WriteFile(signers, []byte("# who signs\nbob,alice "+pub+"\ncarol "+otherPub+"\nalice "+startPub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	body := func(statement, sig string, upto int) string {
		b, _ := json.Marshal(signoffBody{Statement: statement, Signature: sig, Upto: int64(upto)})
		return string(b)
	}
	// The page says what to sign.
	if code, page := f.do("GET", "/runs/r3", op, ""); code != 200 || !strings.Contains(page, "runbook show r3 --canonical --upto 2 | ssh-keygen -Y sign -n runbook") {
		t.Errorf("run page: %d, no sign command:\n%s", code, page)
	}
	tests := []struct {
		name, role, body string
		code             int
		want             string
	}{
		{"a key of someone else", "Lead", body("", otherSig, 2), 403, "is not registered for alice"},
		{"another document", "QA", body("", wrongSig, 2), 400, "does not verify"},
		{"only the run's start", "QA", body("", startSig, 1), 400, "must cover the finished run"},
		{"junk", "QA", body("", "hello", 2), 400, "not an SSH signature"},
		{"signed by key", "SRE", body("checked", sig, 2), 200, `"key": "SHA256:`},
		{"by token only", "Ops", body("fine", "", 0), 200, `"role": "Ops"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := f.do("POST", "/api/runs/r3/signoffs/"+tt.role, op, tt.body)
			if code != tt.code || !strings.Contains(got, tt.want) {
				t.Errorf("got %d %s, want %d with %q", code, got, tt.code, tt.want)
			}
		})
	}
	evs, _ = f.dir.Events(ctx, "r3")
	if err := record.CheckChain(evs); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[2].Type != record.EventSignature || evs[3].Type != record.EventSignoff {
		t.Fatalf("journal after the sign-offs: %+v", evs)
	}
	folded, _ := record.Fold(evs)
	stored, _ := f.dir.LoadRun(ctx, "r3")
	if d, _ := record.Diff(stored, folded); d != "" {
		t.Errorf("the record is not the journal's: %s", d)
	}
	var so record.Signoff
	json.Unmarshal(evs[2].Data, &so)
	key, err := sshsig.Verify([]byte(so.Signature), "runbook", msg)
	if err != nil || sshsig.Fingerprint(key) != so.Key || so.SignedHead != evs[1].Hash {
		t.Errorf("the stored signature: %v, key %s, head %s", err, so.Key, so.SignedHead)
	}
	if code, page := f.do("GET", "/runs/r3", op, ""); code != 200 || !strings.Contains(page, "with SSH key <code>SHA256:") || !strings.Contains(page, "(unsigned by key)") {
		t.Errorf("run page after the sign-offs: %d\n%s", code, page)
	}
}

func TestSignoffBySSHKeyNeedsAllowedSigners(t *testing.T) {
	f := newFixture(t, Options{})
	op := f.token("alice", "operator")
	f.finishedRun("r4", "SRE")
	code, got := f.do("POST", "/api/runs/r4/signoffs/SRE", op, `{"signature":"x"}`)
	if code != 400 || !strings.Contains(got, "--allowed-signers") {
		t.Errorf("got %d %s", code, got)
	}
}
