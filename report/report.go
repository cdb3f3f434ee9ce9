// Package report renders Markdown documents from a run record: the
// runbook's report blocks and `runbook report`. A report is a text/template
// (a built-in one from the templates package, or a .md.tmpl file) executed
// over the record with a small FuncMap of pure text helpers; templates have
// no access to the environment, files or commands.
package report

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/templates"
)

// Spec is one report block: which template renders which document.
type Spec struct {
	// Name is the report block's label.
	Name string
	// Template is a built-in template name ("tabletop") or a path to a
	// .md.tmpl file.
	Template string
	// Output is where the caller writes the document; Render does not use it.
	Output string
	// Data holds free-form values for the template (.Data).
	Data map[string]any
	// Signoffs are the signature blocks, in order.
	Signoffs []Signoff
}

// Signoff is one signature block of a report.
type Signoff struct {
	// Role is who signs ("SRE").
	Role string
	// Statement is what the signer certifies.
	Statement string
	// Name is the signer's name, when known in advance (or signed).
	Name string
	// SignedAt is when the role was signed (in the console), zero when
	// it was not: the report then leaves the signature and date blank.
	SignedAt time.Time
	// Surface is where it was signed ("console").
	Surface string
	// Key is the fingerprint (SHA256:...) of the SSH key that signed the
	// run's record (runbook sign), empty for a sign-off not signed by key.
	Key string
}

// signed fills in the signatures the run's record holds for the report's
// roles; a signature of a role the report does not list (a template
// rendered with --template) is added after them: a signature given is
// never left out.
func signed(specs []Signoff, run *record.Run) []Signoff {
	if len(run.Signoffs) == 0 {
		return specs
	}
	out := append([]Signoff(nil), specs...)
	for _, s := range run.Signoffs {
		i := slices.IndexFunc(out, func(o Signoff) bool { return o.Role == s.Role })
		if i < 0 {
			out = append(out, Signoff{Role: s.Role})
			i = len(out) - 1
		}
		out[i].Name, out[i].SignedAt, out[i].Surface, out[i].Key = s.Name, s.At, s.Surface, s.Key
		if s.Statement != "" {
			out[i].Statement = s.Statement
		}
	}
	return out
}

// Options tune how a report is rendered.
type Options struct {
	// TemplateDir is the base directory of relative template paths (the
	// runbook's directory); empty means the working directory.
	TemplateDir string
	// Now returns the generation time (.Generated); nil means time.Now.
	Now func() time.Time
}

// Input is the dot of a report template.
type Input struct {
	// Run is the finished run.
	Run *record.Run
	// Data holds the report block's data values (never nil).
	Data map[string]any
	// Signoffs are the report block's signoff blocks.
	Signoffs []Signoff
	// Report is the report block's name.
	Report string
	// Generated is when the document was rendered.
	Generated time.Time
}

// builtinSuffix ends the file name of every built-in template.
const builtinSuffix = ".md.tmpl"

// Builtins returns the names of the built-in templates, sorted.
func Builtins() []string {
	entries, err := fs.ReadDir(templates.FS, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, "_") || !strings.HasSuffix(n, builtinSuffix) {
			continue
		}
		names = append(names, strings.TrimSuffix(n, builtinSuffix))
	}
	sort.Strings(names)
	return names
}

// IsPath reports whether a report's template value names a file rather than
// a built-in template: it holds a path separator or ends in ".tmpl".
func IsPath(tmpl string) bool {
	return strings.ContainsAny(tmpl, `/\`) || strings.HasSuffix(tmpl, ".tmpl")
}

// Parse loads and parses a report template (a built-in name or a path) with
// the shared partials and the FuncMap. Parse errors name the template and
// line. The engine can call it to check a runbook's reports before running.
func Parse(tmpl string, opts Options) (*template.Template, error) {
	name, text, err := load(tmpl, opts)
	if err != nil {
		return nil, err
	}
	t := template.New(name).Funcs(FuncMap())
	if err := addPartials(t); err != nil {
		return nil, err
	}
	if _, err := t.Parse(text); err != nil {
		return nil, fmt.Errorf("parse report template: %w", err)
	}
	return t, nil
}

// load returns a template's name and text.
func load(tmpl string, opts Options) (string, string, error) {
	if tmpl == "" {
		return "", "", fmt.Errorf("report template is empty: want one of %s or a path to a .md.tmpl file", strings.Join(Builtins(), ", "))
	}
	if !IsPath(tmpl) {
		file := tmpl + builtinSuffix
		data, err := fs.ReadFile(templates.FS, file)
		if err != nil || strings.HasPrefix(tmpl, "_") {
			return "", "", fmt.Errorf("unknown report template %q: want one of %s or a path to a .md.tmpl file", tmpl, strings.Join(Builtins(), ", "))
		}
		return file, string(data), nil
	}
	data, err := os.ReadFile(templatePath(tmpl, opts))
	if err != nil {
		return "", "", fmt.Errorf("read report template: %w", err)
	}
	return tmpl, string(data), nil
}

// templatePath is the file a template path names: relative paths are
// relative to opts.TemplateDir.
func templatePath(tmpl string, opts Options) string {
	if !filepath.IsAbs(tmpl) && opts.TemplateDir != "" {
		return filepath.Join(opts.TemplateDir, tmpl)
	}
	return tmpl
}

// addPartials parses the shared {{define}} files ("_*.md.tmpl") into t.
func addPartials(t *template.Template) error {
	files, err := fs.Glob(templates.FS, "_*"+builtinSuffix)
	if err != nil {
		return fmt.Errorf("list template partials: %w", err)
	}
	for _, f := range files {
		data, err := fs.ReadFile(templates.FS, f)
		if err != nil {
			return fmt.Errorf("read template partial %q: %w", f, err)
		}
		if _, err := t.New(f).Parse(string(data)); err != nil {
			return fmt.Errorf("parse template partial: %w", err)
		}
	}
	return nil
}

// Render renders a report of a finished run to w. Nothing is written when
// the template fails to parse or execute.
func Render(w io.Writer, spec Spec, run *record.Run, opts Options) error {
	if run == nil {
		return fmt.Errorf("render report %q: no run record", spec.Name)
	}
	t, err := Parse(spec.Template, opts)
	if err != nil {
		if te, ok := AsTemplateError(friendly(spec, opts, err)); ok {
			return te
		}
		return fmt.Errorf("render report %q: %w", spec.Name, err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	data := spec.Data
	if data == nil {
		data = map[string]any{}
	}
	in := Input{Run: run, Data: data, Signoffs: signed(spec.Signoffs, run), Report: spec.Name, Generated: now().UTC()}
	var buf bytes.Buffer
	if err := t.Execute(&buf, in); err != nil {
		if te, ok := AsTemplateError(friendly(spec, opts, err)); ok {
			return te
		}
		return fmt.Errorf("render report %q: %w", spec.Name, err)
	}
	// Whatever a template printed raw (a field, a fenced block of
	// output), no control character reaches the reader's terminal.
	if _, err := io.WriteString(w, Printable(buf.String())); err != nil {
		return fmt.Errorf("write report %q: %w", spec.Name, err)
	}
	return nil
}
