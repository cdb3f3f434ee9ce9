package main

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// canaryToken is a secret with characters that escaping changes.
const canaryToken = `Can4ry-S3cret'Tok/+&"x`

// canaryForms are the forms of canaryToken that the runbook below derives
// with functions (base64, upper, lower, JSON, URL escaping), each also as
// it appears shell-quoted, %q-quoted, JSON-escaped (the way Go escapes
// <, > and &) and XML-escaped; none may appear in anything runbook prints,
// writes or sends.
func canaryForms() map[string]string {
	obj, _ := json.Marshal(map[string]string{"t": canaryToken})
	derived := map[string]string{
		"raw":           canaryToken,
		"base64":        base64.StdEncoding.EncodeToString([]byte(canaryToken)),
		"base64 of u:t": base64.StdEncoding.EncodeToString([]byte("admin:" + canaryToken)),
		"upper":         strings.ToUpper(canaryToken),
		"lower":         strings.ToLower(canaryToken),
		"json object":   string(obj),
		"url escaped":   url.QueryEscape(canaryToken),
		"path escaped":  url.PathEscape(canaryToken),
	}
	out := map[string]string{}
	for name, d := range derived {
		js, _ := json.Marshal(d)
		var x strings.Builder
		xml.EscapeText(&x, []byte(d))
		for how, f := range map[string]string{
			"":               d,
			", shell-quoted": strings.ReplaceAll(d, "'", `'\''`),
			", %q-quoted":    strings.Trim(strconv.Quote(d), `"`),
			", JSON-escaped": strings.Trim(string(js), `"`),
			", XML-escaped":  x.String(),
		} {
			out[name+how] = f
		}
	}
	return out
}

const canaryRunbook = `runbook "canary" {
  title = "Canary"
}

variable "token" {
  type      = string
  sensitive = true
}

variable "hook" {
  type = string
}

variable "fail" {
  type    = bool
  default = true
}

locals {
  forms = {
    b64   = base64encode(var.token)
    basic = base64encode("admin:${var.token}")
    up    = upper(var.token)
    low   = lower(var.token)
    json  = jsonencode({ t = var.token })
    url   = urlencode(var.token)
  }
}

check "leak" {
  title = "leaks ${local.forms.up}"
  shell {
    command = ["sh", "-c", "printf '%s\\n' \"$@\"; echo \"$*\" >&2; test \"$FAIL\" = false", "sh",
      local.forms.b64, local.forms.basic, local.forms.up, local.forms.low, local.forms.json, local.forms.url, var.token]
    env = { FAIL = tostring(var.fail) }
  }
  assert {
    condition     = self.exit_code == 0
    error_message = "failed with ${local.forms.up} ${local.forms.json} ${local.forms.b64}"
  }
}

check "quoted" {
  shell {
    command = "printf '%s\\n' '${var.token}' ${var.fail}"
  }
}

check "api" {
  http {
    url     = "${var.hook}/echo?t=${local.forms.url}"
    headers = { Authorization = "Basic ${local.forms.basic}" }
  }
  assert {
    condition     = !var.fail
    error_message = "api said ${self.body}"
  }
}

report "summary" {
  template = "summary"
  output   = "report.md"
}

alert "hook" {
  webhook {
    url = "${var.hook}/hook"
  }
}

alert "slack" {
  slack {
    url = "${var.hook}/slack"
  }
}

alert "pager" {
  pagerduty {
    routing_key = "rk-123"
    url         = "${var.hook}/pd"
  }
}
`

// TestCanaryNeverLeaks runs the built binary over a runbook that derives
// a secret with functions (base64, upper, lower, JSON, URL escaping) and
// prints every form: no output, file, record, report, watch log, watch
// state or alert body (webhook, Slack, PagerDuty) may hold any form.
func TestCanaryNeverLeaks(t *testing.T) {
	var mu sync.Mutex
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, r.URL.Path+" "+string(body))
		mu.Unlock()
		if r.URL.Path == "/echo" {
			// The server echoes what it was sent, re-encoded.
			io.WriteString(w, r.URL.Query().Get("t")+" "+r.Header.Get("Authorization")+" "+r.URL.RawQuery)
		}
	}))
	defer srv.Close()
	dir := writeFiles(t, map[string]string{"canary.hcl": canaryRunbook})
	env := append(os.Environ(), "RUNBOOK_VAR_token="+canaryToken, "RUNBOOK_VAR_hook="+srv.URL)
	var all strings.Builder
	run := func(args ...string) {
		cmd := exec.Command(binary(t), args...)
		cmd.Dir, cmd.Env = dir, env
		out, _ := cmd.CombinedOutput()
		all.WriteString("$ runbook " + strings.Join(args, " ") + "\n" + string(out) + "\n")
	}
	state := filepath.Join(dir, "state")
	for _, format := range []string{"table", "json", "junit", "tap", "markdown", "nagios", "prometheus"} {
		run("exec", "canary.hcl", "--state", state, "--format", format, "-v", "--out", "out-"+format+".json")
	}
	run("check", "canary.hcl", "--state", state, "--format", "nagios")
	run("plan", "canary.hcl")
	run("plan", "canary.hcl", "--format", "json")
	run("validate", "canary.hcl")
	run("show", "last", "--state", state, "-v")
	run("report", "--template", "tabletop", "--state", state)
	watchState := filepath.Join(dir, "watch-state")
	run("watch", "canary.hcl", "--once", "--state", watchState, "--log-format", "json", "--var", "fail=false")
	run("watch", "canary.hcl", "--once", "--state", watchState, "--log-format", "json", "--webhook", srv.URL+"/generic")
	run("watch", "canary.hcl", "--once", "--state", watchState, "--var", "fail=false")

	mu.Lock()
	sent := strings.Join(bodies, "\n")
	mu.Unlock()
	for _, want := range []string{"/hook ", "/slack ", "/pd ", "/generic "} {
		if !strings.Contains(sent, want) {
			t.Errorf("no alert reached %s; the receiver got:\n%s\n\noutput:\n%s", want, sent, all.String())
		}
	}
	// Everything the receivers got other than the request the check
	// itself makes (which must carry the secret).
	var alerts []string
	for _, b := range bodies {
		if !strings.HasPrefix(b, "/echo ") {
			alerts = append(alerts, b)
		}
	}
	texts := map[string]string{"output": all.String(), "alert bodies": strings.Join(alerts, "\n")}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && filepath.Base(p) != "canary.hcl" {
			data, _ := os.ReadFile(p)
			texts[p] = string(data)
		}
		return nil
	})
	for where, text := range texts {
		for name, form := range canaryForms() {
			if strings.Contains(text, form) {
				t.Errorf("%s holds the %s form %q", where, name, form)
			}
		}
	}
	if !strings.Contains(all.String(), "(sensitive)") {
		t.Errorf("no redaction marker in the output:\n%s", all.String())
	}
	if t.Failed() || os.Getenv("CANARY_DEBUG") != "" {
		t.Logf("output:\n%s\nalerts:\n%s", all.String(), strings.Join(alerts, "\n"))
	}
}
