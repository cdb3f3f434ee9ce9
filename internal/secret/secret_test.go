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
