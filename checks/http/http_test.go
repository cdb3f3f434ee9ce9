package http

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// decode decodes the body of an http block as the engine would.
func decode(t testing.TB, p checks.Provider, src string) cty.Value {
	return checkstest.Decode(t, p, src, nil)
}

// plain turns a cty value into JSON-shaped Go values for go-cmp.
func plain(t *testing.T, v cty.Value) any {
	t.Helper()
	data, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return out
}

func mustJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(err)
	}
	return v
}

// server serves the fixtures the tests request.
func server(t testing.TB) *httptest.Server {
	t.Helper()
	health, err := os.ReadFile("testdata/health.json")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(health)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		user, pass, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"method": r.Method, "body": string(body), "x_test": r.Header.Get("X-Test"),
			"user": user, "password": pass, "host": r.Host,
		})
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/health", http.StatusFound)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header()["x-lower"] = []string{"v"}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "plain")
	})
	mux.HandleFunc("/unavailable", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/number", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "42")
	})
	mux.HandleFunc("/problem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		_, _ = io.WriteString(w, `{"title": "bad input"}`)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "<html><body>hi</body></html>")
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRun(t *testing.T) {
	srv := server(t)
	withAuth := strings.Replace(srv.URL, "http://", "http://ops:s3cret@", 1)
	host := strings.TrimPrefix(srv.URL, "http://")
	health := `{"status": "ok", "version": "1.4.2", "checks": {"db": true, "queue": {"depth": 3}}, "replicas": [1, 2, 3]}`
	echoed := `{"body":"{\"ping\": 1}","host":"api.internal","method":"POST","password":"","user":"","x_test":"yes"}`
	authEchoed := fmt.Sprintf(`{"body":"","host":%q,"method":"GET","password":"s3cret","user":"ops","x_test":""}`, host)
	type result struct {
		Status    float64
		Body      string
		Truncated bool
		JSON      any
		Headers   map[string]string // only these are compared
	}
	tests := []struct {
		name  string
		url   string
		extra string // more arguments
		want  result
	}{
		{"json body", srv.URL + "/health", "", result{
			Status: 200, Body: health + "\n", JSON: mustJSON(health),
			Headers: map[string]string{"Content-Type": "application/json"},
		}},
		{"method, body and headers sent", srv.URL + "/echo", `
			method  = "post"
			body    = "{\"ping\": 1}"
			headers = { "x-test" = "yes", Host = "api.internal" }`,
			result{Status: 200, Body: echoed + "\n", JSON: mustJSON(echoed)}},
		{"basic auth from userinfo", withAuth + "/echo", "", result{Status: 200, Body: authEchoed + "\n", JSON: mustJSON(authEchoed)}},
		{"redirect followed", srv.URL + "/redirect", "", result{Status: 200, Body: health + "\n", JSON: mustJSON(health)}},
		{"redirect not followed", srv.URL + "/redirect", "follow_redirects = false", result{
			Status: 302, Body: "<a href=\"/health\">Found</a>.\n\n",
			Headers: map[string]string{"Location": "/health"},
		}},
		{"repeated and lowercase headers", srv.URL + "/headers", "", result{
			Status: 200, Body: "plain",
			Headers: map[string]string{"X-Multi": "a, b", "X-Lower": "v", "Content-Type": "text/plain"},
		}},
		{"error status is a result", srv.URL + "/unavailable", "", result{Status: 503, Body: "down for maintenance\n"}},
		{"json by content type", srv.URL + "/problem", "", result{Status: 422, Body: `{"title": "bad input"}`, JSON: mustJSON(`{"title": "bad input"}`)}},
		{"json by parsing", srv.URL + "/number", "", result{Status: 200, Body: "42", JSON: float64(42)}},
		{"not json", srv.URL + "/html", "", result{Status: 200, Body: "<html><body>hi</body></html>"}},
		{"head", srv.URL + "/health", `method = "HEAD"`, result{Status: 200}},
		{"body cap", srv.URL + "/health", "max_body = 10", result{Status: 200, Body: `{"status":`, Truncated: true}},
	}
	p := New()
	t.Cleanup(func() { _ = p.(io.Closer).Close() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), decode(t, p, fmt.Sprintf("url = %q\n%s", tt.url, tt.extra)))
			if err != nil {
				t.Fatalf("Run: got error %v, want none", err)
			}
			got := result{
				Status:    plain(t, res.GetAttr("status")).(float64),
				Body:      res.GetAttr("body").AsString(),
				Truncated: res.GetAttr("body_truncated").True(),
				JSON:      plain(t, res.GetAttr("json")),
			}
			headers := res.GetAttr("headers").AsValueMap()
			for k := range tt.want.Headers {
				if v, ok := headers[k]; ok {
					if got.Headers == nil {
						got.Headers = map[string]string{}
					}
					got.Headers[k] = v.AsString()
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
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

func TestRunErrors(t *testing.T) {
	srv := server(t)
	tests := []struct {
		name string
		ctx  time.Duration // the check's deadline, when non-zero
		src  string
		want []string
	}{
		{"refused", 0, fmt.Sprintf(`url = "http://ops:s3cret@%s/health"`, closedPort(t)), []string{"GET http://", "connection refused"}},
		{"own timeout", 10 * time.Second, fmt.Sprintf(`
			url     = "%s/slow"
			timeout = "200ms"`, srv.URL), []string{"GET " + srv.URL + "/slow", "timed out after 200ms"}},
		{"check deadline", 200 * time.Millisecond, fmt.Sprintf(`url = "%s/slow"`, srv.URL), []string{"context deadline exceeded"}},
		{"missing ca_file", 0, fmt.Sprintf(`
			url     = "%s/health"
			ca_file = "testdata/missing.pem"`, srv.URL), []string{"read ca_file", "no such file"}},
		{"ca_file without certificates", 0, fmt.Sprintf(`
			url     = "%s/health"
			ca_file = "testdata/not-a-cert.pem"`, srv.URL), []string{"holds no PEM certificates"}},
	}
	p := New()
	t.Cleanup(func() { _ = p.(io.Closer).Close() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			start := time.Now()
			_, err := p.Run(ctx, decode(t, p, tt.src))
			if err == nil {
				t.Fatal("got no error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got error %q, want it to contain %q", err, w)
				}
			}
			for _, secret := range []string{"s3cret", "ops:"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("got error %q, want no %q in it", err, secret)
				}
			}
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("Run took %s, want it bounded by the timeout", took)
			}
		})
	}
}

func TestTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "secure")
	}))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		extra   string
		wantErr string // "" means the request succeeds
	}{
		{"self-signed is refused", "", "certificate"},
		{"insecure_skip_verify", "insecure_skip_verify = true", ""},
		{"ca_file", fmt.Sprintf("ca_file = %q", ca), ""},
		{"verified again after insecure", "insecure_skip_verify = false", "certificate"},
	}
	p := New()
	t.Cleanup(func() { _ = p.(io.Closer).Close() })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), decode(t, p, fmt.Sprintf("url = %q\n%s", srv.URL, tt.extra)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := res.GetAttr("body").AsString(); got != "secure" {
				t.Errorf("got body %q, want %q", got, "secure")
			}
		})
	}
}

// TestConnectionsAreReused runs two waves of concurrent checks against one
// host and counts the connections the server accepted: the second wave
// must reuse the first wave's kept-alive connections.
func TestConnectionsAreReused(t *testing.T) {
	const parallel = 32
	var conns atomic.Int64
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		arrived.Wait() // hold every request until the whole wave is in flight
		_, _ = io.WriteString(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	p := New()
	t.Cleanup(func() { _ = p.(io.Closer).Close() })
	cfg := decode(t, p, fmt.Sprintf("url = %q", srv.URL))
	for wave := range 2 {
		arrived.Add(parallel)
		var wg sync.WaitGroup
		for range parallel {
			wg.Go(func() {
				if _, err := p.Run(context.Background(), cfg); err != nil {
					t.Errorf("wave %d: %v", wave, err)
				}
			})
		}
		wg.Wait()
	}
	// Exactly `parallel` when every connection is kept; a little slack for
	// a connection not yet back in the pool when the second wave starts.
	if got := conns.Load(); got > parallel+parallel/4 {
		t.Errorf("got %d connections for two waves of %d requests, want about %d", got, parallel, parallel)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // "" means valid
	}{
		{"minimal", `url = "https://api.example.com/health"`, ""},
		{"everything", `
			url                  = "https://api.example.com/v1/jobs"
			method               = "Patch"
			headers              = { Authorization = "Bearer x" }
			body                 = "{}"
			timeout              = "5s"
			insecure_skip_verify = false
			follow_redirects     = false
			ca_file              = "ca.pem"
			max_body             = 4096`, ""},
		{"scheme", `url = "ftp://example.com/"`, "http:// or https://"},
		{"no host", `url = "http:///path"`, "no host"},
		{"unparsable url hides its password", `url = "http://ops:s3cret@exa mple.com/"`, "not a valid URL"},
		{"method", `
			url    = "http://example.com/"
			method = "FETCH"`, `method "FETCH" is not one of`},
		{"timeout", `
			url     = "http://example.com/"
			timeout = "soon"`, "timeout"},
		{"max_body", `
			url      = "http://example.com/"
			max_body = -1`, "max_body"},
		{"header name", `
			url     = "http://example.com/"
			headers = { "X Bad" = "1" }`, "header name"},
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
			case err != nil && strings.Contains(err.Error(), "s3cret"):
				t.Fatalf("got error %q, want no password in it", err)
			}
		})
	}
}

func TestValidateUnknown(t *testing.T) {
	p := New().(*Provider)
	cfg := decode(t, p, `url = "http://example.com/"`).AsValueMap()
	cfg["url"] = cty.UnknownVal(cty.String)
	cfg["method"] = cty.UnknownVal(cty.String)
	cfg["max_body"] = cty.UnknownVal(cty.Number)
	if err := p.Validate(cty.ObjectVal(cfg)); err != nil {
		t.Errorf("got error %v, want unknown values skipped", err)
	}
	if got, want := p.Describe(cty.ObjectVal(cfg)), "GET (url known at run time)"; got != want {
		t.Errorf("got description %q, want %q", got, want)
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"get", `url = "https://api.example.com/health?verbose=1"`, "GET https://api.example.com/health?verbose=1"},
		{"userinfo stripped", `
			url    = "https://ops:s3cret@api.example.com/health"
			method = "post"`, "POST https://api.example.com/health"},
	}
	p := New().(*Provider)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Describe(decode(t, p, tt.src)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// parallelism is the goroutines per CPU both HTTP benchmarks use.
const parallelism = 8

func BenchmarkHTTP(b *testing.B) {
	srv := server(b)
	p := New()
	defer p.(io.Closer).Close()
	cfg := decode(b, p, fmt.Sprintf("url = %q", srv.URL+"/health"))
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Run(context.Background(), cfg); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkHTTPClient is the floor for BenchmarkHTTP: a plain client with
// the same transport settings, reading the whole body.
func BenchmarkHTTPClient(b *testing.B) {
	srv := server(b)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 256, 64
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(srv.URL + "/health")
			if err != nil {
				b.Error(err)
				continue
			}
			_, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
	})
}
