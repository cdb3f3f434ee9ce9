// Package dns is the `dns` check provider: it asks one DNS server one
// question and observes the answers, the response code and the TTL.
//
// Queries are made with github.com/miekg/dns, over UDP, retried over TCP
// when the answer is truncated. The server is the block's `server` or the
// first nameserver of /etc/resolv.conf.
package dns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/miekg/dns"
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

// DefaultTimeout bounds one query unless the block sets timeout.
const DefaultTimeout = 5 * time.Second

// types are the record types a block may ask for.
var types = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX,
	"TXT": dns.TypeTXT, "NS": dns.TypeNS, "SRV": dns.TypeSRV, "PTR": dns.TypePTR, "SOA": dns.TypeSOA,
}

// Provider makes DNS queries. It keeps no state and is safe for concurrent
// use.
type Provider struct {
	// resolvConf is where the default server is read from; empty means
	// /etc/resolv.conf.
	resolvConf string
}

// New returns a dns Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{} }

// Schema describes the dns block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"name":    &hcldec.AttrSpec{Name: "name", Type: cty.String, Required: true},
		"type":    &hcldec.AttrSpec{Name: "type", Type: cty.String},
		"server":  &hcldec.AttrSpec{Name: "server", Type: cty.String},
		"timeout": &hcldec.AttrSpec{Name: "timeout", Type: cty.String},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Asks a DNS server one question and observes the answers, the response code and the TTL.",
		Result: map[string]string{
			"answers": "the answer records of the asked type, as strings, sorted",
			"rcode":   "the response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED, …",
			"ttl":     "the smallest TTL among the answers, in seconds; 0 without answers",
			"server":  "the server that was asked, host:port",
		},
	}
}

// DefaultAssert makes a block without asserts fail unless the name has at
// least one answer.
func (p *Provider) DefaultAssert() (condition, message string) {
	return `self.rcode == "NOERROR" && length(self.answers) > 0`, "DNS ${self.rcode} with ${length(self.answers)} answers"
}

// Validate checks the type, the server and the timeout.
func (p *Provider) Validate(cfg cty.Value) error {
	_, err := parse(cfg)
	return err
}

// Describe renders the block as "dns A example.com".
func (p *Provider) Describe(cfg cty.Value) string {
	q, err := parse(cfg)
	switch {
	case err != nil:
		return "dns (invalid query)"
	case q.name == "":
		return "dns " + q.typ + " (name known at run time)"
	case q.server != "":
		return "dns " + q.typ + " " + q.name + " @" + q.server
	}
	return "dns " + q.typ + " " + q.name
}

// query is a parsed dns block; while validating, values not known yet are
// left zero.
type query struct {
	name, typ, server string
	timeout           time.Duration
}

func parse(cfg cty.Value) (*query, error) {
	q := &query{
		name:   checks.String(cfg, "name", ""),
		typ:    strings.ToUpper(checks.String(cfg, "type", "A")),
		server: checks.String(cfg, "server", ""),
	}
	if _, ok := types[q.typ]; !ok {
		names := make([]string, 0, len(types))
		for n := range types {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, checks.ArgErrorf("type", "type %q is not one of %s.%s", q.typ, strings.Join(names, ", "), checks.Suggest(q.typ, names))
	}
	if q.server != "" {
		if _, _, err := net.SplitHostPort(q.server); err != nil {
			// A bare host or IP address means port 53.
			if strings.Count(q.server, ":") > 1 && !strings.HasPrefix(q.server, "[") {
				q.server = "[" + q.server + "]"
			}
			q.server = net.JoinHostPort(strings.Trim(q.server, "[]"), "53")
		}
		if _, port, err := net.SplitHostPort(q.server); err != nil {
			return nil, checks.ArgErrorf("server", "server %q must be a host or host:port", q.server)
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, checks.ArgErrorf("server", "server %q has no valid port", q.server)
		}
	}
	var err error
	if q.timeout, err = checks.Duration(cfg, "timeout", DefaultTimeout); err != nil {
		return nil, err
	}
	return q, nil
}

// Run asks the question once. Any response, NXDOMAIN and SERVFAIL
// included, is a result; no response within the timeout is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	q, err := parse(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	if q.name == "" {
		return cty.NilVal, errors.New("name is not known")
	}
	server := q.server
	if server == "" {
		if server, err = p.defaultServer(); err != nil {
			return cty.NilVal, err
		}
	}
	qctx := ctx
	if q.timeout > 0 {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	msg := new(dns.Msg)
	msg.SetQuestion(dns.Fqdn(q.name), types[q.typ])
	msg.RecursionDesired = true
	client := &dns.Client{Net: "udp", Timeout: q.timeout}
	resp, _, err := client.ExchangeContext(qctx, msg, server)
	if err == nil && resp.Truncated {
		client.Net = "tcp"
		resp, _, err = client.ExchangeContext(qctx, msg, server)
	}
	if err != nil {
		if ctx.Err() != nil {
			return cty.NilVal, fmt.Errorf("dns %s %s @%s: %w", q.typ, q.name, server, ctx.Err())
		}
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return cty.NilVal, fmt.Errorf("dns %s %s @%s: no answer within %s", q.typ, q.name, server, q.timeout)
		}
		return cty.NilVal, fmt.Errorf("dns %s %s @%s: %w", q.typ, q.name, server, err)
	}
	return result(resp, types[q.typ], server), nil
}

// defaultServer is the first nameserver of resolv.conf, as host:port.
func (p *Provider) defaultServer() (string, error) {
	path := p.resolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	conf, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return "", fmt.Errorf("no server given and %s cannot be read: %w", path, err)
	}
	if len(conf.Servers) == 0 {
		return "", fmt.Errorf("no server given and %s names none", path)
	}
	return net.JoinHostPort(conf.Servers[0], conf.Port), nil
}

func result(resp *dns.Msg, qtype uint16, server string) cty.Value {
	answers := []string{}
	var ttl uint32
	for _, rr := range resp.Answer {
		if rr.Header().Rrtype != qtype {
			continue // the CNAME chain leading to the asked type
		}
		if len(answers) == 0 || rr.Header().Ttl < ttl {
			ttl = rr.Header().Ttl
		}
		answers = append(answers, data(rr))
	}
	slices.Sort(answers)
	list := cty.ListValEmpty(cty.String)
	if len(answers) > 0 {
		vals := make([]cty.Value, len(answers))
		for i, a := range answers {
			vals[i] = cty.StringVal(a)
		}
		list = cty.ListVal(vals)
	}
	rcode, ok := dns.RcodeToString[resp.Rcode]
	if !ok {
		rcode = strconv.Itoa(resp.Rcode)
	}
	return cty.ObjectVal(map[string]cty.Value{
		"answers": list,
		"rcode":   cty.StringVal(rcode),
		"ttl":     cty.NumberIntVal(int64(ttl)),
		"server":  cty.StringVal(server),
	})
}

// data is a record's data as it appears in a zone file, without the name,
// class and TTL: "192.0.2.1", "10 mail.example.com.", "v=spf1 -all".
func data(rr dns.RR) string {
	switch r := rr.(type) {
	case *dns.A:
		return r.A.String()
	case *dns.AAAA:
		return r.AAAA.String()
	case *dns.CNAME:
		return r.Target
	case *dns.NS:
		return r.Ns
	case *dns.PTR:
		return r.Ptr
	case *dns.MX:
		return strconv.Itoa(int(r.Preference)) + " " + r.Mx
	case *dns.SRV:
		return fmt.Sprintf("%d %d %d %s", r.Priority, r.Weight, r.Port, r.Target)
	case *dns.TXT:
		return strings.Join(r.Txt, "")
	}
	// Everything else: the zone-file line without its header.
	s := rr.String()
	return strings.TrimSpace(strings.TrimPrefix(s, rr.Header().String()))
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{
		"answers": cty.List(cty.String), "rcode": cty.String, "ttl": cty.Number, "server": cty.String,
	})
}
