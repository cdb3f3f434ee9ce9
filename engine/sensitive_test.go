package engine_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
)

// canary is a secret with characters that escaping changes.
const canary = `Sup3r'S3cret/Tok+en&"x`

// derivedForms are the forms of canary the runbook below computes with
// functions; none may appear in anything runbook stores or prints.
func derivedForms() map[string]string {
	js, _ := json.Marshal(map[string]string{"t": canary})
	return map[string]string{
		"raw":        canary,
		"upper":      strings.ToUpper(canary),
		"lower":      strings.ToLower(canary),
		"base64":     base64.StdEncoding.EncodeToString([]byte("admin:" + canary)),
		"base64 raw": base64.StdEncoding.EncodeToString([]byte(canary)),
		"json":       string(js),
		"json inner": strings.Trim(string(mustJSON(canary)), `"`),
		"url":        url.QueryEscape(canary),
		"shell":      strings.ReplaceAll(canary, "'", `'\''`),
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

const derivedRunbook = `runbook "t" {}
variable "token" {
  type      = string
  sensitive = true
}
locals {
  basic = base64encode("admin:${var.token}")
}
check "upper" {
  shell { command = ["printf", "%s\n", upper(var.token)] }
}
check "lower" {
  shell { command = ["printf", "%s\n", lower(var.token)] }
}
check "base64" {
  shell { command = ["printf", "Authorization: Basic %s\n", local.basic] }
}
check "base64raw" {
  shell {
    command = "printf '%s' \"$T\" | base64"
    env     = { T = var.token }
  }
}
check "json" {
  shell { command = ["printf", "%s\n", jsonencode({ t = var.token })] }
}
check "url" {
  shell { command = ["printf", "%s\n", "https://x/?t=${urlencode(var.token)}"] }
}
check "message" {
  shell { command = ["true"] }
  assert {
    condition     = false
    error_message = "bad token ${upper(var.token)}"
  }
}
`

func TestDerivedSecretsAreRedacted(t *testing.T) {
	b := bind(t, derivedRunbook, engine.Inputs{Vars: []string{"token=" + canary}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	for name, form := range derivedForms() {
		if strings.Contains(string(data), form) {
			t.Errorf("the record contains the %s form %q:\n%s", name, form, data)
		}
	}
	for _, it := range r.Items {
		if it.Name == "message" {
			if got, want := it.Asserts[0].Message, "bad token "+engine.Redacted; got != want {
				t.Errorf("message assert: got %q, want %q", got, want)
			}
			continue
		}
		if out, _ := it.Result["stdout"].(string); !strings.Contains(out, engine.Redacted) {
			t.Errorf("%s: stdout %q shows no redaction", it.Name, out)
		}
	}

	items, err := engine.Plan(b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := json.Marshal(items)
	for name, form := range derivedForms() {
		if strings.Contains(string(pd), form) {
			t.Errorf("the plan contains the %s form %q", name, form)
		}
	}
	for _, pi := range items {
		if pi.Name != "upper" {
			continue
		}
		cmd, _ := pi.Args["command"].([]any)
		if len(cmd) != 3 || cmd[2] != engine.Redacted || cmd[0] != "printf" {
			t.Errorf("plan args of upper: got %v, want the third word (sensitive)", pi.Args["command"])
		}
	}
}

// A secret cut in two by the output cap is still redacted: the part
// before the cut is a prefix of the secret.
func TestSecretCutByOutputCapIsRedacted(t *testing.T) {
	b := bind(t, `runbook "t" {}
variable "token" {
  type      = string
  sensitive = true
}
check "cut" {
  shell {
    command    = ["printf", "0123456789%s", var.token]
    max_output = 16
  }
}
`, engine.Inputs{Vars: []string{"token=" + canary}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	got := item(t, r, "check", "cut").Result["stdout"]
	if got != "0123456789"+engine.Redacted {
		t.Fatalf("stdout = %q, want %q", got, "0123456789"+engine.Redacted)
	}
}

// Child processes do not inherit a sensitive variable's RUNBOOK_VAR_
// value unless the step passes it in env; other variables' are inherited.
func TestChildrenDoNotInheritSensitiveVariables(t *testing.T) {
	t.Setenv("RUNBOOK_VAR_token", canary)
	t.Setenv("RUNBOOK_VAR_region", "eu-west")
	b := bind(t, `runbook "t" {}
variable "token" {
  type      = string
  sensitive = true
}
variable "region" { type = string }
check "inherit" {
  shell { command = "echo token=$RUNBOOK_VAR_token region=$RUNBOOK_VAR_region" }
}
check "passed" {
  shell {
    command = "test \"$TOKEN\" = \"$EXPECT\" && echo same"
    env     = { TOKEN = var.token, EXPECT = env.RUNBOOK_VAR_token }
  }
}
`, engine.Inputs{Environ: os.Environ()})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	if got := item(t, r, "check", "inherit").Result["stdout"]; got != "token= region=eu-west\n" {
		t.Errorf("inherit: stdout = %q, want %q", got, "token= region=eu-west\n")
	}
	if got := item(t, r, "check", "passed").Result["stdout"]; got != "same\n" {
		t.Errorf("passed: stdout = %q, want %q", got, "same\n")
	}
}

// Passwords inside connection strings are masked in the record's
// variables, plan arguments and errors, sensitive or not.
func TestConnectionStringPasswordsAreMasked(t *testing.T) {
	const pw = "Pa55w0rdX"
	b := bind(t, `runbook "t" {}
variable "dsn" { type = string }
check "db" {
  shell { command = ["sh", "-c", "echo cannot reach $0; exit 3", var.dsn] }
  assert {
    condition     = self.exit_code == 0
    error_message = "failed: ${var.dsn}"
  }
}
check "kv" {
  shell { command = ["true", "host=db password=${var.dsn == "" ? "" : "Pa55w0rdX"} dbname=x"] }
}
`, engine.Inputs{Vars: []string{"dsn=postgres://app:" + pw + "@db:5432/x"}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Variables["dsn"]; got != "postgres://app:xxxxx@db:5432/x" {
		t.Errorf("record variable: got %v", got)
	}
	if a := item(t, r, "check", "db").Action; strings.Contains(a, pw) {
		t.Errorf("action %q shows the password", a)
	}
	items, err := engine.Plan(b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	pd, _ := json.Marshal(items)
	if strings.Contains(string(pd), pw) {
		t.Errorf("the plan shows the password:\n%s", pd)
	}
	if !strings.Contains(string(pd), "app:xxxxx@db") || !strings.Contains(string(pd), "password=xxxxx") {
		t.Errorf("the plan does not show the masked forms:\n%s", pd)
	}
}

// A value for an undeclared variable from a variables file or the
// environment is an error, like --var; AllowUndeclared keeps the file's
// as a warning and ignores the environment's.
func TestUndeclaredVariableValues(t *testing.T) {
	dir := t.TempDir()
	rb := filepath.Join(dir, "runbook.hcl")
	vf := filepath.Join(dir, "shared.vars.hcl")
	os.WriteFile(rb, []byte("runbook \"t\" {}\nvariable \"region\" { default = \"x\" }\n"), 0o644)
	os.WriteFile(vf, []byte("regoin = \"eu\"\n"), 0o644)
	reg := testRegistry()
	cfg, diags := engine.Load(rb, reg)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	tests := []struct {
		name     string
		in       engine.Inputs
		severity hcl.DiagnosticSeverity
		detail   string
	}{
		{"var file", engine.Inputs{VarFiles: []string{vf}}, hcl.DiagError, `Did you mean "region"?`},
		{"environment", engine.Inputs{Environ: []string{"RUNBOOK_VAR_regoin=eu"}}, hcl.DiagError, `RUNBOOK_VAR_regoin`},
		{"var file allowed", engine.Inputs{VarFiles: []string{vf}, AllowUndeclared: true}, hcl.DiagWarning, `Did you mean "region"?`},
		{"environment allowed", engine.Inputs{Environ: []string{"RUNBOOK_VAR_regoin=eu"}, AllowUndeclared: true}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := engine.Bind(cfg, reg, tt.in)
			if tt.severity == 0 {
				if len(diags) != 0 {
					t.Fatalf("got %v, want no diagnostics", diags)
				}
				return
			}
			if len(diags) != 1 || diags[0].Severity != tt.severity || !strings.Contains(diags[0].Detail, tt.detail) {
				t.Fatalf("got %v, want one diagnostic of severity %v saying %q", diags, tt.severity, tt.detail)
			}
		})
	}
}

// A string derived from a secret only late in the run (from a result) is
// registered then; the record is redacted on its way out, so output that
// an earlier item captured is caught too.
func TestLateDerivedSecretsAreRedactedOnTheWayOut(t *testing.T) {
	sum := sha256.Sum256([]byte(canary + "passed"))
	digest := hex.EncodeToString(sum[:])
	b := bind(t, `runbook "t" {}
variable "token" {
  type      = string
  sensitive = true
}
check "a" {
  shell { command = ["echo", "`+digest+`"] }
}
check "b" {
  shell { command = ["echo", sha256("${var.token}${check.a.status}")] }
}
`, engine.Inputs{Vars: []string{"token=" + canary}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	if strings.Contains(string(data), digest) {
		t.Fatalf("the record holds the derived secret:\n%s", data)
	}
	if got := item(t, r, "check", "a").Result["stdout"]; got != engine.Redacted+"\n" {
		t.Errorf("a's stdout = %q, want %q", got, engine.Redacted+"\n")
	}
}

// TestEchoedBasicAuthFromAURLIsRedacted: a URL's user:password@ is sent
// by the http provider as basic authentication; a server that echoes the
// Authorization header (httpbin's /headers, a debug endpoint) gives back
// base64("user:secret"), which must be redacted whatever the length of
// the user name (the secret then starts at a different offset of a
// base64 group).
func TestEchoedBasicAuthFromAURLIsRedacted(t *testing.T) {
	const token = "Hunt3r-S3cret_x"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	for _, user := range []string{"root", "admin", "bob", "ops-user"} {
		t.Run(user, func(t *testing.T) {
			b := bind(t, `runbook "t" {}
variable "token" {
  type      = string
  sensitive = true
}
variable "host" {
  type = string
}
check "c" {
  http { url = "http://`+user+`:${var.token}@${var.host}/" }
}
`, engine.Inputs{Vars: []string{"token=" + token, "host=" + strings.TrimPrefix(srv.URL, "http://")}})
			r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
			if err != nil {
				t.Fatal(err)
			}
			data, _ := json.Marshal(r)
			basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + token))
			// The first characters encode the user name alone.
			if strings.Contains(string(data), basic[8:]) {
				t.Errorf("the record holds base64(%s:secret) %q:\n%s", user, basic, data)
			}
		})
	}
}

// TestBase64InsideLongerTextIsRedacted: a secret inside a longer text
// that is base64-encoded is redacted at each of the three offsets it can
// start at, and the text around it stays.
func TestBase64InsideLongerTextIsRedacted(t *testing.T) {
	const secret = "p4ss-w0rd!"
	red := engine.NewRedactor([]string{secret})
	for _, prefix := range []string{"", "a", "ab", "abc", "user:", "Bearer token for "} {
		enc := base64.StdEncoding.EncodeToString([]byte(prefix + secret + " and more text"))
		got := red.String(enc)
		if !strings.Contains(got, engine.Redacted) {
			t.Errorf("prefix %q: %q not redacted in %q", prefix, secret, got)
		}
		if lead := base64.StdEncoding.EncodeToString([]byte(prefix))[:4*(len(prefix)/3)]; !strings.HasPrefix(got, lead) {
			t.Errorf("prefix %q: the encoded prefix %q did not stay: %q", prefix, lead, got)
		}
	}
}

// TestEchoedBasicAuthFromASensitiveURLIsRedacted: when the whole URL is
// the secret, its password is redacted in the basic authentication the
// client sends for it.
func TestEchoedBasicAuthFromASensitiveURLIsRedacted(t *testing.T) {
	const pass = "Hunt3r-S3cret_x"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	b := bind(t, `runbook "t" {}
variable "url" {
  type      = string
  sensitive = true
}
check "c" {
  http { url = var.url }
}
`, engine.Inputs{Vars: []string{"url=http://admin:" + pass + "@" + strings.TrimPrefix(srv.URL, "http://") + "/"}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	basic := base64.StdEncoding.EncodeToString([]byte("admin:" + pass))
	if strings.Contains(string(data), basic[8:]) {
		t.Errorf("the record holds base64(admin:secret) %q:\n%s", basic, data)
	}
}

// TestOperatorDerivedSecretsAreRedacted: operators are not functions, so
// what they derive from a sensitive value is registered at the edge, by
// evaluating each part of the expression: the command's output of
// var.pin + 1 is redacted, and so are a title, an assert message and a
// condition's parts computed the same way.
func TestOperatorDerivedSecretsAreRedacted(t *testing.T) {
	b := bind(t, `runbook "t" {}
variable "pin" {
  type      = number
  sensitive = true
}
locals {
  next = var.pin * 2
}
check "c" {
  title = "pin ${var.pin - 11111}"
  shell {
    command = "echo ${var.pin + 1}; echo ${local.next}; for x in ${join(" ", [for d in [3, 4] : var.pin + d])}; do echo \"<$x>\"; done"
  }
  assert {
    condition     = self.exit_code == 1
    error_message = "expected ${var.pin + 2}"
  }
}
`, engine.Inputs{Vars: []string{"pin=73519"}})
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeCheck})
	if err != nil {
		t.Fatal(err)
	}
	// What the run wrote, without what holds digits by chance (the
	// runbook's temporary path, the run id, times, hashes), which could
	// hold a derived value's digits and fail the test at random.
	for i := range r.Items {
		r.Items[i].StartedAt, r.Items[i].DurationMS = nil, 0
	}
	data, _ := json.Marshal(struct {
		Items     []record.Item
		Variables map[string]any
	}{r.Items, r.Variables})
	for _, derived := range []string{"73520", "73521", "73522", "73523", "147038", "62408"} {
		if strings.Contains(string(data), derived) {
			t.Errorf("the record holds %s, derived from var.pin by an operator:\n%s", derived, data)
		}
	}
}

// An inject's message that names a sensitive variable is redacted where
// it is delivered, recorded and journaled.
func TestInjectMessagesAreRedacted(t *testing.T) {
	src := `
runbook "drill" {
  exercise = true
}
variable "token" {
  sensitive = true
}
inject "leak" {
  at      = "+0s"
  message = "the token is ${var.token}"
}
step "wait" {
  shell { command = "sleep 0.3" }
}
`
	b := bind(t, src, engine.Inputs{Vars: []string{"token=" + canary}})
	obs := &events{}
	var delivered []string
	r, err := engine.Run(context.Background(), b, engine.Options{Mode: engine.ModeExec, Observer: obs,
		Deliver: func(_ context.Context, in record.Inject) []string {
			delivered = append(delivered, in.Message)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(r)
	evs, _ := json.Marshal(obs.ofType(record.EventInject))
	for what, text := range map[string]string{"the record": string(data), "the inject event": string(evs), "the delivery": strings.Join(delivered, "\n")} {
		if strings.Contains(text, "Sup3r") {
			t.Errorf("%s shows the secret: %s", what, text)
		}
	}
	if len(delivered) != 1 || delivered[0] != "the token is "+engine.Redacted {
		t.Errorf("delivered %q, want the message with the secret redacted", delivered)
	}
}
