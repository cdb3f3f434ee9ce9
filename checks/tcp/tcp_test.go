package tcp

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/zclconf/go-cty/cty"
)

// decode decodes the body of a tcp block as the engine would.
func decode(t testing.TB, p checks.Provider, src string) cty.Value {
	return checkstest.Decode(t, p, src, nil)
}

// listener returns the address of a real listener that accepts.
func listener(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
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
			c.Close()
		}
	}()
	return l.Addr().String()
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// stuckListener returns the address of a socket that listens with a
// backlog of 0 and never accepts: once its queue is full the kernel drops
// further SYNs, so a dial hangs until its timeout.
func stuckListener(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	for range 8 { // fill the accept queue
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the listener on %s kept accepting; cannot make a dial hang", addr)
	return ""
}

func TestRun(t *testing.T) {
	open, closed, stuck := listener(t), closedPort(t), stuckListener(t)
	type result struct {
		Connected bool
		Error     string // a substring of the error attribute
	}
	tests := []struct {
		name string
		src  string
		want result
	}{
		{"listening", `address = "` + open + `"`, result{Connected: true}},
		{"refused", `address = "` + closed + `"`, result{Error: "connection refused"}},
		{"no answer", `
			address = "` + stuck + `"
			timeout = "300ms"`, result{Error: "no answer within 300ms"}},
		{"unknown host", `
			address = "no-such-host.invalid:80"
			timeout = "2s"`, result{Error: "no-such-host.invalid"}},
	}
	p := New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			res, err := p.Run(context.Background(), decode(t, p, tt.src))
			if err != nil {
				t.Fatalf("Run: got error %v, want none", err)
			}
			errText := res.GetAttr("error").AsString()
			got := result{Connected: res.GetAttr("connected").True(), Error: errText}
			if tt.want.Error != "" && strings.Contains(errText, tt.want.Error) {
				got.Error = tt.want.Error
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("Run took %s, want it bounded by the timeout", took)
			}
		})
	}
}

func TestRunStopsAtCheckDeadline(t *testing.T) {
	p := New()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := p.Run(ctx, decode(t, p, `address = "`+stuckListener(t)+`"`))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got (%v, %v), want a deadline error", res.GoString(), err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name, src, want string // want "" means valid
	}{
		{"host and port", `address = "db.internal:5432"`, ""},
		{"ipv6", `address = "[::1]:6379"`, ""},
		{"service name", `address = "example.com:https"`, ""},
		{"timeout", `
			address = "db:5432"
			timeout = "1s"`, ""},
		{"no port", `address = "db.internal"`, "host:port"},
		{"empty port", `address = "db.internal:"`, "no valid port"},
		{"port out of range", `address = "db.internal:70000"`, "no valid port"},
		{"bad timeout", `
			address = "db:5432"
			timeout = "5"`, "timeout"},
	}
	p := New().(*Provider)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(decode(t, p, tt.src))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	unknown := cty.ObjectVal(map[string]cty.Value{"address": cty.UnknownVal(cty.String), "timeout": cty.NullVal(cty.String)})
	if err := p.Validate(unknown); err != nil {
		t.Errorf("unknown address: got error %v, want none", err)
	}
}

func TestDescribe(t *testing.T) {
	p := New().(*Provider)
	if got, want := p.Describe(decode(t, p, `address = "db:5432"`)), "tcp db:5432"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
