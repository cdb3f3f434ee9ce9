package remote

import (
	"strings"
	"testing"
)

func TestParseJump(t *testing.T) {
	tests := []struct {
		spec, want, err string
	}{
		{"bastion", "bastion:22", ""},
		{"ops@bastion:2222", "bastion:2222", ""},
		{"[::1]", "[::1]:22", ""},
		{"ops@[::1]:2200", "[::1]:2200", ""},
		{"::1", "[::1]:22", ""},
		{"bastion:x", "", "no valid port"},
		{"[]", "", "names no host"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			j, err := parseJump(SSH{JumpHost: tt.spec})
			switch {
			case tt.err != "":
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("got %v, %v; want an error containing %q", j.Addr(), err, tt.err)
				}
			case err != nil:
				t.Fatal(err)
			case j.Addr() != tt.want:
				t.Fatalf("address %q, want %q", j.Addr(), tt.want)
			}
		})
	}
}
