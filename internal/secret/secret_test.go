package secret

import (
	"strings"
	"testing"
)

func TestMaskText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"postgres url", "postgres://app:s3cr3t@db:5432/x", "postgres://app:xxxxx@db:5432/x"},
		{"redis no user", "redis://:hunter22@cache:6379/0", "redis://:xxxxx@cache:6379/0"},
		{"http in a sentence", "GET http://user:pa%40ss@api/health failed", "GET http://user:xxxxx@api/health failed"},
		{"kv dsn", "host=db password=s3cr3t dbname=x", "host=db password=xxxxx dbname=x"},
		{"kv quoted", "host=db password='a b c' dbname=x", "host=db password=xxxxx dbname=x"},
		{"query parameter", "postgres://db/x?sslmode=disable&password=s3cr3t&x=1", "postgres://db/x?sslmode=disable&password=xxxxx&x=1"},
		{"sslpassword", "sslpassword = k3y", "sslpassword = xxxxx"},
		{"user only", "postgres://app@db/x", "postgres://app@db/x"},
		{"port is no password", "http://host:8080/a@b", "http://host:8080/a@b"},
		{"plain text", "nothing to see", "nothing to see"},
		// net/url (net/http, go-redis) splits the userinfo at the last @:
		// http://bob:p@ss-word1@host logs in as bob with p@ss-word1.
		{"raw @ in an http password", "http://bob:p@ss-word1@api.internal/health", "http://bob:xxxxx@api.internal/health"},
		{"raw @ in a redis password", "redis://:p@ss-word1@cache.internal:6379/0", "redis://:xxxxx@cache.internal:6379/0"},
		{"raw @ then another url", "http://a:p@ss@h1/x and http://b:q@h2/", "http://a:xxxxx@h1/x and http://b:xxxxx@h2/"},
		{"user with @", "http://bob@corp:pw1@h/", "http://bob@corp:xxxxx@h/"},
		// libpq: a backslash escapes a space in an unquoted value.
		{"kv escaped space", `host=db user=app password=Secr3t\ word4 dbname=ops`, "host=db user=app password=xxxxx dbname=ops"},
		{"kv escaped backslash", `password=a\\ b=1`, "password=xxxxx b=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskText(tt.in); got != tt.want {
				t.Fatalf("MaskText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskConn(t *testing.T) {
	tests := []struct {
		name, conn, msg string
	}{
		{"url", "postgres://u:Pa55word@db/x", "dial u:Pa55word@db: refused"},
		{"escaped", "postgres://u:p%2Fss@db/x", "failed for p%2Fss and p/ss"},
		{"kv", "host=db password='Pa55 word'", "auth failed: 'Pa55 word'"},
		{"broken url", "postgres://u:Pa55word@db:bad port/x", "parse postgres://u:Pa55word@db:bad port/x"},
		{"query", "postgres://db/x?password=Pa55word", "password Pa55word rejected"},
		{"redis", "redis://:Pa55word@cache:6379", "NOAUTH Pa55word"},
		{"kv escaped space", `host=db password=Pa55\ word`, "auth failed: Pa55\\ word, 'Pa55 word'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := MaskConn(tt.msg, tt.conn)
			for _, leak := range []string{"Pa55word", "Pa55 word", "p%2Fss", "p/ss"} {
				if strings.Contains(got, leak) {
					t.Fatalf("MaskConn(%q) = %q: %q leaks", tt.msg, got, leak)
				}
			}
		})
	}
}
