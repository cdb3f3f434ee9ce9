package engine_test

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/runbookhq/runbook/checks"
	"github.com/runbookhq/runbook/checks/builtin"
)

// A provider's published result type names the attributes its reference
// documentation lists, no more and no fewer.
func TestResultTypesMatchTheDocs(t *testing.T) {
	for name, factory := range builtin.Providers {
		p := factory()
		typed, ok := p.(checks.Typed)
		if !ok {
			t.Errorf("%s publishes no result type (checks.Typed)", name)
			continue
		}
		doc, ok := p.(checks.Documented)
		if !ok {
			continue
		}
		var got, want []string
		for n := range typed.Result().AttributeTypes() {
			got = append(got, n)
		}
		for n := range doc.Doc().Result {
			want = append(want, n)
		}
		sort.Strings(got)
		sort.Strings(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: result type attributes (-documented +typed):\n%s", name, d)
		}
	}
}
