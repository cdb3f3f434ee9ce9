// Package file is the `file` check provider: it observes whether a path
// exists and its size, age and permissions.
package file

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"syscall"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/runbookhq/runbook/checks"
	"github.com/zclconf/go-cty/cty"
)

var (
	_ checks.Provider        = (*Provider)(nil)
	_ checks.Typed           = (*Provider)(nil)
	_ checks.Documented      = (*Provider)(nil)
	_ checks.Describer       = (*Provider)(nil)
	_ checks.Validator       = (*Provider)(nil)
	_ checks.DefaultAsserter = (*Provider)(nil)
)

// Provider stats files. It is safe for concurrent use.
type Provider struct {
	now func() time.Time
}

// New returns a file Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{now: time.Now} }

// Schema describes the file block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"path": &hcldec.AttrSpec{Name: "path", Type: cty.String, Required: true},
	}
}

// Doc describes the provider for `runbook providers` and the docs tests.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Observes whether a file or directory exists, and its size, age and permissions.",
		Result: map[string]string{
			"exists": "true when the path exists (symbolic links are followed)",
			"size":   "size in bytes; 0 when missing",
			"age_s":  "seconds since the last modification; 0 when missing",
			"mode":   "permission bits in octal, such as \"0644\"; empty when missing",
			"is_dir": "true when the path is a directory",
		},
	}
}

// DefaultAssert makes a block without asserts fail when the path is
// missing.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "self.exists", "file does not exist"
}

// Validate checks that path is not empty.
func (p *Provider) Validate(cfg cty.Value) error {
	if !cfg.IsKnown() || cfg.IsNull() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("path") {
		return nil
	}
	if v := cfg.GetAttr("path"); v.IsKnown() && !v.IsNull() && v.AsString() == "" {
		return errors.New("path must not be empty")
	}
	return nil
}

// Describe renders the block as "file <path>".
func (p *Provider) Describe(cfg cty.Value) string {
	if path := checks.String(cfg, "path", ""); path != "" {
		return "file " + path
	}
	return "file (path known at run time)"
}

// Run stats the path. A missing path is a result (exists = false); a path
// that cannot be inspected (permission denied) is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	path := checks.String(cfg, "path", "")
	if path == "" {
		return cty.NilVal, errors.New("path is not known")
	}
	if err := ctx.Err(); err != nil {
		return cty.NilVal, err
	}
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return cty.ObjectVal(map[string]cty.Value{
			"exists": cty.False,
			"size":   cty.Zero,
			"age_s":  cty.Zero,
			"mode":   cty.StringVal(""),
			"is_dir": cty.False,
		}), nil
	}
	if err != nil {
		return cty.NilVal, fmt.Errorf("inspect file: %w", err)
	}
	age := p.now().Sub(fi.ModTime()).Seconds()
	return cty.ObjectVal(map[string]cty.Value{
		"exists": cty.True,
		"size":   cty.NumberIntVal(fi.Size()),
		"age_s":  cty.NumberFloatVal(math.Round(age*1000) / 1000),
		"mode":   cty.StringVal(octal(fi.Mode())),
		"is_dir": cty.BoolVal(fi.IsDir()),
	}), nil
}

// octal renders permission and special bits as chmod(1) takes them.
func octal(m fs.FileMode) string {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return fmt.Sprintf("%04o", bits)
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return cty.Object(map[string]cty.Type{
		"exists": cty.Bool, "size": cty.Number, "age_s": cty.Number, "mode": cty.String, "is_dir": cty.Bool,
	})
}
