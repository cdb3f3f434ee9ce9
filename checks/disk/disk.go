// Package disk is the `disk` check provider: the usage of the file system
// holding a path, as statfs(2) reports it and df(1) prints it.
package disk

import (
	"context"
	"fmt"
	"math"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
)

var (
	_ checks.Provider   = (*Provider)(nil)
	_ checks.Typed      = (*Provider)(nil)
	_ checks.Documented = (*Provider)(nil)
	_ checks.Describer  = (*Provider)(nil)
	_ checks.Validator  = (*Provider)(nil)
)

// Provider observes file system usage. It keeps no state, so one value
// serves any number of concurrent Runs.
type Provider struct{}

// New returns a disk Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{} }

// Schema describes the `disk` block: one required `path`.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"path": &hcldec.AttrSpec{Name: "path", Type: cty.String, Required: true},
	}
}

// Doc returns the provider's reference documentation.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Disk usage of the file system holding a path, as df reports it.",
		Result: map[string]string{
			"used_percent":        "used space as df's Use%: used / (used + available) * 100, with decimals",
			"free_bytes":          "bytes available to unprivileged users",
			"total_bytes":         "size of the file system in bytes",
			"used_bytes":          "bytes in use",
			"inodes_total":        "number of inodes (0 when the file system does not report them)",
			"inodes_free":         "free inodes",
			"inodes_used_percent": "inodes in use, percent (0 when the file system does not report inodes)",
		},
	}
}

// Describe summarizes a block as "statfs PATH".
func (p *Provider) Describe(cfg cty.Value) string {
	path := checks.String(cfg, "path", "")
	if path == "" {
		return "statfs (path not known yet)"
	}
	return "statfs " + path
}

// Validate rejects an empty path.
func (p *Provider) Validate(cfg cty.Value) error {
	if v, ok := checks.KnownAttr(cfg, "path"); ok && v.AsString() == "" {
		return fmt.Errorf("path must not be empty")
	}
	return nil
}

// Usage is what statfs reports for one file system, in bytes and inodes.
type Usage struct {
	TotalBytes  uint64
	FreeBytes   uint64 // free to anyone, root's reserve included
	AvailBytes  uint64 // free to unprivileged users
	InodesTotal uint64
	InodesFree  uint64
}

// Run reads the usage of the file system holding the configured path.
// A path that does not exist is an error.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	if err := ctx.Err(); err != nil {
		return cty.NilVal, err
	}
	path := checks.String(cfg, "path", "")
	if path == "" {
		return cty.NilVal, fmt.Errorf("path must not be empty")
	}
	u, err := statfs(path)
	if err != nil {
		return cty.NilVal, fmt.Errorf("statfs %q: %w", path, err)
	}
	return u.value(), nil
}

// value turns a Usage into the result object, with df's arithmetic.
func (u Usage) value() cty.Value {
	used := u.TotalBytes - min(u.FreeBytes, u.TotalBytes)
	inodesUsed := u.InodesTotal - min(u.InodesFree, u.InodesTotal)
	return cty.ObjectVal(map[string]cty.Value{
		"used_percent":        cty.NumberFloatVal(percent(used, used+u.AvailBytes)),
		"free_bytes":          cty.NumberUIntVal(u.AvailBytes),
		"total_bytes":         cty.NumberUIntVal(u.TotalBytes),
		"used_bytes":          cty.NumberUIntVal(used),
		"inodes_total":        cty.NumberUIntVal(u.InodesTotal),
		"inodes_free":         cty.NumberUIntVal(u.InodesFree),
		"inodes_used_percent": cty.NumberFloatVal(percent(inodesUsed, u.InodesTotal)),
	})
}

// percent returns part/whole*100 rounded to two decimals, 0 for an empty
// whole.
func percent(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return math.Round(float64(part)/float64(whole)*10000) / 100
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return checks.DynamicResult(checks.SortedKeys(p.Doc().Result), nil)
}
