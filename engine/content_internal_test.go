package engine

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
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
		})
	}
	f, _ := hclsyntax.ParseConfig([]byte(bodies["fits"]), "t.hcl", hcl.InitialPos)
	hclAllocs := testing.AllocsPerRun(20, func() { f.Body.Content(schema) })
	idxAllocs := testing.AllocsPerRun(20, func() { idx.content(f.Body) })
	if idxAllocs >= hclAllocs {
		t.Errorf("content of a body that fits: %v allocations, hcl's Content %v; want fewer", idxAllocs, hclAllocs)
	}
}

// TestProviderDecodeAgrees holds the decoding of an object of attributes
// (every provider's schema) to hcldec's: the same value, diagnostics and
// references, for bodies that fit and bodies that do not.
func TestProviderDecodeAgrees(t *testing.T) {
	spec := hcldec.ObjectSpec{
		"url":     &hcldec.AttrSpec{Name: "url", Type: cty.String, Required: true},
		"headers": &hcldec.AttrSpec{Name: "headers", Type: cty.Map(cty.String)},
		"count":   &hcldec.AttrSpec{Name: "count", Type: cty.Number},
		"cmd":     &hcldec.AttrSpec{Name: "command", Type: cty.List(cty.String)},
		"any":     &hcldec.AttrSpec{Name: "any", Type: cty.DynamicPseudoType},
	}
	pt := &providerType{spec: spec, implied: hcldec.ImpliedSchema(spec)}
	pt.index = newSchemaIndex(pt.implied)
	if pt.attrs = newAttrObjectSpec(spec); pt.attrs == nil {
		t.Fatal("an object of attributes is not recognized")
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"var": cty.ObjectVal(map[string]cty.Value{"u": cty.StringVal("http://x"), "n": cty.NumberIntVal(3)}),
	}}
	bodies := map[string]string{
		"fits":             "url = var.u\ncount = var.n\ncommand = [\"a\", var.u]\nheaders = { a = \"b\" }\nany = [1, var.u]\n",
		"only required":    "url = \"u\"\n",
		"wrong type":       "url = [1]\ncount = \"x\"\n",
		"undeclared":       "url = var.nope\n",
		"missing required": "count = 1\n",
		"unknown argument": "url = var.u\ncont = var.n\n",
		"block":            "url = var.u\nheaders {\n  a = var.n\n}\n",
		"null":             "url = null\n",
	}
	summary := func(v cty.Value, diags hcl.Diagnostics) []string {
		out := []string{v.GoString()}
		for _, d := range diags {
			out = append(out, d.Error()+" | "+d.Detail)
		}
		sort.Strings(out[1:])
		return out
	}
	travs := func(ts []hcl.Traversal) []string {
		var out []string
		for _, tr := range ts {
			out = append(out, tr.RootName()+" "+tr.SourceRange().String())
		}
		sort.Strings(out)
		return out
	}
	for name, src := range bodies {
		t.Run(name, func(t *testing.T) {
			f, diags := hclsyntax.ParseConfig([]byte(src), "t.hcl", hcl.InitialPos)
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			if diff := cmp.Diff(summary(hcldec.Decode(f.Body, spec, ctx)), summary(pt.decode(f.Body, ctx))); diff != "" {
				t.Errorf("decoded (-hcldec +here):\n%s", diff)
			}
			if diff := cmp.Diff(travs(hcldec.Variables(f.Body, spec)), travs(pt.variables(f.Body))); diff != "" {
				t.Errorf("references (-hcldec +here):\n%s", diff)
			}
		})
	}
	f, _ := hclsyntax.ParseConfig([]byte(bodies["fits"]), "t.hcl", hcl.InitialPos)
	hcldecAllocs := testing.AllocsPerRun(20, func() { hcldec.Decode(f.Body, spec, ctx) })
	allocs := testing.AllocsPerRun(20, func() { pt.decode(f.Body, ctx) })
	if allocs >= hcldecAllocs {
		t.Errorf("decoding a body that fits: %v allocations, hcldec's %v; want fewer", allocs, hcldecAllocs)
	}
}
