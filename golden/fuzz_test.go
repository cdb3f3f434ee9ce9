package golden

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// FuzzCompare checks that the comparer never panics and keeps its
// invariants on any input: a readable document is identical to itself,
// and swapping sides swaps values but keeps the counts.
func FuzzCompare(f *testing.F) {
	for _, tc := range fixtureCases {
		l, err1 := os.ReadFile(filepath.Join("testdata", "pairs", tc.name, "left.json"))
		r, err2 := os.ReadFile(filepath.Join("testdata", "pairs", tc.name, "right.json"))
		if err1 != nil || err2 != nil {
			f.Fatal(err1, err2)
		}
		f.Add(l, r)
	}
	for _, s := range [][2]string{
		{`{"a":1}`, `{"a":1.0}`},
		{`1e999999999999`, `10e999999999998`},
		{`{"seed":1,"x":2}`, `{"seed":2,"x":3}`},
		{`[1,[2,[3]]]`, `[1,[2,[4,5]]]`},
		{`{"a.b":{"":null}}`, `{"a.b":{"":false}}`},
		{`"2025-12-02T12:12:19Z"`, `"2025-12-02T12:12:20Z"`},
		{`{`, `}`},
		{"", "\xff"},
		{`{"external":{"v":"3f2c8a9e-4b1d-4c7a-9e2f-6a5b8c7d1e0f"}}`, `{"external":{}}`},
	} {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	c, err := NewComparer(Options{MaxFindings: 50})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, left, right []byte) {
		ab := c.Compare("f", left, right)
		ba := c.Compare("f", right, left)
		if ab.Counts != ba.Counts {
			t.Errorf("counts: got %v swapped, want %v", ba.Counts, ab.Counts)
		}
		// Two unreadable sides give two findings, left first: sort them.
		byPath := cmpopts.SortSlices(func(a, b Finding) bool {
			return a.Path+"\x00"+a.Left+"\x00"+a.Right < b.Path+"\x00"+b.Left+"\x00"+b.Right
		})
		if diff := cmp.Diff(swapSides(ab.Findings), ba.Findings, byPath); diff != "" {
			t.Errorf("swapped findings (-want +got):\n%s", diff)
		}
		if len(ab.Findings) > 50 || len(ab.Findings)+ab.Dropped != ab.Counts.Total() {
			t.Errorf("got %d findings, %d dropped, %d counted", len(ab.Findings), ab.Dropped, ab.Counts.Total())
		}
		for _, doc := range [][]byte{left, right} {
			if _, err := parse(doc); err != nil {
				continue
			}
			if r := c.Compare("f", doc, doc); !r.Identical() {
				t.Errorf("a document against itself: got %+v, want identical", r.Findings)
			}
		}
	})
}
