package shell

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var _ checks.Remote = (*Provider)(nil)

// RunOn runs the command on a target: a string as a script of the
// target's `sh`, a list exec'd from it with each element quoted as one
// word. The script, with its env exports, reaches the target over the
// session's input (see remote.Pool), never on a command line.
// env is exported first and dir entered; the environment is otherwise the
// target login's, not the runbook's. A timeout or cancelled run kills the
// remote process group.
func (p *Provider) RunOn(ctx context.Context, h checks.Host, cfg cty.Value) (cty.Value, error) {
	c, err := parse(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	if c.argv == nil {
		return cty.NilVal, fmt.Errorf("command is not known")
	}
	runCtx := ctx
	if c.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	stdout := &checks.CappedBuffer{Limit: c.maxOutput}
	stderr := &checks.CappedBuffer{Limit: c.maxOutput}
	var stdin io.Reader
	if c.stdin != nil {
		stdin = strings.NewReader(*c.stdin)
	}
	code, err := h.Exec(runCtx, remoteScript(c), stdin, stdout, stderr)
	if err != nil {
		if runCtx.Err() != nil {
			return newResult(-1, stdout, stderr).Value(), stopReason(ctx, c.timeout)
		}
		return cty.NilVal, err
	}
	return newResult(code, stdout, stderr).Value(), nil
}

// remoteScript is the command as one script for `sh` on a target; env
// names are POSIX names (checked by parse), so `export NAME=` is safe.
func remoteScript(c *command) string {
	var b strings.Builder
	for _, k := range checks.SortedKeys(c.env) {
		b.WriteString("export " + k + "=" + checks.ShellQuote(c.env[k]) + "\n")
	}
	if c.dir != "" {
		b.WriteString("cd -- " + checks.ShellQuote(c.dir) + " || exit 126\n")
	}
	if c.shell {
		b.WriteString(c.argv[2])
	} else {
		b.WriteString("exec " + quoteAll(c.argv))
	}
	return b.String()
}
