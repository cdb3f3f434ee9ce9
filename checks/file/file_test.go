package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// config decodes `path = "<path>"` with the provider's schema.
func config(t *testing.T, p *Provider, path string) cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte("path = "+hclQuote(path)), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags)
	}
	v, diags := hcldec.Decode(f.Body, p.Schema(), nil)
	if diags.HasErrors() {
		t.Fatalf("decode: %s", diags)
	}
	return v
}

// hclQuote quotes s as an HCL string literal.
func hclQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "${", "$${", "%{", "%%{").Replace(s) + `"`
}

type result struct {
	Exists bool    `cty:"exists"`
	Size   int64   `cty:"size"`
	AgeS   float64 `cty:"age_s"`
	Mode   string  `cty:"mode"`
	IsDir  bool    `cty:"is_dir"`
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	mtime := time.Date(2025, 12, 2, 12, 0, 0, 0, time.UTC)
	now := mtime.Add(90*time.Second + 500*time.Millisecond)
	mk := func(name string, mode os.FileMode, isDir bool) string {
		path := filepath.Join(dir, name)
		var err error
		if isDir {
			err = os.Mkdir(path, 0o700)
		} else {
			err = os.WriteFile(path, []byte("0123456789"), 0o600)
		}
		if err == nil {
			err = os.Chmod(path, mode)
		}
		if err == nil {
			err = os.Chtimes(path, mtime, mtime)
		}
		if err != nil {
			t.Fatal(err)
		}
		return path
	}
	regular := mk("regular", 0o640, false)
	link := filepath.Join(dir, "link")
	if err := os.Symlink(regular, link); err != nil {
		t.Fatal(err)
	}
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "gone"), dangling); err != nil {
		t.Fatal(err)
	}
	missing := result{}
	fixture, err := os.Stat("testdata/app.yaml")
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		path string
		want result
	}{
		{"regular file", regular, result{Exists: true, Size: 10, AgeS: 90.5, Mode: "0640"}},
		{"directory", mk("dir", 0o750, true), result{Exists: true, Size: 4096, AgeS: 90.5, Mode: "0750", IsDir: true}},
		{"setuid", mk("setuid", os.ModeSetuid|0o755, false), result{Exists: true, Size: 10, AgeS: 90.5, Mode: "4755"}},
		{"sticky directory", mk("tmp", os.ModeSticky|0o777, true), result{Exists: true, Size: 4096, AgeS: 90.5, Mode: "1777", IsDir: true}},
		{"symlink followed", link, result{Exists: true, Size: 10, AgeS: 90.5, Mode: "0640"}},
		{"relative fixture", "testdata/app.yaml", result{Exists: true, Size: 32, AgeS: now.Sub(fixture.ModTime()).Seconds(), Mode: octal(fixture.Mode())}},
		{"missing", filepath.Join(dir, "nope"), missing},
		{"dangling symlink", dangling, missing},
		{"below a regular file", filepath.Join(regular, "child"), missing},
	}
	p := &Provider{now: func() time.Time { return now }}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Run(context.Background(), config(t, p, tt.path))
			if err != nil {
				t.Fatalf("Run: got error %v, want none", err)
			}
			var got result
			if err := gocty.FromCtyValue(res, &got); err != nil {
				t.Fatalf("result %#v: %v", res, err)
			}
			if tt.want.IsDir {
				got.Size = tt.want.Size // directory sizes depend on the file system
			}
			if diff := cmp.Diff(tt.want, got, cmp.Comparer(func(a, b float64) bool { return a-b < 0.001 && b-a < 0.001 })); diff != "" {
				t.Errorf("result (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	p := New().(*Provider)
	t.Run("name too long", func(t *testing.T) {
		_, err := p.Run(context.Background(), config(t, p, filepath.Join(t.TempDir(), strings.Repeat("x", 300))))
		if err == nil || !strings.Contains(err.Error(), "file name too long") {
			t.Fatalf("got error %v, want one saying the name is too long", err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Run(ctx, config(t, p, "testdata/app.yaml")); err == nil {
			t.Fatal("got no error, want the context's")
		}
	})
}

func TestValidate(t *testing.T) {
	p := New().(*Provider)
	if err := p.Validate(config(t, p, "")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty path: got %v, want an error", err)
	}
	if err := p.Validate(config(t, p, "/etc/hosts")); err != nil {
		t.Errorf("got %v, want no error", err)
	}
	if err := p.Validate(cty.ObjectVal(map[string]cty.Value{"path": cty.UnknownVal(cty.String)})); err != nil {
		t.Errorf("unknown path: got %v, want no error", err)
	}
}

func TestDescribe(t *testing.T) {
	p := New().(*Provider)
	if got, want := p.Describe(config(t, p, "/var/lib/app/state.json")), "file /var/lib/app/state.json"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
