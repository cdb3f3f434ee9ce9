package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/runbookhq/runbook/internal/sshsig"
	"github.com/runbookhq/runbook/internal/testserver"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/state"
)

const provable = `runbook "provable" {
  title = "A run to prove"
}

step "review" {
  manual {
    instructions = "Look."
  }
}

step "change" {
  confirm = true
  shell {
    command = ["true"]
  }
}

step "broken" {
  shell {
    command = ["false"]
  }
}

report "summary" {
  template = "tabletop"
  signoff {
    role = "sre"
  }
  signoff {
    role = "lead"
  }
}
`

// provenRun runs provable.hcl in a new directory and returns the
// directory, its state and the run.
func provenRun(t *testing.T) (string, *state.Dir, *record.Run) {
	t.Helper()
	dir := writeFiles(t, map[string]string{
		"provable.hcl": provable,
		"answers.hcl":  "review = {\n  status = \"passed\"\n  note = \"seen\"\n}\n",
	})
	if code, _, stderr := runCLI(t, dir, "exec", "provable.hcl", "--answers", "answers.hcl", "--yes"); code != 1 {
		t.Fatalf("exec: exit %d, want 1 (a step fails): %s", code, stderr)
	}
	d := state.NewDir(filepath.Join(dir, ".runbook"))
	run, err := d.LoadRun(context.Background(), "last")
	if err != nil {
		t.Fatal(err)
	}
	return dir, d, run
}

func TestJournalChainsTheRun(t *testing.T) {
	_, d, run := provenRun(t)
	events, err := d.Events(context.Background(), run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := record.CheckChain(events); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, e := range events {
		types = append(types, strings.TrimSpace(e.Type+" "+e.Item))
	}
	want := []string{
		"run.started",
		"item.started step.review", "answer step.review", "item.finished step.review",
		"item.started step.change", "confirm step.change", "item.finished step.change",
		"item.started step.broken", "item.finished step.broken",
		"report report.summary",
		"run.finished",
	}
	if strings.Join(types, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(types, "\n"), strings.Join(want, "\n"))
	}
	folded, err := record.Fold(events)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := record.Diff(run, folded); d != "" {
		t.Errorf("the record is not the journal's fold: %s", d)
	}
	if a := events[2]; a.Actor == "" || a.Surface != record.SurfaceAnswersFile {
		t.Errorf("answer event: actor %q surface %q, want an operator and %q", a.Actor, a.Surface, record.SurfaceAnswersFile)
	}
}

// editJSON rewrites a JSON file through fn.
func editJSON(t *testing.T, path string, fn func(map[string]any)) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	fn(v)
	out, _ := json.Marshal(v)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// editLines rewrites a journal file's lines through fn.
func editLines(t *testing.T, path string, fn func([]string) []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	lines = fn(lines)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, dir string, d *state.Dir, run *record.Run)
		want   string
	}{
		{
			name:   "untouched",
			tamper: func(*testing.T, string, *state.Dir, *record.Run) {},
		},
		{
			name: "record: a failed step turned passed",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				editJSON(t, filepath.Join(d.Path, "runs", run.ID+".json"), func(v map[string]any) {
					v["items"].([]any)[2].(map[string]any)["status"] = "passed"
				})
			},
			want: `record: items[2].status is "passed", the journal says "failed"`,
		},
		{
			name: "report file edited",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				f, err := os.OpenFile(run.Reports[0].Path, os.O_APPEND|os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				f.WriteString("\nAll steps passed.\n")
				f.Close()
			},
			want: "report summary (",
		},
		{
			name: "report file deleted",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				os.Remove(run.Reports[0].Path)
			},
			want: "the file is gone",
		},
		{
			name: "event edited",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				editLines(t, filepath.Join(d.Path, "runs", run.ID+".events.jsonl"), func(l []string) []string {
					l[8] = strings.Replace(l[8], `\"status\":\"failed\"`, `\"status\":\"passed\"`, 1)
					l[8] = strings.Replace(l[8], `"status":"failed"`, `"status":"passed"`, 1)
					return l
				})
			},
			want: "event 9 (item.finished step.broken): hash does not match",
		},
		{
			// (An independent checker hashes the line as written.)
			name: "member added to an event",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				editLines(t, filepath.Join(d.Path, "runs", run.ID+".events.jsonl"), func(l []string) []string {
					l[8] = strings.Replace(l[8], `{"seq":9,`, `{"seq":9,"note":"reviewed, all fine",`, 1)
					return l
				})
			},
			want: "event 9 (item.finished step.broken): hash does not match",
		},
		{
			name: "event deleted",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				editLines(t, filepath.Join(d.Path, "runs", run.ID+".events.jsonl"), func(l []string) []string {
					return append(l[:3], l[4:]...)
				})
			},
			want: "event 4: missing (the journal goes on with event 5)",
		},
		{
			name: "last events cut off",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				editLines(t, filepath.Join(d.Path, "runs", run.ID+".events.jsonl"), func(l []string) []string {
					return l[:len(l)-1]
				})
			},
			want: `record: `,
		},
		{
			name: "signature over other bytes",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				key := testserver.SSHKeygen(t, "ed25519")
				signer := testserver.SSHSigner(t, key)
				events, _ := d.Events(context.Background(), run.ID)
				sig, err := sshsig.Sign(signer, "runbook", []byte("something else\n"))
				if err != nil {
					t.Fatal(err)
				}
				s := record.Signoff{Role: "sre", Name: "mallory", Key: sshsig.Fingerprint(signer.PublicKey()), Signature: string(sig), SignedHead: events[len(events)-1].Hash}
				data, _ := json.Marshal(s)
				if _, err := d.AppendEvents(context.Background(), run.ID, []record.Event{{Type: record.EventSignature, Actor: "mallory", Data: data}}); err != nil {
					t.Fatal(err)
				}
				editJSON(t, filepath.Join(d.Path, "runs", run.ID+".json"), func(v map[string]any) {
					var m map[string]any
					json.Unmarshal(data, &m)
					v["signoffs"] = []any{m}
				})
			},
			want: "event 12 (signature) by mallory as sre: the signature does not verify",
		},
		{
			name: "journal gone",
			tamper: func(t *testing.T, dir string, d *state.Dir, run *record.Run) {
				os.Remove(filepath.Join(d.Path, "runs", run.ID+".events.jsonl"))
			},
			want: "has no journal",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, d, run := provenRun(t)
			tt.tamper(t, dir, d, run)
			code, stdout, stderr := runCLI(t, dir, "verify", "last")
			if tt.want == "" {
				if code != 0 || !strings.Contains(stdout, "intact") {
					t.Fatalf("verify of an untouched run: exit %d\n%s%s", code, stdout, stderr)
				}
				return
			}
			if code != 1 || !strings.Contains(stderr, tt.want) {
				t.Errorf("verify: exit %d, stderr %q; want exit 1 and %q", code, stderr, tt.want)
			}
		})
	}
}

func TestSignVerifiesWithSSHKeygen(t *testing.T) {
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			dir, d, run := provenRun(t)
			key := testserver.SSHKeygen(t, typ)
			sigPath := filepath.Join(dir, "run.sig")
			t.Setenv("RUNBOOK_OPERATOR", "alice")
			code, stdout, stderr := runCLI(t, dir, "sign", run.ID, "--role", "sre", "--key", key, "--statement", "I checked it", "--out", sigPath)
			if code != 0 {
				t.Fatalf("sign: exit %d: %s%s", code, stdout, stderr)
			}
			events, err := d.Events(context.Background(), run.ID)
			if err != nil {
				t.Fatal(err)
			}
			last := events[len(events)-1]
			if last.Type != record.EventSignature || last.Actor != "alice" {
				t.Fatalf("last event is %s by %q, want a signature by alice", last.Type, last.Actor)
			}
			// What was signed: the canonical bytes as of the event before.
			code, canonical, stderr := runCLI(t, dir, "show", run.ID, "--canonical", "--upto", "11")
			if code != 0 {
				t.Fatalf("show --canonical: exit %d: %s", code, stderr)
			}
			pub, _ := os.ReadFile(key + ".pub")
			allowed := filepath.Join(dir, "allowed_signers")
			os.WriteFile(allowed, []byte("alice "+string(pub)), 0o644)
			cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", "alice", "-n", "runbook", "-s", sigPath)
			cmd.Stdin = strings.NewReader(canonical)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("ssh-keygen -Y verify: %v: %s", err, out)
			}
			// Every later head differs: the signature covers that one.
			_, now, _ := runCLI(t, dir, "show", run.ID, "--canonical")
			if now == canonical {
				t.Error("the canonical bytes did not change with the signature")
			}
			code, stdout, stderr = runCLI(t, dir, "verify", run.ID)
			if code != 0 || !strings.Contains(stdout, "signed by alice as sre with SHA256:") || !regexp.MustCompile(`over journal events 1–(\d+) of (\d+)\n`).MatchString(stdout) {
				t.Errorf("verify after sign: exit %d\n%s%s", code, stdout, stderr)
			}
			stored, _ := d.LoadRun(context.Background(), run.ID)
			if n := len(stored.Signoffs); n != 1 || stored.Signoffs[0].Signature == "" {
				t.Errorf("the record's sign-offs: %+v, want the signature", stored.Signoffs)
			}
		})
	}
}

func TestSignRefusesEncryptedKeyWithoutTerminal(t *testing.T) {
	dir, _, run := provenRun(t)
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen is not installed")
	}
	key := filepath.Join(t.TempDir(), "id_enc")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "secret phrase", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	t.Setenv("SSH_AUTH_SOCK", "")
	code, _, stderr := runCLI(t, dir, "sign", run.ID, "--role", "sre", "--key", key)
	if code != 2 || !strings.Contains(stderr, "is encrypted") {
		t.Errorf("sign with an encrypted key and no terminal: exit %d %q", code, stderr)
	}
}

// TestVerifyWithPostgres: the journal lives in the database; verify and
// sign work there too, and an edited record is caught.
func TestVerifyWithPostgres(t *testing.T) {
	dsn := fleetDB(t)
	dir := writeFiles(t, map[string]string{
		"provable.hcl": provable,
		"answers.hcl":  "review = {\n  status = \"passed\"\n  note = \"seen\"\n}\n",
	})
	if code, _, stderr := runCLI(t, dir, "exec", "provable.hcl", "--answers", "answers.hcl", "--yes", "--state", dsn); code != 1 {
		t.Fatalf("exec: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, dir, "verify", "last", "--state", dsn); code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	key := testserver.SSHKeygen(t, "ed25519")
	if code, stdout, stderr := runCLI(t, dir, "sign", "last", "--state", dsn, "--role", "sre", "--key", key); code != 0 {
		t.Fatalf("sign: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, dir, "verify", "last", "--state", dsn); code != 0 || !strings.Contains(stdout, "1 signatures") {
		t.Fatalf("verify after sign: exit %d\n%s%s", code, stdout, stderr)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE runbook.runs SET record = jsonb_set(record, '{items,2,status}', '"passed"')`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, dir, "verify", "last", "--state", dsn)
	if want := `record: items[2].status is "passed", the journal says "failed"`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("verify of an edited record: exit %d %q, want %q", code, stderr, want)
	}
}

// TestReportRenderedAgainAfterSigning: a run is signed, its report
// rendered again to show the signature; verify checks the new file.
func TestReportRenderedAgainAfterSigning(t *testing.T) {
	dir, _, run := provenRun(t)
	key := testserver.SSHKeygen(t, "ed25519")
	t.Setenv("RUNBOOK_OPERATOR", "alice")
	if code, stdout, stderr := runCLI(t, dir, "sign", run.ID, "--role", "sre", "--key", key); code != 0 {
		t.Fatalf("sign: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, stderr := runCLI(t, dir, "report", run.ID); code != 0 {
		t.Fatalf("report: exit %d\n%s%s", code, stdout, stderr)
	}
	doc, err := os.ReadFile(run.Reports[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "signed with SSH key `SHA256:") {
		t.Errorf("the report rendered again does not show the signature:\n%s", doc)
	}
	if code, stdout, stderr := runCLI(t, dir, "verify", run.ID); code != 0 || !strings.Contains(stdout, "1 signatures") {
		t.Errorf("verify after the report was rendered again: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestSignPrintsACommandThatChecksIt: the ssh-keygen command `runbook
// sign` prints works as printed from another directory (it names the
// run's state); signed without --out, it says where the signature is.
func TestSignPrintsACommandThatChecksIt(t *testing.T) {
	dir, d, run := provenRun(t)
	key := testserver.SSHKeygen(t, "ed25519")
	sigPath := filepath.Join(dir, "run.sig")
	t.Setenv("RUNBOOK_OPERATOR", "alice")
	code, stdout, stderr := runCLI(t, dir, "sign", run.ID, "--role", "sre", "--key", key, "--out", sigPath, "--state", d.Path)
	if code != 0 {
		t.Fatalf("sign: exit %d: %s%s", code, stdout, stderr)
	}
	_, printed, ok := strings.Cut(strings.TrimSpace(stdout), "check it with: ")
	if !ok {
		t.Fatalf("sign prints no command to check the signature:\n%s", stdout)
	}
	elsewhere := t.TempDir()
	pub, _ := os.ReadFile(key + ".pub")
	os.WriteFile(filepath.Join(elsewhere, "allowed_signers"), []byte("alice "+string(pub)), 0o644)
	cmd := exec.Command("sh", "-c", printed)
	cmd.Dir = elsewhere
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(binary(t))+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `Good "runbook" signature for alice`) {
		t.Errorf("the printed command %q in another directory: %v\n%s", printed, err, out)
	}

	code, stdout, stderr = runCLI(t, dir, "sign", run.ID, "--role", "lead", "--key", key)
	if code != 0 || !strings.Contains(stdout, "--out FILE") {
		t.Errorf("sign without --out: exit %d, got\n%s%s\nwant a word on --out FILE", code, stdout, stderr)
	}
}

// TestSignRefusesARoleTheReportsDoNotAsk: a role no report of the run asks
// to sign (a typo, another case) is refused, naming the roles there are.
func TestSignRefusesARoleTheReportsDoNotAsk(t *testing.T) {
	dir, d, run := provenRun(t)
	key := testserver.SSHKeygen(t, "ed25519")
	code, stdout, stderr := runCLI(t, dir, "sign", run.ID, "--role", "SRE", "--key", key)
	if code != 2 || !strings.Contains(stderr, `no role "SRE" to sign (roles: sre, lead)`) {
		t.Errorf("sign --role SRE: exit %d, got %s%s, want exit 2 naming the roles sre, lead", code, stdout, stderr)
	}
	if stored, _ := d.LoadRun(context.Background(), run.ID); len(stored.Signoffs) != 0 {
		t.Errorf("the refused sign-off is in the record: %+v", stored.Signoffs)
	}
}

// TestVerifyWithPostgresOutputHoldingNUL: a command's output holds a NUL
// byte, which PostgreSQL's jsonb cannot store in the record (the state
// writes U+FFFD there) while the journal keeps it; the run still verifies,
// and an edit of that text is still found.
func TestVerifyWithPostgresOutputHoldingNUL(t *testing.T) {
	dsn := fleetDB(t)
	dir := writeFiles(t, map[string]string{"nul.hcl": `runbook "nul" {}

check "out" {
  shell {
    command = ["printf", "a\\0b"]
  }
  assert {
    condition     = self.stdout == "x"
    error_message = "got ${self.stdout}"
  }
}
`})
	if code, _, stderr := runCLI(t, dir, "check", "nul.hcl", "--state", dsn); code != 1 {
		t.Fatalf("check: exit %d: %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, dir, "verify", "last", "--state", dsn); code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, stdout, stderr)
	}
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `UPDATE runbook.runs SET record = jsonb_set(record, '{items,0,result,stdout}', '"aXb"')`); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, dir, "verify", "last", "--state", dsn)
	if want := `items[0].result.stdout is "aXb"`; code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("verify of an edited record: exit %d %q, want %q", code, stderr, want)
	}
}
