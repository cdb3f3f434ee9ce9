// Package golden is the `golden` check provider: a determinism diff of
// golden JSON files against their shadow-run replays, with every
// difference classified (see package github.com/runbookhq/runbook/golden).
package golden

import (
	"context"
	"fmt"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/golden"
)

var (
	_ checks.Provider        = (*Provider)(nil)
	_ checks.Typed           = (*Provider)(nil)
	_ checks.Documented      = (*Provider)(nil)
	_ checks.Describer       = (*Provider)(nil)
	_ checks.Validator       = (*Provider)(nil)
	_ checks.DefaultAsserter = (*Provider)(nil)
)

// DefaultMaxFindings is how many findings the result lists unless the
// block sets max_findings; the counts always cover every finding.
const DefaultMaxFindings = 100

// Provider compares golden files. It keeps no state, so one value serves
// any number of concurrent Runs.
type Provider struct{}

// New returns a golden Provider; it is a checks.Factory.
func New() checks.Provider { return &Provider{} }

// Schema describes the `golden` block.
func (p *Provider) Schema() hcldec.Spec {
	return hcldec.ObjectSpec{
		"left":             &hcldec.AttrSpec{Name: "left", Type: cty.String, Required: true},
		"right":            &hcldec.AttrSpec{Name: "right", Type: cty.String},
		"pair":             &hcldec.AttrSpec{Name: "pair", Type: cty.String},
		"volatile":         &hcldec.AttrSpec{Name: "volatile", Type: cty.List(cty.String)},
		"default_volatile": &hcldec.AttrSpec{Name: "default_volatile", Type: cty.Bool},
		"seed_field":       &hcldec.AttrSpec{Name: "seed_field", Type: cty.String},
		"external":         &hcldec.AttrSpec{Name: "external", Type: cty.List(cty.String)},
		"max_findings":     &hcldec.AttrSpec{Name: "max_findings", Type: cty.Number},
	}
}

// Doc returns the provider's reference documentation.
func (p *Provider) Doc() checks.Doc {
	return checks.Doc{
		Summary: "Determinism diff of golden JSON files against their replays, every difference classified.",
		Result: map[string]string{
			"files":                  "pairs compared (a file without its counterpart counts as a pair)",
			"identical":              "true when no pair has any finding at all",
			"identical_files":        "pairs without any finding",
			"bytes":                  "bytes read",
			"critical":               "findings of a critical class: violations + seed_mismatches + missing + unreadable",
			"violations":             "DETERMINISM_VIOLATION + UNSEEDED_RNG findings",
			"determinism_violations": "DETERMINISM_VIOLATION findings",
			"unseeded_rng":           "UNSEEDED_RNG findings",
			"seed_mismatches":        "pairs whose seed differs (SEED_MISMATCH); their other differences are not counted",
			"volatile_leaks":         "VOLATILE_LEAK findings",
			"external_variations":    "EXTERNAL_CALL_VARIATION findings",
			"missing":                "files on the left without a counterpart (MISSING)",
			"extra":                  "files on the right without a counterpart (EXTRA)",
			"unreadable":             "files that could not be read or parsed (UNREADABLE)",
			"findings":               "the first max_findings findings: objects with file, path, class, left, right, hint",
			"findings_truncated":     "true when there were more findings than listed",
		},
	}
}

// DefaultAssert fails a block without asserts when a critical class was
// found: a determinism violation, random values, different seeds, a
// missing replay or an unreadable file.
func (p *Provider) DefaultAssert() (condition, message string) {
	return "self.violations == 0 && self.seed_mismatches == 0 && self.missing == 0 && self.unreadable == 0",
		"${self.violations} determinism violations, ${self.seed_mismatches} seed mismatches, ${self.missing} missing and ${self.unreadable} unreadable files in ${self.files} golden pairs"
}

// Describe summarizes a block as "golden diff LEFT RIGHT" or "golden pairs
// in DIR".
func (p *Provider) Describe(cfg cty.Value) string {
	left := checks.String(cfg, "left", "")
	right := checks.String(cfg, "right", "")
	if left == "" {
		return "golden diff (paths not known yet)"
	}
	if right == "" {
		if pair := checks.String(cfg, "pair", ""); pair != "" {
			return fmt.Sprintf("golden pairs in %s (%s)", left, pair)
		}
		return "golden pairs in " + left
	}
	return "golden diff " + left + " " + right
}

// Validate checks the patterns and the pairing rule.
func (p *Provider) Validate(cfg cty.Value) error {
	if _, _, err := options(cfg); err != nil {
		return err
	}
	if v, ok := checks.KnownAttr(cfg, "left"); ok && v.AsString() == "" {
		return fmt.Errorf("left must not be empty")
	}
	return nil
}

// options reads the comparer options and the pairing rule, skipping
// unknown values (for Validate).
func options(cfg cty.Value) (golden.Options, *golden.PairRule, error) {
	var o golden.Options
	var err error
	if v, ok := checks.KnownAttr(cfg, "volatile"); ok && v.IsWhollyKnown() {
		if o.Volatile, err = checks.StringList(cfg, "volatile"); err != nil {
			return o, nil, err
		}
	}
	if v, ok := checks.KnownAttr(cfg, "external"); ok && v.IsWhollyKnown() {
		if o.External, err = checks.StringList(cfg, "external"); err != nil {
			return o, nil, err
		}
		if o.External == nil {
			o.External = []string{}
		}
	}
	o.NoDefaultVolatile = !checks.Bool(cfg, "default_volatile", true)
	o.SeedField = checks.String(cfg, "seed_field", "")
	if v, ok := checks.KnownAttr(cfg, "seed_field"); ok && v.AsString() == "" {
		return o, nil, fmt.Errorf("seed_field must not be empty")
	}
	if _, err := golden.NewComparer(o); err != nil {
		return o, nil, err
	}
	if n := checks.Int(cfg, "max_findings", DefaultMaxFindings); n < 0 {
		return o, nil, fmt.Errorf("max_findings must not be negative")
	}
	var rule *golden.PairRule
	if s := checks.String(cfg, "pair", ""); s != "" {
		r, err := golden.ParsePairRule(s)
		if err != nil {
			return o, nil, fmt.Errorf("pair: %w", err)
		}
		rule = &r
	}
	return o, rule, nil
}

// Run compares the configured files or directories. A path that does not
// exist, a file against a directory or a directory without pairs is an
// error; differences, missing replays and unreadable files are results.
func (p *Provider) Run(ctx context.Context, cfg cty.Value) (cty.Value, error) {
	opts, rule, err := options(cfg)
	if err != nil {
		return cty.NilVal, err
	}
	c, err := golden.NewComparer(opts)
	if err != nil {
		return cty.NilVal, err
	}
	left := checks.String(cfg, "left", "")
	right := checks.String(cfg, "right", "")
	pairs, err := golden.Resolve(left, right, rule)
	if err != nil {
		return cty.NilVal, err
	}
	if len(pairs) == 0 {
		if right == "" {
			return cty.NilVal, fmt.Errorf("no golden file pairs in %s", left)
		}
		return cty.NilVal, fmt.Errorf("no golden files in %s and %s", left, right)
	}
	limit := int(checks.Int(cfg, "max_findings", DefaultMaxFindings))

	var tally golden.Tally
	findings := []any{}
	truncated := false
	err = c.Scan(ctx, pairs, 0, func(r *golden.PairResult) error {
		tally.Add(r)
		if r.Dropped > 0 {
			truncated = true
		}
		for _, f := range r.Findings {
			if len(findings) >= limit {
				truncated = true
				break
			}
			findings = append(findings, map[string]any{
				"file": f.File, "path": f.Path, "class": string(f.Class),
				"left": f.Left, "right": f.Right, "hint": f.Hint,
			})
		}
		return nil
	})
	if err != nil {
		return cty.NilVal, fmt.Errorf("compare golden files: %w", err)
	}
	n := &tally.Counts
	return checks.FromGo(map[string]any{
		"files":                  tally.Files,
		"identical":              tally.Identical == tally.Files,
		"identical_files":        tally.Identical,
		"bytes":                  tally.Bytes,
		"critical":               n.Critical(),
		"violations":             n.Get(golden.DeterminismViolation) + n.Get(golden.UnseededRNG),
		"determinism_violations": n.Get(golden.DeterminismViolation),
		"unseeded_rng":           n.Get(golden.UnseededRNG),
		"seed_mismatches":        n.Get(golden.SeedMismatch),
		"volatile_leaks":         n.Get(golden.VolatileLeak),
		"external_variations":    n.Get(golden.ExternalCallVariation),
		"missing":                n.Get(golden.Missing),
		"extra":                  n.Get(golden.Extra),
		"unreadable":             n.Get(golden.Unreadable),
		"findings":               findings,
		"findings_truncated":     truncated,
	}), nil
}

// Result is the type of the result object.
func (p *Provider) Result() cty.Type {
	return checks.DynamicResult(checks.SortedKeys(p.Doc().Result), nil)
}
