package tls

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/zclconf/go-cty/cty"
)

// now is the fixed clock of these tests.
var now = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// authority is a test CA: its certificate (PEM file on disk) and key.
type authority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemFile string
}

func newAuthority(t *testing.T) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Runbook Test CA", Organization: []string{"Runbook"}},
		NotBefore:             now.Add(-365 * 24 * time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &authority{cert: cert, key: key, pemFile: file}
}

// server starts a real TLS server presenting a certificate for names,
// signed by ca, that expires at notAfter; it returns its address.
func (ca *authority) server(t *testing.T, notAfter time.Time, names ...string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     notAfter,
		DNSNames:     names,
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.(*tls.Conn).Handshake()
			}()
		}
	}()
	return l.Addr().String()
}

func TestRun(t *testing.T) {
	ca := newAuthority(t)
	valid := ca.server(t, now.Add(30*24*time.Hour+time.Hour), "svc.test", "www.svc.test")
	expired := ca.server(t, now.Add(-3*24*time.Hour), "old.test")
	other := newAuthority(t)

	type result struct {
		DaysLeft    int64
		NotAfter    string
		Subject     string
		Issuer      string
		SANs        []string
		Verified    bool
		VerifyError string // a substring
	}
	tests := []struct {
		name string
		src  string
		want result
	}{
		{"valid", `
			address     = "` + valid + `"
			server_name = "svc.test"
			ca_file     = "` + ca.pemFile + `"`,
			result{DaysLeft: 30, NotAfter: "2026-07-01T13:00:00Z", Subject: "CN=svc.test", Issuer: "CN=Runbook Test CA,O=Runbook",
				SANs: []string{"svc.test", "www.svc.test", "127.0.0.1"}, Verified: true}},
		{"wrong name", `
			address     = "` + valid + `"
			server_name = "other.test"
			ca_file     = "` + ca.pemFile + `"`,
			result{DaysLeft: 30, NotAfter: "2026-07-01T13:00:00Z", Subject: "CN=svc.test", Issuer: "CN=Runbook Test CA,O=Runbook",
				SANs: []string{"svc.test", "www.svc.test", "127.0.0.1"}, VerifyError: "other.test"}},
		{"unknown authority", `
			address     = "` + valid + `"
			server_name = "svc.test"
			ca_file     = "` + other.pemFile + `"`,
			result{DaysLeft: 30, NotAfter: "2026-07-01T13:00:00Z", Subject: "CN=svc.test", Issuer: "CN=Runbook Test CA,O=Runbook",
				SANs: []string{"svc.test", "www.svc.test", "127.0.0.1"}, VerifyError: "unknown authority"}},
		{"expired", `
			address = "` + expired + `"
			server_name = "old.test"
			ca_file = "` + ca.pemFile + `"`,
			result{DaysLeft: -3, NotAfter: "2026-05-29T12:00:00Z", Subject: "CN=old.test", Issuer: "CN=Runbook Test CA,O=Runbook",
				SANs: []string{"old.test", "127.0.0.1"}, VerifyError: "expired"}},
		{"expired, verification skipped", `
			address = "` + expired + `"
			insecure_skip_verify = true`,
			result{DaysLeft: -3, NotAfter: "2026-05-29T12:00:00Z", Subject: "CN=old.test", Issuer: "CN=Runbook Test CA,O=Runbook",
				SANs: []string{"old.test", "127.0.0.1"}, VerifyError: "verification skipped (insecure_skip_verify)"}},
	}
	p := &Provider{now: func() time.Time { return now }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), checkstest.Decode(t, p, tt.src, nil))
			if err != nil {
				t.Fatalf("Run: got error %v, want none", err)
			}
			if !res.Type().Equals(p.Result()) {
				t.Fatalf("result type %s, want %s", res.Type().FriendlyName(), p.Result().FriendlyName())
			}
			days, _ := res.GetAttr("days_left").AsBigFloat().Int64()
			got := result{
				DaysLeft: days,
				NotAfter: res.GetAttr("not_after").AsString(),
				Subject:  res.GetAttr("subject").AsString(),
				Issuer:   res.GetAttr("issuer").AsString(),
				Verified: res.GetAttr("verified").True(),
			}
			for _, v := range res.GetAttr("sans").AsValueSlice() {
				got.SANs = append(got.SANs, v.AsString())
			}
			if e := res.GetAttr("verify_error").AsString(); e != "" {
				got.VerifyError = e
				if tt.want.VerifyError != "" && strings.Contains(e, tt.want.VerifyError) {
					got.VerifyError = tt.want.VerifyError
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if v := res.GetAttr("version").AsString(); v != "TLS 1.3" {
				t.Errorf("version %q, want TLS 1.3", v)
			}
			if c := res.GetAttr("cipher").AsString(); !strings.HasPrefix(c, "TLS_") {
				t.Errorf("cipher %q, want a TLS_ suite name", c)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	// A plain TCP listener that closes at once: the handshake fails.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	// A listener that accepts and never answers: the handshake times out.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	held := make(chan net.Conn, 8)
	defer func() {
		silent.Close()
		for len(held) > 0 {
			(<-held).Close()
		}
	}()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			select {
			case held <- c:
			default:
				c.Close()
			}
		}
	}()
	tests := []struct{ name, src, want string }{
		{"handshake refused", `address = "` + l.Addr().String() + `"`, "tls " + l.Addr().String()},
		{"no handshake", `
			address = "` + silent.Addr().String() + `"
			timeout = "300ms"`, "no handshake within 300ms"},
		{"missing ca_file", `
			address = "` + l.Addr().String() + `"
			ca_file = "/nonexistent/ca.pem"`, "read ca_file"},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Run(context.Background(), checkstest.Decode(t, p, tt.src, nil))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"host and port", `address = "example.com:443"`, ""},
		{"no port", `address = "example.com"`, "host:port"},
		{"bad port", `address = "example.com:0"`, "no valid port"},
		{"bad timeout", `
			address = "example.com:443"
			timeout = "10"`, "timeout"},
	}
	p := New().(*Provider)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(checkstest.Decode(t, p, tt.src, nil))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	unknown := cty.ObjectVal(map[string]cty.Value{
		"address": cty.UnknownVal(cty.String), "server_name": cty.NullVal(cty.String), "ca_file": cty.NullVal(cty.String),
		"insecure_skip_verify": cty.NullVal(cty.Bool), "timeout": cty.NullVal(cty.String),
	})
	if err := p.Validate(unknown); err != nil {
		t.Errorf("unknown address: got error %v, want none", err)
	}
	if got, want := p.Describe(checkstest.Decode(t, p, `address = "example.com:443"`, nil)), "tls example.com:443"; got != want {
		t.Errorf("Describe: got %q, want %q", got, want)
	}
}

// The default assertion requires a verified certificate unless
// verification is skipped, and 14 days left either way.
func TestDefaultAssert(t *testing.T) {
	ca := newAuthority(t)
	valid := ca.server(t, now.Add(30*24*time.Hour+time.Hour), "svc.test")
	expired := ca.server(t, now.Add(-3*24*time.Hour), "old.test")
	p := &Provider{now: func() time.Time { return now }}
	cond, _ := p.DefaultAssert()
	expr, diags := hclsyntax.ParseExpression([]byte(cond), "default", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	tests := []struct {
		name, src string
		want      bool
	}{
		{"verified", `
			address     = "` + valid + `"
			server_name = "svc.test"
			ca_file     = "` + ca.pemFile + `"`, true},
		{"not verified", `
			address     = "` + valid + `"
			server_name = "other.test"
			ca_file     = "` + ca.pemFile + `"`, false},
		{"verification skipped", `
			address              = "` + valid + `"
			insecure_skip_verify = true`, true},
		{"verification skipped, expired", `
			address              = "` + expired + `"
			insecure_skip_verify = true`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), checkstest.Decode(t, p, tt.src, nil))
			if err != nil {
				t.Fatal(err)
			}
			v, diags := expr.Value(&hcl.EvalContext{Variables: map[string]cty.Value{"self": res}})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if v.True() != tt.want {
				t.Fatalf("default assertion %v, want %v (verified %v, %q)", v.True(), tt.want, res.GetAttr("verified").True(), res.GetAttr("verify_error").AsString())
			}
		})
	}
}
