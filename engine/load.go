package engine

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/runbookhq/runbook/checks"
)

// Registry is what the engine knows of providers: the factories it can run
// and the names the language reserves for providers this build lacks.
type Registry struct {
	Providers map[string]checks.Factory
	Planned   map[string]string
}

// providerType is what the engine keeps of one provider type: its schema,
// the body schema implied by it, and one instance for the static abilities
// (Validate, Describe, DefaultAssert). Runs make their own instances.
type providerType struct {
	spec    hcldec.Spec
	implied *hcl.BodySchema
	index   *schemaIndex    // of implied
	attrs   *attrObjectSpec // spec, when it is an object of attributes
	proto   checks.Provider
	// shape is shared by the configurations kept at bind (keptConfig).
	shape *objectShape
}

// typeCache memoizes providerType per name; safe for concurrent use.
type typeCache struct {
	mu    sync.Mutex
	types map[string]*providerType
}

// get returns the provider type, or nil when the registry lacks it.
func (c *typeCache) get(reg Registry, name string) *providerType {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.types[name]; ok {
		return t
	}
	var t *providerType
	if f, ok := reg.Providers[name]; ok {
		p := f()
		t = &providerType{spec: p.Schema(), proto: p}
		t.implied = hcldec.ImpliedSchema(t.spec)
		t.index = newSchemaIndex(t.implied)
		t.attrs = newAttrObjectSpec(t.spec)
		t.shape = newObjectShape(t.spec)
	}
	if c.types == nil {
		c.types = map[string]*providerType{}
	}
	c.types[name] = t
	return t
}

// blockTypes returns every provider block name the language accepts.
func (r Registry) blockTypes() []string {
	var names []string
	for n := range r.Providers {
		names = append(names, n)
	}
	for n := range r.Planned {
		if _, ok := r.Providers[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Load parses a runbook file or a directory of .hcl and .hcl.json files and
// decodes its structure (stage one). The returned Config is usable for
// formatting diagnostics even when diags has errors.
func Load(path string, reg Registry) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Path:      path,
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		Checks:    map[string]*Item{},
		Playbooks: map[string]*Playbook{},
	}
	files, err := runbookFiles(path)
	if err != nil {
		return cfg, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read runbook",
			Detail:   err.Error(),
		}}
	}
	info, _ := os.Stat(path)
	if info != nil && info.IsDir() {
		cfg.Dir = path
	} else {
		cfg.Dir = filepath.Dir(path)
	}

	var srcs []source
	var diags hcl.Diagnostics
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot read runbook file",
				Detail:   err.Error(),
			})
			continue
		}
		srcs = append(srcs, source{name, src})
	}
	if diags.HasErrors() {
		return cfg, diags
	}
	return decodeSources(cfg, srcs, reg)
}

// source is one runbook file's name and bytes.
type source struct {
	name string
	src  []byte
}

// LoadSource loads a runbook held in memory as one file; filename decides
// between native syntax and JSON (".json"). Fuzzing and tests use it.
func LoadSource(filename string, src []byte, reg Registry) (*Config, hcl.Diagnostics) {
	cfg := &Config{
		Path:      filename,
		Dir:       filepath.Dir(filename),
		Files:     map[string]*hcl.File{},
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		Checks:    map[string]*Item{},
		Playbooks: map[string]*Playbook{},
	}
	return decodeSources(cfg, []source{{filename, src}}, reg)
}

// decodeSources parses the sources and decodes them into cfg.
func decodeSources(cfg *Config, srcs []source, reg Registry) (*Config, hcl.Diagnostics) {
	parser := hclparse.NewParser()
	var diags hcl.Diagnostics
	var bodies []*hcl.File
	digest := sha256.New()
	for _, s := range srcs {
		name, src := s.name, s.src
		fmt.Fprintf(digest, "%s\x00%d\x00", filepath.Base(name), len(src))
		digest.Write(src)
		if d := CheckText(name, src); d != nil {
			diags = append(diags, d...)
			continue
		}
		var f *hcl.File
		var fdiags hcl.Diagnostics
		if strings.HasSuffix(name, ".json") {
			f, fdiags = parser.ParseJSON(src, name)
		} else {
			f, fdiags = parseNative(src, name)
		}
		diags = append(diags, fdiags...)
		if f != nil {
			cfg.Files[name] = f
			cfg.Sources = append(cfg.Sources, name)
			if !fdiags.HasErrors() {
				bodies = append(bodies, f)
			}
		}
	}
	cfg.SourceSHA256 = hex.EncodeToString(digest.Sum(nil))
	if diags.HasErrors() {
		return cfg, diags
	}

	d := &decoder{cfg: cfg, reg: reg}
	for _, f := range bodies {
		diags = append(diags, d.decodeFile(f)...)
	}
	if cfg.Runbook == nil {
		var rng *hcl.Range
		if len(bodies) > 0 {
			r := bodies[0].Body.MissingItemRange()
			rng = &r
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Missing runbook block",
			Detail:   `Every runbook declares exactly one runbook block, whose label is its id: runbook "my-runbook" { title = "…" }.`,
			Subject:  rng,
		})
	}
	if !diags.HasErrors() {
		diags = append(diags, d.resolveGraph()...)
	}
	return cfg, diags
}

// IsRunbookFile reports whether a file name is part of a runbook when its
// directory is loaded: .hcl and .hcl.json files, except answers files
// (NAME.answers.hcl) and variable files (NAME.vars.hcl), which are data
// given on the command line.
func IsRunbookFile(name string) bool {
	base := strings.TrimSuffix(name, ".json")
	if !strings.HasSuffix(base, ".hcl") {
		return false
	}
	return !strings.HasSuffix(base, ".answers.hcl") && !strings.HasSuffix(base, ".vars.hcl")
}

// runbookFiles lists the files of a runbook path, in load order.
func runbookFiles(path string) ([]string, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if IsRunbookFile(n) {
			files = append(files, filepath.Join(path, n))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .hcl or .hcl.json files in directory %q", path)
	}
	return files, nil
}
