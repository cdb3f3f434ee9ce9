package redis

import (
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

func TestParseInfo(t *testing.T) {
	text, err := os.ReadFile("testdata/info.txt")
	if err != nil {
		t.Fatalf("read fixture: %v", err)
	}
	got, err := ctyjson.SimpleJSONValue{Value: parseInfo(string(text))}.MarshalJSON()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	want := `{` +
		`"commandstats":{"cmdstat_get":{"calls":2,"failed_calls":0,"rejected_calls":0,"usec":15,"usec_per_call":7.5}},` +
		`"errorstats":{},` +
		`"keyspace":{"db0":{"avg_ttl":5000,"expires":1,"keys":3}},` +
		`"memory":{"maxmemory_policy":"noeviction","mem_fragmentation_ratio":1.25,"used_memory":1048576,"used_memory_human":"1.00M"},` +
		`"replication":{"connected_slaves":1,"master_repl_offset":1234,"master_replid":"0000000000000000000000000000000000000000",` +
		`"role":"master","slave0":{"ip":"10.0.0.7","lag":0,"offset":1234,"port":6380,"state":"online"}}}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("parsed INFO (-want +got):\n%s", diff)
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		cmd  []string
		want string
	}{
		{"simple", []string{"INFO", "memory"}, "INFO memory"},
		{"quoted", []string{"SET", "k", "a b"}, `SET k "a b"`},
		{"empty arg", []string{"GET", ""}, `GET ""`},
		{"auth masked", []string{"AUTH", "user", "s3cret"}, "AUTH … …"},
		{"long arg", []string{"GET", "0123456789012345678901234567890123456789-tail"}, "GET 0123456789012345678901234567890123456…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := commandLine(tt.cmd); got != tt.want {
				t.Errorf("got %q want %q", got, tt.want)
			}
		})
	}
}
