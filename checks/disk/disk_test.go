package disk

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

func config(path string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"path": cty.StringVal(path)})
}

// number reads a numeric attribute of a result as a float64.
func number(t *testing.T, v cty.Value, name string) float64 {
	t.Helper()
	var f float64
	if err := gocty.FromCtyValue(v.GetAttr(name), &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// dfLine runs df -P with extra flags on path and returns the numeric
// fields of its data line: size, used, available, capacity percent.
func dfLine(t *testing.T, flag, path string) [4]float64 {
	t.Helper()
	out, err := exec.Command("df", "-P", flag, path).Output()
	if err != nil {
		t.Skipf("df -P %s unavailable: %v", flag, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) < 6 {
		t.Fatalf("df output %q: want 6 fields", out)
	}
	var got [4]float64
	for i := range 4 {
		s := strings.TrimSuffix(fields[i+1], "%")
		if s == "-" {
			s = "0"
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("df output %q field %d: %v", out, i+1, err)
		}
		got[i] = f
	}
	return got
}

// TestRunMatchesDF compares the provider with df on the same paths. Other
// programs write to these file systems meanwhile, so used and free bytes
// may drift by a little; the size may not.
func TestRunMatchesDF(t *testing.T) {
	const drift = 256 << 20
	dir := t.TempDir()
	file := filepath.Join(dir, "golden.json")
	if err := os.WriteFile(file, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, path string }{
		{"temp dir", dir},
		{"file", file},
		{"root", "/"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New().Run(context.Background(), config(tc.path))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			df := dfLine(t, "-B1", tc.path)
			if total := number(t, got, "total_bytes"); total != df[0] {
				t.Errorf("total_bytes: got %.0f, want df's %.0f", total, df[0])
			}
			if used := number(t, got, "used_bytes"); math.Abs(used-df[1]) > drift {
				t.Errorf("used_bytes: got %.0f, want df's %.0f", used, df[1])
			}
			if free := number(t, got, "free_bytes"); math.Abs(free-df[2]) > drift {
				t.Errorf("free_bytes: got %.0f, want df's %.0f", free, df[2])
			}
			// df rounds Use% up to a whole percent.
			if pct := number(t, got, "used_percent"); math.Abs(math.Ceil(pct)-df[3]) > 1 {
				t.Errorf("used_percent: got %.2f, want about df's %.0f%%", pct, df[3])
			}

			dfi := dfLine(t, "-i", tc.path)
			if total := number(t, got, "inodes_total"); total != dfi[0] {
				t.Errorf("inodes_total: got %.0f, want df's %.0f", total, dfi[0])
			}
			if pct := number(t, got, "inodes_used_percent"); math.Abs(math.Ceil(pct)-dfi[3]) > 1 {
				t.Errorf("inodes_used_percent: got %.2f, want about df's %.0f%%", pct, dfi[3])
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	for _, tc := range []struct {
		name, path, want string
	}{
		{"missing path", missing, "statfs \"" + missing + "\": no such file or directory"},
		{"empty path", "", "path must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := New().Run(context.Background(), config(tc.path))
			if err == nil {
				t.Fatalf("Run: got %#v, want error %q", got, tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("Run error: got %q, want %q", err, tc.want)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := New().Run(ctx, config(t.TempDir())); err == nil {
		t.Errorf("Run with a cancelled context: got no error, want one")
	}
}

// TestUsageValue checks df's arithmetic on known numbers.
func TestUsageValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    Usage
		want map[string]float64
	}{
		{
			name: "root reserve",
			// 1000 bytes, 300 free of which 100 are reserved for root.
			u: Usage{TotalBytes: 1000, FreeBytes: 300, AvailBytes: 200, InodesTotal: 40, InodesFree: 30},
			want: map[string]float64{
				"used_percent": 77.78, "free_bytes": 200, "total_bytes": 1000, "used_bytes": 700,
				"inodes_total": 40, "inodes_free": 30, "inodes_used_percent": 25,
			},
		},
		{
			name: "no inodes reported",
			u:    Usage{TotalBytes: 4096, FreeBytes: 4096, AvailBytes: 4096},
			want: map[string]float64{
				"used_percent": 0, "free_bytes": 4096, "total_bytes": 4096, "used_bytes": 0,
				"inodes_total": 0, "inodes_free": 0, "inodes_used_percent": 0,
			},
		},
		{
			name: "empty file system",
			u:    Usage{},
			want: map[string]float64{
				"used_percent": 0, "free_bytes": 0, "total_bytes": 0, "used_bytes": 0,
				"inodes_total": 0, "inodes_free": 0, "inodes_used_percent": 0,
			},
		},
		{
			name: "full",
			u:    Usage{TotalBytes: 1 << 40, FreeBytes: 1 << 30, AvailBytes: 0, InodesTotal: 3, InodesFree: 1},
			want: map[string]float64{
				"used_percent": 100, "free_bytes": 0, "total_bytes": 1 << 40, "used_bytes": 1<<40 - 1<<30,
				"inodes_total": 3, "inodes_free": 1, "inodes_used_percent": 66.67,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.u.value()
			got := map[string]float64{}
			for name := range v.Type().AttributeTypes() {
				got[name] = number(t, v, name)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("value (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateDescribe(t *testing.T) {
	unknown := cty.ObjectVal(map[string]cty.Value{"path": cty.UnknownVal(cty.String)})
	for _, tc := range []struct {
		name     string
		cfg      cty.Value
		wantErr  string
		describe string
	}{
		{"path", config("/var/lib/aos/golden"), "", "statfs /var/lib/aos/golden"},
		{"empty", config(""), "path must not be empty", "statfs (path not known yet)"},
		{"unknown", unknown, "", "statfs (path not known yet)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Provider{}
			err := p.Validate(tc.cfg)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.wantErr {
				t.Errorf("Validate: got %q, want %q", gotErr, tc.wantErr)
			}
			if got := p.Describe(tc.cfg); got != tc.describe {
				t.Errorf("Describe: got %q, want %q", got, tc.describe)
			}
		})
	}
}
