package main

import (
	"strings"
	"testing"
)

func TestPlanFlagsInsecureTargets(t *testing.T) {
	src := `runbook "p" {}

target "lab" {
  ssh {
    host                     = "10.0.0.9"
    agent                    = true
    insecure_ignore_host_key = INSECURE
  }
}

check "up" {
  on = [target.lab]
  shell {
    command = "uptime"
  }
}
`
	for _, insecure := range []bool{true, false} {
		dir := writeFiles(t, map[string]string{"rb.hcl": strings.Replace(src, "INSECURE", map[bool]string{true: "true", false: "false"}[insecure], 1)})
		code, stdout, stderr := runCLI(t, dir, "plan", "--checks", "rb.hcl")
		if code != 0 || !strings.Contains(stdout, "check.up[lab]") || !strings.Contains(stdout, "on lab (ssh 10.0.0.9:22") {
			t.Fatalf("plan: exit %d\n%s%s", code, stdout, stderr)
		}
		flagged := strings.Contains(stdout, "target lab: insecure_ignore_host_key = true") && strings.Contains(stdout, "HOST KEY NOT VERIFIED")
		if flagged != insecure {
			t.Errorf("insecure %v: flagged %v\n%s", insecure, flagged, stdout)
		}
	}
}
