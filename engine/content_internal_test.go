package engine

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// contentSummary is what a caller reads of a body's content and
// diagnostics, in a comparable form.
func contentSummary(c *hcl.BodyContent, diags hcl.Diagnostics) []string {
	var out []string
	if c != nil {
		for name, a := range c.Attributes {
			out = append(out, "attr "+name+" "+a.Range.String()+" "+a.NameRange.String()+" "+a.Expr.Range().String())
		}
		sort.Strings(out)
		for _, b := range c.Blocks {
			out = append(out, "block "+b.Type+" "+b.DefRange.String()+" "+b.TypeRange.String()+" "+cmp.Diff(nil, b.Labels))
		}
		out = append(out, "missing "+c.MissingItemRange.String())
	}
	var ds []string
	for _, d := range diags {
		ds = append(ds, d.Error())
	}
	sort.Strings(ds)
	return append(out, ds...)
}

// TestSchemaIndexContentAgrees holds schemaIndex.content to hcl's
// Content: the same content and diagnostics for bodies that fit the
// schema and for every way of not fitting it, and fewer allocations for
// a body that fits.
func TestSchemaIndexContentAgrees(t *testing.T) {
	schema := &hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "title"}, {Name: "url", Required: true}, {Name: "when"}},
		Blocks: []hcl.BlockHeaderSchema{
			{Type: "assert"}, {Type: "retry"}, {Type: "named", LabelNames: []string{"name"}},
		},
	}
	idx := newSchemaIndex(schema)
	bodies := map[string]string{
		"fits":             "url = \"x\"\ntitle = \"t\"\nassert {\n  c = 1\n}\nassert {}\nnamed \"a\" {}\n",
		"fits, required":   "url = var.u\n",
		"missing required": "title = \"t\"\n",
		"unknown argument": "url = 1\ntitel = 2\n",
		"unknown block":    "url = 1\nasert {}\n",
		"block as attr":    "url = 1\nassert = 1\n",
		"attr as block":    "url = 1\ntitle {}\n",
		"extra label":      "url = 1\nassert \"x\" {}\n",
		"missing label":    "url = 1\nnamed {}\n",
		"empty":            "",
	}
	for name, src := range bodies {
		t.Run(name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			want := contentSummary(f.Body.Content(schema))
			got := contentSummary(idx.content(f.Body))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("content (-hcl +index):\n%s", diff)
			}
			pw, _, _ := f.Body.PartialContent(schema)
			pg, _, _ := indexedBody{f.Body, idx}.PartialContent(schema)
			if diff := cmp.Diff(contentSummary(pw, nil), contentSummary(pg, nil)); diff != "" {
				t.Errorf("partial content (-hcl +index):\n%s", diff)
			}
		})
	}
	f, _ := hclsyntax.ParseConfig([]byte(bodies["fits"]), "t.hcl", hcl.InitialPos)
	hclAllocs := testing.AllocsPerRun(20, func() { f.Body.Content(schema) })
	idxAllocs := testing.AllocsPerRun(20, func() { idx.content(f.Body) })
	if idxAllocs >= hclAllocs {
		t.Errorf("content of a body that fits: %v allocations, hcl's Content %v; want fewer", idxAllocs, hclAllocs)
	}
}
