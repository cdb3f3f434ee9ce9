package console

import (
	"testing"

	"github.com/runbookhq/runbook/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }
