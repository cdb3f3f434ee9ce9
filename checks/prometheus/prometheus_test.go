package prometheus

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// server is a stand-in Prometheus that answers the HTTP API from the
// JSON files in testdata, under both / and /prom/ (a server behind a
// path-prefixing proxy).
func server(t *testing.T) *httptest.Server {
	t.Helper()
	queries := map[string]struct {
		file   string
		status int
	}{
		`sum(workflow_mismatch_total)`:     {"sum.json", 200},
		`workflow_mismatch_total`:          {"vector.json", 200},
		`workflow_mismatch_total{job="x"}`: {"empty.json", 200},
		`scalar(42.25)`:                    {"scalar.json", 200},
		`"shadow"`:                         {"string.json", 200},
		`workflow_replay_lag_seconds[1m]`:  {"matrix.json", 200},
		`histogram_quantile(0.99, x)`:      {"nonfinite.json", 200},
		`sum(`:                             {"bad_data.json", 400},
	}
	serve := func(w http.ResponseWriter, file string, status int) {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			t.Errorf("fixture: %v", err)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(data)
	}
	api := http.NewServeMux()
	api.HandleFunc("GET /api/v1/query", func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); got != "application/json" {
			t.Errorf("Accept header: got %q, want application/json", got)
		}
		q := r.URL.Query().Get("query")
		switch q {
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		case "proxy error":
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
			return
		case "secured":
			if r.Header.Get("Authorization") != "Bearer s3cret" {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			serve(w, "sum.json", 200)
			return
		}
		f, ok := queries[q]
		if !ok {
			t.Errorf("unexpected query %q", q)
			http.NotFound(w, r)
			return
		}
		serve(w, f.file, f.status)
	})
	api.HandleFunc("GET /api/v1/alerts", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Scope-OrgID") == "shadow" {
			serve(w, "alerts.json", 200)
		} else {
			serve(w, "no_alerts.json", 200)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/api/", api)
	mux.Handle("/prom/", http.StripPrefix("/prom", api))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// cfg builds a prometheus block's decoded value; attributes left out are
// null.
func cfg(url string, attrs map[string]cty.Value) cty.Value {
	full := map[string]cty.Value{
		"url":                  cty.StringVal(url),
		"query":                cty.NullVal(cty.String),
		"alerts":               cty.NullVal(cty.Bool),
		"timeout":              cty.NullVal(cty.String),
		"headers":              cty.NullVal(cty.Map(cty.String)),
		"insecure_skip_verify": cty.NullVal(cty.Bool),
	}
	for k, v := range attrs {
		full[k] = v
	}
	return cty.ObjectVal(full)
}

func query(q string) map[string]cty.Value { return map[string]cty.Value{"query": cty.StringVal(q)} }

// asJSON renders a result as plain JSON data, as the run record holds it.
func asJSON(t *testing.T, v cty.Value) any {
	t.Helper()
	data, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		t.Fatalf("marshal result: %v", err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("result JSON %s: %v", data, err)
	}
	return out
}

func parseJSON(t *testing.T, s string) any {
	t.Helper()
	var out any
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		t.Fatalf("want JSON %s: %v", s, err)
	}
	return out
}

// noAlerts is the part of a query result that only alerts = true fills.
const noAlerts = `"firing": [], "pending": [], "alerts": []`

func TestRun(t *testing.T) {
	srv := server(t)
	for _, tc := range []struct {
		name  string
		url   string
		attrs map[string]cty.Value
		want  string
	}{
		{"sum is zero", srv.URL, query(`sum(workflow_mismatch_total)`), `{
			"value": 0, "value_text": "0", "result_type": "vector", "warnings": [],
			"series": [{"metric": {}, "value": 0}], ` + noAlerts + `}`},
		{"vector", srv.URL, query(`workflow_mismatch_total`), `{
			"value": 3, "value_text": "3", "result_type": "vector", "warnings": [],
			"series": [
				{"metric": {"job": "workflow-engine", "instance": "shadow-1:8000"}, "value": 3},
				{"metric": {"job": "workflow-engine", "instance": "shadow-2:8000"}, "value": 0.5}
			], ` + noAlerts + `}`},
		{"empty", srv.URL, query(`workflow_mismatch_total{job="x"}`), `{
			"value": null, "value_text": "", "result_type": "vector", "warnings": [],
			"series": [], ` + noAlerts + `}`},
		{"scalar", srv.URL, query(`scalar(42.25)`), `{
			"value": 42.25, "value_text": "42.25", "result_type": "scalar", "warnings": [],
			"series": [], ` + noAlerts + `}`},
		{"string", srv.URL, query(`"shadow"`), `{
			"value": null, "value_text": "", "result_type": "string", "warnings": [],
			"series": [], ` + noAlerts + `}`},
		{"matrix takes the last sample", srv.URL, query(`workflow_replay_lag_seconds[1m]`), `{
			"value": 7.5, "value_text": "7.5", "result_type": "matrix", "warnings": [],
			"series": [{"metric": {"__name__": "workflow_replay_lag_seconds", "instance": "shadow-1:8000"}, "value": 7.5}],
			` + noAlerts + `}`},
		{"NaN and infinities", srv.URL, query(`histogram_quantile(0.99, x)`), `{
			"value": null, "value_text": "NaN", "result_type": "vector",
			"warnings": ["PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"workflow_mismatch\""],
			"series": [
				{"metric": {"le": "a"}, "value": null},
				{"metric": {"le": "b"}, "value": null},
				{"metric": {"le": "c"}, "value": null}
			], ` + noAlerts + `}`},
		{"path prefix", srv.URL + "/prom/", query(`sum(workflow_mismatch_total)`), `{
			"value": 0, "value_text": "0", "result_type": "vector", "warnings": [],
			"series": [{"metric": {}, "value": 0}], ` + noAlerts + `}`},
		{"headers", srv.URL, map[string]cty.Value{
			"query":   cty.StringVal("secured"),
			"headers": cty.MapVal(map[string]cty.Value{"Authorization": cty.StringVal("Bearer s3cret")}),
		}, `{
			"value": 0, "value_text": "0", "result_type": "vector", "warnings": [],
			"series": [{"metric": {}, "value": 0}], ` + noAlerts + `}`},
		{"alerts firing and pending", srv.URL, map[string]cty.Value{
			"alerts":  cty.True,
			"headers": cty.MapVal(map[string]cty.Value{"X-Scope-OrgID": cty.StringVal("shadow")}),
		}, `{
			"value": null, "value_text": "", "result_type": "alerts", "warnings": [], "series": [],
			"firing": ["DiskAlmostFull", "WorkflowMismatch"],
			"pending": ["ReplayLagHigh"],
			"alerts": [
				{"name": "WorkflowMismatch", "state": "firing", "active_at": "2025-12-02T12:15:04.123Z", "value": "3e+00",
				 "labels": {"alertname": "WorkflowMismatch", "severity": "critical", "instance": "shadow-1:8000"},
				 "annotations": {"summary": "Replay diverged from primary"}},
				{"name": "WorkflowMismatch", "state": "firing", "active_at": "2025-12-02T12:16:04.123Z", "value": "1e+00",
				 "labels": {"alertname": "WorkflowMismatch", "severity": "critical", "instance": "shadow-2:8000"},
				 "annotations": {"summary": "Replay diverged from primary"}},
				{"name": "DiskAlmostFull", "state": "firing", "active_at": "2025-12-02T11:00:00Z", "value": "9.1e+01",
				 "labels": {"alertname": "DiskAlmostFull", "severity": "warning"}, "annotations": {}},
				{"name": "ReplayLagHigh", "state": "pending", "active_at": "2025-12-02T12:40:00Z", "value": "4.2e+01",
				 "labels": {"alertname": "ReplayLagHigh", "severity": "warning"}, "annotations": {}}
			]}`},
		{"no alerts", srv.URL, map[string]cty.Value{"alerts": cty.True}, `{
			"value": null, "value_text": "", "result_type": "alerts", "warnings": [], "series": [],
			` + noAlerts + `}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := New()
			defer p.(*Provider).Close()
			v, err := p.Run(context.Background(), cfg(tc.url, tc.attrs))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if diff := cmp.Diff(parseJSON(t, tc.want), asJSON(t, v)); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	srv := server(t)
	withPassword := strings.Replace(srv.URL, "http://", "http://ops:hunter2@", 1)
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := strings.Replace(closed.URL, "http://", "http://ops:hunter2@", 1)
	closed.Close()
	for _, tc := range []struct {
		name  string
		url   string
		attrs map[string]cty.Value
		want  string // a substring of the error
	}{
		{"bad query", srv.URL, query(`sum(`),
			`query "sum(" at ` + srv.URL + `: prometheus error bad_data (HTTP 400): invalid parameter "query": 1:4: parse error: unexpected end of input in aggregation`},
		{"not the API", srv.URL, query("proxy error"), `HTTP 502 is not a Prometheus API response: "<html><body><h1>502 Bad Gateway</h1></body></html>"`},
		{"unauthorized", withPassword, query("secured"), `HTTP 401 is not a Prometheus API response: "Unauthorized"`},
		{"connection refused", closedURL, query("up"), `query "up" at ` + closed.URL + `: dial tcp`},
		{"no query", srv.URL, nil, "one of query or alerts = true is required"},
		{"alerts false", srv.URL, map[string]cty.Value{"alerts": cty.False}, "one of query or alerts = true is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := New().Run(context.Background(), cfg(tc.url, tc.attrs))
			if err == nil {
				t.Fatalf("Run: got %#v, want an error containing %q", v, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run error: got %q, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "ops:") {
				t.Errorf("Run error %q reveals the URL's userinfo", err)
			}
		})
	}
}

// TestRunUserinfo checks a password in the URL reaches the server as basic
// auth.
func TestRunUserinfo(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != "ops" || pass != "hunter2" {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
	}))
	defer srv.Close()
	url := strings.Replace(srv.URL, "http://", "http://ops:hunter2@", 1)
	v, err := New().Run(context.Background(), cfg(url, query("1")))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := v.GetAttr("value_text").AsString(); got != "1" {
		t.Errorf("value_text: got %q, want %q", got, "1")
	}
}

func TestRunTimeout(t *testing.T) {
	srv := server(t)
	start := time.Now()
	_, err := New().Run(context.Background(), cfg(srv.URL, map[string]cty.Value{
		"query": cty.StringVal("slow"), "timeout": cty.StringVal("100ms"),
	}))
	if want := `query "slow" at ` + srv.URL + `: timed out after 100ms: context deadline exceeded`; err == nil || err.Error() != want {
		t.Errorf("Run: got error %v, want %q", err, want)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Run took %s, want it cut at about 100ms", elapsed)
	}

	// The caller's deadline is the caller's: not reported as ours.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = New().Run(ctx, cfg(srv.URL, query("slow")))
	if err == nil || strings.Contains(err.Error(), "timed out after") || !strings.Contains(err.Error(), "context deadline exceeded") {
		t.Errorf("Run with a caller deadline: got error %v, want the context's deadline error", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		url   string
		attrs map[string]cty.Value
		want  string
	}{
		{"query", "http://localhost:9090", query("up"), ""},
		{"alerts", "https://prom.example.com/prom/", map[string]cty.Value{"alerts": cty.True}, ""},
		{"unknown alerts", "http://localhost:9090", map[string]cty.Value{"alerts": cty.UnknownVal(cty.Bool)}, ""},
		{"unknown query", "http://localhost:9090", map[string]cty.Value{"query": cty.UnknownVal(cty.String)}, ""},
		{"both", "http://localhost:9090", map[string]cty.Value{"query": cty.StringVal("up"), "alerts": cty.True},
			"set either query or alerts = true, not both"},
		{"neither", "http://localhost:9090", nil, "one of query or alerts = true is required"},
		{"empty query", "http://localhost:9090", query(" "), "query must not be empty"},
		{"no scheme", "localhost:9090", query("up"), `url "localhost:9090" must be an http:// or https:// URL such as http://localhost:9090`},
		{"password hidden", "ftp://ops:hunter2@prom", query("up"), `url "ftp://prom" must be an http:// or https:// URL such as http://localhost:9090`},
		{"bad timeout", "http://localhost:9090", map[string]cty.Value{"query": cty.StringVal("up"), "timeout": cty.StringVal("10")},
			`timeout: "10" is not a duration such as "5s" or "2m"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ""
			if err := New().(*Provider).Validate(cfg(tc.url, tc.attrs)); err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Validate: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  cty.Value
		want string
	}{
		{"query", cfg("http://ops:hunter2@prom:9090", query("sum(workflow_mismatch_total)")),
			"PromQL sum(workflow_mismatch_total) at http://prom:9090"},
		{"alerts", cfg("http://prom:9090", map[string]cty.Value{"alerts": cty.True}), "alerts at http://prom:9090"},
		{"unknown url", cty.ObjectVal(map[string]cty.Value{
			"url": cty.UnknownVal(cty.String), "query": cty.StringVal("up"),
		}), "PromQL up at (url not known yet)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := New().(*Provider).Describe(tc.cfg); got != tc.want {
				t.Errorf("Describe: got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestRunTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}`))
	}))
	defer srv.Close()
	p := New()
	defer p.(*Provider).Close()

	_, err := p.Run(context.Background(), cfg(srv.URL, query("1")))
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("Run against a self-signed server: got error %v, want a certificate error", err)
	}
	v, err := p.Run(context.Background(), cfg(srv.URL, map[string]cty.Value{
		"query": cty.StringVal("1"), "insecure_skip_verify": cty.True,
	}))
	if err != nil {
		t.Fatalf("Run with insecure_skip_verify: %v", err)
	}
	if got := v.GetAttr("value_text").AsString(); got != "1" {
		t.Errorf("value_text: got %q, want %q", got, "1")
	}
}
