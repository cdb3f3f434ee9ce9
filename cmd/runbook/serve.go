package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/runbookhq/runbook/console"
	"github.com/runbookhq/runbook/state"
	"github.com/spf13/cobra"
)

// serveFlags are the flags of runbook serve.
type serveFlags struct {
	listen      string
	state       string
	tlsCert     string
	tlsKey      string
	proxyHeader string
	proxyFrom   []string
	proxyRole   string
	allowHosts  []string
	secure      bool
	poll        time.Duration
	signers     string
}

func newServeCmd(a *app) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the team console: follow runs live, answer steps, sign, flip the stop",
		Long: `Serve the console and its JSON API over a state: everyone follows runs
live in a browser, operators answer the manual steps and confirm prompts of
runs started with runbook exec --wait, sign reports and flip the emergency
stop. With a postgres:// state, one console follows the runs of every host.

Access: tokens made with runbook token add NAME --role viewer|operator (the
pages log in with one; the API takes Authorization: Bearer TOKEN), or the
user header of a trusted auth proxy (--proxy-header, only from
--proxy-from addresses). With neither, the console listens on loopback
only, is read-only and answers only requests for a loopback address or
localhost. --allowed-host limits the host names a console with access
answers to (loopback and localhost are always allowed).`,
		Example: `  runbook serve
  runbook serve --state postgres://ops@db/runbook --listen :8088 --tls-cert cert.pem --tls-key key.pem
  runbook serve --listen 10.0.0.5:8088 --proxy-header X-Forwarded-User --proxy-from 10.0.0.2/32`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.serve(cmd.Context(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8088", "the `ADDR` to serve on")
	fl.StringVar(&f.signers, "allowed-signers", "", "an allowed signers `FILE` (ssh-keygen's format) naming each user's SSH keys: sign-offs may then be signed by key")
	fl.StringVar(&f.state, "state", "", "the state to serve: a directory or a postgres:// URL (default $RUNBOOK_STATE, else ./.runbook)")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate `FILE` (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the private key `FILE` of --tls-cert (PEM)")
	fl.StringVar(&f.proxyHeader, "proxy-header", "", "trust this `HEADER` (e.g. X-Forwarded-User) to name the user, from --proxy-from only")
	fl.StringSliceVar(&f.proxyFrom, "proxy-from", nil, "addresses of the trusted auth proxy: `CIDR,…`")
	fl.StringVar(&f.proxyRole, "proxy-role", "operator", "the role of users named by the proxy: viewer or operator")
	fl.StringSliceVar(&f.allowHosts, "allowed-host", nil, "answer only requests for these host `NAMES,…` (and loopback, localhost): e.g. runbook.example.com")
	fl.BoolVar(&f.secure, "secure-cookies", false, "mark the login cookie Secure: the console is reached over HTTPS (e.g. through a TLS proxy); on with --tls-cert")
	fl.DurationVar(&f.poll, "poll", time.Second, "how often the state is read for live updates")
	return cmd
}

func (a *app) serve(ctx context.Context, f serveFlags) error {
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return exitWith(2, errors.New("--tls-cert and --tls-key go together"))
	}
	var nets []netip.Prefix
	for _, s := range f.proxyFrom {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			addr, aerr := netip.ParseAddr(strings.TrimSpace(s))
			if aerr != nil {
				return exitWith(2, fmt.Errorf("--proxy-from: %q is not an address or a CIDR", s))
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		nets = append(nets, p)
	}
	if f.proxyHeader != "" && len(nets) == 0 {
		return exitWith(2, errors.New("--proxy-header is trusted only from the proxy: give its addresses with --proxy-from"))
	}
	store, err := a.openStateWith(ctx, f.state, "", false, true)
	if err != nil {
		return err
	}
	defer store.Close()
	c, ok := state.ConsoleOf(store)
	if !ok {
		return exitWith(2, fmt.Errorf("the state %s cannot serve the console", store.Location()))
	}
	// A state the console cannot read is said now, not at the first page.
	if _, err := store.RunIDs(ctx); err != nil {
		return exitWith(2, fmt.Errorf("the console cannot read the state: %w", err))
	}
	tokens, err := c.Tokens(ctx)
	if err != nil {
		return exitWith(2, fmt.Errorf("the console cannot read its tokens: %w", err))
	}
	// Whether the console is open is decided now, once: revoking the
	// last token later does not open a console that listens on the
	// network.
	open := len(tokens) == 0 && f.proxyHeader == ""
	var hosts []string
	for _, h := range f.allowHosts {
		if h = strings.TrimSpace(h); h == "" || strings.ContainsAny(h, "/: ") {
			return exitWith(2, fmt.Errorf("--allowed-host: %q is not a host name (give it without scheme or port)", h))
		}
		hosts = append(hosts, h)
	}
	srv, err := console.New(console.Options{
		Store: store, Host: hostname(), ProxyHeader: f.proxyHeader, ProxyNets: nets, ProxyRole: f.proxyRole,
		Open: open, AllowedHosts: hosts, SecureCookies: f.tlsCert != "" || f.secure, Poll: f.poll, AllowedSigners: f.signers,
		Logf: func(format string, args ...any) { fmt.Fprintf(a.stderr, "runbook: "+format+"\n", args...) },
	})
	if err != nil {
		return exitWith(2, err)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return exitWith(2, fmt.Errorf("--listen: %w", err))
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); open && (!ok || !tcp.IP.IsLoopback()) {
		ln.Close()
		return exitWith(2, fmt.Errorf("no access is configured, so the console serves loopback only (e.g. --listen 127.0.0.1:8088), not %s: make a token first (runbook token add NAME --role operator) or trust an auth proxy (--proxy-header, --proxy-from)", f.listen))
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(a.stdout, "runbook console on %s://%s (state %s)\n", scheme, ln.Addr(), store.Location())
	if open {
		fmt.Fprintln(a.stdout, "No access is configured: the console is read-only. Make a token with runbook token add NAME --role operator, then log in with it.")
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(a.stderr, "runbook: console: ", 0),
	}
	hctx, stop := context.WithCancel(ctx)
	defer stop()
	// Requests end with the server: the event streams do not hold up the
	// shutdown.
	hs.BaseContext = func(net.Listener) context.Context { return hctx }
	go srv.Run(hctx)
	errc := make(chan error, 1)
	go func() {
		if f.tlsCert != "" {
			errc <- hs.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return exitWith(1, fmt.Errorf("serve: %w", err))
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	stop() // ends the event streams
	_ = hs.Shutdown(sctx)
	return nil
}
