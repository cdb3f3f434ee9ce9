package testserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// dnsmasqHint names the package that carries dnsmasq.
const dnsmasqHint = "apt-get install -y dnsmasq-base"

var (
	dnsOnce sync.Once
	dnsAddr string
	dnsErr  error
)

// DNSZone is the domain the DNS server of DNS answers for. Names under it
// that are not listed below get NXDOMAIN; nothing is forwarded.
//
//	web.runbook.test            A     192.0.2.10, 192.0.2.11
//	web.runbook.test            AAAA  2001:db8::10
//	www.runbook.test            CNAME web.runbook.test
//	runbook.test                MX    10 mail.runbook.test
//	runbook.test                TXT   "v=spf1 -all"
//	_https._tcp.runbook.test    SRV   1 5 443 web.runbook.test
//
// Every record has a TTL of 300 seconds.
const DNSZone = "runbook.test"

// DNS returns the address (127.0.0.1:PORT, UDP and TCP) of a dnsmasq
// started for this test binary, serving the records of DNSZone.
func DNS(tb testing.TB) string {
	tb.Helper()
	requireMain(tb)
	dnsOnce.Do(func() { dnsAddr, dnsErr = startDNSMasq() })
	check(tb, "dnsmasq", dnsErr)
	return dnsAddr
}

func startDNSMasq() (string, error) {
	bin, err := lookBinary("dnsmasq", "/usr/sbin/dnsmasq")
	if err != nil {
		return "", missingError{what: "dnsmasq", hint: dnsmasqHint}
	}
	dir, err := tempDir("runbook-dnsmasq-", nil)
	if err != nil {
		return "", err
	}
	s := &server{name: "dnsmasq", dir: dir, logPath: filepath.Join(dir, "dnsmasq.log"), stopSig: syscall.SIGTERM}
	fail := func(err error) (string, error) {
		s.stop()
		return "", err
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.cmd = exec.Command(bin,
		"--keep-in-foreground",
		"--conf-file=/dev/null",
		"--pid-file=",
		"--no-resolv", "--no-hosts", "--no-poll",
		"--bind-interfaces", "--listen-address=127.0.0.1", "--interface=lo",
		"--port="+strconv.Itoa(port),
		"--log-facility="+s.logPath,
		"--log-queries",
		"--local=/"+DNSZone+"/",
		"--local-ttl=300",
		"--host-record=web."+DNSZone+",192.0.2.10,2001:db8::10",
		"--host-record=web."+DNSZone+",192.0.2.11",
		"--cname=www."+DNSZone+",web."+DNSZone,
		"--mx-host="+DNSZone+",mail."+DNSZone+",10",
		"--txt-record="+DNSZone+",v=spf1 -all",
		"--srv-host=_https._tcp."+DNSZone+",web."+DNSZone+",443,1,5",
	)
	s.cmd.Dir = dir
	s.cmd.Env = childEnv()
	if err := spawn(s, syscall.SIGKILL); err != nil {
		return fail(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	if err := waitReady(s, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return fail(missingError{what: "dnsmasq", hint: dnsmasqHint})
		}
		return fail(fmt.Errorf("dnsmasq on %s: %w", addr, err))
	}
	return addr, nil
}
