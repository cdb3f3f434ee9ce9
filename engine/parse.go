package engine

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parsing a large native-syntax file in pieces, one after another.
//
// hclsyntax.ParseConfig lexes a whole file into one slice of tokens before
// it parses: for 10,000 checks (560 KB) that slice grows to ~19 MB, ~40 MB
// allocated as it doubles, all of it garbage once the tree is built, and
// it sets how high the heap climbs while loading. Top-level blocks of a
// file are independent, so a file can be cut at lines that start a
// top-level item, each piece parsed with hclsyntax.ParseConfig from its
// real start position (so every range is the one a whole-file parse
// gives), and the pieces' bodies joined: only one piece's tokens are alive
// at a time. (Pieces used to be parsed concurrently, for speed; that won
// nothing and was removed. Measured for memory: docs/performance.md,
// "round 6: memory".)
//
// A cut is only right when the parser would be at the top level there. The
// cut lines are chosen cheaply (a line starting with a letter), so a cut can
// fall inside a heredoc, a block comment or an open bracket; but then the
// piece before it ends inside that construct, which is always a parse error
// at its end. So: any diagnostic from any piece, or a top-level attribute
// named in two pieces, and the file is parsed again whole, and that parse's
// result and diagnostics are what the caller gets. TestParseChunkedSameTree
// and FuzzParseChunked compare the joined tree with the whole-file one.

// chunkMin is the size of a piece; files under two pieces are parsed
// whole.
const chunkMin = 32 << 10

// parseNative parses native-syntax HCL, in pieces when the file is large.
func parseNative(src []byte, filename string) (*hcl.File, hcl.Diagnostics) {
	cuts := chunkCuts(src, len(src)/chunkMin, chunkMin)
	if len(cuts) == 0 {
		return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	}
	if f := parseChunks(src, filename, cuts); f != nil {
		return f, nil
	}
	return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
}

// chunkCuts returns up to want-1 byte offsets, ascending, each the start of
// a line that begins with an ASCII letter, splitting src into pieces of at
// least min bytes. Nil means parse whole.
func chunkCuts(src []byte, want, min int) []int {
	if want < 2 || len(src) < 2*min {
		return nil
	}
	size := len(src) / want
	if size < min {
		size = min
	}
	var cuts []int
	last := 0
	for next := size; next < len(src)-min/2; next = last + size {
		// The first candidate line at or after next.
		i := next
		for ; i < len(src); i++ {
			if src[i-1] == '\n' && isASCIILetter(src[i]) {
				break
			}
		}
		if i >= len(src)-min/2 {
			break
		}
		cuts = append(cuts, i)
		last = i
	}
	return cuts
}

// parseChunks parses src cut at cuts, one piece after another, and joins
// the bodies.
// It returns nil when any piece has a diagnostic or the join would hide one
// (a top-level attribute named in two pieces): the caller parses whole.
func parseChunks(src []byte, filename string, cuts []int) *hcl.File {
	bounds := append(append([]int{0}, cuts...), len(src))
	n := len(bounds) - 1
	files := make([]*hcl.File, n)

	// The start position of each piece: lines counted up to its cut.
	starts := make([]hcl.Pos, n)
	starts[0] = hcl.InitialPos
	line := 1
	for k := 1; k < n; k++ {
		for _, c := range src[bounds[k-1]:bounds[k]] {
			if c == '\n' {
				line++
			}
		}
		starts[k] = hcl.Pos{Line: line, Column: 1, Byte: bounds[k]}
	}

	for k := 0; k < n; k++ {
		f, diags := hclsyntax.ParseConfig(src[bounds[k]:bounds[k+1]], filename, starts[k])
		if len(diags) > 0 {
			return nil
		}
		files[k] = f
	}

	joined := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, Blocks: hclsyntax.Blocks{}}
	for k, f := range files {
		b, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			return nil
		}
		for name, a := range b.Attributes {
			if _, dup := joined.Attributes[name]; dup {
				return nil
			}
			joined.Attributes[name] = a
		}
		joined.Blocks = append(joined.Blocks, b.Blocks...)
		if k == 0 {
			joined.SrcRange.Start = b.SrcRange.Start
			joined.SrcRange.Filename = b.SrcRange.Filename
		}
		joined.SrcRange.End = b.SrcRange.End
		joined.EndRange = b.EndRange
	}
	return &hcl.File{Body: joined, Bytes: src, Nav: chunkNav(files)}
}

// chunkNav answers the diagnostic printer's "in check "x"" context for a
// joined file by asking each piece; only the piece holding the offset has a
// block there.
type chunkNav []*hcl.File

func (n chunkNav) ContextString(offset int) string {
	type contextStringer interface{ ContextString(int) string }
	for _, f := range n {
		if cs, ok := f.Nav.(contextStringer); ok {
			if s := cs.ContextString(offset); s != "" {
				return s
			}
		}
	}
	return ""
}

func (n chunkNav) ContextDefRange(offset int) hcl.Range {
	type defRanger interface{ ContextDefRange(int) hcl.Range }
	for _, f := range n {
		if dr, ok := f.Nav.(defRanger); ok {
			if r := dr.ContextDefRange(offset); r != (hcl.Range{}) {
				return r
			}
		}
	}
	return hcl.Range{}
}
