// Package tls is the `tls` check provider: it completes a TLS handshake
// with a server and observes the certificate it presents (expiry, issuer,
// names) and whether the chain and name verify.
//
// The handshake itself never verifies, so an expired or self-signed
// certificate is still observed; verification is done afterwards and
// reported in `verified` and `verify_error`, which the default assertion
// checks together with the days left.
package tls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
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

// DefaultTimeout bounds the connection and handshake unless the block sets
// timeout.
const DefaultTimeout = 10 * time.Second

// Provider makes TLS handshakes. It keeps no state and is safe for
// concurrent use.
type Provider struct {
	// now is the clock days_left is counted from; nil means time.Now.
	now func() time.Time
}

// New returns a tls Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{} }

// Schema describes the tls block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"address":              &hcldec.AttrSpec{Name: "address", Type: cty.String, Required: true},
		"server_name":          &hcldec.AttrSpec{Name: "server_name", Type: cty.String},
		"ca_file":              &hcldec.AttrSpec{Name: "ca_file", Type: cty.String},
		"insecure_skip_verify": &hcldec.AttrSpec{Name: "insecure_skip_verify", Type: cty.Bool},
		"timeout":              &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Completes a TLS handshake and observes the server certificate: expiry, issuer, names and whether it verifies.",
		Result: map[string]string{
			"days_left":    "whole days until the certificate expires; negative once expired",
			"not_after":    "when the certificate expires (RFC 3339, UTC)",
			"not_before":   "when the certificate became valid (RFC 3339, UTC)",
			"issuer":       "the issuer's distinguished name",
			"subject":      "the subject's distinguished name",
			"sans":         "the DNS names and IP addresses the certificate is for",
			"verified":     "true when the chain and the name verified",
			"verify_error": "why verification failed, or that it was skipped; empty when verified",
			"version":      "the negotiated protocol version, such as \"TLS 1.3\"",
			"cipher":       "the negotiated cipher suite",
		},
	}
}

// skipped is verify_error when insecure_skip_verify is set.
const skipped = "verification skipped (insecure_skip_verify)"

// DefaultAssert makes a block without asserts fail when the certificate
// does not verify (unless verification is skipped) or expires within 14
// days.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "(self.verified || self.verify_error == \"" + skipped + "\") && self.days_left >= 14",
		"certificate ${self.subject}: verified ${self.verified} ${self.verify_error}, ${self.days_left} days left"
}

// Validate checks the address and the timeout.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parse(cfg)
	return err
}

// Describe renders the block as "tls host:port".
func (p *Provider) Describe(cfg cty.Value) string {
	addr := checks.String(cfg, "address", "")
	if addr == "" {
		return "tls (address known at run time)"
	}
	return "tls " + addr
}

// probe is a parsed tls block; while validating, values not known yet are
// left zero.
type probe struct {
	address    string
	serverName string
	caFile     string
	insecure   bool
	timeout    time.Duration
}

func parse(cfg cty.Value) (*probe, error) {
	pr := &probe{
		address:    checks.String(cfg, "address", ""),
		serverName: checks.String(cfg, "server_name", ""),
		caFile:     checks.String(cfg, "ca_file", ""),
		insecure:   checks.Bool(cfg, "insecure_skip_verify", false),
	}
	var err error
	if pr.timeout, err = checks.Duration(cfg, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	if pr.address == "" {
		return pr, nil
	}
	host, port, err := net.SplitHostPort(pr.address)
	if err != nil {
		return nil, checks.ArgErrorf("address", "address %q must be host:port", pr.address)
	}
	if n, err := strconv.Atoi(port); port == "" || (err == nil && (n < 1 || n > 65535)) {
		return nil, checks.ArgErrorf("address", "address %q has no valid port", pr.address)
	}
	if pr.serverName == "" {
		pr.serverName = host
	}
	return pr, nil
}

// Run connects, completes the handshake and returns what the certificate
// says. A failed connection or handshake is an error; a certificate that
// does not verify is a result with verified = false.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	pr, err := parse(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	if pr.address == "" {
		return cty.NilVal, errors.New("address is not known")
	}
	var roots *x509.CertPool
	if pr.caFile != "" {
		pem, err := os.ReadFile(pr.caFile)
		if err != nil {
			return cty.NilVal, fmt.Errorf("read ca_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return cty.NilVal, fmt.Errorf("ca_file %q holds no PEM certificates", pr.caFile)
		}
	}
	dialCtx := ctx
	if pr.timeout > 0 {
		var cancel context.CancelFunc
		dialCtx, cancel = context.WithTimeout(ctx, pr.timeout)
		defer cancel()
	}
	d := &tls.Dialer{Config: &tls.Config{
		ServerName: pr.serverName,
		// Verified below, so that an expired or untrusted certificate is
		// observed rather than refused.
		InsecureSkipVerify: true, //nolint:gosec
	}}
	conn, err := d.DialContext(dialCtx, "tcp", pr.address)
	if err != nil {
		if ctx.Err() == nil && dialCtx.Err() != nil {
			return cty.NilVal, fmt.Errorf("tls %s: no handshake within %s", pr.address, pr.timeout)
		}
		return cty.NilVal, fmt.Errorf("tls %s: %w", pr.address, err)
	}
	defer conn.Close()
	state := conn.(*tls.Conn).ConnectionState()
	if len(state.PeerCertificates) == 0 {
		return cty.NilVal, fmt.Errorf("tls %s: the server presented no certificate", pr.address)
	}
	now := time.Now()
	if p.now != nil {
		now = p.now()
	}
	verifyErr := skipped
	if !pr.insecure {
		verifyErr = verify(state, pr.serverName, roots, now)
	}
	return result(state, now, verifyErr == "", verifyErr), nil
}

// verify checks the presented chain against roots (the system's when nil)
// and the server name; it returns why it failed, or "".
func verify(state tls.ConnectionState, name string, roots *x509.CertPool, now time.Time) string {
	leaf := state.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, c := range state.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, Intermediates: inter, CurrentTime: now})
	if err != nil {
		return err.Error()
	}
	return ""
}

func result(state tls.ConnectionState, now time.Time, verified bool, verifyErr string) cty.Value {
	leaf := state.PeerCertificates[0]
	sans := []cty.Value{}
	for _, n := range leaf.DNSNames {
		sans = append(sans, cty.StringVal(n))
	}
	for _, ip := range leaf.IPAddresses {
		sans = append(sans, cty.StringVal(ip.String()))
	}
	sanList := cty.ListValEmpty(cty.String)
	if len(sans) > 0 {
		sanList = cty.ListVal(sans)
	}
	left := leaf.NotAfter.Sub(now).Hours() / 24
	return cty.ObjectVal(map[string]cty.Value{
		"days_left":    cty.NumberIntVal(int64(math.Floor(left))),
		"not_after":    cty.StringVal(leaf.NotAfter.UTC().Format(time.RFC3339)),
		"not_before":   cty.StringVal(leaf.NotBefore.UTC().Format(time.RFC3339)),
		"issuer":       cty.StringVal(leaf.Issuer.String()),
		"subject":      cty.StringVal(leaf.Subject.String()),
		"sans":         sanList,
		"verified":     cty.BoolVal(verified),
		"verify_error": cty.StringVal(verifyErr),
		"version":      cty.StringVal(tls.VersionName(state.Version)),
		"cipher":       cty.StringVal(tls.CipherSuiteName(state.CipherSuite)),
	})
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{
		"days_left": cty.Number, "not_after": cty.String, "not_before": cty.String,
		"issuer": cty.String, "subject": cty.String, "sans": cty.List(cty.String),
		"verified": cty.Bool, "verify_error": cty.String,
		"version": cty.String, "cipher": cty.String,
	})
}
