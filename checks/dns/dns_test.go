package dns

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/runbookhq/runbook/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

func TestRun(t *testing.T) {
	server := testserver.DNS(t)
	type result struct {
		Answers []string
		Rcode   string
		TTL     int64
	}
	tests := []struct {
		name, src string
		want      result
	}{
		{"A, two answers", `name = "web.runbook.test"`,
			result{[]string{"192.0.2.10", "192.0.2.11"}, "NOERROR", 300}},
		{"AAAA", `
			name = "web.runbook.test"
			type = "aaaa"`,
			result{[]string{"2001:db8::10"}, "NOERROR", 300}},
		{"CNAME", `
			name = "www.runbook.test"
			type = "CNAME"`,
			result{[]string{"web.runbook.test."}, "NOERROR", 300}},
		{"A through a CNAME", `name = "www.runbook.test"`,
			result{[]string{"192.0.2.10", "192.0.2.11"}, "NOERROR", 300}},
		{"MX", `
			name = "runbook.test"
			type = "MX"`,
			result{[]string{"10 mail.runbook.test."}, "NOERROR", 300}},
		{"TXT", `
			name = "runbook.test."
			type = "TXT"`,
			result{[]string{"v=spf1 -all"}, "NOERROR", 300}},
		{"SRV", `
			name = "_https._tcp.runbook.test"
			type = "SRV"`,
			result{[]string{"1 5 443 web.runbook.test."}, "NOERROR", 300}},
		{"NXDOMAIN", `name = "nothing-here.runbook.test"`,
			result{[]string{}, "NXDOMAIN", 0}},
		{"no record of that type", `
			name = "www.runbook.test"
			type = "MX"`,
			result{[]string{}, "NOERROR", 0}},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), checkstest.Decode(t, p, tt.src+"\nserver = \""+server+"\"", nil))
			if err != nil {
				t.Fatalf("Run: got error %v, want none", err)
			}
			if !res.Type().Equals(p.(*Provider).Result()) {
				t.Fatalf("result type %s, want %s", res.Type().FriendlyName(), p.(*Provider).Result().FriendlyName())
			}
			ttl, _ := res.GetAttr("ttl").AsBigFloat().Int64()
			got := result{Answers: []string{}, Rcode: res.GetAttr("rcode").AsString(), TTL: ttl}
			for _, v := range res.GetAttr("answers").AsValueSlice() {
				got.Answers = append(got.Answers, v.AsString())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if s := res.GetAttr("server").AsString(); s != server {
				t.Errorf("server %q, want %q", s, server)
			}
		})
	}
}

func TestRunDefaultServer(t *testing.T) {
	server := testserver.DNS(t)
	host, port, _ := net.SplitHostPort(server)
	conf := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(conf, []byte("nameserver "+host+"\noptions timeout:1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// resolv.conf has no port: the default server is port 53 on host,
	// which is not the test server; asking it proves the file was read.
	p := &Provider{resolvConf: conf}
	_, err := p.Run(context.Background(), checkstest.Decode(t, p, `
		name    = "web.runbook.test"
		timeout = "300ms"`, nil))
	if err == nil || !strings.Contains(err.Error(), "@"+net.JoinHostPort(host, "53")) {
		t.Fatalf("got %v, want an error naming %s:53 (the server has port %s)", err, host, port)
	}
	p = &Provider{resolvConf: filepath.Join(t.TempDir(), "missing")}
	_, err = p.Run(context.Background(), checkstest.Decode(t, p, `name = "web.runbook.test"`, nil))
	if err == nil || !strings.Contains(err.Error(), "no server given") {
		t.Fatalf("got %v, want a missing resolv.conf error", err)
	}
}

func TestRunNoAnswer(t *testing.T) {
	// A UDP socket that reads and never answers.
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p := New()
	_, err = p.Run(context.Background(), checkstest.Decode(t, p, `
		name    = "web.runbook.test"
		server  = "`+c.LocalAddr().String()+`"
		timeout = "300ms"`, nil))
	if err == nil || !strings.Contains(err.Error(), "no answer within 300ms") {
		t.Fatalf("got %v, want a timeout", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"defaults", `name = "example.com"`, ""},
		{"server without port", `
			name   = "example.com"
			server = "192.0.2.53"`, ""},
		{"ipv6 server", `
			name   = "example.com"
			server = "2001:db8::53"`, ""},
		{"unknown type", `
			name = "example.com"
			type = "AAA"`, `Did you mean "A`},
		{"bad port", `
			name   = "example.com"
			server = "192.0.2.53:99999"`, "no valid port"},
		{"bad timeout", `
			name    = "example.com"
			timeout = "1"`, "timeout"},
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
	for src, want := range map[string]string{
		`name = "example.com"`: "dns A example.com",
		`
			name   = "example.com"
			type   = "mx"
			server = "2001:db8::53"`: "dns MX example.com @[2001:db8::53]:53",
	} {
		if got := p.Describe(checkstest.Decode(t, p, src, nil)); got != want {
			t.Errorf("Describe: got %q, want %q", got, want)
		}
	}
}
