package redis_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	goredis "github.com/redis/go-redis/v9"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/checkstest"
	"github.com/runbookhq/runbook/checks/redis"
	"github.com/runbookhq/runbook/internal/testserver"
)

func TestMain(m *testing.M) { testserver.Main(m) }

// decode decodes a `redis` block body with the provider's schema, as the
// engine does; var.url is raw.
func decode(t testing.TB, p checks.Provider, body, raw string) cty.Value {
	return checkstest.Decode(t, p, body, map[string]cty.Value{"url": cty.StringVal(raw)})
}

func toJSON(t testing.TB, v cty.Value) string {
	t.Helper()
	b, err := ctyjson.SimpleJSONValue{Value: v}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal %#v: %v", v, err)
	}
	return string(b)
}

func client(t testing.TB, raw string) *goredis.Client {
	t.Helper()
	opts, err := goredis.ParseURL(raw)
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	c := goredis.NewClient(opts)
	t.Cleanup(func() { c.Close() })
	return c
}

func withParam(t testing.TB, raw, key, value string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse url: %v", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// command renders a command list as HCL.
func command(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func TestCommands(t *testing.T) {
	raw := testserver.Redis(t)
	ctx := context.Background()
	setup := client(t, raw)
	if err := setup.FlushDB(ctx).Err(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	setup.Set(ctx, "greeting", "hello", 0)
	setup.Set(ctx, "n", "41", 0)
	setup.RPush(ctx, "jobs", "a", "b", "c")
	setup.HSet(ctx, "user:1", "name", "ada", "age", "36")
	setup.ZAdd(ctx, "scores", goredis.Z{Score: 1.5, Member: "x"}, goredis.Z{Score: 0.1, Member: "y"})

	tests := []struct {
		name string
		cmd  []string
		want string // value as JSON
	}{
		{"PING", []string{"PING"}, `"PONG"`},
		{"GET", []string{"GET", "greeting"}, `"hello"`},
		{"GET missing is null", []string{"GET", "nope"}, `null`},
		{"INCR is a number", []string{"INCR", "n"}, `42`},
		{"LRANGE is a list", []string{"LRANGE", "jobs", "0", "-1"}, `["a","b","c"]`},
		{"LLEN", []string{"llen", "jobs"}, `3`},
		{"HGETALL is an object", []string{"HGETALL", "user:1"}, `{"age":"36","name":"ada"}`},
		{"HGETALL missing is empty", []string{"HGETALL", "user:2"}, `{}`},
		{"CONFIG GET is an object", []string{"CONFIG", "GET", "appendonly"}, `{"appendonly":"no"}`},
		{"ZSCORE is a number", []string{"ZSCORE", "scores", "y"}, `0.1`},
		{"MGET keeps nulls", []string{"MGET", "greeting", "nope"}, `["hello",null]`},
		{"EXISTS", []string{"EXISTS", "greeting", "nope"}, `1`},
		{"TYPE", []string{"TYPE", "jobs"}, `"list"`},
	}
	// RESP2 has no doubles: a score is the string Redis prints.
	resp2 := map[string]string{"ZSCORE is a number": `"0.10000000000000001"`}
	for _, proto := range []string{"3", "2"} {
		url := withParam(t, raw, "protocol", proto)
		p := redis.New()
		defer p.(interface{ Close() error }).Close()
		for _, tt := range tests {
			t.Run("RESP"+proto+"/"+tt.name, func(t *testing.T) {
				if tt.name == "INCR is a number" {
					setup.Set(ctx, "n", "41", 0)
				}
				res, err := p.Run(ctx, decode(t, p, "url = var.url\ncommand = "+command(tt.cmd...), url))
				if err != nil {
					t.Fatalf("run: %v", err)
				}
				want := tt.want
				if w, ok := resp2[tt.name]; ok && proto == "2" {
					want = w
				}
				if got := toJSON(t, res.GetAttr("value")); got != want {
					t.Errorf("%v: got %s want %s", tt.cmd, got, want)
				}
			})
		}
	}
}

func TestInfo(t *testing.T) {
	raw := testserver.Redis(t)
	ctx := context.Background()
	setup := client(t, raw)
	setup.Set(ctx, "info-key", "1", 0)

	for _, proto := range []string{"3", "2"} {
		t.Run("RESP"+proto, func(t *testing.T) {
			p := redis.New()
			defer p.(interface{ Close() error }).Close()
			res, err := p.Run(ctx, decode(t, p, `url = var.url
				command = ["INFO"]`, withParam(t, raw, "protocol", proto)))
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			v := res.GetAttr("value")
			for _, section := range []string{"server", "memory", "keyspace", "stats"} {
				if !v.Type().HasAttribute(section) {
					t.Fatalf("sections: got %s want %s among them", v.Type().FriendlyName(), section)
				}
			}
			mem := v.GetAttr("memory").GetAttr("used_memory")
			if mem.Type() != cty.Number || mem.AsBigFloat().Sign() <= 0 {
				t.Errorf("memory.used_memory: got %#v want a positive number", mem)
			}
			if got := v.GetAttr("server").GetAttr("redis_version"); got.Type() != cty.String {
				t.Errorf("server.redis_version: got %#v want a string", got)
			}
			keys := v.GetAttr("keyspace").GetAttr("db0").GetAttr("keys")
			if keys.Type() != cty.Number || keys.AsBigFloat().Sign() <= 0 {
				t.Errorf("keyspace.db0.keys: got %#v want a positive number", keys)
			}
		})
	}
	t.Run("one section", func(t *testing.T) {
		p := redis.New()
		defer p.(interface{ Close() error }).Close()
		res, err := p.Run(ctx, decode(t, p, `url = var.url
			command = ["INFO", "memory"]`, raw))
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		v := res.GetAttr("value")
		if diff := cmp.Diff([]string{"memory"}, checks.SortedKeys(v.Type().AttributeTypes())); diff != "" {
			t.Errorf("sections (-want +got):\n%s", diff)
		}
	})
}

func TestErrors(t *testing.T) {
	raw := testserver.Redis(t)
	u, _ := url.Parse(raw)
	pw, _ := u.User.Password()
	const canary = "canary-Pa55w0rd"
	ctx := context.Background()
	client(t, raw).Set(ctx, "a-string", "x", 0)

	wrongPW := *u
	wrongPW.User = url.UserPassword("runbook", canary)
	silent := testserver.Silent(t)

	tests := []struct {
		name    string
		url     string
		cmd     []string
		timeout string
		want    []string
		secret  string
	}{
		{"WRONGTYPE", raw, []string{"LPUSH", "a-string", "y"}, "", []string{"WRONGTYPE", "LPUSH"}, pw},
		{"unknown command", raw, []string{"NOSUCHCOMMAND"}, "", []string{"unknown command"}, pw},
		{"wrong password", wrongPW.String(), []string{"PING"}, "", []string{"WRONGPASS"}, canary},
		{"refused names host and port", "redis://runbook:" + canary + "@127.0.0.1:1/0", []string{"PING"}, "", []string{"127.0.0.1:1", "refused"}, canary},
		{"silent server within timeout", "redis://runbook:" + canary + "@" + silent + "/0", []string{"PING"}, "1s", []string{silent, "timed out"}, canary},
		{"SELECT is refused", raw, []string{"SELECT", "1"}, "", []string{"not supported", "url"}, pw},
		{"bad url", "redis://runbook:" + canary + "@127.0.0.1:port/0", []string{"PING"}, "", []string{"url"}, canary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := redis.New()
			defer p.(interface{ Close() error }).Close()
			body := fmt.Sprintf("url = %q\ncommand = %s", tt.url, command(tt.cmd...))
			if tt.timeout != "" {
				body += fmt.Sprintf("\ntimeout = %q", tt.timeout)
			}
			runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			start := time.Now()
			_, err := p.Run(runCtx, decode(t, p, body, raw))
			if err == nil {
				t.Fatal("got no error want one")
			}
			t.Logf("error: %v", err)
			if tt.timeout != "" {
				if el := time.Since(start); el > 5*time.Second {
					t.Errorf("returned after %s want within about the 1s timeout", el)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error: got %q want it to contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), tt.secret) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func TestTimeoutMidCommand(t *testing.T) {
	raw := testserver.Redis(t)
	p := redis.New()
	defer p.(interface{ Close() error }).Close()

	t.Run("timeout argument", func(t *testing.T) {
		start := time.Now()
		_, err := p.Run(context.Background(), decode(t, p, `url = var.url
			command = ["BLPOP", "never-filled", "30"]
			timeout = "1s"`, raw))
		el := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("error: got %v want a timeout", err)
		}
		if el < 900*time.Millisecond || el > 5*time.Second {
			t.Errorf("returned after %s want about 1s", el)
		}
	})
	t.Run("engine deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		_, err := p.Run(ctx, decode(t, p, `url = var.url
			command = ["BLPOP", "never-filled", "30"]`, raw))
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Fatalf("error: got %v want a timeout", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("returned after %s want about 1s", el)
		}
	})
	t.Run("cancel without deadline", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		_, err := p.Run(ctx, decode(t, p, `url = var.url
			command = ["BLPOP", "never-filled", "30"]`, raw))
		if err == nil || !strings.Contains(err.Error(), "canceled") {
			t.Fatalf("error: got %v want a cancellation", err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("returned after %s want about 0.3s", el)
		}
	})
	t.Run("blocking within the deadline succeeds", func(t *testing.T) {
		time.AfterFunc(300*time.Millisecond, func() {
			client(t, raw).RPush(context.Background(), "filled-soon", "job")
		})
		res, err := p.Run(context.Background(), decode(t, p, `url = var.url
			command = ["BLPOP", "filled-soon", "10"]
			timeout = "8s"`, raw))
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if got := toJSON(t, res.GetAttr("value")); got != `["filled-soon","job"]` {
			t.Errorf("value: got %s want [\"filled-soon\",\"job\"]", got)
		}
	})
	t.Run("the client works after a timeout", func(t *testing.T) {
		res, err := p.Run(context.Background(), decode(t, p, `url = var.url
			command = ["PING"]`, raw))
		if err != nil {
			t.Fatalf("run: %v", err)
		}
		if got := toJSON(t, res.GetAttr("value")); got != `"PONG"` {
			t.Errorf("value: got %s want \"PONG\"", got)
		}
	})
}

// clientsNamed counts the server's connections with the client name.
func clientsNamed(t *testing.T, c *goredis.Client, name string) int {
	t.Helper()
	list, err := c.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST: %v", err)
	}
	return strings.Count(list, " name="+name+" ")
}

func TestClientIsShared(t *testing.T) {
	const name = "runbook-pool-test"
	raw := testserver.Redis(t)
	admin := client(t, raw)
	p := redis.New()
	cfg := decode(t, p, "url = var.url\ncommand = [\"PING\"]", withParam(t, raw, "client_name", name))
	ctx := context.Background()

	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []error
	jobs := make(chan int)
	for range 16 {
		wg.Go(func() {
			for range jobs {
				if _, err := p.Run(ctx, cfg); err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range 1000 {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of 1000 checks failed, first: %v", len(failures), failures[0])
	}
	if n := clientsNamed(t, admin, name); n < 1 || n > 16 {
		t.Errorf("connections after 1000 checks: got %d want between 1 and 16", n)
	}
	if err := p.(interface{ Close() error }).Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	n := 0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n = clientsNamed(t, admin, name); n == 0 || time.Now().After(deadline) {
			break
		}
	}
	if n != 0 {
		t.Errorf("connections after Close: got %d want 0", n)
	}
}

func TestDescribe(t *testing.T) {
	const canary = "canary-Pa55w0rd"
	tests := []struct {
		name string
		body string
		want string
	}{
		{"password hidden", `url = "redis://app:` + canary + `@cache.internal:6380/2"
			command = ["INFO", "memory"]`, "INFO memory (cache.internal:6380/2)"},
		{"default port and db", `url = "redis://cache"
			command = ["PING"]`, "PING (cache:6379/0)"},
		{"auth masked", `url = "redis://cache"
			command = ["AUTH", "` + canary + `"]`, "AUTH … (cache:6379/0)"},
	}
	p := redis.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.(checks.Describer).Describe(decode(t, p, tt.body, ""))
			if got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
			if strings.Contains(got, canary) {
				t.Errorf("%q contains the password", got)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	const canary = "canary-Pa55w0rd"
	tests := []struct {
		name string
		body string
		want string
	}{
		{"valid", `url = "rediss://u:p@h:6380/1"
			command = ["PING"]
			timeout = "2s"`, ""},
		{"empty command", `url = "redis://h"
			command = []`, "command"},
		{"bad timeout", `url = "redis://h"
			command = ["PING"]
			timeout = "later"`, "timeout"},
		{"SELECT is refused", `url = "redis://h"
			command = ["select", "2"]`, "database number in the url"},
		{"MULTI is refused", `url = "redis://h"
			command = ["MULTI"]`, "changes the state of a connection"},
		{"CLIENT REPLY is refused", `url = "redis://h"
			command = ["CLIENT", "reply", "off"]`, "CLIENT REPLY"},
		{"CLIENT LIST is fine", `url = "redis://h"
			command = ["CLIENT", "LIST"]`, ""},
		{"bad scheme", `url = "http://h"
			command = ["PING"]`, "url"},
		{"bad url hides password", `url = "redis://u:` + canary + `@h:port/0"
			command = ["PING"]`, "url"},
	}
	p := redis.New()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.(checks.Validator).Validate(decode(t, p, tt.body, ""))
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v want no error", err)
			case tt.want != "" && err == nil:
				t.Fatalf("got no error want one about %s", tt.want)
			case err != nil && !strings.Contains(err.Error(), tt.want):
				t.Errorf("got %q want it to mention %q", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), canary) {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

// TestLargeRepliesAreBounded: a 5 MiB value is kept to max_value bytes
// and marked truncated, like shell and http output.
func TestLargeRepliesAreBounded(t *testing.T) {
	url := testserver.Redis(t)
	p := redis.New()
	defer p.(interface{ Close() error }).Close()
	big := strings.Repeat("x", 5<<20)
	run := func(command []cty.Value, extra map[string]cty.Value) cty.Value {
		attrs := map[string]cty.Value{"url": cty.StringVal(url), "command": cty.ListVal(command), "timeout": cty.NullVal(cty.String), "max_value": cty.NullVal(cty.Number)}
		for k, v := range extra {
			attrs[k] = v
		}
		res, err := p.Run(context.Background(), cty.ObjectVal(attrs))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	run([]cty.Value{cty.StringVal("SET"), cty.StringVal("runbook:big"), cty.StringVal(big)}, nil)
	res := run([]cty.Value{cty.StringVal("GET"), cty.StringVal("runbook:big")}, nil)
	if got := len(res.GetAttr("value").AsString()); got != 1<<20 || !res.GetAttr("truncated").True() {
		t.Errorf("kept %d bytes, truncated=%v; want %d and true", got, res.GetAttr("truncated").True(), 1<<20)
	}
	res = run([]cty.Value{cty.StringVal("GET"), cty.StringVal("runbook:big")}, map[string]cty.Value{"max_value": cty.NumberIntVal(10)})
	if got := res.GetAttr("value").AsString(); got != "xxxxxxxxxx" {
		t.Errorf("max_value 10 kept %q", got)
	}
	res = run([]cty.Value{cty.StringVal("PING")}, nil)
	if res.GetAttr("truncated").True() {
		t.Errorf("PING marked truncated")
	}
}
