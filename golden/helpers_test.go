package golden

import (
	"testing"
)

func TestNumbersEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"1", "1.0", true},
		{"1", "1e0", true},
		{"100", "1e2", true},
		{"100", "1E+2", true},
		{"0.5", "5e-1", true},
		{"0", "-0", true},
		{"0", "0.000e5", true},
		{"-1.50", "-15e-1", true},
		{"12345678901234567", "12345678901234567.0", true},
		{"12345678901234567", "12345678901234568", false},
		{"0.1", "0.10000000000000001", false},
		{"1", "-1", false},
		{"1e400", "10e399", true},
		{"1e400", "1e401", false},
		{"1e99999999999999999999", "0.1e100000000000000000000", true},
		{"1e99999999999999999999", "1e99999999999999999998", false},
	} {
		t.Run(tc.a+"="+tc.b, func(t *testing.T) {
			if got := numbersEqual(tc.a, tc.b); got != tc.want {
				t.Errorf("numbersEqual(%s, %s): got %v want %v", tc.a, tc.b, got, tc.want)
			}
			if got := numbersEqual(tc.b, tc.a); got != tc.want {
				t.Errorf("numbersEqual(%s, %s): got %v want %v", tc.b, tc.a, got, tc.want)
			}
		})
	}
}

func TestRandomString(t *testing.T) {
	for _, tc := range []struct {
		s, want string
	}{
		{"3f2c8a9e-4b1d-4c7a-9e2f-6a5b8c7d1e0f", "UUID"},
		{"3F2C8A9E-4B1D-4C7A-9E2F-6A5B8C7D1E0F", "UUID"},
		{"9f86d081884c7d659a2feaa0c55ad015", "hex"},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "hex"},
		{"q7Xz1Lp0Vb3Nk8Rt2Yw5Hs9Dm4", "base64"},
		{"dGhpcyBpcyBhIHJhbmRvbSB0b2tlbg==", "base64"},
		{"wf-0042", ""},
		{"ok", ""},
		{"deadbeefdeadbeef", ""},
		{"1234567890123456", ""},
		{"HandleRequestV2Async", ""},
		{"this_is_a_long_identifier", ""},
		{"ABCDEFGHIJKLMNOPQRSTUVWXYZ", ""},
		{"2025-12-02T12:12:19Z", ""},
		{"the quick brown fox jumps", ""},
	} {
		t.Run(tc.s, func(t *testing.T) {
			if got := randomString(tc.s); got != tc.want {
				t.Errorf("randomString(%q): got %q want %q", tc.s, got, tc.want)
			}
		})
	}
}

func TestIsTimestamp(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"2025-12-02T12:12:19Z", true},
		{"2025-12-02T12:12:19.123456789+01:00", true},
		{"2025-12-02T12:12:19.123456", true},
		{"2025-12-02 12:12:19", true},
		{"2025-12-02", false},
		{"2025-13-02T12:12:19Z", false},
		{"wf-2025-12-02T12", false},
	} {
		t.Run(tc.s, func(t *testing.T) {
			if got := isTimestamp(tc.s); got != tc.want {
				t.Errorf("isTimestamp(%q): got %v want %v", tc.s, got, tc.want)
			}
		})
	}
}

func TestPatternMatch(t *testing.T) {
	type path struct {
		path string
		cuts []int
		keys []string
	}
	at := func(p string, cuts []int, keys ...string) path { return path{p, cuts, keys} }
	for _, tc := range []struct {
		pattern string
		at      path
		want    bool
	}{
		{"*.external.*", at("steps[2].external.body", []int{5, 8, 17}, "steps", "external", "body"), true},
		{"*.external.*", at("external.body", []int{8}, "external", "body"), true},
		{"*.external.*", at("steps[2].external", []int{5}, "steps", "external"), true},
		{"*.external.*", at("steps[2].externals.body", []int{5, 8, 18}, "steps", "externals", "body"), false},
		{"*.external.*", at("external_id", nil, "external_id"), false},
		{"steps[*].output.token", at("steps[3].output.token", []int{5, 8, 15}, "steps", "output", "token"), true},
		{"steps[*].output.token", at("steps[3].output.token.part", []int{5, 8, 15, 21}, "steps", "output", "token", "part"), true},
		{"steps[*].output.token", at("steps[3].output.tokens", []int{5, 8, 15}, "steps", "output", "tokens"), false},
		{"meta.*", at("meta.host", []int{4}, "meta", "host"), true},
		{"meta.*", at("metadata.host", []int{8}, "metadata", "host"), false},
		{"*_at", at("steps[0].created_at", []int{5, 8}, "steps", "created_at"), true},
		{"*_at", at("steps[0].createdAt", []int{5, 8}, "steps", "createdAt"), true},
		{"*_at", at("created_at.nanos", []int{10}, "created_at", "nanos"), true},
		{"*_at", at("format", nil, "format"), false},
		{"*_ms", at("durationMs", nil, "durationMs"), true},
		{"http_response", at("HTTPResponse.body", []int{12}, "HTTPResponse", "body"), true},
	} {
		t.Run(tc.pattern+"~"+tc.at.path, func(t *testing.T) {
			p, err := compilePattern(tc.pattern)
			if err != nil {
				t.Fatal(err)
			}
			d := diffPath{path: tc.at.path, cuts: tc.at.cuts, keys: tc.at.keys}
			for _, k := range tc.at.keys {
				d.snakes = append(d.snakes, snake(k))
			}
			if got := p.match(&d); got != tc.want {
				t.Errorf("%q matches %q: got %v want %v", tc.pattern, tc.at.path, got, tc.want)
			}
		})
	}
}

func TestSnake(t *testing.T) {
	for in, want := range map[string]string{
		"createdAt": "created_at", "HTTPResponse": "http_response", "durationMs": "duration_ms",
		"already_snake": "already_snake", "ID": "id", "userID2": "user_id2", "X": "x",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q): got %q want %q", in, got, want)
		}
	}
}

func TestParsePairRule(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    PairRule
		wantErr bool
	}{
		{"{id}.json:{id}.replay.json", ReplaySuffixRule, false},
		{"primary/{id}:replay/{id}", SubdirRule, false},
		{" {id}.a.json : {id}.b.json ", PairRule{"{id}.a.json", "{id}.b.json"}, false},
		{"{id}.json", PairRule{}, true},
		{"a.json:{id}.json", PairRule{}, true},
		{"{id}{id}:{id}", PairRule{}, true},
		{"batch/{id}.json:batch/{id}.json", PairRule{"batch/{id}.json", "batch/{id}.json"}, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePairRule(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("got %v, %v want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
