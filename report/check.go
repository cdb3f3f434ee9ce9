package report

import (
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/runbookhq/runbook/record"
)

// TemplateError is a problem of a report template at a place in it: a
// parse error, or a field or function that fails when the template is
// rendered. Its message speaks of the record's fields, not of Go types.
type TemplateError struct {
	// Report is the report block's name.
	Report string
	// Template is the template as the report block names it; File is
	// the file it was read from ("templates/NAME.md.tmpl" for a built-in
	// template).
	Template, File string
	// Line and Column locate the problem in File; Column may be 0.
	Line, Column int
	// Message says what is wrong.
	Message string
}

// Error renders the problem on one line.
func (e *TemplateError) Error() string {
	where := e.File
	if e.Line > 0 {
		where += ":" + strconv.Itoa(e.Line)
		if e.Column > 0 {
			where += ":" + strconv.Itoa(e.Column)
		}
	}
	return fmt.Sprintf("render report %q: %s: %s", e.Report, where, e.Message)
}

// Check parses spec's template and renders it over each sample run,
// discarding the output, so that a field that does not exist, a function
// given the wrong value or a parse error is found before a run needs the
// report. The error is a *TemplateError when the template itself is at
// fault.
func Check(spec Spec, samples []*record.Run, opts Options) error {
	t, err := Parse(spec.Template, opts)
	if err != nil {
		return friendly(spec, opts, err)
	}
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }
	}
	data := spec.Data
	if data == nil {
		data = map[string]any{}
	}
	for _, run := range samples {
		in := Input{Run: run, Data: data, Signoffs: spec.Signoffs, Report: spec.Name, Generated: opts.Now().UTC()}
		if err := t.Execute(io.Discard, in); err != nil {
			return friendly(spec, opts, err)
		}
	}
	return nil
}

// templateErr matches text/template's errors: "template: NAME:LINE:COL:
// executing "NAME" at <.X.Y>: message" and "template: NAME:LINE: message".
var templateErr = regexp.MustCompile(`template: ([^:\s][^:]*):(\d+)(?::(\d+))?: (?:executing "[^"]*" at <([^>]*)>: )?(.*)$`)

// fieldErr matches text/template's "can't evaluate field X in type T".
var fieldErr = regexp.MustCompile(`can't evaluate field (\w+) in type (\S+)`)

// friendly turns a template error into a *TemplateError whose message
// names what the template wrote and what it could have written. Other
// errors (an unknown built-in, an unreadable file) are returned as they
// are.
func friendly(spec Spec, opts Options, err error) error {
	m := templateErr.FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	te := &TemplateError{Report: spec.Name, Template: spec.Template, File: m[1], Message: m[5]}
	te.Line, _ = strconv.Atoi(m[2])
	te.Column, _ = strconv.Atoi(m[3])
	switch {
	case IsPath(spec.Template) && te.File == spec.Template:
		te.File = templatePath(spec.Template, opts)
	default: // a built-in template or a shared partial
		te.File = "templates/" + te.File
	}
	if f := fieldErr.FindStringSubmatch(te.Message); f != nil {
		what, fields := describeType(f[2])
		te.Message = fmt.Sprintf("%s has no field %q", what, f[1])
		if m[4] != "" {
			te.Message = fmt.Sprintf("%s: %s", m[4], te.Message)
		}
		if s := closest(f[1], fields); s != "" {
			te.Message += fmt.Sprintf(". Did you mean %q?", s)
		} else if len(fields) > 0 {
			te.Message += fmt.Sprintf("; its fields are %s", strings.Join(fields, ", "))
		}
	} else if m[4] != "" {
		msg := callErr.ReplaceAllString(te.Message, "")
		te.Message = fmt.Sprintf("%s: %s", m[4], stripGoTypes(msg))
	} else {
		te.Message = stripGoTypes(te.Message)
	}
	return te
}

// callErr is text/template's prefix to a function's own error.
var callErr = regexp.MustCompile(`^error calling \w+: `)

// types are the values a template's dot can hold, by their Go type name
// in text/template's messages.
var types = map[string]struct {
	what string
	typ  reflect.Type
}{
	"report.Input":     {"the report", reflect.TypeOf(Input{})},
	"*record.Run":      {"a run (.Run)", reflect.TypeOf(record.Run{})},
	"record.Run":       {"a run (.Run)", reflect.TypeOf(record.Run{})},
	"record.Item":      {"an item", reflect.TypeOf(record.Item{})},
	"*record.Item":     {"an item", reflect.TypeOf(record.Item{})},
	"record.Assert":    {"an assert", reflect.TypeOf(record.Assert{})},
	"*record.Answer":   {"an answer", reflect.TypeOf(record.Answer{})},
	"record.Answer":    {"an answer", reflect.TypeOf(record.Answer{})},
	"*record.Decision": {"a decision", reflect.TypeOf(record.Decision{})},
	"record.Summary":   {"a summary", reflect.TypeOf(record.Summary{})},
	"report.Signoff":   {"a signoff", reflect.TypeOf(Signoff{})},
}

// describeType names a Go type for a template author, with its fields.
func describeType(goType string) (string, []string) {
	t, ok := types[goType]
	if !ok {
		return "this value", nil
	}
	var fields []string
	for i := 0; i < t.typ.NumField(); i++ {
		if f := t.typ.Field(i); f.IsExported() {
			fields = append(fields, f.Name)
		}
	}
	return t.what, fields
}

func closest(given string, names []string) string {
	best, bestDist := "", 3
	for _, n := range names {
		if d := levenshtein.Distance(strings.ToLower(given), strings.ToLower(n), nil); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// goType matches Go type names such as *record.Run or map[string]interface {}.
var goType = regexp.MustCompile(`\*?(?:map\[[^\]]*\])?(?:\[\])?(?:record|report|template|reflect)\.\w+|interface \{\}`)

// stripGoTypes words the rest of text/template's messages without Go's
// package-qualified type names.
func stripGoTypes(msg string) string {
	return goType.ReplaceAllStringFunc(msg, func(s string) string {
		for k, t := range types {
			if s == k {
				return t.what
			}
		}
		return "value"
	})
}

// AsTemplateError returns err's *TemplateError, if it has one.
func AsTemplateError(err error) (*TemplateError, bool) {
	var te *TemplateError
	ok := errors.As(err, &te)
	return te, ok
}
