package checks

import (
	"context"
	"io"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Host is a machine a provider can run on other than the runbook's own: a
// target reached over SSH. Providers that run there translate their
// observation into a POSIX shell script.
type Host interface {
	// Name is the target's name, as `target "NAME"` declares it.
	Name() string
	// Exec runs script under `sh -c` on the host in its own process group,
	// with stdin (may be nil), writing its output to stdout and stderr, and
	// returns its exit status (128+N when killed by signal N). When ctx
	// ends first, the whole remote process group is killed and ctx's error
	// returned. An error means the script could not run or be waited for.
	Exec(ctx context.Context, script string, stdin io.Reader, stdout, stderr io.Writer) (int, error)
}

// Remote is implemented by providers that can run on a Host: the engine
// calls RunOn instead of Run for an item with `on = target.NAME`. Providers
// without it run only on the runbook's own host.
type Remote interface {
	RunOn(ctx context.Context, h Host, cfg cty.Value) (cty.Value, error)
}

// ShellQuote returns s as one POSIX shell word, for providers that build
// scripts for a Host.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%_+=:,./-") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
