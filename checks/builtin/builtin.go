// Package builtin is the one explicit registry of check providers.
//
// Validation, `runbook providers`, the docs tests and the engine all read
// Providers. Adding a provider touches two places: its own package under
// checks/ and one line here.
package builtin

import (
	"sort"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/disk"
	"github.com/runbookhq/runbook/checks/dns"
	"github.com/runbookhq/runbook/checks/file"
	"github.com/runbookhq/runbook/checks/golden"
	"github.com/runbookhq/runbook/checks/http"
	"github.com/runbookhq/runbook/checks/log"
	"github.com/runbookhq/runbook/checks/process"
	"github.com/runbookhq/runbook/checks/prometheus"
	"github.com/runbookhq/runbook/checks/redis"
	"github.com/runbookhq/runbook/checks/shell"
	"github.com/runbookhq/runbook/checks/sql"
	"github.com/runbookhq/runbook/checks/tcp"
	"github.com/runbookhq/runbook/checks/tls"
)

// Providers maps a provider block type to the factory of its provider.
var Providers = map[string]checks.Factory{
	"disk":       disk.New,
	"dns":        dns.New,
	"file":       file.New,
	"golden":     golden.New,
	"http":       http.New,
	"log":        log.New,
	"process":    process.New,
	"prometheus": prometheus.New,
	"redis":      redis.New,
	"shell":      shell.New,
	"sql":        sql.New,
	"tcp":        tcp.New,
	"tls":        tls.New,
}

// Planned names providers the language reserves but this build does not
// carry yet; a block of such a type is a clear "not available yet"
// diagnostic rather than an unknown block.
var Planned = map[string]string{}

// Names returns the registered provider names in order.
func Names() []string {
	names := make([]string, 0, len(Providers))
	for n := range Providers {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
