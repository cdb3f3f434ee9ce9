package main

import (
	"os"
	"testing"

	"github.com/runbookhq/runbook/internal/testserver"
)

// TestMain stops the PostgreSQL and Redis servers that tests started. No
// test may write the host-wide state of the account running the tests
// ($XDG_STATE_HOME/runbook, else ~/.local/state/runbook): it points at a
// path no one can create, so a test that would write there without setting
// XDG_STATE_HOME to a directory of its own fails instead.
func TestMain(m *testing.M) {
	os.Setenv("XDG_STATE_HOME", os.DevNull+"/runbook-tests-set-XDG_STATE_HOME")
	testserver.Main(m)
}
