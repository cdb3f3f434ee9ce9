// Package tcp is the `tcp` check provider: it observes whether a TCP
// address accepts connections.
package tcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var (
	_ checks.Provider        = (*Provider)(nil)
	_ checks.Typed           = (*Provider)(nil)
	_ checks.Documented      = (*Provider)(nil)
	_ checks.Describer       = (*Provider)(nil)
	_ checks.Validator       = (*Provider)(nil)
	_ checks.DefaultAsserter = (*Provider)(nil)
)

// DefaultTimeout bounds one connection attempt unless the block sets
// timeout.
const DefaultTimeout = 5 * time.Second

// Provider dials TCP addresses. It keeps no state and is safe for
// concurrent use.
type Provider struct{}

// New returns a tcp Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{} }

// Schema describes the tcp block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"address": &hcldec.AttrSpec{Name: "address", Type: cty.String, Required: true},
		"timeout": &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Opens a TCP connection to an address and observes whether it is accepted.",
		Result: map[string]string{
			"connected": "true when the connection was accepted",
			"error":     "why the connection failed; empty when connected",
		},
	}
}

// DefaultAssert makes a block without asserts fail when nothing accepts.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "self.connected", "cannot connect: ${self.error}"
}

// Validate checks that address is host:port and the timeout parses.
func (p *Provider) Validate(cfg cty.Value) error {
	_, _, err := parse(cfg)
	return err
}

// Describe renders the block as "tcp host:port".
func (p *Provider) Describe(cfg cty.Value) string {
	addr := checks.String(cfg, "address", "")
	if addr == "" {
		return "tcp (address known at run time)"
	}
	return "tcp " + addr
}

// parse returns the address ("" while unknown) and the timeout.
func parse(cfg cty.Value) (string, time.Duration, error) {
	timeout, err := checks.Duration(cfg, "timeout", DefaultTimeout)
	if err != nil {
		return "", 0, err
	}
	addr := checks.String(cfg, "address", "")
	if addr == "" {
		return "", timeout, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("address %q must be host:port", addr)
	}
	if n, err := strconv.Atoi(port); port == "" || (err == nil && (n < 1 || n > 65535)) {
		return "", 0, fmt.Errorf("address %q has no valid port", addr)
	}
	return addr, timeout, nil
}

// Run dials the address once. A refused, unreachable or timed-out
// connection is a result (connected = false); only the check's own
// deadline or a cancelled run is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	addr, timeout, err := parse(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	if addr == "" {
		return cty.NilVal, errors.New("address is not known")
	}
	dialCtx := ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		dialCtx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(dialCtx, "tcp", addr)
	if err == nil {
		_ = conn.Close()
		return result(true, ""), nil
	}
	if ctx.Err() != nil {
		return cty.NilVal, fmt.Errorf("connect to %s: %w", addr, ctx.Err())
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		err = fmt.Errorf("dial tcp %s: no answer within %s", addr, timeout)
	}
	return result(false, err.Error()), nil
}

func result(connected bool, reason string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{
		"connected": cty.BoolVal(connected),
		"error":     cty.StringVal(reason),
	})
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{"connected": cty.Bool, "error": cty.String})
}
