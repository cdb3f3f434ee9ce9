package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/record"
)

func TestCheckFindsFieldsThatDoNotExist(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"item.md.tmpl":  "# {{ .Run.Title }}\n{{ range .Run.Items }}\n{{ .Titel }}\n{{ end }}",
		"run.md.tmpl":   "{{ .Run.Itemz }}",
		"input.md.tmpl": "{{ .Dta.x }}",
		"ok.md.tmpl":    "{{ range .Run.Items }}{{ .Title }} {{ .Result.stdout }}{{ end }}",
	}
	for name, text := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
	}
	sample := &record.Run{Items: []record.Item{{Kind: "check", Name: "c", Result: map[string]any{}}}}
	tests := []struct {
		template string
		line     int
		message  string // "" when the template is fine
	}{
		{"item.md.tmpl", 3, `.Titel: an item has no field "Titel". Did you mean "Title"?`},
		{"run.md.tmpl", 1, `.Run.Itemz: a run (.Run) has no field "Itemz". Did you mean "Items"?`},
		{"input.md.tmpl", 1, `.Dta.x: the report has no field "Dta". Did you mean "Data"?`},
		{"ok.md.tmpl", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			err := Check(Spec{Name: "r", Template: tt.template}, []*record.Run{sample}, Options{TemplateDir: dir})
			if tt.message == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			te, ok := AsTemplateError(err)
			if !ok {
				t.Fatalf("got %v, want a template error", err)
			}
			if te.Line != tt.line || te.Message != tt.message || te.File != filepath.Join(dir, tt.template) {
				t.Fatalf("got %s line %d: %q, want line %d: %q", te.File, te.Line, te.Message, tt.line, tt.message)
			}
			if strings.Contains(err.Error(), "record.") {
				t.Errorf("error names Go types: %v", err)
			}
		})
	}
}
