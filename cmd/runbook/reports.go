package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/runbookhq/runbook/engine"
	"github.com/runbookhq/runbook/record"
	"github.com/runbookhq/runbook/report"
	"github.com/runbookhq/runbook/state"
	"github.com/runbookhq/runbook/templates"
	"github.com/spf13/cobra"
)

// reportOptions are the render options for a runbook's reports: relative
// template paths resolve against the runbook's directory.
func reportOptions(b *engine.Bound) report.Options {
	return report.Options{TemplateDir: b.Config.Dir}
}

func toReportSpec(s engine.ReportSpec) report.Spec {
	spec := report.Spec{Name: s.Name, Template: s.Template, Output: s.Output, Data: s.Data}
	for _, so := range s.Signoffs {
		spec.Signoffs = append(spec.Signoffs, report.Signoff{Role: so.Role, Statement: so.Statement, Name: so.Name})
	}
	return spec
}

// reportPath is where a report block's document goes: its output path
// (relative to the working directory, like every path given on the
// command line), else <dir>/reports/<run id>-<name>.md.
func reportPath(s engine.ReportSpec, run *record.Run, dir string) string {
	if s.Output != "" {
		return s.Output
	}
	return filepath.Join(dir, "reports", run.ID+"-"+s.Name+".md")
}

// renderRunReports renders the runbook's report blocks from a finished run
// and lists them in the run record.
func (a *app) renderRunReports(b *engine.Bound, run *record.Run, store state.Store) error {
	specs, diags := b.Reports(run)
	if diags.HasErrors() {
		a.printDiagsRedacted(diags, b.Config.Files, b.Redactor)
		return fmt.Errorf("the report blocks could not be evaluated")
	}
	var errs []error
	for _, s := range specs {
		var buf bytes.Buffer
		if err := report.Render(&buf, toReportSpec(s), run, reportOptions(b)); err != nil {
			if _, ok := report.AsTemplateError(err); !ok {
				err = fmt.Errorf("%s: %w", s.Name, err)
			}
			errs = append(errs, errors.New(b.Redactor.String(err.Error())))
			continue
		}
		path := reportPath(s, run, localStateDir(store, b.Config.Dir))
		if err := state.NoSymlinks(localStateDir(store, b.Config.Dir), path); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
			continue
		}
		doc := []byte(b.Redactor.String(buf.String()))
		if err := record.WriteFileAtomic(path, doc, 0o644); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
			continue
		}
		// The record names the document absolutely, with its digest: the
		// console shows it only while it is this run's document.
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		sum := sha256.Sum256(doc)
		out := record.ReportOutput{Name: s.Name, Template: s.Template, Path: path, SHA256: hex.EncodeToString(sum[:])}
		for _, so := range s.Signoffs {
			out.Roles = append(out.Roles, so.Role)
		}
		run.Reports = append(run.Reports, out)
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	return nil
}

// checkReportTemplates parses every report block's template and renders
// it over sample records of the runbook (everything passed; everything
// failed), so that a broken template, an unknown field or a function
// given the wrong value is reported by validate, at the template's file
// and line, before any run.
func checkReportTemplates(b *engine.Bound) hcl.Diagnostics {
	specs, diags := b.Reports(nil)
	if len(specs) == 0 {
		return diags
	}
	samples := b.SampleRuns()
	for _, s := range specs {
		if s.Template == "" {
			continue
		}
		err := report.Check(toReportSpec(s), samples, reportOptions(b))
		if err == nil {
			continue
		}
		rng := s.Range
		d := &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid report template",
			Detail:   err.Error(),
			Subject:  &rng,
		}
		if te, ok := report.AsTemplateError(err); ok {
			d.Detail = fmt.Sprintf("%s (the template of report %q, declared at %s).", te.Message, s.Name, s.Range)
			pos := hcl.Pos{Line: te.Line, Column: max(te.Column, 1)}
			if src, err := templateSource(te.File); err == nil {
				// The snippet printer finds the line by byte offset.
				pos.Byte = byteOffset(src, pos)
				if _, ok := b.Config.Files[te.File]; !ok {
					b.Config.Files[te.File] = &hcl.File{Bytes: src}
				}
			}
			d.Subject = &hcl.Range{Filename: te.File, Start: pos, End: pos}
		}
		diags = append(diags, d)
	}
	return diags
}

// byteOffset is the offset of a line and column (in bytes) in src.
func byteOffset(src []byte, pos hcl.Pos) int {
	line, off := 1, 0
	for off < len(src) && line < pos.Line {
		if src[off] == '\n' {
			line++
		}
		off++
	}
	return min(off+pos.Column-1, len(src))
}

// templateSource reads a template's text for a diagnostic's snippet: a
// file, or a built-in template ("templates/NAME.md.tmpl").
func templateSource(file string) ([]byte, error) {
	if name, ok := strings.CutPrefix(file, "templates/"); ok {
		if data, err := fs.ReadFile(templates.FS, name); err == nil {
			return data, nil
		}
	}
	return os.ReadFile(file)
}

func newReportCmd(a *app) *cobra.Command {
	var (
		vf        varFlags
		tmpl, out string
		stateFlag string
		runbook   string
	)
	cmd := &cobra.Command{
		Use:   "report [--template T] [--out FILE] [RUN]",
		Short: "Render a Markdown report from a run record",
		Long: fmt.Sprintf(`Render a Markdown document from a recorded run. Without RUN: the last exec
run (with --template, of any runbook; without, the last exec of a procedure
that has report blocks).

With --template, render that template (a built-in: %v, or a path to a
.md.tmpl file) to --out or standard output. Without it, render the runbook's
own report blocks again (the runbook is found through the record's source,
or --runbook), each to its output path.

RUN is a run id (or unique prefix), a path to a run record, or last.`, report.Builtins()),
		Example: `  runbook report --template tabletop
  runbook report --template pin-completion --out PIN-015-completion.md 20251202T131219Z-3f9a
  runbook report last`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, run, err := a.reportRun(cmd.Context(), stateFlag, args, runbook, tmpl != "")
			if err != nil {
				return err
			}
			defer store.Close()
			if tmpl != "" {
				var buf bytes.Buffer
				if err := report.Render(&buf, report.Spec{Name: tmpl, Template: tmpl}, run, report.Options{}); err != nil {
					return exitWith(2, err)
				}
				if out == "" {
					_, err := a.stdout.Write(buf.Bytes())
					return err
				}
				if err := record.WriteFileAtomic(out, buf.Bytes(), 0o644); err != nil {
					return exitWith(1, err)
				}
				fmt.Fprintf(a.stdout, "wrote %s\n", out)
				return nil
			}
			src := runbook
			if src == "" {
				src = runSource(run, store)
			}
			if _, err := os.Stat(src); err != nil {
				return exitWith(2, fmt.Errorf("the run's runbook %q is not here; pass --runbook or --template", src))
			}
			b, err := a.load(src, vf, true)
			if err != nil {
				return err
			}
			if specs, _ := b.Reports(run); len(specs) == 0 {
				return exitWith(2, fmt.Errorf("%s has no report blocks for this run (a playbook's run renders the playbook's own); pass --template", src))
			}
			run.Reports = nil
			if err := a.renderRunReports(b, run, store); err != nil {
				return exitWith(1, err)
			}
			if err := a.journalReports(cmd.Context(), store, run); err != nil {
				return exitWith(1, err)
			}
			for _, r := range run.Reports {
				fmt.Fprintf(a.stdout, "report %s → %s\n", r.Name, r.Path)
			}
			return nil
		},
	}
	vf.add(cmd)
	cmd.Flags().StringVar(&tmpl, "template", "", "template to render: a built-in name or a .md.tmpl path")
	cmd.Flags().StringVar(&out, "out", "", "write the document to `FILE` (with --template; default standard output)")
	cmd.Flags().StringVar(&stateFlag, "state", "", "state directory or postgres:// URL holding the run")
	cmd.Flags().StringVar(&runbook, "runbook", "", "the runbook whose report blocks to render (default: the run's source)")
	return cmd
}
