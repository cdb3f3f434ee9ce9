// Package templates holds the built-in report templates, embedded in the
// binary. A report block names one by its file name without ".md.tmpl"
// (template = "tabletop"); files whose names begin with "_" hold shared
// {{define}} blocks that every template, built-in or user, may call. The
// report package parses and renders them.
package templates

import "embed"

// FS holds the built-in report templates (*.md.tmpl).
//
//go:embed *.md.tmpl
var FS embed.FS
