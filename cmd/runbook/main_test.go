package main

import (
	"testing"

	"github.com/runbookhq/runbook/internal/testserver"
)

// TestMain stops the PostgreSQL and Redis servers that tests started.
func TestMain(m *testing.M) { testserver.Main(m) }
